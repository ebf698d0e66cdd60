"""Unit tests of _beacons/pacemaker.py: facts from real crm_mon output, confirmed changes."""

import copy

import pytest
from salt.exceptions import CommandExecutionError

from tests.conftest import REPO, load_ext

beacon_mod = load_ext("beacons", "pacemaker")
pacemaker = load_ext("modules", "pacemaker")

FIXTURES = REPO / "tests" / "unit" / "fixtures" / "cib"
HEALTHY = pacemaker._parse_crm_mon((FIXTURES / "crm_mon-healthy.xml").read_text())
DEGRADED = pacemaker._parse_crm_mon((FIXTURES / "crm_mon-degraded.xml").read_text())


class FakeCluster:
    def __init__(self):
        self.status = copy.deepcopy(HEALTHY)
        self.quorate = True
        self.unit = "active"
        self.calls = []

    def run_all(self, cmd, **kwargs):
        self.calls.append(("cmd.run_all", cmd, kwargs))
        return {"retcode": 0 if self.unit == "active" else 3, "stdout": self.unit + "\n"}

    def crm_mon(self, timeout=None):
        self.calls.append(("pacemaker.status", timeout))
        if self.status is None:
            raise CommandExecutionError("crm_mon failed (exit 102): Not connected")
        return copy.deepcopy(self.status)

    def quorum(self):
        self.calls.append(("pacemaker.quorum_status",))
        return {"quorate": self.quorate}

    def fail(self, resource):
        self.status["resources"][resource].update(failed=True, active=False, nodes=[])

    def lose(self, node):
        self.status["nodes"][node].update(online=False)


class Clock:
    def __init__(self):
        self.now = 5000.0

    def __call__(self):
        return self.now


@pytest.fixture
def cluster():
    return FakeCluster()


@pytest.fixture
def running_jobs():
    return []


@pytest.fixture
def configure_loader_modules(cluster, running_jobs):
    return {
        beacon_mod: {
            "__salt__": {
                "cmd.run_all": cluster.run_all,
                "pacemaker.status": cluster.crm_mon,
                "pacemaker.quorum_status": cluster.quorum,
                "saltutil.is_running": lambda pattern: list(running_jobs),
            },
            "__context__": {},
        }
    }


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(beacon_mod, "_clock", fake)
    return fake


CONFIG = [{"confirm": 2}, {"timeout": 4}, {"_beacon_name": "pacemaker"}]


def run(times, clock, step=10):
    events = []
    for _ in range(times):
        events.extend(beacon_mod.beacon(CONFIG))
        clock.now += step
    return events


def changes(events):
    return [(e["change"], e["subject"]) for e in events]


# --- configuration and pure parts -------------------------------------------------------


def test_validate():
    assert beacon_mod.validate([{"interval": 10}, {"confirm": 1}, {"timeout": 2.5}])[0]
    for bad, words in (
        ({"confirm": 2}, "list"),
        ([{"confirm": 0}], "confirm"),
        ([{"timeout": -1}], "timeout"),
        ([{"nodes": ["ctl1"]}], "unknown option(s) nodes"),
    ):
        ok, comment = beacon_mod.validate(bad)
        assert not ok and words in comment


def test_facts_from_real_crm_mon_output():
    assert beacon_mod.facts(HEALTHY) == {
        "quorum": "quorate",
        "node/ctl1": "online",
        "node/ctl2": "online",
        "resource/fence-ctl1": "started",
        "resource/fence-ctl2": "started",
        "resource/vip": "started",
        "resource/haproxy-clone": "started",
        "resource/operator-dummy": "started",
    }
    degraded = beacon_mod.facts(DEGRADED, {"quorate": False})
    assert degraded["node/ctl2"] == "offline"
    assert degraded["resource/fence-ctl1"] == "stopped"
    assert degraded["quorum"] == "lost"  # corosync's word wins over crm_mon's


@pytest.mark.parametrize(
    "fact, previous, value, expected",
    [
        ("quorum", "quorate", "lost", "quorum-lost"),
        ("quorum", "lost", "quorate", "quorum-regained"),
        ("node/ctl2", "online", "offline", "node-lost"),
        ("node/ctl2", "online", "unclean", "node-lost"),
        ("node/ctl2", "offline", "unclean", None),
        ("node/ctl2", "unclean", "online", "node-back"),
        ("node/ctl2", "online", "standby", None),
        ("node/ctl2", "standby", "online", None),
        ("resource/vip", "started", "failed", "resource-failed"),
        ("resource/vip", "started", "stopped", "resource-stopped"),
        ("resource/vip", "failed", "stopped", None),
        ("resource/vip", "failed", "started", "resource-started"),
    ],
)
def test_change_of(fact, previous, value, expected):
    assert beacon_mod.change_of(fact, previous, value) == expected


# --- transitions ------------------------------------------------------------------------


def test_baseline_and_steady_state_report_nothing(cluster, clock):
    cluster.status = copy.deepcopy(DEGRADED)  # degraded already when the minion starts
    assert run(6, clock) == []


def test_node_lost_confirmed_then_back(cluster, clock):
    run(2, clock)
    cluster.lose("ctl2")
    assert run(1, clock) == []
    events = run(1, clock)
    assert changes(events) == [("node-lost", "ctl2")]
    event = events[0]
    assert event["tag"] == "node-lost" and event["kind"] == "node"
    assert (event["previous"], event["state"]) == ("online", "offline")
    assert event["since"] == 5020.0 and event["dc"] == "ctl1" and event["quorate"] is True
    assert run(5, clock) == []
    cluster.status["nodes"]["ctl2"].update(online=True)
    assert changes(run(2, clock)) == [("node-back", "ctl2")]


def test_failed_resource_that_pacemaker_restarts_at_once_is_not_reported(cluster, clock):
    run(2, clock)
    cluster.fail("vip")
    assert run(1, clock) == []
    cluster.status = copy.deepcopy(HEALTHY)  # Pacemaker restarted it
    assert run(5, clock) == []


def test_resource_failed_then_started(cluster, clock):
    run(2, clock)
    cluster.fail("vip")
    assert changes(run(2, clock)) == [("resource-failed", "vip")]
    cluster.status = copy.deepcopy(HEALTHY)
    assert changes(run(2, clock)) == [("resource-started", "vip")]


def test_quorum_lost_and_regained(cluster, clock):
    run(2, clock)
    cluster.quorate = False
    events = run(2, clock)
    assert changes(events) == [("quorum-lost", None)]
    assert events[0]["quorate"] is False
    cluster.quorate = True
    assert changes(run(2, clock)) == [("quorum-regained", None)]


def test_several_changes_in_one_sample(cluster, clock):
    run(2, clock)
    cluster.lose("ctl2")
    cluster.fail("haproxy-clone")
    cluster.quorate = False
    assert sorted(changes(run(2, clock)), key=str) == sorted(
        [("node-lost", "ctl2"), ("resource-failed", "haproxy-clone"), ("quorum-lost", None)],
        key=str,
    )


def test_quiet_during_a_state_run(cluster, clock, running_jobs):
    run(2, clock)
    cluster.lose("ctl2")
    run(1, clock)
    running_jobs.append({"fun": "state.apply", "jid": "2"})
    cluster.calls.clear()
    assert run(4, clock) == []
    assert cluster.calls == []
    running_jobs.clear()
    assert run(1, clock) == []  # counting starts over
    assert changes(run(1, clock)) == [("node-lost", "ctl2")]


def test_nothing_when_pacemaker_is_down_here(cluster, clock):
    run(2, clock)
    cluster.unit = "inactive"
    cluster.calls.clear()
    assert run(4, clock) == []
    assert [call[0] for call in cluster.calls] == ["cmd.run_all"] * 4
    assert all(call[2]["timeout"] == 4 for call in cluster.calls)


def test_crm_mon_error_is_no_sample(cluster, clock):
    run(2, clock)
    cluster.status = None
    assert run(3, clock) == []


def test_timeout_passed_when_the_module_accepts_it(cluster, clock):
    run(1, clock)
    assert ("pacemaker.status", 4) in cluster.calls


def test_a_removed_resource_is_forgotten(cluster, clock):
    run(2, clock)
    del cluster.status["resources"]["operator-dummy"]
    assert run(3, clock) == []
    tracks = beacon_mod.__context__[beacon_mod.CONTEXT_KEY]["pacemaker"]
    assert "resource/operator-dummy" not in tracks


def test_no_module_global_state():
    mutable = {
        name: value
        for name, value in vars(beacon_mod).items()
        if not name.startswith("__") and isinstance(value, (dict, list, set))
    }
    assert mutable == {"DEFAULTS": beacon_mod.DEFAULTS}
