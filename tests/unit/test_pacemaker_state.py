"""Unit tests of _states/pacemaker.py, wired to the real execution module.

Only ``cmd.run_all`` is faked: ``cibadmin --query`` answers a real CIB
fixture and ``cibadmin --patch`` is recorded, never run. ``crm_diff`` runs for
real when a difference exists (Debian package pacemaker-cli-utils).
"""

import pathlib
import shutil
import subprocess

import pytest
import yaml
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.conftest import load_ext

pacemaker_mod = load_ext("modules", "pacemaker")
pacemaker_state = load_ext("states", "pacemaker")

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "cib"
SECRETS = ("s3cret-ctl1", "s3cret-ctl2", "n3w-pw")


class FakeCluster:
    """cmd.run_all for the module: a CIB to query, pushes recorded."""

    def __init__(self, cib_text, query_retcode=0):
        self.cib_text = cib_text
        self.query_retcode = query_retcode
        self.calls = []

    def __call__(self, cmd, python_shell=False, output_loglevel="debug", **_kwargs):
        assert python_shell is False, "commands must be argument lists"
        assert output_loglevel == "quiet", "a CIB or a patch must never reach the log"
        self.calls.append(list(cmd))
        if cmd[:2] == ["cibadmin", "--query"]:
            if self.query_retcode:
                return {
                    "retcode": self.query_retcode,
                    "stdout": "",
                    "pid": 0,
                    "stderr": "Could not connect to the CIB: Transport endpoint is not connected",
                }
            return {"retcode": 0, "stdout": self.cib_text, "stderr": "", "pid": 0}
        if cmd[:2] == ["cibadmin", "--patch"]:
            return {"retcode": 0, "stdout": "", "stderr": "", "pid": 0}
        if cmd[0] == "crm_diff":
            if shutil.which("crm_diff") is None:
                pytest.fail(
                    "crm_diff is not installed: install the Debian package pacemaker-cli-utils"
                )
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            return {
                "retcode": done.returncode,
                "stdout": done.stdout,
                "stderr": done.stderr,
                "pid": 0,
            }
        raise AssertionError(f"unexpected command {cmd}")

    @property
    def pushes(self):
        return [cmd for cmd in self.calls if cmd[:2] == ["cibadmin", "--patch"]]


@pytest.fixture
def cluster():
    return FakeCluster((FIXTURES / "project.xml").read_text(encoding="utf-8"))


@pytest.fixture
def configure_loader_modules(cluster):
    return {
        pacemaker_mod: {"__salt__": {"cmd.run_all": cluster}, "__opts__": {}},
        pacemaker_state: {
            "__salt__": {"pacemaker.apply": pacemaker_mod.apply},
            "__opts__": {"test": False},
        },
    }


@pytest.fixture
def objects():
    return yaml.safe_load((FIXTURES / "objects.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def test_mode():
    pacemaker_state.__opts__["test"] = True


def assert_no_secret(ret):
    for secret in SECRETS:
        assert secret not in repr(ret)


def test_virtual_needs_the_execution_module():
    salt_funcs = pacemaker_state.__salt__
    pacemaker_state.__salt__ = {}
    try:
        loaded, reason = pacemaker_state.__virtual__()
    finally:
        pacemaker_state.__salt__ = salt_funcs
    assert loaded is False
    assert "_modules/pacemaker.py" in reason
    assert pacemaker_state.__virtual__() == "pacemaker"


@pytest.mark.parametrize("mode", ["run", "test-mode"])
def test_no_difference_no_push(request, cluster, objects, mode):
    if mode == "test-mode":
        request.getfixturevalue("test_mode")
    ret = pacemaker_state.cib_present("twin", objects)
    assert ret == {
        "name": "twin",
        "result": True,
        "changes": {},
        "comment": "The CIB already holds the declared objects",
    }
    assert cluster.calls == [["cibadmin", "--query"]]
    assert cluster.pushes == []


def test_test_mode_shows_the_masked_diff_and_pushes_nothing(test_mode, cluster, objects):
    objects["primitives"][0]["params"]["ip"] = "192.0.2.20"
    objects["stonith"][0]["params"]["password"] = "n3w-pw"
    ret = pacemaker_state.cib_present("twin", objects)
    assert ret["result"] is None
    assert ret["comment"] == "The CIB difference shown would be pushed"
    assert list(ret["changes"]) == ["diff"]
    diff = ret["changes"]["diff"]
    assert (
        '+        <nvpair id="vip-instance_attributes-ip" name="ip" value="192.0.2.20" />' in diff
    )
    assert 'value="******** (changed)"' in diff
    assert_no_secret(ret)
    assert cluster.pushes == []


def test_a_change_is_pushed_as_a_patch(cluster, objects):
    objects["rsc_defaults"]["resource-stickiness"] = 200
    ret = pacemaker_state.cib_present("twin", objects)
    assert ret["result"] is True
    assert ret["comment"] == "The CIB difference shown was pushed"
    assert 'value="200"' in ret["changes"]["diff"]
    assert_no_secret(ret)
    (push,) = cluster.pushes
    assert push[:3] == ["cibadmin", "--patch", "--xml-file"]
    # the private copies (and the patch file) are gone once pushed
    assert not pathlib.Path(push[3]).exists()
    crm_diff = [cmd for cmd in cluster.calls if cmd[0] == "crm_diff"]
    assert len(crm_diff) == 1 and "--no-version" in crm_diff[0]


def test_removing_an_object_is_a_change(cluster, objects):
    del objects["rsc_defaults"]["resource-stickiness"]
    ret = pacemaker_state.cib_present("twin", objects)
    assert ret["result"] is True
    assert "-" in ret["changes"]["diff"] and "resource-stickiness" in ret["changes"]["diff"]
    assert len(cluster.pushes) == 1


def test_an_unreachable_cib_fails(cluster, objects):
    cluster.query_retcode = 102
    ret = pacemaker_state.cib_present("twin", objects)
    assert ret["result"] is False
    assert ret["changes"] == {}
    assert "Could not connect to the CIB" in ret["comment"]
    assert cluster.pushes == []


def test_an_invalid_declaration_fails_before_anything_changes(cluster, objects):
    objects["colocations"][0]["id"] = "col-without-prefix"
    ret = pacemaker_state.cib_present("twin", objects)
    assert ret["result"] is False
    assert "must start with 'salt-'" in ret["comment"]
    assert cluster.calls == []  # refused before the cluster is even asked


def test_a_failed_push_fails_with_a_masked_message(cluster, objects):
    objects["stonith"][1]["params"]["password"] = "n3w-pw"

    def failing_push(cmd, python_shell=False, **kwargs):
        if cmd[:2] == ["cibadmin", "--patch"]:
            return {
                "retcode": 105,
                "stdout": "",
                "pid": 0,
                "stderr": 'Update does not conform: <nvpair name="password" value="n3w-pw"/>',
            }
        return cluster(cmd, python_shell=python_shell, **kwargs)

    pacemaker_mod.__salt__["cmd.run_all"] = failing_push
    ret = pacemaker_state.cib_present("twin", objects)
    assert ret["result"] is False
    assert "exit 105" in ret["comment"]
    assert_no_secret(ret)


def test_module_errors_reach_the_state_as_failures(objects):
    def refuse(objects, test=False):
        raise SaltInvocationError("pacemaker objects: primitives:x: missing type")

    pacemaker_state.__salt__["pacemaker.apply"] = refuse
    ret = pacemaker_state.cib_present("twin", objects)
    assert ret == {
        "name": "twin",
        "result": False,
        "changes": {},
        "comment": "The CIB could not be brought to the declared state: "
        "pacemaker objects: primitives:x: missing type",
    }


# --- pacemaker.online ----------------------------------------------------------------


def crm_status(dc="ctl1", quorate=True, online=("ctl1", "ctl2")):
    return {"dc": dc, "quorate": quorate, "nodes_online": list(online)}


class Clock:
    """A fake clock that moves only when the code sleeps."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = 0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        self.sleeps += 1


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(pacemaker_state, "_clock", fake.clock)
    monkeypatch.setattr(pacemaker_state, "_sleep", fake.sleep)
    return fake


def answers(*statuses):
    """pacemaker.status answering each status in turn, then the last for ever."""
    queue = list(statuses)

    def status():
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return status


def test_online_when_ready_changes_nothing(clock):
    pacemaker_state.__salt__["pacemaker.status"] = answers(crm_status())
    ret = pacemaker_state.online("lab", nodes=["ctl1", "ctl2"])
    assert ret == {"name": "lab", "result": True, "changes": {},
                   "comment": "The cluster has a DC and quorum; online: ctl1, ctl2"}
    assert clock.sleeps == 0


def test_online_waits_for_the_cluster_to_form(clock):
    pacemaker_state.__salt__["pacemaker.status"] = answers(
        CommandExecutionError("crm_mon failed (exit 102): Connection refused"),
        crm_status(dc=None, quorate=False, online=()),
        crm_status(online=("ctl1",)),
        crm_status(),
    )
    ret = pacemaker_state.online("lab", nodes=["ctl1", "ctl2"], interval=2)
    assert ret["result"] is True and ret["changes"] == {}
    assert clock.sleeps == 3


def test_online_gives_up_and_says_what_is_missing(clock):
    pacemaker_state.__salt__["pacemaker.status"] = answers(crm_status(online=("ctl1",)))
    ret = pacemaker_state.online("lab", nodes=["ctl1", "ctl2"], timeout=10, interval=2)
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == "The cluster was not ready after 10s: not online: ctl2"
    assert clock.now >= 10


def test_online_without_quorum(clock):
    pacemaker_state.__salt__["pacemaker.status"] = answers(crm_status(quorate=False))
    ret = pacemaker_state.online("lab", timeout=0)
    assert ret["result"] is False and "the partition has no quorum" in ret["comment"]


def test_online_test_mode_looks_once(test_mode, clock):
    pacemaker_state.__salt__["pacemaker.status"] = answers(crm_status(online=("ctl2",)))
    ret = pacemaker_state.online("lab", nodes=["ctl1", "ctl2"])
    assert ret["result"] is None and ret["changes"] == {}
    assert "not online: ctl1" in ret["comment"]
    assert clock.sleeps == 0
