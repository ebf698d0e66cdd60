"""Glance, Placement and Nova on the deployed lab, through the VIP with the
`openstack` CLI on the admin box (and plain HTTP where the CLI has no
command: https at the VIP, verified with the site CA, http on a
controller's own address): an image uploaded once is stored on the NAS's
export and served by either controller's glance-api; both compute hosts are resource
providers in Placement, registered and mapped into cell1; every API
listens on the management address only; a server boots on each compute
host (libvirt, plain QEMU in the lab) and prints the guest's marker in
`openstack console log show`; its noVNC console opens through the VIP down
to the guest's VNC server; the metadata API answers a request signed with
the shared secret (and refuses a bad signature); a second run of the three
states changes nothing. Everything the module creates it deletes."""

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from lab import secrets as lab_secrets

from .conftest import PY, REPO

pytestmark = [pytest.mark.lab, pytest.mark.cloud]

CONTROLLERS = ("ctl1", "ctl2")
ADDRESS = {"ctl1": "10.77.0.11", "ctl2": "10.77.0.12"}
VIP = "10.77.0.10"
MARKER = "TWIN-CLOUD-GUEST-BOOTED"
IMAGE, FLAVOR, NETWORK, SUBNET = "ct-guest", "ct.tiny", "ct-net", "ct-net-v4"
PORTS = {"glance": 9292, "placement": 8778, "nova": 8774, "nova-metadata": 8775,
         "nova-novncproxy": 6080}


def secret(name):
    return lab_secrets.load()[name]


def guest_image():
    result = subprocess.run([PY, "-m", "lab", "guest-image"], cwd=REPO, text=True,
                            capture_output=True, check=True, timeout=600)
    return result.stdout.strip().splitlines()[-1]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def token(lab):
    return lab.openstack("token", "issue", "-f", "json")["id"]


def http(url, headers=None, timeout=60):
    """(status, body) of a GET (https verified with the site CA: the VIP's
    frontends; the controllers' own addresses are plain http)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout,
                                    context=lab_secrets.ssl_context()) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def listeners(lab, node):
    """{(address, port)} of the TCP sockets listening on ``node``."""
    found = set()
    for line in lab.exec(node, "ss", "-Hltn").stdout.splitlines():
        address, _, port = line.split()[3].rpartition(":")
        found.add((address.strip("[]"), int(port)))
    return found


def changes(ret):
    """[(minion, state id)] of the states a run changed; every state must have succeeded."""
    changed = []
    for minion, states in ret.items():
        assert isinstance(states, dict), f"{minion}: {states}"
        for sid, state in states.items():
            assert state["result"] is True, f"{minion}: {sid}: {state['comment']}"
            if state["changes"]:
                changed.append((minion, sid))
    return changed


@pytest.fixture(scope="module")
def cloud(lab, deployed):
    """The module's image, flavor and self-service network; deleted at the end."""
    path = guest_image()
    image = lab.openstack("image", "create", "--disk-format", "raw", "--container-format",
                          "bare", "--file", path, IMAGE, "-f", "json", timeout=600)
    lab.openstack("flavor", "create", "--ram", "128", "--disk", "1", "--vcpus", "1", FLAVOR,
                  "-f", "json")
    lab.openstack("network", "create", NETWORK, "-f", "json")
    lab.openstack("subnet", "create", "--network", NETWORK, "--subnet-range",
                  "192.168.79.0/24", SUBNET, "-f", "json")
    data = {"image": image["id"], "path": path, "sha256": sha256(path), "servers": {}}
    yield data
    for server in data["servers"].values():
        lab.openstack("server", "delete", "--wait", server, check=False, timeout=600)
    lab.openstack("subnet", "delete", SUBNET, check=False)
    lab.openstack("network", "delete", NETWORK, check=False)
    lab.openstack("flavor", "delete", FLAVOR, check=False)
    lab.openstack("image", "delete", image["id"], check=False)


def test_image_active_and_stored_on_the_nas(lab, cloud):
    shown = lab.openstack("image", "show", cloud["image"], "-f", "json")
    assert shown["status"] == "active"
    assert shown["size"] == os.path.getsize(cloud["path"])
    # one file store, on the NFS export: the NAS holds the image's file
    assert cloud["image"] in lab.exec("nas", "ls", "/srv/nfs/images").stdout.split()
    for node in CONTROLLERS:
        lab.exec(node, "mountpoint", "-q", "/var/lib/glance/images")


@pytest.mark.parametrize("node", CONTROLLERS)
def test_each_glance_api_serves_the_image(lab, cloud, node):
    status, body = http(f"http://{ADDRESS[node]}:9292/v2/images/{cloud['image']}/file",
                        {"X-Auth-Token": token(lab)}, timeout=300)
    assert status == 200
    assert hashlib.sha256(body).hexdigest() == cloud["sha256"]


def test_apis_listen_on_the_management_address_only(lab, deployed):
    for node in CONTROLLERS:
        found = listeners(lab, node)
        for api, port in PORTS.items():
            assert (ADDRESS[node], port) in found, f"{api} not on {ADDRESS[node]}:{port}"
            wildcard = {(a, p) for a, p in found if p == port and a in ("0.0.0.0", "*", "::")}
            assert not wildcard, f"{node}: {api} also listens on {wildcard}"
        status, _ = http(f"https://{VIP}:{PORTS['glance']}/healthcheck")
        assert status == 200


def test_placement_knows_both_compute_hosts(lab, deployed):
    status, body = http(f"https://{VIP}:8778/resource_providers",
                        {"X-Auth-Token": token(lab),
                         "OpenStack-API-Version": "placement 1.14"})
    assert status == 200, body
    names = {p["name"].split(".")[0] for p in json.loads(body)["resource_providers"]}
    assert set(CONTROLLERS) <= names


def test_compute_services_up_and_hypervisors_mapped(lab, deployed):
    def all_up():
        services = lab.openstack("compute", "service", "list", "-f", "json")
        up = {(s["Binary"], s["Host"]) for s in services
              if s["State"] == "up" and s["Status"] == "enabled"}
        return all((binary, node) in up for node in CONTROLLERS
                   for binary in ("nova-conductor", "nova-scheduler", "nova-compute"))

    lab.wait("nova-conductor, nova-scheduler, nova-compute up on both controllers",
             all_up, 120, interval=5)
    hypervisors = lab.openstack("hypervisor", "list", "-f", "json")
    assert {h["Hypervisor Hostname"].split(".")[0] for h in hypervisors
            if h["State"] == "up"} >= set(CONTROLLERS)
    assert {h["Hypervisor Type"] for h in hypervisors} == {"QEMU"}
    hosts = lab.exec("ctl1", "su", "-s", "/bin/sh", "-c", "nova-manage cell_v2 list_hosts",
                     "nova").stdout
    for node in CONTROLLERS:
        assert f" {node} " in hosts, hosts


@pytest.mark.parametrize("node", CONTROLLERS)
def test_a_server_boots_on_each_compute_host(lab, cloud, node):
    name = f"ct-server-{node}"
    start = time.monotonic()
    server = lab.openstack("server", "create", "--image", IMAGE, "--flavor", FLAVOR,
                           "--network", NETWORK, "--availability-zone", f"nova:{node}",
                           name, "-f", "json")
    cloud["servers"][node] = server["id"]

    def active():
        shown = lab.openstack("server", "show", server["id"], "-f", "json")
        assert shown["status"] != "ERROR", f"{name} went to ERROR: {shown.get('fault')}"
        return shown if shown["status"] == "ACTIVE" else None

    shown = lab.wait(f"{name} ACTIVE", active, 300, interval=2)
    to_active = time.monotonic() - start
    assert shown["OS-EXT-SRV-ATTR:host"] == node

    def marker():
        log = lab.openstack("console", "log", "show", server["id"], check=False)
        return MARKER in (log.stdout or "")

    lab.wait(f"{MARKER} in {name}'s console log", marker, 300, interval=2)
    print(f"{name}: ACTIVE after {to_active:.1f}s, marker after "
          f"{time.monotonic() - start:.1f}s")
    # the lab's pillar asks for plain emulation (KVM guests fail on this host)
    xml = lab.exec(node, "virsh", "dumpxml", shown["OS-EXT-SRV-ATTR:instance_name"]).stdout
    assert "<domain type='qemu'" in xml


def test_novnc_console_reaches_the_guest_through_the_vip(lab, cloud):
    server = cloud["servers"].get("ctl2") or next(iter(cloud["servers"].values()))
    url = lab.openstack("console", "url", "show", "--novnc", server, "-f", "json")["url"]
    parsed = urllib.parse.urlparse(url)
    assert (parsed.scheme, parsed.hostname, parsed.port) == ("https", VIP, 6080)
    status, page = http(url)
    assert status == 200 and b"noVNC" in page
    path = urllib.parse.parse_qs(parsed.query)["path"][0]
    key = base64.b64encode(os.urandom(16)).decode()
    handshake = (f"GET /{path} HTTP/1.1\r\nHost: {VIP}:6080\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                 f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n"
                 f"Origin: https://{VIP}:6080\r\n\r\n")
    received = b""
    # TLS ends at HAProxy on the VIP (the site CA's certificate for the VIP)
    with lab_secrets.ssl_context().wrap_socket(
            socket.create_connection((VIP, 6080), timeout=30), server_hostname=VIP) as conn:
        conn.sendall(handshake.encode())
        deadline = time.monotonic() + 30
        while b"RFB 003." not in received and time.monotonic() < deadline:
            chunk = conn.recv(4096)
            if not chunk:
                break
            received += chunk
    assert received.startswith(b"HTTP/1.1 101"), received[:200]
    assert b"RFB 003." in received, received[:200]


def test_metadata_api_answers_signed_requests_only(lab, cloud):
    server = next(iter(cloud["servers"].values()))
    shown = lab.openstack("server", "show", server, "-f", "json")
    signature = hmac.new(secret("metadata_secret").encode(), server.encode(),
                         hashlib.sha256).hexdigest()
    headers = {"X-Instance-ID": server, "X-Tenant-ID": shown["project_id"],
               "X-Forwarded-For": "192.168.79.10"}
    url = f"https://{VIP}:8775/openstack/latest/meta_data.json"
    status, body = http(url, dict(headers, **{"X-Instance-ID-Signature": signature}))
    assert status == 200, body
    assert json.loads(body)["uuid"] == server
    status, _ = http(url, dict(headers, **{"X-Instance-ID-Signature": "0" * 64}))
    assert status == 403
