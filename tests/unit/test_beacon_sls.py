"""salt/beacons rendered by Salt's real loader (masterless, no daemon) with
the lab's site pillar, for each role: which beacons a node gets, on which
services, with which options."""

import copy
import logging
import pathlib
from unittest.mock import patch

import pytest
import salt.config
import salt.loader
import yaml
from saltfactories.utils.functional import Loaders

REPO = pathlib.Path(__file__).resolve().parents[2]
SITE = yaml.safe_load((REPO / "lab" / "pillar" / "site.sls").read_text())
SETTINGS = yaml.safe_load((REPO / "lab" / "pillar" / "settings.sls").read_text())


@pytest.fixture(scope="module")
def file_roots(tmp_path_factory):
    """The repo's roots as the master serves them, without the checkout's .venv
    (the fileserver walks a root file by file)."""
    root = tmp_path_factory.mktemp("repo-root")
    for path in REPO.glob("_*"):
        if path.is_dir():
            (root / path.name).symlink_to(path)
    return [str(REPO / "salt"), str(root)]


@pytest.fixture(scope="module")
def render(tmp_path_factory, file_roots):
    tmp = tmp_path_factory.mktemp("minions")
    real_grains = salt.loader.grains
    cached = {}
    made = []

    def grains(opts, **kwargs):
        if not cached:
            cached.update(real_grains(opts, **kwargs))
        return {**cached, "id": opts["id"]}

    def show(minion_id, pillar):
        opts = salt.config.minion_config(None)
        opts.update({
            "id": minion_id,
            "file_client": "local",
            "cachedir": str(tmp / minion_id / "cache"),
            "pki_dir": str(tmp / minion_id / "pki"),
            "log_file": str(tmp / minion_id / "log"),
            "file_roots": {"base": file_roots},
            "pillar_roots": {"base": []},
            "module_dirs": [str(REPO / "_modules")],
            "grains_cache": False,
            "pillar": pillar,
        })
        with patch("salt.loader.grains", grains):
            loaders = Loaders(opts)
        made.append(loaders)
        ret = loaders.modules.state.show_sls("beacons")
        assert isinstance(ret, dict), ret
        return ret

    salt_log = logging.getLogger("salt")
    level = salt_log.level
    salt_log.setLevel(logging.WARNING)
    try:
        yield show
    finally:
        salt_log.setLevel(level)
        for loaders in made:
            loaders.reset_state()


def beacons(rendered):
    """{beacon name: (state function, {option: value})} of the rendered SLS."""
    found = {}
    for state in rendered.values():
        if "beacon" not in state:
            assert "sync_beacons" in state["saltutil"], state
            continue
        function = next(f for f in state["beacon"] if isinstance(f, str))
        args = {k: v for item in state["beacon"] if isinstance(item, dict) for k, v in item.items()}
        for requisite in ("require", "order"):
            args.pop(requisite, None)
        found[args.pop("name")] = (function, args)
    return found


def test_a_controller_watches_its_ha_services_and_runs_both_own_beacons(render):
    found = beacons(render("ctl1", {**SITE, **SETTINGS}))
    function, service = found["service"]
    assert function == "present" and service["save"] is True
    assert sorted(service["services"]) == sorted(
        ["mariadb", "rabbitmq-server", "memcached", "corosync", "pacemaker", "corosync-qdevice"])
    assert "haproxy" not in service["services"]  # Pacemaker restarts it
    assert service["services"]["memcached"] == {"onchangeonly": True, "emitatstartup": False}
    assert service["disable_during_state_run"] is True and service["interval"] == 5
    assert found["galera"] == ("present", {
        "save": True, "confirm": 3, "donor_stuck": 900, "interval": 5, "timeout": 3})
    assert found["pacemaker"] == ("present", {
        "save": True, "confirm": 2, "interval": 10, "timeout": 5})


def test_the_witness_watches_garbd_qnetd_rabbitmq_and_its_nfs_server(render):
    found = beacons(render("nas", {**SITE, **SETTINGS}))
    assert sorted(found["service"][1]["services"]) == [
        "corosync-qnetd", "garb", "nfs-ganesha", "rabbitmq-server"]
    assert found["galera"][0] == "absent" and found["pacemaker"][0] == "absent"


def test_the_kernel_nfs_server_by_default(render):
    found = beacons(render("nas", SITE))
    assert "nfs-server" in found["service"][1]["services"]


def test_two_node_mode_watches_no_quorum_device(render):
    site = copy.deepcopy(SITE)
    site["site"]["quorum"] = {"mode": "two_node"}
    del site["site"]["nodes"]["nas"]["roles"][1]  # no witness role without a witness
    found = beacons(render("ctl1", site))
    assert "corosync-qdevice" not in found["service"][1]["services"]


def test_pillar_overrides_the_defaults(render):
    pillar = {**SITE, "beacons": {"galera": {"confirm": 5}, "service": {"interval": 2}}}
    found = beacons(render("ctl2", pillar))
    assert found["galera"][1]["confirm"] == 5
    assert found["service"][1]["interval"] == 2


def test_a_node_not_in_the_inventory_gets_no_beacon(render):
    found = beacons(render("stranger", SITE))
    assert {name: function for name, (function, _) in found.items()} == {
        "service": "absent", "galera": "absent", "pacemaker": "absent"}
