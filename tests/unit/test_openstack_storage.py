"""Cinder and Swift: the runner that builds Swift's rings once for the site
(_runners/swift_rings.py), its node-side script
(salt/openstack/files/swift-ring-build.py, run here against a fake
swift-ring-builder), and the SLS (salt/openstack/{cinder,swift}.sls)
rendered by Salt's real loader (masterless) with the lab's site pillar."""

import base64
import copy
import hashlib
import importlib.util
import io
import json
import os
import stat
import sys
from unittest.mock import patch

import pytest
import yaml
from salt.exceptions import SaltInvocationError

from tests.conftest import load_ext, load_utils

from .sls import (served_roots, REPO, minion_loaders, minion_opts, state_args as _args,
                  state_function as _function)

rings = load_ext("runners", "swift_rings")

SITE = yaml.safe_load((REPO / "lab" / "pillar" / "site.sls").read_text())
LAB_SETTINGS = yaml.safe_load((REPO / "lab" / "pillar" / "settings.sls").read_text())
SWIFT = yaml.safe_load((REPO / "salt" / "openstack" / "services" / "swift.yaml").read_text())
CINDER = yaml.safe_load((REPO / "salt" / "openstack" / "services" / "cinder.yaml").read_text())
SETTINGS = rings.merge(rings.DEFAULTS, SWIFT["settings"])
SECRETS = {
    "swift_keystone_password": "swift-ks-secret",
    "swift_hash_path_prefix": "prefix-secret",
    "swift_hash_path_suffix": "suffix-secret",
    "cinder_db_password": "cinder-db-secret",
    "cinder_rabbit_password": "cinder-rabbit-secret",
    "cinder_keystone_password": "cinder-ks-secret",
}
KINDS = ("account", "container", "object")


def site(**node_changes):
    """The lab's site, with some nodes changed (None: removed)."""
    data = copy.deepcopy(SITE["site"])
    for node_id, node in node_changes.items():
        if node is None:
            data["nodes"].pop(node_id)
        else:
            data["nodes"][node_id] = node
    return data


def b64(data):
    return base64.b64encode(data).decode()


# --- the settings -------------------------------------------------------------------------


def test_the_service_entries_keep_their_promises():
    assert SWIFT["apis"] == {"swift": {"port": 8080, "check": "GET /healthcheck"}}
    assert set(SWIFT["secrets"]) == {"swift_hash_path_prefix", "swift_hash_path_suffix"}
    assert SWIFT["roles"] == ["controller", "object"]
    assert SWIFT["units"]["controller"] == ["swift-proxy"]
    assert "rsync" in SWIFT["units"]["object"]
    assert not set(SWIFT["settings"]["idle_units"]) & set(SWIFT["units"]["object"])
    proxy = SWIFT["config"]["/etc/swift/proxy-server.conf"]
    pipeline = proxy["pipeline:main"]["pipeline"].split()
    assert "tempauth" not in pipeline and pipeline[-1] == "proxy-server"
    assert pipeline.index("authtoken") + 1 == pipeline.index("keystoneauth")
    assert pipeline.index("healthcheck") < pipeline.index("authtoken")
    assert proxy["DEFAULT"]["bind_ip"] == "{me}" and proxy["DEFAULT"]["workers"] == 1
    assert (SETTINGS["part_power"], SETTINGS["replicas"]) == (8, 2)
    # cinder: API and scheduler only; cinder-volume is Pacemaker's, not Salt's
    assert CINDER["units"] == ["cinder-api", "cinder-scheduler"]
    assert CINDER["settings"]["pacemaker_units"] == ["cinder-volume"]
    assert CINDER["apis"]["cinder"]["port"] == 8776
    conf = CINDER["config"]["/etc/cinder/cinder.conf"]
    assert "cluster" not in conf["DEFAULT"] and conf["nfs"]["backend_host"]
    assert not CINDER.get("notifications")


def test_the_lab_selects_directories_for_swift():
    assert LAB_SETTINGS["swift"] == {"storage": "directory"}


# --- the runner's pure helpers ---------------------------------------------------------------


@pytest.mark.parametrize("disk, name", [
    ({"file": "/var/lib/swift-disks/d1.img", "size_gb": 2}, "d1"),
    ({"device": "/dev/sdb"}, "sdb"),
    ({"device": "/dev/disk/by-id/wwn-0x5000/"}, "wwn-0x5000"),
])
def test_device_name(disk, name):
    assert rings.device_name(disk) == name


def test_device_name_needs_a_path():
    with pytest.raises(SaltInvocationError, match="needs `file` or `device`"):
        rings.device_name({"size_gb": 2})


def test_the_lab_plan_has_one_zone_per_object_node():
    assert rings.plan(SITE["site"], SETTINGS) == [
        {"node": "ctl1", "region": 1, "zone": 1, "ip": "10.77.0.11", "device": "d1",
         "weight": 100},
        {"node": "ctl2", "region": 1, "zone": 2, "ip": "10.77.0.12", "device": "d1",
         "weight": 100},
    ]


def test_the_plan_follows_the_cluster_order_not_the_names():
    data = site()
    data["nodes"]["ctl1"]["cluster_id"], data["nodes"]["ctl2"]["cluster_id"] = 2, 1
    assert [d["node"] for d in rings.plan(data, SETTINGS)] == ["ctl2", "ctl1"]


def test_an_object_node_without_a_disk_is_refused():
    data = site()
    data["nodes"]["ctl2"].pop("disks")
    with pytest.raises(SaltInvocationError, match=r"site:nodes:ctl2:disks:swift"):
        rings.plan(data, SETTINGS)


def test_more_replicas_than_nodes_is_refused():
    data = site()
    data["nodes"]["ctl2"]["roles"].remove("object")
    with pytest.raises(SaltInvocationError, match="2 replicas need as many object nodes"):
        rings.plan(data, SETTINGS)


def test_two_disks_of_one_name_are_refused():
    data = site()
    data["nodes"]["ctl1"]["disks"]["swift"].append({"device": "/dev/d1"})
    with pytest.raises(SaltInvocationError, match="the same device name"):
        rings.plan(data, SETTINGS)


def _stored(devices):
    return {"part_power": 8, "replicas": 2, "min_part_hours": 1,
            "ports": dict(SETTINGS["ports"]), "devices": devices,
            "builders": {k: b64(b"builder-" + k.encode()) for k in KINDS},
            "rings": {k: b64(b"ring-" + k.encode()) for k in KINDS}}


def test_changes_first_build_and_nothing_new():
    wanted = rings.plan(SITE["site"], SETTINGS)
    assert rings.changes({}, wanted, SETTINGS) == wanted
    assert rings.changes(_stored(wanted), wanted, SETTINGS) == []


def test_changes_a_new_disk_only():
    wanted = rings.plan(SITE["site"], SETTINGS)
    data = site()
    data["nodes"]["ctl2"]["disks"]["swift"].append({"device": "/dev/sdc"})
    more = rings.plan(data, SETTINGS)
    assert rings.changes(_stored(wanted), more, SETTINGS) == [
        {"node": "ctl2", "region": 1, "zone": 2, "ip": "10.77.0.12", "device": "sdc",
         "weight": 100}]


@pytest.mark.parametrize("change, message", [
    (lambda s, w: w.pop(), "is in the rings but not in the inventory"),
    (lambda s, w: w[0].update(ip="10.77.0.99"), "device d1 of ctl1 changed"),
    (lambda s, w: s.update(replicas=3), "replicas is 3 in the rings"),
    (lambda s, w: s["ports"].update(object=6000), "the rings use ports"),
])
def test_changes_other_than_additions_are_refused(change, message):
    wanted = rings.plan(SITE["site"], SETTINGS)
    stored = _stored(copy.deepcopy(wanted))
    change(stored, wanted)
    with pytest.raises(SaltInvocationError, match=message):
        rings.changes(stored, wanted, SETTINGS)


def test_commands_of_a_first_build():
    wanted = rings.plan(SITE["site"], SETTINGS)
    assert rings.commands("object", SETTINGS, wanted, fresh=True) == [
        ["create", "8", "2", "1"],
        ["add", "--region", "1", "--zone", "1", "--ip", "10.77.0.11", "--port", "6200",
         "--device", "d1", "--weight", "100"],
        ["add", "--region", "1", "--zone", "2", "--ip", "10.77.0.12", "--port", "6200",
         "--device", "d1", "--weight", "100"],
        ["rebalance"],
    ]
    ports = {k: rings.commands(k, SETTINGS, wanted[:1], fresh=False)[0][8] for k in KINDS}
    assert ports == {"account": "6202", "container": "6201", "object": "6200"}


def test_build_request_starts_from_the_kept_builders():
    wanted = rings.plan(SITE["site"], SETTINGS)
    first = rings.build_request({}, wanted, wanted, SETTINGS)
    assert set(first["rings"]) == set(KINDS)
    assert all(r["builder"] is None and r["commands"][0][0] == "create"
               for r in first["rings"].values())
    stored = _stored(wanted[:1])
    later = rings.build_request(stored, wanted, wanted[1:], SETTINGS)
    for kind, spec in later["rings"].items():
        assert spec["builder"] == stored["builders"][kind]
        assert [c[0] for c in spec["commands"]] == ["add", "rebalance"]
        assert spec["commands"][0][6] == "10.77.0.12"
    # a kept builder lost for one ring: that ring starts over with every device
    del stored["builders"]["container"]
    again = rings.build_request(stored, wanted, [], SETTINGS)
    assert [c[0] for c in again["rings"]["container"]["commands"]] == [
        "create", "add", "add", "rebalance"]
    assert [c[0] for c in again["rings"]["object"]["commands"]] == ["rebalance"]


def test_stored_after_keeps_builders_rings_and_their_digests():
    wanted = rings.plan(SITE["site"], SETTINGS)
    result = {k: {"builder": b64(b"B" + k.encode()), "ring": b64(b"R" + k.encode())}
              for k in KINDS}
    data = rings.stored_after(result, wanted, SETTINGS, "ctl1")
    assert data["sha256"]["object"] == hashlib.sha256(b"Robject").hexdigest()
    assert data["devices"] == wanted and data["built_on"] == "ctl1"
    assert (data["part_power"], data["replicas"], data["ports"]) == (8, 2, SETTINGS["ports"])
    del result["account"]["ring"]
    with pytest.raises(SaltInvocationError, match="no account builder/ring"):
        rings.stored_after(result, wanted, SETTINGS, "ctl1")


# --- the runner on the master ------------------------------------------------------------------


class FakeBuild:
    """``salt.execute(node, 'cmd.script', ...)``: answers like the node script."""

    def __init__(self, answers=None):
        self.calls = []
        self.answers = answers or {}

    def __call__(self, tgt, fun, arg=(), kwarg=None, timeout=None):
        self.calls.append((tgt, fun, list(arg), json.loads(kwarg["stdin"])))
        answer = self.answers.get(tgt, "build")
        if answer != "build":
            return {tgt: answer} if answer is not None else {}
        request = json.loads(kwarg["stdin"])
        out = {kind: {"builder": b64(f"{kind}:{len(spec['commands'])}".encode()),
                      "ring": b64(f"ring:{kind}:{json.dumps(spec['commands'])}".encode()),
                      "log": ""} for kind, spec in request["rings"].items()}
        return {tgt: {"retcode": 0, "stdout": json.dumps(out), "stderr": ""}}


@pytest.fixture
def master(tmp_path):
    build = FakeBuild()
    pillar = {"site": copy.deepcopy(SITE["site"])}
    funcs = {"pillar.show_pillar": lambda *a, **k: copy.deepcopy(pillar),
             "salt.execute": build}
    opts = {"twin_cloud_generated_pillar": str(tmp_path / "pillar"),
            "file_roots": {"base": [str(REPO / "salt"), str(REPO)]}}
    with patch.object(rings, "__salt__", funcs, create=True), \
            patch.object(rings, "__opts__", opts, create=True), \
            patch.object(rings, "__utils__", load_utils("generated_pillar"), create=True):
        yield build, pillar, tmp_path / "pillar" / "swift_rings.sls"


def test_ensure_builds_once_and_keeps_the_result(master):
    build, _, path = master
    first = rings.ensure()
    assert first["changed"] is True and first["built_on"] == "ctl1"
    assert first["added"] == ["ctl1/d1", "ctl2/d1"]
    assert first["devices"] == ["z1-10.77.0.11/d1 (ctl1)", "z2-10.77.0.12/d1 (ctl2)"]
    (node, fun, arg, request), = build.calls
    assert (node, fun, arg) == ("ctl1", "cmd.script",
                                ["salt://openstack/files/swift-ring-build.py"])
    assert request == rings.build_request({}, rings.plan(SITE["site"], SETTINGS),
                                          rings.plan(SITE["site"], SETTINGS), SETTINGS)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    kept = yaml.safe_load(path.read_text())["swift_rings"]
    assert set(kept["rings"]) == set(KINDS) == set(kept["builders"])
    assert rings.pillar() == {"swift_rings": kept}
    second = rings.ensure()
    assert second["changed"] is False and second["sha256"] == first["sha256"]
    assert len(build.calls) == 1
    assert rings.show() == {k: v for k, v in second.items() if k != "changed"}
    # no ring bytes in what a run reports
    assert kept["rings"]["object"] not in repr(first)


def test_ensure_adds_a_new_disk_to_the_kept_builders(master):
    build, pillar, path = master
    rings.ensure()
    kept = yaml.safe_load(path.read_text())["swift_rings"]
    pillar["site"]["nodes"]["ctl1"]["disks"]["swift"].append({"device": "/dev/sdc"})
    ret = rings.ensure()
    assert ret["changed"] is True and ret["added"] == ["ctl1/sdc"]
    request = build.calls[-1][3]
    for kind in KINDS:
        assert request["rings"][kind]["builder"] == kept["builders"][kind]
        assert [c[0] for c in request["rings"][kind]["commands"]] == ["add", "rebalance"]
    assert len(yaml.safe_load(path.read_text())["swift_rings"]["devices"]) == 3


def test_ensure_uses_the_next_object_node_when_the_first_fails(master):
    build, _, path = master
    build.answers["ctl1"] = {"retcode": 1, "stdout": "", "stderr": "swift-ring-builder: boom"}
    assert rings.ensure()["built_on"] == "ctl2"
    assert [c[0] for c in build.calls] == ["ctl1", "ctl2"]


def test_ensure_fails_when_no_node_builds(master):
    build, _, path = master
    build.answers.update({"ctl1": None, "ctl2": {"retcode": 1, "stderr": "boom"}})
    with pytest.raises(SaltInvocationError, match=r"ctl1: no answer.*ctl2: the build failed"):
        rings.ensure()
    assert not path.exists()


def test_ensure_takes_the_pillar_settings(master):
    build, pillar, path = master
    pillar["swift"] = {"part_power": 10, "weight": 50}
    rings.ensure()
    commands = build.calls[0][3]["rings"]["object"]["commands"]
    assert commands[0] == ["create", "10", "2", "1"] and commands[1][-1] == "50"


# --- the node-side script (a fake swift-ring-builder) --------------------------------------------

FAKE_BUILDER = r"""#!{python}
import json, sys
builder, command = sys.argv[1], sys.argv[2]
kind = builder.split(".")[0]
log = json.load(open(builder)) if command != "create" else []
log.append(sys.argv[2:])
json.dump(log, open(builder, "w"))
if command == "rebalance":
    if any(c[0] == "add" for c in log):
        open(kind + ".ring.gz", "w").write(json.dumps(log))
        sys.exit({rebalance_code})
    print("No partitions could be reassigned.")
    sys.exit(1)
if command == "write_ring":
    open(kind + ".ring.gz", "w").write("written:" + json.dumps(log))
if command == "fail":
    print("cannot do that")
    sys.exit(2)
"""


def _script(tmp_path, rebalance_code=0):
    spec = importlib.util.spec_from_file_location(
        "swift_ring_build", REPO / "salt" / "openstack" / "files" / "swift-ring-build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fake = tmp_path / "swift-ring-builder"
    fake.write_text(FAKE_BUILDER.format(python=sys.executable, rebalance_code=rebalance_code))
    fake.chmod(0o755)
    module.BUILDER = str(fake)
    return module


def _run(module, request, capsys):
    with patch.object(sys, "stdin", io.StringIO(json.dumps(request))):
        code = module.main()
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("rebalance_code", [0, 1])
def test_the_node_script_runs_the_commands_and_returns_the_files(tmp_path, capsys,
                                                                 rebalance_code):
    module = _script(tmp_path, rebalance_code)
    wanted = rings.plan(SITE["site"], SETTINGS)
    request = rings.build_request({}, wanted, wanted, SETTINGS)
    code, out, err = _run(module, request, capsys)
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == set(KINDS)
    for kind in KINDS:
        log = json.loads(base64.b64decode(result[kind]["ring"]))
        assert log == request["rings"][kind]["commands"]
        assert json.loads(base64.b64decode(result[kind]["builder"])) == log
        assert "$ swift-ring-builder object.builder create 8 2 1" in result["object"]["log"]


def test_the_node_script_writes_the_ring_when_rebalance_moves_nothing(tmp_path, capsys):
    module = _script(tmp_path)
    kept = b64(json.dumps([["create", "8", "2", "1"]]).encode())
    request = {"rings": {"object": {"builder": kept, "commands": [["rebalance"]]}}}
    code, out, _ = _run(module, request, capsys)
    assert code == 0
    ring = base64.b64decode(json.loads(out)["object"]["ring"]).decode()
    assert ring.startswith("written:")


def test_the_node_script_stops_at_a_failing_command(tmp_path, capsys):
    module = _script(tmp_path)
    request = {"rings": {"object": {"builder": None,
                                    "commands": [["create", "8", "2", "1"], ["fail"]]}}}
    with pytest.raises(SystemExit) as exit_info:
        _run(module, request, capsys)
    assert exit_info.value.code == 1
    assert "fail: exit 2" in capsys.readouterr().err


# --- the SLS, rendered ----------------------------------------------------------------------------


def _opts(tmp_path, minion_id, pillar):
    return minion_opts(
        tmp_path, minion_id, pillar, file_roots=served_roots(),
        # the extensions load from module_dirs; a state run syncing them
        # into the cache as well races the loader (functions missing at times)
        autoload_dynamic_modules=False)


@pytest.fixture(scope="module")
def minion(tmp_path_factory):
    """minion(id, **pillar): a masterless minion with the lab's site and secrets."""
    with minion_loaders() as loaders:

        def get(minion_id, site_data=None, **extra):
            pillar = {"site": copy.deepcopy(site_data or SITE["site"]),
                      "secrets": dict(SECRETS), **copy.deepcopy(extra)}
            return loaders((minion_id, repr(pillar)),
                           lambda: _opts(tmp_path_factory.mktemp(minion_id), minion_id, pillar))

        yield get


def _high(loaders, sls):
    high = loaders.modules.state.show_sls(sls)
    assert isinstance(high, dict), high
    return high


RINGS = {"swift_rings": {"rings": {k: b64(b"ring " + k.encode()) for k in KINDS}}}


def _running(high):
    return {_args(s)["name"] for s in high.values() if _function(s) == "service.running"}


def test_swift_on_a_lab_controller(minion):
    high = _high(minion("ctl1", swift={"storage": "directory"}, **RINGS), "openstack.swift")
    assert all(sid.startswith("openstack-") for sid in high), sorted(high)
    # directory storage: nothing mounted or formatted (the only commands are
    # the daemon-reloads after the units' start drop-ins)
    assert not [sid for sid, s in high.items() if sid.startswith("openstack-swift-")
                and (_function(s) == "mount.mounted"
                     or _function(s) == "cmd.run"
                     and _args(s, "cmd")["name"] != "systemctl daemon-reload")]
    assert _running(high) == {"swift-proxy", *SWIFT["units"]["object"]}
    disk = _args(high["openstack-swift-disk-d1"], "file")
    assert (disk["name"], disk["user"], disk["group"]) == ("/srv/node/d1", "swift", "swift")
    conf = _args(high["openstack-swift-config-/etc/swift/object-server.conf"], "file")
    text = conf["contents"]
    for line in ("bind_ip = 10.77.0.11", "bind_port = 6200", "devices = /srv/node",
                 "mount_check = false", "pipeline = healthcheck recon object-server",
                 "[object-replicator]", "[object-updater]", "[object-auditor]"):
        assert line in text, text
    assert (conf["group"], conf["mode"]) == ("swift", "0640")
    account = _args(high["openstack-swift-config-/etc/swift/account-server.conf"])["contents"]
    assert "bind_port = 6202" in account and "[account-reaper]" in account
    watched = {list(w.values())[0] for w in conf["watch_in"]}
    assert watched == {f"openstack-swift-unit-{u}-running"
                       for u in SWIFT["units"]["object"] if u.startswith("swift-object")}
    for kind in KINDS:
        ring = _args(high[f"openstack-swift-ring-{kind}"], "file")
        assert ring["name"] == f"/etc/swift/{kind}.ring.gz"
        assert ring["contents_pillar"] == f"swift_rings:rings:{kind}"
        assert len(ring["require_in"]) == len(_running(high))
    assert "openstack-swift-rings-missing" not in high
    rsyncd = _args(high["openstack-swift-rsyncd-config"], "file")
    assert rsyncd["context"]["allow"] == ["10.77.0.11", "10.77.0.12"]
    idle = {_args(s)["name"] for s in high.values() if _function(s) == "service.dead"}
    assert idle == set(SWIFT["settings"]["idle_units"])
    assert all(_args(high[f"openstack-swift-unit-{u}-idle"])["enable"] is False for u in idle)


def test_swift_on_a_real_site_formats_and_mounts_only_blank_disks(minion):
    data = site()
    data["nodes"]["ctl2"]["disks"]["swift"] = [{"device": "/dev/sdb"}]
    high = _high(minion("ctl1", data, **RINGS), "openstack.swift")
    xfs = _args(high["openstack-swift-disk-d1-xfs"], "cmd")
    assert xfs["name"].startswith("mkfs.xfs") and xfs["name"].endswith(
        " /var/lib/swift-disks/d1.img")
    assert xfs["unless"] == "blkid -p /var/lib/swift-disks/d1.img"
    made = [s for s in high["openstack-swift-disk-d1-file"]["cmd"] if isinstance(s, dict)]
    assert {"creates": "/var/lib/swift-disks/d1.img"} in made
    mounted = _args(high["openstack-swift-disk-d1-mounted"], "mount")
    assert (mounted["name"], mounted["device"], mounted["fstype"]) == (
        "/srv/node/d1", "/var/lib/swift-disks/d1.img", "xfs")
    assert mounted["opts"][0] == "loop" and mounted["persist"] is True
    assert mounted["device_name_regex"] == ["^/dev/loop[0-9]+$"]
    text = _args(high["openstack-swift-config-/etc/swift/container-server.conf"])["contents"]
    assert "mount_check = true" in text and "bind_port = 6201" in text
    # a block device: no file, no loop
    high2 = _high(minion("ctl2", data, **RINGS), "openstack.swift")
    assert "openstack-swift-disk-sdb-file" not in high2
    mounted2 = _args(high2["openstack-swift-disk-sdb-mounted"], "mount")
    assert mounted2["device"] == "/dev/sdb" and "loop" not in mounted2["opts"]
    assert "device_name_regex" not in mounted2
    assert _args(high2["openstack-swift-disk-sdb-xfs"])["unless"] == "blkid -p /dev/sdb"


def test_swift_without_rings_starts_nothing_and_says_what_to_run(minion):
    high = _high(minion("ctl2", swift={"storage": "directory"}), "openstack.swift")
    missing = _args(high["openstack-swift-rings-missing"], "test")
    assert "salt-run swift_rings.ensure" in missing["comment"]
    assert len(missing["require_in"]) == len(_running(high))
    assert not [sid for sid in high if sid.startswith("openstack-swift-ring-")]


def test_swift_on_a_proxy_only_controller_stops_the_storage_daemons(minion):
    data = site()
    data["nodes"]["ctl2"]["roles"] = ["controller", "compute", "network"]
    high = _high(minion("ctl2", data, **RINGS), "openstack.swift")
    assert _running(high) == {"swift-proxy"}
    idle = {_args(s)["name"] for s in high.values() if _function(s) == "service.dead"}
    assert idle == (set(SWIFT["units"]["object"]) - {"rsync"}) | set(
        SWIFT["settings"]["idle_units"])
    assert "openstack-swift-rsyncd-config" not in high
    assert not [sid for sid in high if sid.startswith("openstack-swift-disk")]


def test_swift_refuses_an_unknown_storage_mode(minion):
    loaders = minion("ctl1", swift={"storage": "tmpfs"}, **RINGS)
    rendered = loaders.modules.state.show_sls("openstack.swift")
    assert "swift:storage: tmpfs is not mount" in str(rendered)


def test_swift_configs_rendered_by_the_pattern(minion):
    loaders = minion("ctl2", **RINGS)
    proxy = loaders.modules.openstack.ini("swift", "/etc/swift/proxy-server.conf")
    for line in ("bind_ip = 10.77.0.12", "bind_port = 8080",
                 "memcache_servers = 10.77.0.11:11211,10.77.0.12:11211",
                 "oslo_config_file = /etc/swift/proxy-server.conf",
                 "[keystone_authtoken]", "username = swift", "password = swift-ks-secret",
                 "operator_roles = admin,member", "use = egg:swift#keystoneauth"):
        assert line in proxy, proxy
    assert "tempauth" not in proxy
    swift_conf = loaders.modules.openstack.ini("swift", "/etc/swift/swift.conf")
    assert "swift_hash_path_prefix = prefix-secret" in swift_conf
    assert "swift_hash_path_suffix = suffix-secret" in swift_conf
    assert "[keystone_authtoken]" not in swift_conf


def test_cinder_on_the_controllers(minion):
    confs = {}
    for node, address in (("ctl1", "10.77.0.11"), ("ctl2", "10.77.0.12")):
        loaders = minion(node)
        high = _high(loaders, "openstack.cinder")
        assert all(sid.startswith("openstack-") for sid in high), sorted(high)
        assert _running(high) == {"cinder-api", "cinder-scheduler"}
        shares = _args(high["openstack-cinder-nfs-shares"], "file")
        assert shares["contents"].splitlines()[-1] == "10.77.0.13:/srv/nfs/volumes"
        assert (shares["group"], shares["mode"]) == ("cinder", "0640")
        assert _function(high["openstack-cinder-unit-cinder-volume-not-at-boot"]) == (
            "service.disabled")
        # Salt never starts or stops cinder-volume (Pacemaker does)
        assert not [s for s in high.values()
                    if _args(s).get("name") == "cinder-volume"
                    and _function(s) in ("service.running", "service.dead")]
        backup = _args(high["openstack-cinder-unit-cinder-backup-idle"], "service")
        assert backup["enable"] is False
        assert _args(high["openstack-cinder-nfs-client-pkgs-installed"])["pkgs"] == [
            "nfs-common"]
        text = loaders.modules.openstack.ini("cinder", "/etc/cinder/cinder.conf")
        assert f"my_ip = {address}" in text
        assert "oslo_messaging_notifications" not in text and "cluster =" not in text
        confs[node] = text
    backend = [line for line in confs["ctl1"].splitlines() if line.startswith("backend_host")]
    assert backend == ["backend_host = nfs-volumes"]
    assert backend[0] in confs["ctl2"]
