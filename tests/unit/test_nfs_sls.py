"""The nfs SLS (salt/nfs), rendered by Salt's real loader (masterless, no
daemon) with the lab's site pillar: what the NAS serves with each server
implementation, what the controllers mount or check, the files written, and
the clear refusals for bad data."""

import copy
import re

import pytest

from .sls import (served_roots, load, minion_loaders, minion_opts, render_error_expected,
                  render_file, state_args as _args,
                  state_function as _function)

SITE = load("lab/pillar/site.sls")
DEFAULTS = load("salt/nfs/defaults.yaml")
NAS = "10.77.0.13"
CIDR = "10.77.0.0/24"
PATHS = {"images": "/srv/nfs/images", "volumes": "/srv/nfs/volumes", "backups": "/srv/nfs/backups",
         "metrics": "/srv/nfs/metrics"}
# the lab's choice (the pillar the lab adds): userspace server, no kernel mounts
LAB = {"nfs": {"server": {"implementation": "ganesha"}, "client": {"mount": False}}}


class Minion:
    def __init__(self, loaders):
        self.loaders = loaders

    def show_sls(self, sls, **kwargs):
        return self.loaders.modules.state.show_sls(sls, **kwargs)

    def render_file(self, state):
        """Render the template a file.managed state names, with its context."""
        return render_file(self.loaders, state)


@pytest.fixture(scope="module")
def minion(tmp_path_factory):
    """minion(id, overrides=None, site=None): a masterless minion with that pillar."""
    with minion_loaders() as loaders:

        def get(minion_id, overrides=None, site=None):
            pillar = {**copy.deepcopy(SITE if site is None else site), **(overrides or {})}
            return Minion(loaders((minion_id, repr(pillar)), lambda: minion_opts(
                tmp_path_factory.mktemp(minion_id), minion_id, pillar, file_roots=served_roots())))

        yield get


def _high(minion, sls, **kwargs):
    high = minion.show_sls(sls, **kwargs)
    assert isinstance(high, dict), high
    return high


def _requires(state):
    return _args(state).get("require", [])


# --- data --------------------------------------------------------------------------------


def test_every_package_is_in_a_pkgs_list_the_lab_repository_downloads():
    pkgs = DEFAULTS["pkgs"]
    assert pkgs["server"] == ["nfs-kernel-server"] and pkgs["client"] == ["nfs-common"]
    assert pkgs["ganesha"] == ["nfs-ganesha", "nfs-ganesha-vfs"]
    assert pkgs["probe"] == ["libnfs-utils"]


def test_defaults_choose_the_kernel_server_and_kernel_mounts():
    assert DEFAULTS["server"]["implementation"] == "kernel"
    assert DEFAULTS["client"]["mount"] is True
    ids = [export["export_id"] for export in DEFAULTS["exports"].values()]
    assert len(ids) == len(set(ids)) == 4


# --- the NAS, kernel server (a real site) -------------------------------------------------


def test_all_ids_namespaced(minion):
    for minion_id, overrides in (("nas", None), ("nas", LAB), ("ctl1", None), ("ctl1", LAB)):
        high = _high(minion(minion_id, overrides), "nfs")
        assert high and all(sid.startswith("nfs-") for sid in high), sorted(high)


def test_kernel_server_refuses_before_installing_anything_without_nfsd(minion):
    high = _high(minion("nas"), "nfs.server")
    check = high["nfs-kernel-nfsd-available"]
    assert _function(check) == "test.configurable_test_state"
    args = _args(check)
    assert args["result"] is False and args["changes"] is False
    assert args["allow_test_mode_failure"] is True  # test=True says it too
    assert "nfs:server:implementation: ganesha" in args["comment"]
    assert "/proc/filesystems" in args["unless"] and "modprobe -q nfsd" in args["unless"]
    # nothing installed or configured unless the kernel can serve NFS
    assert {"test": "nfs-kernel-nfsd-available"} in _requires(high["nfs-kernel-ganesha-removed"])
    assert {"pkg": "nfs-kernel-ganesha-removed"} in _requires(high["nfs-kernel-pkgs-installed"])
    assert _args(high["nfs-kernel-pkgs-installed"])["pkgs"] == ["nfs-kernel-server"]
    assert _args(high["nfs-kernel-ganesha-removed"])["pkgs"] == ["nfs-ganesha", "nfs-ganesha-vfs"]
    assert not [sid for sid in high if sid.startswith("nfs-ganesha-")]


def test_kernel_exports_only_to_the_management_network_all_squashed(minion):
    nas = minion("nas")
    high = _high(nas, "nfs.server")
    exports = nas.render_file(high["nfs-kernel-exports-managed"])
    lines = [line for line in exports.splitlines() if line and not line.startswith("#")]
    assert len(lines) == 4
    for name, path in PATHS.items():
        owner = DEFAULTS["exports"][name]
        line = next(line for line in lines if line.startswith(path + " "))
        assert line == (
            f"{path} {CIDR}(rw,sync,no_subtree_check,sec=sys,all_squash,"
            f"anonuid={owner['uid']},anongid={owner['gid']})"
        )
    applied = high["nfs-kernel-exports-applied"]
    assert _args(applied)["name"] == "exportfs -ra"
    assert _args(applied)["onchanges"] == [{"file": "nfs-kernel-exports-managed"}]


def test_kernel_nfsd_listens_on_the_management_address_without_nfs40(minion):
    nas = minion("nas")
    high = _high(nas, "nfs.server")
    conf = nas.render_file(high["nfs-kernel-nfs-conf-managed"])
    assert _args(high["nfs-kernel-nfs-conf-managed"])["name"] == "/etc/nfs.conf.d/twin-cloud.conf"
    for line in (f"host={NAS}", "vers3=y", "vers4=y", "vers4.0=n", "vers4.1=y", "vers4.2=y",
                 "port=20048"):
        assert line in conf.splitlines(), conf
    service = _args(high["nfs-kernel-service-running"], "service")
    assert service["name"] == "nfs-server" and service["enable"] is True
    assert {"file": "nfs-kernel-nfs-conf-managed"} in service["watch"]


def test_export_directories_owned_by_the_squash_ids(minion):
    high = _high(minion("nas"), "nfs.server")
    for name, path in PATHS.items():
        args = _args(high[f"nfs-exports-{name}-directory"], "file")
        owner = DEFAULTS["exports"][name]
        assert (args["name"], args["user"], args["group"], args["mode"]) == (
            path, owner["uid"], owner["gid"], "0770")
    # the ids Debian's packages give glance, cinder and backup on every host; gnocchi's is
    # the fixed id the OpenStack packages step creates
    ids = {name: (export["uid"], export["gid"]) for name, export in DEFAULTS["exports"].items()}
    assert ids == {"images": (64062, 64062), "volumes": (64061, 64061), "backups": (34, 34),
                   "metrics": (64080, 64080)}


@pytest.mark.parametrize("overrides", [None, LAB], ids=["kernel", "ganesha"])
def test_the_nas_checks_its_exports_after_the_server(minion, overrides):
    high = _high(minion("nas", overrides), "nfs.server")
    impl = "ganesha" if overrides else "kernel"
    check = high["nfs-server-exports-served"]
    assert _function(check) == "cmd.script"
    args = _args(check)
    assert args["source"] == "salt://nfs/files/nfs-check-exports.sh"
    assert args["args"].split() == [NAS, "60", *sorted(PATHS.values())]
    assert args["stateful"] == [{"test_name": "nfs-check-exports"}]
    assert {"sls": f"nfs.{impl}"} in args["require"]
    assert {"pkg": "nfs-server-probe-pkgs-installed"} in args["require"]
    assert _args(high["nfs-server-probe-pkgs-installed"])["pkgs"] == ["libnfs-utils"]


def test_test_mode_makes_the_check_report_instead_of_wait(minion):
    high = _high(minion("nas", LAB), "nfs.server", test=True)
    assert _args(high["nfs-server-exports-served"])["args"].split()[:3] == ["--test", NAS, "60"]


# --- the NAS, ganesha (the lab) -----------------------------------------------------------


def test_ganesha_replaces_the_kernel_server_and_refuses_overlayfs_first(minion):
    high = _high(minion("nas", LAB), "nfs.server")
    assert not [sid for sid in high if sid.startswith("nfs-kernel-")]
    assert _args(high["nfs-ganesha-kernel-server-removed"])["pkgs"] == ["nfs-kernel-server"]
    assert _args(high["nfs-ganesha-pkgs-installed"])["pkgs"] == ["nfs-ganesha", "nfs-ganesha-vfs"]
    for name, path in PATHS.items():
        sid = f"nfs-ganesha-{name}-filesystem-has-handles"
        args = _args(high[sid])
        assert args["result"] is False and args["allow_test_mode_failure"] is True
        assert f"{path} is on overlayfs" in args["comment"]
        assert f"p={path};" in args["unless"] and "overlayfs" in args["unless"]
        assert {"sls": "nfs.exports"} in args["require"]
        assert {"file": "nfs-ganesha-config-managed"} in args["require_in"]
    service = _args(high["nfs-ganesha-service-running"], "service")
    assert service["name"] == "nfs-ganesha" and service["enable"] is True
    assert service["watch"] == [{"file": "nfs-ganesha-config-managed"}]


def _blocks(conf, name):
    """The bodies of the top-level blocks called ``name`` (nested braces kept)."""
    bodies, start = [], 0
    while (match := re.compile(rf"^{name} \{{", re.M).search(conf, start)):
        depth, index = 0, match.end() - 1
        for index in range(match.end() - 1, len(conf)):
            depth += {"{": 1, "}": -1}.get(conf[index], 0)
            if depth == 0:
                break
        bodies.append(conf[match.end():index])
        start = index
    return bodies


def test_ganesha_config_serves_the_management_network_only(minion):
    nas = minion("nas", LAB)
    high = _high(nas, "nfs.server")
    assert _args(high["nfs-ganesha-config-managed"])["name"] == "/etc/ganesha/ganesha.conf"
    conf = nas.render_file(high["nfs-ganesha-config-managed"])
    assert conf.count("{") == conf.count("}")
    (core,) = _blocks(conf, "NFS_CORE_PARAM")
    for line in (f"Bind_addr = {NAS};", "Protocols = 3, 4;", "MNT_Port = 20048;",
                 "Enable_UDP = false;", "Enable_NLM = false;"):
        assert line in core, core
    (v4,) = _blocks(conf, "NFSV4")
    assert "Minor_Versions = 1, 2;" in v4
    (defaults,) = _blocks(conf, "EXPORT_DEFAULTS")
    assert "Access_Type = None;" in defaults
    exports = _blocks(conf, "EXPORT")
    assert len(exports) == 4
    for name, path in PATHS.items():
        body = next(body for body in exports if f'Path = "{path}";' in body)
        owner = DEFAULTS["exports"][name]
        export_level, client = body.split("CLIENT {")
        for line in (f"Export_Id = {owner['export_id']};", f'Pseudo = "{path}";',
                     "Squash = All_Squash;", f"Anonymous_Uid = {owner['uid']};",
                     f"Anonymous_Gid = {owner['gid']};", "SecType = sys;", "Transports = TCP;",
                     "Access_Type = None;", "Name = VFS;"):
            assert line in export_level, (name, line, body)
        # the only grant: read-write to the management network
        assert re.findall(r"Access_Type = (\w+);", client) == ["RW"]
        assert re.findall(r"Clients = ([^;]+);", client) == [CIDR]


# --- the controllers ----------------------------------------------------------------------


def test_controllers_mount_images_backups_and_metrics_not_volumes(minion):
    high = _high(minion("ctl1"), "nfs.client")
    mounts = {sid: _args(state, "mount") for sid, state in high.items()
              if _function(state) == "mount.mounted"}
    assert sorted(mounts) == ["nfs-client-backups-mounted", "nfs-client-images-mounted",
                              "nfs-client-metrics-mounted"]
    images, backups = mounts["nfs-client-images-mounted"], mounts["nfs-client-backups-mounted"]
    metrics = mounts["nfs-client-metrics-mounted"]
    assert images["name"] == "/var/lib/glance/images"
    assert images["device"] == f"{NAS}:/srv/nfs/images"
    assert (backups["name"], backups["device"]) == ("/srv/backups", f"{NAS}:/srv/nfs/backups")
    assert (metrics["name"], metrics["device"]) == (
        "/var/lib/gnocchi/storage", f"{NAS}:/srv/nfs/metrics")
    for args in mounts.values():
        assert args["fstype"] == "nfs" and args["persist"] is True and args["mkmnt"] is False
        for opt in ("hard", "vers=4.1", "proto=tcp", "timeo=600", "retrans=2", "_netdev", "nofail"):
            assert opt in args["opts"], args["opts"]
        assert "soft" not in args["opts"]
        assert {"test": "nfs-client-kernel-nfs-available"} in args["require"]
        assert {"cmd": "nfs-client-exports-reachable"} in args["require"]
    assert _args(high["nfs-client-pkgs-installed"])["pkgs"] == ["nfs-common"]


def test_mount_points_are_closed_and_left_alone_once_mounted(minion):
    high = _high(minion("ctl1"), "nfs.client")
    for name, path in (("images", "/var/lib/glance/images"), ("backups", "/srv/backups"),
                       ("metrics", "/var/lib/gnocchi/storage")):
        args = _args(high[f"nfs-client-{name}-mountpoint"], "file")
        assert (args["name"], args["mode"], args["user"]) == (path, "0000", "root")
        assert args["unless"] == f"mountpoint -q {path}"


def test_kernel_mounts_refuse_clearly_where_the_kernel_has_no_nfs_client(minion):
    args = _args(_high(minion("ctl2"), "nfs.client")["nfs-client-kernel-nfs-available"])
    assert args["result"] is False and args["allow_test_mode_failure"] is True
    assert "nfs:client:mount: false" in args["comment"]
    assert "nfs4" in args["unless"] and "modprobe -q nfsv4" in args["unless"]


@pytest.mark.parametrize("minion_id", ["ctl1", "ctl2"])
def test_without_mounts_the_controllers_check_every_export_from_userspace(minion, minion_id):
    high = _high(minion(minion_id, LAB), "nfs.client")
    assert sorted(high) == ["nfs-client-exports-reachable", "nfs-client-probe-pkgs-installed"]
    args = _args(high["nfs-client-exports-reachable"], "cmd")
    assert args["args"].split() == [NAS, "60", *sorted(PATHS.values())]
    assert args["stateful"] == [{"test_name": "nfs-check-exports"}]
    assert _args(high["nfs-client-probe-pkgs-installed"])["pkgs"] == ["libnfs-utils"]


def test_a_v4_only_nas_can_skip_the_userspace_check(minion):
    high = _high(minion("ctl1", {"nfs": {"client": {"check": False}}}), "nfs.client")
    assert "nfs-client-exports-reachable" not in high
    mounted = _requires(high["nfs-client-images-mounted"])
    assert {"cmd": "nfs-client-exports-reachable"} not in mounted


def test_init_applies_by_role(minion):
    assert any(sid.startswith("nfs-ganesha-") for sid in _high(minion("nas", LAB), "nfs"))
    assert not any("mount" in sid for sid in _high(minion("nas", LAB), "nfs"))
    assert "nfs-client-images-mounted" in _high(minion("ctl1"), "nfs")


# --- bad data: a clear error before anything runs -----------------------------------------


def _error(minion_id, minion, sls, overrides=None, site=None):
    with render_error_expected():
        ret = minion(minion_id, overrides, site).show_sls(sls)
    assert isinstance(ret, list), ret  # render errors come back as a list of lines
    return "\n".join(ret)


def test_unknown_implementation_is_refused(minion):
    err = _error("nas", minion, "nfs.server", {"nfs": {"server": {"implementation": "knfsd"}}})
    assert "nfs:server:implementation: unknown implementation knfsd" in err


def test_an_export_without_settings_is_refused(minion):
    site = copy.deepcopy(SITE)
    site["site"]["nas"]["exports"]["scratch"] = {"path": "/srv/nfs/scratch"}
    err = _error("nas", minion, "nfs.server", site=site)
    assert "site:nas:exports:scratch: no settings for this export under nfs:exports" in err


def test_duplicate_export_ids_are_refused(minion):
    err = _error("nas", minion, "nfs.server", {"nfs": {"exports": {"volumes": {"export_id": 1}}}})
    assert "is already the export_id of another export" in err
