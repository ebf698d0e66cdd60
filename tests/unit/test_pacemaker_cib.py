"""Unit tests of _modules/pacemaker.py: the CIB difference, masking, parsers.

The CIB fixtures are real (see fixtures/cib/README.md). The tests that need
Pacemaker's own tools (crm_diff, crm_verify) run them for real and FAIL when
they are missing: install the Debian package pacemaker-cli-utils.
"""

import copy
import pathlib
import shutil
import subprocess
import xml.etree.ElementTree as ET
from unittest.mock import MagicMock, patch

import pytest
import yaml
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.conftest import load_ext

pacemaker = load_ext("modules", "pacemaker")

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "cib"
SECRETS = ("s3cret-ctl1", "s3cret-ctl2")


def fixture_text(name):
    return (FIXTURES / name).read_text(encoding="utf-8")


def require_binary(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed: this test runs Pacemaker's real tool; "
            "install the Debian package pacemaker-cli-utils"
        )
    return path


def run_all(cmd, python_shell=False, **_kwargs):
    """A real cmd.run_all: runs the argument list."""
    assert python_shell is False
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return {"retcode": done.returncode, "stdout": done.stdout, "stderr": done.stderr, "pid": 0}


@pytest.fixture
def configure_loader_modules():
    return {pacemaker: {"__salt__": {"cmd.run_all": run_all}, "__opts__": {}}}


@pytest.fixture
def crm_diff():
    return require_binary("crm_diff")


@pytest.fixture
def objects():
    return yaml.safe_load(fixture_text("objects.yaml"))


@pytest.fixture
def empty_cib():
    return fixture_text("empty-2node.xml")


@pytest.fixture
def project_cib():
    return fixture_text("project.xml")


def config_of(xml_text):
    return ET.fromstring(xml_text).find("configuration")


def find_id(xml_text, object_id):
    return config_of(xml_text).find(f".//*[@id='{object_id}']")


def ids_of(xml_text):
    return {node.get("id") for node in config_of(xml_text).iter() if node.get("id")}


def patched(cib_text, patch_text, tmp_path):
    """Apply a crm_diff patch with crm_diff itself; return the patched CIB."""
    (tmp_path / "orig.xml").write_text(cib_text)
    (tmp_path / "patch.xml").write_text(patch_text)
    done = subprocess.run(
        ["crm_diff", "--original", tmp_path / "orig.xml", "--patch", tmp_path / "patch.xml"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def assert_no_secret(text):
    for secret in SECRETS:
        assert secret not in text


# --------------------------------------------------------------------------
# wanted_cib and the difference


def test_add_objects_to_an_empty_cluster(empty_cib, objects, crm_diff, tmp_path):
    wanted = pacemaker.wanted_cib(empty_cib, objects)

    assert pacemaker.cib_differs(empty_cib, wanted)
    for resource in ("fence-ctl1", "fence-ctl2", "vip", "haproxy-clone"):
        assert find_id(wanted, resource).get("description") == "salt-managed"
    vip = find_id(wanted, "vip")
    assert (vip.get("class"), vip.get("provider"), vip.get("type")) == (
        "ocf",
        "heartbeat",
        "IPaddr2",
    )
    assert find_id(wanted, "vip-instance_attributes-ip").get("value") == "192.0.2.10"
    assert find_id(wanted, "vip-monitor-interval-10s").attrib == {
        "id": "vip-monitor-interval-10s",
        "name": "monitor",
        "interval": "10s",
        "timeout": "20s",
    }
    fence = find_id(wanted, "fence-ctl1")
    assert (fence.get("class"), fence.get("type")) == ("stonith", "fence_ipmilan")
    assert find_id(wanted, "fence-ctl1-instance_attributes-delay").get("value") == "15"
    assert find_id(wanted, "fence-ctl2-instance_attributes-delay") is None
    assert find_id(wanted, "haproxy").get("type") == "haproxy"
    assert find_id(wanted, "haproxy-clone-meta_attributes-interleave").get("value") == "true"
    assert find_id(wanted, "salt-col-vip-with-haproxy").attrib == {
        "id": "salt-col-vip-with-haproxy",
        "rsc": "vip",
        "with-rsc": "haproxy-clone",
        "score": "INFINITY",
    }
    assert find_id(wanted, "salt-ord-haproxy-then-vip").get("first") == "haproxy-clone"
    assert find_id(wanted, "salt-cib-bootstrap-options-stonith-enabled").get("value") == "true"
    assert (
        find_id(wanted, "salt-rsc_defaults-meta_attributes-resource-stickiness").get("value")
        == "100"
    )
    # the cluster's own properties are kept
    assert find_id(wanted, "cib-bootstrap-options-dc-version") is not None

    patch_text = pacemaker.cib_diff(empty_cib, wanted)
    assert patch_text.startswith('<diff format="2">')
    assert_no_secret(patch_text)
    # the real patch, applied by crm_diff, gives exactly the wanted configuration
    raw_patch = pacemaker._crm_diff_patch(empty_cib, wanted, set(SECRETS))
    assert not pacemaker.cib_differs(patched(empty_cib, raw_patch, tmp_path), wanted)


def test_the_wanted_cib_is_valid_for_pacemaker(empty_cib, objects, tmp_path):
    require_binary("crm_verify")
    path = tmp_path / "wanted.xml"
    path.write_text(pacemaker.wanted_cib(empty_cib, objects))
    done = subprocess.run(
        ["crm_verify", "--xml-file", path], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_nothing_to_do_means_no_change_and_no_crm_diff(project_cib, objects):
    wanted = pacemaker.wanted_cib(project_cib, objects)
    assert not pacemaker.cib_differs(project_cib, wanted)
    spy = MagicMock(side_effect=run_all)
    with patch.dict(pacemaker.__salt__, {"cmd.run_all": spy}):
        assert pacemaker.cib_diff(project_cib, wanted) == ""
    spy.assert_not_called()


def test_pillar_key_order_makes_no_change(project_cib, objects):
    params = objects["primitives"][0]["params"]
    objects["primitives"][0]["params"] = dict(reversed(list(params.items())))
    assert not pacemaker.cib_differs(project_cib, pacemaker.wanted_cib(project_cib, objects))


def test_mapping_form_equals_list_form(project_cib, objects):
    by_id = copy.deepcopy(objects)
    for kind in ("stonith", "primitives", "clones", "locations", "colocations", "orders"):
        by_id[kind] = {spec.pop("id"): spec for spec in by_id[kind]}
    assert pacemaker.wanted_cib(project_cib, by_id) == pacemaker.wanted_cib(project_cib, objects)


def test_change_a_parameter(project_cib, objects, crm_diff, tmp_path):
    objects["primitives"][0]["params"]["ip"] = "192.0.2.20"
    wanted = pacemaker.wanted_cib(project_cib, objects)

    assert pacemaker.cib_differs(project_cib, wanted)
    patch_text = pacemaker.cib_diff(project_cib, wanted)
    changes = ET.fromstring(patch_text).findall("change")
    assert len(changes) == 1
    assert changes[0].get("operation") == "modify"
    assert "vip-instance_attributes-ip" in changes[0].get("path")
    assert not pacemaker.cib_differs(patched(project_cib, patch_text, tmp_path), wanted)

    diff = pacemaker._masked_diff(project_cib, wanted)
    removed = [line for line in diff.splitlines() if line.startswith("-  ")]
    added = [line for line in diff.splitlines() if line.startswith("+  ")]
    assert len(removed) == len(added) == 1
    assert 'value="192.0.2.10"' in removed[0] and 'value="192.0.2.20"' in added[0]


def test_remove_an_object_the_pillar_no_longer_names(project_cib, objects):
    objects["stonith"] = [spec for spec in objects["stonith"] if spec["id"] != "fence-ctl2"]
    objects["locations"] = [spec for spec in objects["locations"] if spec["rsc"] != "fence-ctl2"]
    wanted = pacemaker.wanted_cib(project_cib, objects)

    assert ids_of(project_cib) - ids_of(wanted) == {
        "fence-ctl2",
        "fence-ctl2-instance_attributes",
        *(
            f"fence-ctl2-instance_attributes-{name}"
            for name in ("ip", "lanplus", "method", "password", "pcmk_host_list", "username")
        ),
        "fence-ctl2-monitor-interval-60s",
        "salt-loc-fence-ctl2-avoid-ctl2",
    }
    assert ids_of(wanted) <= ids_of(project_cib)


def test_removing_a_resource_removes_the_constraints_naming_it(project_cib, objects):
    wanted = pacemaker.wanted_cib(project_cib, {"primitives": []})
    for gone in ("vip", "salt-col-vip-with-haproxy", "salt-ord-haproxy-then-vip"):
        assert find_id(wanted, gone) is None
    for kept in ("fence-ctl1", "haproxy-clone", "salt-loc-fence-ctl1-avoid-ctl1", "operator-dummy"):
        assert find_id(wanted, kept) is not None


def test_a_declared_constraint_on_a_removed_resource_is_refused(project_cib, objects):
    objects["primitives"] = []
    with pytest.raises(SaltInvocationError, match="names 'vip'"):
        pacemaker.wanted_cib(project_cib, objects)


def test_foreign_objects_are_left_alone(project_cib):
    foreign = (
        "operator-dummy",
        "location-operator-dummy-ctl2-50",
        "cib-bootstrap-options-cluster-recheck-inte",
        "cib-bootstrap-options-dc-version",
    )
    nothing = {kind: {} for kind in pacemaker.KINDS}
    wanted = pacemaker.wanted_cib(project_cib, nothing)
    for object_id in foreign:
        assert ET.tostring(find_id(wanted, object_id)) == ET.tostring(
            find_id(project_cib, object_id)
        )
    # everything Salt owned is gone, and only that
    assert {node.get("description") for node in config_of(wanted).iter("primitive")} == {None}
    assert not any(object_id.startswith("salt-") for object_id in ids_of(wanted))
    assert find_id(wanted, "haproxy-clone") is None


def test_a_kind_left_out_is_not_touched(project_cib):
    wanted = pacemaker.wanted_cib(project_cib, {"properties": {"stonith-enabled": True}})
    removed = ids_of(project_cib) - ids_of(wanted)
    assert removed == {"salt-cib-bootstrap-options-no-quorum-policy"}


def test_declaring_a_foreign_property_takes_it_over(project_cib):
    wanted = pacemaker.wanted_cib(
        project_cib,
        {
            "properties": {
                "stonith-enabled": True,
                "no-quorum-policy": "stop",
                "cluster-recheck-interval": "2min",
            }
        },
    )
    property_set = config_of(wanted).find("crm_config/cluster_property_set")
    named = [nvpair for nvpair in property_set if nvpair.get("name") == "cluster-recheck-interval"]
    assert [(n.get("id"), n.get("value")) for n in named] == [
        ("salt-cib-bootstrap-options-cluster-recheck-interval", "2min")
    ]


def test_rsc_defaults_set_is_created_when_missing(empty_cib):
    wanted = pacemaker.wanted_cib(empty_cib, {"rsc_defaults": {"resource-stickiness": 100}})
    nvset = config_of(wanted).find("rsc_defaults/meta_attributes")
    assert nvset.get("id") == "rsc_defaults-meta_attributes"
    assert [n.attrib for n in nvset] == [
        {
            "id": "salt-rsc_defaults-meta_attributes-resource-stickiness",
            "name": "resource-stickiness",
            "value": "100",
        }
    ]


def test_a_user_description_keeps_the_ownership_mark(project_cib, objects):
    objects["primitives"][0]["description"] = "the API VIP"
    wanted = pacemaker.wanted_cib(project_cib, objects)
    assert find_id(wanted, "vip").get("description") == "salt-managed: the API VIP"
    objects["primitives"] = []
    objects["colocations"] = objects["orders"] = []
    assert find_id(pacemaker.wanted_cib(wanted, objects), "vip") is None


@pytest.mark.parametrize(
    "objects, message",
    [
        ({"groups": []}, "unknown kind"),
        (
            {"colocations": [{"id": "col-vip", "rsc": "vip", "with-rsc": "haproxy-clone"}]},
            "must start with 'salt-'",
        ),
        ({"primitives": [{"id": "x", "class": "ocf", "type": "IPaddr2"}]}, "needs a provider"),
        (
            {"primitives": [{"id": "x", "class": "systemd", "provider": "heartbeat", "type": "a"}]},
            "takes no provider",
        ),
        (
            {"primitives": [{"id": "x", "class": "systemd", "type": "a", "param": {}}]},
            "unknown key",
        ),
        ({"primitives": [{"id": "9x", "class": "systemd", "type": "a"}]}, "invalid id"),
        (
            {"primitives": [{"id": "x", "class": "systemd", "type": "a", "params": {"l": [1]}}]},
            "expected a string",
        ),
        (
            {"primitives": [{"id": "x", "class": "systemd", "type": "a", "ops": [{"name": "m"}]}]},
            "missing interval",
        ),
        (
            {
                "primitives": [{"id": "vip", "class": "systemd", "type": "a"}],
                "clones": [
                    {"id": "c", "primitive": {"id": "vip", "class": "systemd", "type": "a"}}
                ],
            },
            "declared twice",
        ),
        (
            {
                "stonith": [
                    {
                        "id": "f",
                        "params": {"ip": "192.0.2.1", "username": "u", "pcmk_host_list": "ctl1"},
                    }
                ]
            },
            "needs params password",
        ),
        ({"orders": [{"id": "salt-o", "first": "nowhere", "then": "vip"}]}, "neither declared"),
        (
            {
                "primitives": [
                    {"id": "location-operator-dummy-ctl2-50", "class": "systemd", "type": "a"}
                ]
            },
            "already used by a rsc_location",
        ),
        (
            {"primitives": {"vip": {"id": "other", "class": "systemd", "type": "a"}}},
            "differs from its key",
        ),
        (
            {
                "primitives": [
                    {
                        "id": "x",
                        "class": "systemd",
                        "type": "a",
                        "ops": [
                            {"name": "monitor", "interval": "10s"},
                            {"name": "monitor", "interval": "10s", "role": "Started"},
                        ],
                    }
                ]
            },
            "x-monitor-interval-10s twice",
        ),
    ],
)
def test_invalid_declarations_are_refused(project_cib, objects, message):
    with pytest.raises(SaltInvocationError, match=message):
        pacemaker.wanted_cib(project_cib, objects)


def test_unparsable_cib_is_an_error():
    with pytest.raises(CommandExecutionError, match="cannot parse"):
        pacemaker.wanted_cib("<cib><configuration>", {})


# --------------------------------------------------------------------------
# Secrets


def test_a_password_change_is_shown_masked(project_cib, objects, crm_diff):
    objects["stonith"][0]["params"]["password"] = "n3w<&pw"
    wanted = pacemaker.wanted_cib(project_cib, objects)
    diff = pacemaker._masked_diff(project_cib, wanted)
    assert 'value="******** (changed)"' in diff
    patch_text = pacemaker.cib_diff(project_cib, wanted)
    for text in (diff, patch_text):
        assert_no_secret(text)
        assert "n3w" not in text
    assert "password" in patch_text  # the change is there, its value is not


def test_mask_text_hides_raw_and_escaped_secrets():
    text = 'x s3cr&t y s3cr&amp;t <nvpair name="passwd" value="other"/>'
    masked = pacemaker._mask_text(text, {"s3cr&t"})
    assert masked == 'x ******** y ******** <nvpair name="passwd" value="********"/>'


def test_errors_of_commands_are_masked(project_cib):
    failing = MagicMock(return_value={"retcode": 105, "stdout": "", "stderr": "bad s3cret-ctl1"})
    with (
        patch.dict(pacemaker.__salt__, {"cmd.run_all": failing}),
        pytest.raises(CommandExecutionError) as error,
    ):
        pacemaker._run(["cibadmin", "--patch"], {"s3cret-ctl1"})
    assert "s3cret-ctl1" not in str(error.value)
    assert "exit 105" in str(error.value)


# --------------------------------------------------------------------------
# apply against a mocked cluster


class FakeCluster:
    """cmd.run_all: cibadmin --query answers a CIB, cibadmin --patch is recorded."""

    def __init__(self, cib_text, query_retcode=0):
        self.cib_text = cib_text
        self.query_retcode = query_retcode
        self.patches = []
        self.calls = []

    def __call__(self, cmd, python_shell=False, **kwargs):
        assert python_shell is False
        self.calls.append(cmd)
        if cmd[:2] == ["cibadmin", "--query"]:
            return {
                "retcode": self.query_retcode,
                "stdout": self.cib_text,
                "stderr": "Could not connect to the CIB" if self.query_retcode else "",
                "pid": 0,
            }
        if cmd[:2] == ["cibadmin", "--patch"]:
            self.patches.append(pathlib.Path(cmd[cmd.index("--xml-file") + 1]).read_text())
            return {"retcode": 0, "stdout": "", "stderr": "", "pid": 0}
        return run_all(cmd, python_shell=python_shell, **kwargs)

    def pushed(self):
        return [cmd for cmd in self.calls if cmd[:2] == ["cibadmin", "--patch"]]


def test_apply_without_difference_pushes_nothing(project_cib, objects):
    cluster = FakeCluster(project_cib)
    with patch.dict(pacemaker.__salt__, {"cmd.run_all": cluster}):
        assert pacemaker.apply(objects) == {"changed": False, "diff": ""}
    assert cluster.calls == [["cibadmin", "--query"]]


def test_apply_pushes_only_the_difference(project_cib, objects, crm_diff, tmp_path):
    objects["stonith"][1]["params"]["password"] = "n3w-pw"
    cluster = FakeCluster(project_cib)
    with patch.dict(pacemaker.__salt__, {"cmd.run_all": cluster}):
        result = pacemaker.apply(objects)
    assert result["changed"] is True
    assert "******** (changed)" in result["diff"]
    assert "n3w-pw" not in result["diff"]
    assert_no_secret(result["diff"])
    assert len(cluster.pushed()) == 1
    (patch_text,) = cluster.patches
    assert 'value="n3w-pw"' in patch_text  # the real value is pushed
    assert len(ET.fromstring(patch_text).findall("change")) == 1


def test_apply_in_test_mode_pushes_nothing(project_cib, objects):
    objects["rsc_defaults"]["resource-stickiness"] = 200
    cluster = FakeCluster(project_cib)
    with patch.dict(pacemaker.__salt__, {"cmd.run_all": cluster}):
        result = pacemaker.apply(objects, test=True)
    assert result["changed"] is True
    assert "+" in result["diff"] and 'value="200"' in result["diff"]
    assert cluster.pushed() == []


def test_apply_reports_an_unreachable_cib(project_cib, objects):
    cluster = FakeCluster(project_cib, query_retcode=102)
    with (
        patch.dict(pacemaker.__salt__, {"cmd.run_all": cluster}),
        pytest.raises(CommandExecutionError, match="Could not connect"),
    ):
        pacemaker.apply(objects)


def test_apply_masks_secrets_in_validation_errors(project_cib, objects):
    objects["stonith"][0]["params"]["username"] = ["s3cret-ctl1"]
    cluster = FakeCluster(project_cib)
    with (
        patch.dict(pacemaker.__salt__, {"cmd.run_all": cluster}),
        pytest.raises(SaltInvocationError) as error,
    ):
        pacemaker.apply(objects)
    assert "s3cret" not in str(error.value)


# --------------------------------------------------------------------------
# Loader


def test_virtual_needs_cibadmin_and_crm_diff():
    with patch.object(pacemaker.salt.utils.path, "which", return_value=None):
        loaded, reason = pacemaker.__virtual__()
    assert loaded is False
    assert "cibadmin" in reason and "crm_diff" in reason and "pacemaker-cli-utils" in reason
    with patch.object(pacemaker.salt.utils.path, "which", return_value="/usr/sbin/x"):
        assert pacemaker.__virtual__() == "pacemaker"


def test_every_public_function_has_a_cli_example():
    public = [
        name
        for name, value in vars(pacemaker).items()
        if callable(value)
        and not name.startswith("_")
        and getattr(value, "__module__", None) == pacemaker.__name__
        and not isinstance(value, type)
    ]
    assert {"apply", "wanted_cib", "cib_diff", "status", "quorum_status", "qdevice_status"} <= set(
        public
    )
    for name in public:
        assert "CLI Example:" in (getattr(pacemaker, name).__doc__ or ""), name


# --------------------------------------------------------------------------
# Parsers: crm_mon


def test_status_of_a_healthy_cluster():
    state = pacemaker._parse_crm_mon(fixture_text("crm_mon-healthy.xml"))
    assert state["dc"] == "ctl1"
    assert state["quorate"] is True
    assert state["nodes_online"] == ["ctl1", "ctl2"]
    assert state["nodes"]["ctl1"] == {
        "id": "1",
        "online": True,
        "standby": False,
        "maintenance": False,
        "unclean": False,
        "is_dc": True,
        "resources_running": 3,
    }
    assert state["resources_started"] == sorted(
        ["fence-ctl1", "fence-ctl2", "vip", "haproxy-clone", "operator-dummy"]
    )
    assert state["resources"]["vip"] == {
        "agent": "ocf:heartbeat:IPaddr2",
        "role": "Started",
        "active": True,
        "failed": False,
        "nodes": ["ctl1"],
        "kind": "primitive",
    }
    assert state["resources"]["fence-ctl1"]["nodes"] == ["ctl2"]
    clone = state["resources"]["haproxy-clone"]
    assert (clone["kind"], clone["agent"]) == ("clone", "systemd:haproxy")
    assert (clone["instances"], clone["started"], clone["nodes"]) == (2, 2, ["ctl1", "ctl2"])
    assert state["failures"] == []


def test_status_of_a_degraded_cluster():
    state = pacemaker._parse_crm_mon(fixture_text("crm_mon-degraded.xml"))
    assert state["nodes_online"] == ["ctl1"]
    assert state["nodes"]["ctl2"]["online"] is False
    assert state["resources"]["fence-ctl1"]["active"] is False
    assert state["resources"]["fence-ctl1"]["nodes"] == []
    clone = state["resources"]["haproxy-clone"]
    assert (clone["started"], clone["nodes"]) == (1, ["ctl1"])
    assert state["resources"]["operator-dummy"]["nodes"] == ["ctl1"]
    assert state["failures"] == [
        {
            "resource": "vip",
            "op_key": "vip_monitor_10000",
            "node": "ctl1",
            "task": "monitor",
            "exitstatus": "not running",
            "exitreason": "Simulated action result",
        }
    ]


def test_status_runs_crm_mon_as_xml():
    run = MagicMock(
        return_value={
            "retcode": 0,
            "stdout": fixture_text("crm_mon-healthy.xml"),
            "stderr": "",
            "pid": 0,
        }
    )
    with patch.dict(pacemaker.__salt__, {"cmd.run_all": run}):
        assert pacemaker.status()["dc"] == "ctl1"
    assert run.call_args.args[0] == ["crm_mon", "-1", "--output-as=xml"]
    assert run.call_args.kwargs["python_shell"] is False


# --------------------------------------------------------------------------
# Parsers: quorum and quorum device


def test_quorum_with_both_nodes_and_the_qdevice():
    quorum = pacemaker._parse_quorumtool(fixture_text("quorumtool-qdevice.txt"))
    assert quorum["quorate"] is True
    assert (quorum["expected_votes"], quorum["total_votes"], quorum["quorum"]) == (3, 3, 2)
    assert quorum["flags"] == ["Quorate", "Qdevice"]
    assert quorum["qdevice_registered"] is True and quorum["two_node"] is False
    assert quorum["activity_blocked"] is False
    assert (quorum["node_id"], quorum["ring_id"], quorum["nodes"]) == (1, "1.e", 2)
    assert quorum["members"] == [
        {"nodeid": 1, "votes": 1, "qdevice": "A,V,NMW", "name": "ctl1", "local": True},
        {"nodeid": 2, "votes": 1, "qdevice": "A,V,NMW", "name": "ctl2", "local": False},
    ]
    assert quorum["qdevice"] == {
        "name": "Qdevice",
        "votes": 1,
        "casting_vote": True,
        "configured_votes": 1,
    }


def test_quorum_kept_through_the_qdevice_when_the_peer_is_lost():
    quorum = pacemaker._parse_quorumtool(fixture_text("quorumtool-peer-lost.txt"))
    assert quorum["quorate"] is True
    assert [member["name"] for member in quorum["members"]] == ["ctl1"]
    assert quorum["total_votes"] == 2
    assert quorum["qdevice"]["casting_vote"] is True


def test_quorum_lost_when_the_qdevice_does_not_vote():
    quorum = pacemaker._parse_quorumtool(fixture_text("quorumtool-no-quorum.txt"))
    assert quorum["quorate"] is False
    assert quorum["activity_blocked"] is True
    assert quorum["flags"] == ["Qdevice"]
    assert quorum["members"][0]["qdevice"] == "A,NV,NMW"
    assert quorum["qdevice"] == {
        "name": "Qdevice",
        "votes": 0,
        "casting_vote": False,
        "configured_votes": 1,
    }


def test_quorum_without_qdevice_column():
    quorum = pacemaker._parse_quorumtool(fixture_text("quorumtool-no-qdevice.txt"))
    assert quorum["quorate"] is False
    assert quorum["flags"] == []
    assert quorum["qdevice"] is None
    assert quorum["members"] == [
        {"nodeid": 1, "votes": 1, "qdevice": None, "name": "ctl1", "local": True}
    ]


def test_quorumtool_garbage_is_an_error():
    with pytest.raises(CommandExecutionError, match="Quorate"):
        pacemaker._parse_quorumtool("Cannot initialize QUORUM service\n")


@pytest.mark.parametrize("retcode, quorate", [(0, True), (2, False)])
def test_quorum_status_accepts_the_not_quorate_exit_code(retcode, quorate):
    sample = "quorumtool-qdevice.txt" if quorate else "quorumtool-no-quorum.txt"
    run = MagicMock(
        return_value={"retcode": retcode, "stdout": fixture_text(sample), "stderr": "", "pid": 0}
    )
    with patch.dict(pacemaker.__salt__, {"cmd.run_all": run}):
        assert pacemaker.quorum_status()["quorate"] is quorate
    assert run.call_args.args[0] == ["corosync-quorumtool", "-s"]


def test_quorum_status_error():
    run = MagicMock(
        return_value={
            "retcode": 1,
            "stdout": "",
            "stderr": "Cannot initialize CMAP service",
            "pid": 0,
        }
    )
    with (
        patch.dict(pacemaker.__salt__, {"cmd.run_all": run}),
        pytest.raises(CommandExecutionError, match="Cannot initialize CMAP"),
    ):
        pacemaker.quorum_status()


def test_qdevice_connected():
    qdevice = pacemaker._parse_qdevice_tool(fixture_text("qdevice-connected.txt"))
    assert qdevice == {
        "running": True,
        "model": "Net",
        "node_id": 1,
        "configured_nodes": [1, 2],
        "membership": [1, 2],
        "cluster_name": "twin",
        "qnetd_host": "10.99.0.1",
        "qnetd_port": 5403,
        "algorithm": "Fifty-Fifty split",
        "tie_breaker": "Node with lowest node ID",
        "state": "Connected",
        "connected": True,
        "heuristics": None,
    }


def test_qdevice_disconnected():
    qdevice = pacemaker._parse_qdevice_tool(fixture_text("qdevice-disconnected.txt"))
    assert (qdevice["state"], qdevice["connected"], qdevice["membership"]) == (
        "Connect failed",
        False,
        [1],
    )


def test_qdevice_status_when_the_daemon_is_not_running():
    run = MagicMock(
        return_value={
            "retcode": 3,
            "stdout": "",
            "pid": 0,
            "stderr": "corosync-qdevice-tool: Can't connect to QDevice socket (is QDevice running?): "
            "No such file or directory",
        }
    )
    with (
        patch.dict(pacemaker.__salt__, {"cmd.run_all": run}),
        patch.object(
            pacemaker.salt.utils.path, "which", return_value="/usr/sbin/corosync-qdevice-tool"
        ),
    ):
        qdevice = pacemaker.qdevice_status()
    assert qdevice["running"] is False and qdevice["connected"] is False
    assert "is QDevice running?" in qdevice["error"]


def test_qdevice_status_when_not_installed():
    with patch.object(pacemaker.salt.utils.path, "which", return_value=None):
        assert pacemaker.qdevice_status()["running"] is False


def test_qdevice_status_parses_the_tool():
    run = MagicMock(
        return_value={
            "retcode": 0,
            "stdout": fixture_text("qdevice-connected.txt"),
            "stderr": "",
            "pid": 0,
        }
    )
    with (
        patch.dict(pacemaker.__salt__, {"cmd.run_all": run}),
        patch.object(
            pacemaker.salt.utils.path, "which", return_value="/usr/sbin/corosync-qdevice-tool"
        ),
    ):
        assert pacemaker.qdevice_status()["connected"] is True
    assert run.call_args.args[0] == ["corosync-qdevice-tool", "-s"]


# --------------------------------------------------------------------------
# End to end with Pacemaker's own tools on a file-backed CIB (CIB_file)


def test_apply_end_to_end_with_the_real_tools(project_cib, objects, tmp_path, monkeypatch):
    require_binary("cibadmin")
    require_binary("crm_diff")
    live = tmp_path / "live.xml"
    live.write_text(project_cib)
    monkeypatch.setenv("CIB_file", str(live))  # cibadmin reads and patches this file

    objects["primitives"][0]["params"]["ip"] = "192.0.2.20"
    objects["stonith"][1]["params"]["password"] = "n3w-pw"
    objects["locations"] = objects["locations"][:1]
    first = pacemaker.apply(objects)
    again = pacemaker.apply(objects)

    assert first["changed"] is True
    assert "n3w-pw" not in first["diff"]
    assert_no_secret(first["diff"])
    assert again == {"changed": False, "diff": ""}
    pushed = live.read_text()
    assert int(ET.fromstring(pushed).get("epoch")) > int(ET.fromstring(project_cib).get("epoch"))
    assert find_id(pushed, "vip-instance_attributes-ip").get("value") == "192.0.2.20"
    assert find_id(pushed, "fence-ctl2-instance_attributes-password").get("value") == "n3w-pw"
    assert find_id(pushed, "salt-loc-fence-ctl2-avoid-ctl2") is None
    assert find_id(pushed, "location-operator-dummy-ctl2-50") is not None
    assert ET.fromstring(pushed).find("status") is not None
