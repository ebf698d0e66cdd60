"""salt/beacons rendered by Salt's real loader (masterless, no daemon) with
the lab's site pillar, for each role: which beacons a node gets, on which
services, with which options."""

import copy

import pytest

from .sls import REPO, SALT, load, minion_loaders, minion_opts

SITE = load("lab/pillar/site.sls")
SETTINGS = load("lab/pillar/settings.sls")


@pytest.fixture(scope="module")
def file_roots(tmp_path_factory):
    """The repo's roots as the master serves them, without the checkout's .venv
    (the fileserver walks a root file by file)."""
    root = tmp_path_factory.mktemp("repo-root")
    for path in REPO.glob("_*"):
        if path.is_dir():
            (root / path.name).symlink_to(path)
    return [SALT, root]


@pytest.fixture(scope="module")
def render(tmp_path_factory, file_roots):
    tmp = tmp_path_factory.mktemp("minions")
    with minion_loaders() as loaders:

        def show(minion_id, pillar):
            minion = loaders((minion_id, repr(pillar)), lambda: minion_opts(
                tmp / minion_id, minion_id, pillar, file_roots=file_roots))
            ret = minion.modules.state.show_sls("beacons")
            assert isinstance(ret, dict), ret
            return ret

        yield show


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
