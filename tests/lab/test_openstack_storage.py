"""Cinder and Swift on the deployed lab, through the VIP.

Swift: a proxy on each controller and the storage servers on both object
nodes, with the same rings everywhere (built once by the master's runner
swift_rings); an object stored through the VIP comes back intact and lies
on both nodes (2 replicas).

Cinder: API and scheduler on both controllers; one cinder-volume (the
active/passive backend host nfs-volumes@nfs, run by Pacemaker); a volume is
a file on the NAS's `volumes` export (the smoke attaches one to a server)."""

import json
import subprocess
import time

import pytest

from lab import secrets as lab_secrets

from .conftest import BIN, REPO

pytestmark = [pytest.mark.lab, pytest.mark.cloud]

CONTROLLERS = ("ctl1", "ctl2")
OBJECT_NODES = ("ctl1", "ctl2")
ADDRESS = {"ctl1": "10.77.0.11", "ctl2": "10.77.0.12"}
VIP = "10.77.0.10"
RINGS = ("account", "container", "object")
BACKEND_HOST = "nfs-volumes@nfs"


def runner(*args):
    result = subprocess.run([str(BIN / "salt-run"), "--out=json", *args], cwd=REPO, text=True,
                            capture_output=True, timeout=600, check=True)
    return json.loads(result.stdout)


def listening(lab, node, port):
    out = lab.exec(node, "ss", "-Hltn").stdout
    return {line.split()[3].rpartition(":")[0] for line in out.splitlines()
            if line.split()[3].rpartition(":")[2] == str(port)}


# --- Swift -------------------------------------------------------------------------------------


def test_the_rings_are_the_masters_on_every_swift_node(lab, deployed):
    kept = runner("swift_rings.show")
    assert kept["replicas"] == 2 and len(kept["devices"]) == 2, kept
    for node in OBJECT_NODES:
        sums = lab.exec(node, "sha256sum", *(f"/etc/swift/{r}.ring.gz" for r in RINGS)).stdout
        found = {line.split()[1].split("/")[-1].split(".")[0]: line.split()[0]
                 for line in sums.splitlines()}
        assert found == kept["sha256"], (node, found, kept["sha256"])
    again = runner("swift_rings.ensure")
    assert again["changed"] is False, again


def test_swift_listens_on_the_management_addresses(lab, deployed):
    for node in OBJECT_NODES:
        for port in (8080, 6200, 6201, 6202, 873):
            assert listening(lab, node, port) - {VIP} == {ADDRESS[node]}, (node, port)
        stat = lab.exec(node, "stat", "-c", "%U %G %a", "/etc/swift/proxy-server.conf",
                        "/etc/swift/swift.conf").stdout.split("\n")
        assert [s.split() for s in stat if s] == [["root", "swift", "640"]] * 2, node


def test_healthcheck_through_the_vip(lab, deployed):
    code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                           "--cacert", str(lab_secrets.ca_file()),
                           f"https://{VIP}:8080/healthcheck"], capture_output=True, text=True,
                          timeout=30).stdout
    assert code == "200"


def test_an_object_round_trip_lands_on_both_nodes(lab, deployed, tmp_path):
    payload = tmp_path / "obj.txt"
    payload.write_text(f"twin-cloud swift {time.time()}\n")
    lab.openstack("container", "create", "storage-c1", "-f", "json")
    created = lab.openstack("object", "create", "storage-c1", str(payload), "--name",
                            "obj.txt", "-f", "json")
    etag = created[0]["etag"]
    back = tmp_path / "back.txt"
    lab.openstack("object", "save", "--file", str(back), "storage-c1", "obj.txt")
    assert back.read_text() == payload.read_text()
    account = lab.openstack("container", "show", "storage-c1", "-f", "json")["account"]
    where = lab.exec("ctl1", "swift-get-nodes", "/etc/swift/object.ring.gz", account,
                     "storage-c1", "obj.txt").stdout
    (hash_line,) = [line for line in where.splitlines() if line.startswith("Hash")]
    object_hash = hash_line.split()[-1]

    def replicas():
        found = {}
        for node in OBJECT_NODES:
            out = lab.exec(node, "sh", "-c", f"find /srv/node -path '*/{object_hash}/*.data' "
                           "-exec md5sum {} +", check=False).stdout.split()
            found[node] = out[0] if out else None
        return found if all(found.values()) else None

    found = lab.wait("the object's two replicas", replicas, 60, interval=2)
    assert found == {node: etag for node in OBJECT_NODES}, found


# --- Cinder ------------------------------------------------------------------------------------


def services(lab):
    return {(s["Binary"], s["Host"]): s for s in
            lab.openstack("volume", "service", "list", "-f", "json")}


def test_api_and_scheduler_on_both_controllers(lab, deployed):
    def both_up():
        found = services(lab)
        return all(found.get(("cinder-scheduler", node), {}).get("State") == "up"
                   for node in CONTROLLERS)

    lab.wait("cinder-scheduler up on both controllers", both_up, 120, interval=5)
    for node in CONTROLLERS:
        assert listening(lab, node, 8776) - {VIP} == {ADDRESS[node]}, node
    code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                           "--cacert", str(lab_secrets.ca_file()),
                           f"https://{VIP}:8776/healthcheck"], capture_output=True, text=True,
                          timeout=30).stdout
    assert code == "200"
    types = {entry["Type"] for entry in lab.openstack("catalog", "list", "-f", "json")}
    assert "volumev3" in types


def test_one_cinder_volume_for_both_controllers(lab, deployed):
    active = [node for node in CONTROLLERS
              if lab.exec(node, "systemctl", "is-active", "cinder-volume",
                          check=False).stdout.strip() == "active"]
    assert len(active) == 1, f"cinder-volume runs on {active}: Pacemaker runs exactly one"
    for node in CONTROLLERS:
        enabled = lab.exec(node, "systemctl", "is-enabled", "cinder-volume", check=False)
        assert enabled.stdout.strip() == "disabled", node
    assert ("cinder-volume", BACKEND_HOST) in services(lab)
    assert not [key for key in services(lab) if key[0] == "cinder-volume"
                and key[1] != BACKEND_HOST]


def create_volume(lab, name, size=1):
    """Create a volume; wait until it leaves `creating`; return its `volume show`."""
    volume = lab.openstack("volume", "create", "--size", str(size), name, "-f", "json")

    def settled():
        shown = lab.openstack("volume", "show", volume["id"], "-f", "json")
        return shown if shown["status"] not in ("creating", "downloading") else None

    return lab.wait(f"volume {name} to settle", settled, 180, interval=3)


def test_a_volume_is_a_file_on_the_nas_export(lab, deployed):
    """The NFS driver mounts the `volumes` export itself (in this lab the
    kernel has no NFS client: lab/nodes.py's mount helper binds the same
    export directory) and creates the volume's file there."""
    shown = create_volume(lab, "storage-v1")
    try:
        assert shown["status"] == "available", shown
        assert shown["os-vol-host-attr:host"].startswith(BACKEND_HOST), shown
        listing = lab.exec("nas", "ls", "-ln", "/srv/nfs/volumes").stdout
        line = next(l for l in listing.splitlines() if l.endswith(f"volume-{shown['id']}"))
        mode, _, uid, gid = line.split()[:4]
        assert (mode, uid, gid) == ("-rw-rw----", "64061", "64061"), line
    finally:
        lab.openstack("volume", "delete", shown["id"], check=False)
