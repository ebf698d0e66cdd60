"""Issue 2 on real nodes: the lab comes up, Salt drives it, its BMCs fence
for real, partitions cut links, and `down` leaves nothing behind."""

import os
import pathlib

import pytest

from lab import secrets as lab_secrets

pytestmark = pytest.mark.lab

NODES = {"ctl1", "ctl2", "nas"}


def summarise(ret):
    """{minion: (states changed, all succeeded)} of a state run's JSON."""
    out = {}
    for minion, states in ret.items():
        assert isinstance(states, dict), f"{minion}: {states}"
        out[minion] = (sum(1 for s in states.values() if s["changes"]),
                       all(s["result"] for s in states.values()))
    return out


def test_up_prints_phase_times(lab):
    status, rc = lab.status()
    assert rc == 0, status
    assert {n["node"] for n in status["nodes"]} == NODES
    assert all(n["power"] == "on" and n["minion"] == "up" for n in status["nodes"]), status


def test_every_node_answers_salt(lab):
    assert lab.ping() == NODES


def test_nodes_have_no_route_off_the_machine(lab):
    routes = lab.exec("ctl1", "ip", "route").stdout
    assert "default" not in routes, routes


def test_a_state_changes_then_none(lab):
    first = summarise(lab.salt("*", "state.apply", "base"))
    assert set(first) == NODES
    assert all(ok and changed > 0 for changed, ok in first.values()), first
    second = summarise(lab.salt("*", "state.apply", "base"))
    assert second == {n: (0, True) for n in NODES}, second


def test_packages_come_from_the_local_repository(lab):
    policy = lab.exec("ctl1", "apt-cache", "policy", "curl").stdout
    assert "file:/srv/lab-apt" in policy or "/srv/lab-apt" in policy, policy


def bmc_password(node):
    return lab_secrets.load()[f"bmc_{node}"]


def fence(lab, action):
    return lab.exec("ctl1", "fence_ipmilan", "--ip=10.77.0.22", "--username=admin",
                    f"--password={bmc_password('ctl2')}", "--lanplus", "--method=onoff",
                    f"--action={action}", check=False)


def nspawn_running(name):
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = pathlib.Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[0].endswith(b"systemd-nspawn") and name.encode() in argv:
                return True
    return False


def test_fence_ipmilan_powers_a_node_off_and_on(lab):
    # waits for the install's return (the CLI's default timeout dropped a
    # busy ctl1 from the answer, without a word)
    ret = lab.salt("ctl1", "pkg.install", 'pkgs=["fence-agents", "ipmitool"]', "--timeout=300")
    assert "ctl1" in ret and isinstance(ret["ctl1"], dict), ret
    status = fence(lab, "status")
    assert "Status: ON" in status.stdout, status.stdout + status.stderr
    off = fence(lab, "off")
    assert "Success: Powered OFF" in off.stdout, off.stdout + off.stderr
    assert not nspawn_running("ctl2"), "ctl2's machine still runs after fencing"
    status, rc = lab.status()
    assert rc == 1 and {n["node"]: n["power"] for n in status["nodes"]}["ctl2"] == "off"
    on = fence(lab, "on")
    assert "Success: Powered ON" in on.stdout, on.stdout + on.stderr
    lab.wait("ctl2 to answer salt again", lambda: "ctl2" in lab.ping(), 90)


def reaches(lab, src, dst_ip):
    return lab.exec(src, "ping", "-c1", "-W1", dst_ip, check=False).returncode == 0


def test_partition_cuts_two_nodes_apart_and_heal_restores(lab):
    assert reaches(lab, "ctl1", "10.77.0.12")
    lab.cli("partition", "ctl1", "ctl2")
    try:
        assert not reaches(lab, "ctl1", "10.77.0.12")
        assert not reaches(lab, "ctl2", "10.77.0.11")
        assert reaches(lab, "ctl1", "10.77.0.13")
        assert reaches(lab, "ctl2", "10.77.0.13")
    finally:
        lab.cli("heal")
    assert reaches(lab, "ctl1", "10.77.0.12")


def test_kill_pulls_the_plug(lab):
    lab.cli("kill", "nas")
    assert not nspawn_running("nas")
    lab.cli("poweron", "nas")
    lab.wait("nas to answer salt again", lambda: "nas" in lab.ping(), 90)
