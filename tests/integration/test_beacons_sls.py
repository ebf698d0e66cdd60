"""salt/beacons on a real minion: the beacons its roles need, added to the
running minion without a restart, saved to minion.d/beacons.conf, and left
alone on the next run."""

import pathlib

import pytest
import yaml

CONTROLLER_UNITS = [
    "mariadb", "rabbitmq-server", "memcached", "corosync", "pacemaker", "corosync-qdevice",
]


@pytest.fixture
def beacons_cli(minion):
    cli = minion.salt_call_cli(timeout=120)
    yield cli
    cli.run("beacons.reset")
    cli.run("beacons.save")


def test_the_beacons_of_a_controller(minion, beacons_cli):
    dry = beacons_cli.run("state.apply", "beacons", test=True)
    assert dry.returncode == 0, dry
    assert beacons_cli.run("beacons.list", return_yaml=False).data == {}  # test mode: nothing

    first = beacons_cli.run("state.apply", "beacons")
    assert first.returncode == 0, first
    assert all(state["result"] is True for state in first.data.values()), first.data

    listed = beacons_cli.run("beacons.list", return_yaml=False).data
    assert sorted(listed) == ["galera", "pacemaker", "service"]
    service = {key: value for item in listed["service"] for key, value in item.items()}
    assert sorted(service["services"]) == sorted(CONTROLLER_UNITS)  # not haproxy: Pacemaker's
    assert service["services"]["mariadb"] == {"onchangeonly": True, "emitatstartup": False}
    assert service["interval"] == 5 and service["disable_during_state_run"] is True
    galera = {key: value for item in listed["galera"] for key, value in item.items()}
    assert galera == {"confirm": 3, "donor_stuck": 900, "interval": 5, "timeout": 3}

    saved = pathlib.Path(minion.config_dir) / "minion.d" / "beacons.conf"
    assert yaml.safe_load(saved.read_text())["beacons"] == listed

    available = beacons_cli.run("beacons.list_available", return_yaml=False).data
    assert {"galera", "pacemaker", "service"} <= set(available)

    again = beacons_cli.run("state.apply", "beacons")
    assert again.returncode == 0, again
    present = {k: v for k, v in again.data.items() if k.startswith("beacon_|-")}
    assert len(present) == 3
    assert all(v["changes"] == {} and "in correct state" in v["comment"]
               for v in present.values()), present
