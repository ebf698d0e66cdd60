"""NFS on real nodes (issue 3): the NAS serves the exports of the site pillar
to the management network only, the controllers reach them, a host outside
that network is refused, and a second run changes nothing.

The lab's kernel has no nfsd and no NFS client, so the lab pillar chooses
NFS-Ganesha (userspace) on the NAS and, on the controllers, the userspace
check (nfs-ls) instead of kernel mounts:
    nfs: {server: {implementation: ganesha}, client: {mount: false}}
The kernel implementations are exercised only up to their clear refusal.
"""

import json

import pytest

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("healer_paused")]

NAS = "10.77.0.13"
CIDR = "10.77.0.0/24"
EXPORTS = {"images": (64062, 64062), "volumes": (64061, 64061), "backups": (34, 34),
           "metrics": (64080, 64080)}
PATHS = [f"/srv/nfs/{name}" for name in sorted(EXPORTS)]
# an address outside the management network, on a private link inside the NAS
OUTSIDE = "203.0.113.2"


def states(ret, minion):
    assert isinstance(ret.get(minion), dict), ret
    return {state["__id__"]: state for state in ret[minion].values()}


def apply(lab, target, sls, *args):
    ret = lab.salt("-L", target, "state.apply", sls, "queue=True", *args, timeout=900)
    assert set(ret) == set(target.split(",")), ret
    return {minion: states(ret, minion) for minion in ret}


def failures(run):
    return {(minion, sid): state["comment"] for minion, by_id in run.items()
            for sid, state in by_id.items() if state["result"] is not True}


def changed(run):
    return sorted((minion, sid) for minion, by_id in run.items()
                  for sid, state in by_id.items() if state["changes"])


@pytest.fixture(scope="module")
def nfs_deployed(lab):
    first = {**apply(lab, "nas", "nfs.server"), **apply(lab, "ctl1,ctl2", "nfs.client")}
    assert not failures(first), failures(first)
    return first


def test_lab_pillar_chooses_ganesha_and_no_kernel_mounts(lab):
    ret = lab.salt("-L", "nas,ctl1,ctl2", "pillar.get", "nfs", "unmask=True")
    for minion in ("nas", "ctl1", "ctl2"):
        assert ret[minion]["server"]["implementation"] == "ganesha", ret
        assert ret[minion]["client"]["mount"] is False, ret


def test_nas_runs_ganesha_with_the_exports(lab, nfs_deployed):
    assert lab.exec("nas", "systemctl", "is-active", "nfs-ganesha").stdout.strip() == "active"
    served = nfs_deployed["nas"]["nfs-server-exports-served"]
    assert served["result"] is True and not served["changes"], served
    assert served["comment"] == (
        f"{NAS} serves {' '.join(PATHS)} to this host (checked with nfs-ls)")
    conf = lab.exec("nas", "cat", "/etc/ganesha/ganesha.conf").stdout
    assert conf.count(f"Clients = {CIDR};") == len(EXPORTS)
    for name, (uid, gid) in EXPORTS.items():
        owner = lab.exec("nas", "stat", "-c", "%u:%g %a", f"/srv/nfs/{name}").stdout.split()
        assert owner == [f"{uid}:{gid}", "770"], (name, owner)


@pytest.mark.parametrize("controller", ["ctl1", "ctl2"])
def test_controllers_see_the_export_list_and_each_export(lab, nfs_deployed, controller):
    check = nfs_deployed[controller]["nfs-client-exports-reachable"]
    assert check["result"] is True and not check["changes"], check
    listed = lab.exec(controller, "nfs-ls", "-D", f"nfs://{NAS}").stdout.split()
    assert sorted(listed) == [f"nfs://{NAS}{path}" for path in PATHS]
    assert not [sid for sid in nfs_deployed[controller] if sid.endswith("-mounted")]


def test_root_on_a_controller_writes_as_the_export_owner(lab, nfs_deployed):
    lab.exec("ctl1", "sh", "-c", "echo from-ctl1 > /tmp/nfs-lab-probe")
    try:
        lab.exec("ctl1", "nfs-cp", "/tmp/nfs-lab-probe",
                 f"nfs://{NAS}/srv/nfs/images/nfs-lab-probe")
        read = lab.exec("ctl2", "nfs-cat", f"nfs://{NAS}/srv/nfs/images/nfs-lab-probe").stdout
        assert read.strip() == "from-ctl1"
        owner = lab.exec("nas", "stat", "-c", "%u:%g", "/srv/nfs/images/nfs-lab-probe").stdout
        assert owner.strip() == "64062:64062"  # all_squash: root became glance (images)
    finally:
        lab.exec("nas", "rm", "-f", "/srv/nfs/images/nfs-lab-probe", check=False)
        lab.exec("ctl1", "rm", "-f", "/tmp/nfs-lab-probe", check=False)


OUTSIDE_LINK = f"""
set -e
ip netns add nfsout
ip link add nfsout0 type veth peer name nfsout1
ip link set nfsout1 netns nfsout
ip addr add 203.0.113.1/30 dev nfsout0
ip link set nfsout0 up
ip -n nfsout link set lo up
ip -n nfsout addr add {OUTSIDE}/30 dev nfsout1
ip -n nfsout link set nfsout1 up
ip -n nfsout route add default via 203.0.113.1
"""


def test_a_host_outside_the_management_network_is_refused(lab, nfs_deployed):
    """From 203.0.113.2 (a veth into a network namespace on the NAS itself, the
    only place in the lab outside 10.77.0.0/24), the server answers but
    refuses every export: the CIDR restriction is the server's, not the
    network's."""
    lab.exec("nas", "sh", "-c", OUTSIDE_LINK)
    try:
        # the server is reachable from there: its portmapper answers
        rpc = lab.exec("nas", "ip", "netns", "exec", "nfsout", "rpcinfo", "-p", NAS).stdout
        assert "mountd" in rpc and "nfs" in rpc, rpc
        for path in PATHS:
            out = lab.exec("nas", "ip", "netns", "exec", "nfsout", "nfs-ls",
                           f"nfs://{NAS}{path}", check=False)
            assert out.returncode != 0, out.stdout
            assert "MNT3ERR_ACCES" in out.stdout + out.stderr, (path, out.stdout, out.stderr)
        listing = lab.exec("nas", "ip", "netns", "exec", "nfsout", "nfs-ls", "-D",
                           f"nfs://{NAS}", check=False)
        assert not [line for line in listing.stdout.splitlines() if line.startswith("nfs://")]
    finally:
        lab.exec("nas", "ip", "netns", "del", "nfsout", check=False)
        lab.exec("nas", "ip", "link", "del", "nfsout0", check=False)


def test_second_run_changes_nothing(lab, nfs_deployed):
    second = {**apply(lab, "nas", "nfs.server"), **apply(lab, "ctl1,ctl2", "nfs.client")}
    assert not failures(second), failures(second)
    assert changed(second) == [], changed(second)


def test_kernel_server_refuses_clearly_on_a_kernel_without_nfsd(lab, nfs_deployed):
    pillar = "pillar=" + json.dumps({"nfs": {"server": {"implementation": "kernel"}}})
    run = apply(lab, "nas", "nfs.server", "test=True", pillar)["nas"]
    refusal = run["nfs-kernel-nfsd-available"]
    assert refusal["result"] is False
    assert "nfs:server:implementation: ganesha" in refusal["comment"]
    assert run["nfs-kernel-pkgs-installed"]["result"] is False  # never reached
    assert "requisite failed" in run["nfs-kernel-pkgs-installed"]["comment"]


def test_kernel_mounts_refuse_clearly_on_a_kernel_without_nfs(lab, nfs_deployed):
    pillar = "pillar=" + json.dumps({"nfs": {"client": {"mount": True}}})
    run = apply(lab, "ctl1", "nfs.client", "test=True", pillar)["ctl1"]
    refusal = run["nfs-client-kernel-nfs-available"]
    assert refusal["result"] is False
    assert "nfs:client:mount: false" in refusal["comment"]
    assert run["nfs-client-images-mounted"]["result"] is False
    assert lab.exec("ctl1", "sh", "-c", "grep -c ' nfs' /proc/mounts || true").stdout.strip() == "0"
