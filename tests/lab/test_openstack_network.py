"""Neutron on the deployed lab, through the VIP with the `openstack` CLI on
the admin box: the Linux bridge, DHCP, L3 and metadata agents alive on both
controllers; a flat provider network on the lab's provider bridge (halab1,
10.78.0.0/24, the host at .1), a self-service VXLAN network, an HA router
between them (keepalived on both L3 agents: one active, one standby) whose
gateway address answers the host; the router fails over when its active
side loses the HA network; the metadata path (router proxy -> metadata
agent -> nova's metadata API at https://VIP:8775, signed with the shared secret)
answers a port on the self-service network. Everything the module creates
it deletes at the end (a flat physnet takes one network only)."""

import hashlib
import hmac
import json
import os
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from lab import secrets as lab_secrets

pytestmark = [pytest.mark.lab, pytest.mark.cloud]

CONTROLLERS = ("ctl1", "ctl2")
ADDRESS = {"ctl1": "10.77.0.11", "ctl2": "10.77.0.12"}
VIP = "10.77.0.10"
AGENT_BINARIES = {"neutron-linuxbridge-agent", "neutron-dhcp-agent", "neutron-l3-agent",
                  "neutron-metadata-agent"}
PROVIDER = ("nt-provider", "nt-provider-v4")
SELF_SERVICE = ("nt-net", "nt-net-v4", "192.168.78.0/24")
ROUTER = "nt-router"
FAKE_VM = {"port": "nt-fake-vm", "address": "192.168.78.50",
           "device": "11111111-2222-3333-4444-555555555555", "netns": "nt-fakevm",
           "veth": "nt-fv0"}


def secret(name):
    return lab_secrets.load()[name]


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def icmp_echo(address, seq=1, timeout=1.0):
    """Seconds an ICMP echo to ``address`` took (the host has no ping); OSError
    (timeout) when nothing answers."""
    ident = os.getpid() & 0xFFFF
    payload = b"twin-cloud"
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, seq) + payload
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        sock.settimeout(timeout)
        start = time.monotonic()
        sock.sendto(packet, (address, 0))
        while True:
            data, (peer, _) = sock.recvfrom(2048)
            ihl = (data[0] & 0x0F) * 4
            kind, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if peer == address and kind == 0 and (rid, rseq) == (ident, seq):
                return time.monotonic() - start


def answers(address, seq=1):
    try:
        icmp_echo(address, seq)
        return True
    except OSError:
        return False


def agents(lab, *args):
    return lab.openstack("network", "agent", "list", *args, "--long", "-f", "json")


def ha_states(lab):
    """{host: HA state} of the router's L3 agents."""
    return {a["Host"]: a.get("HA State") for a in agents(lab, "--router", ROUTER)}


def active_host(lab):
    states = ha_states(lab)
    active = [host for host, state in states.items() if state == "active"]
    return active[0] if len(active) == 1 and len(states) == 2 else None


# what a controller's L3 agent did lately (an HA state "unknown" is an agent
# the server counts as dead: its reports stopped)
L3_AGENT_LOG = ("systemctl is-active neutron-l3-agent; pgrep -c keepalived;"
                " tail -n 40 /var/log/neutron/neutron-l3-agent.log;"
                " journalctl -q -u neutron-l3-agent -n 15 --no-pager")


def l3_evidence(lab):
    rows = [(a["Host"], a["Binary"], a["Alive"], a["State"], a.get("HA State"))
            for a in agents(lab)]
    text = f"agents (host, binary, alive, up): {sorted(rows)}\n"
    for node in CONTROLLERS:
        out = lab.exec(node, "sh", "-c", L3_AGENT_LOG, check=False).stdout
        text += f"neutron-l3-agent on {node}:\n{out}\n"
    return text


def wait_router(lab, what, predicate, timeout, interval=2):
    """``lab.wait`` for the HA router, with the L3 agents' evidence on timeout."""
    return lab.wait(what, predicate, timeout, interval=interval,
                    evidence=lambda: l3_evidence(lab))


def qrouter(lab):
    return "qrouter-" + lab.openstack("router", "show", ROUTER, "-f", "json")["id"]


def delete_quietly(lab, *args):
    lab.openstack(*args, check=False)


@pytest.fixture(scope="module")
def networks(lab, deployed):
    """The provider network, a self-service network, the HA router between
    them; deleted at the end."""
    def agents_alive():
        found = {(a["Host"], a["Binary"]) for a in agents(lab) if a["Alive"] and a["State"]}
        return found >= {(h, b) for h in CONTROLLERS for b in AGENT_BINARIES}

    lab.wait("every neutron agent alive on both controllers", agents_alive, 180, interval=3)
    lab.openstack("network", "create", "--external", "--share", "--provider-network-type",
                  "flat", "--provider-physical-network", "provider", PROVIDER[0], "-f", "json")
    lab.openstack("subnet", "create", "--network", PROVIDER[0], "--subnet-range",
                  "10.78.0.0/24", "--gateway", "10.78.0.1", "--allocation-pool",
                  "start=10.78.0.100,end=10.78.0.200", "--no-dhcp", PROVIDER[1], "-f", "json")
    lab.openstack("network", "create", SELF_SERVICE[0], "-f", "json")
    lab.openstack("subnet", "create", "--network", SELF_SERVICE[0], "--subnet-range",
                  SELF_SERVICE[2], SELF_SERVICE[1], "-f", "json")
    lab.openstack("router", "create", ROUTER, "-f", "json")
    lab.openstack("router", "set", "--external-gateway", PROVIDER[0], ROUTER)
    lab.openstack("router", "add", "subnet", ROUTER, SELF_SERVICE[1])
    yield lab
    delete_quietly(lab, "port", "delete", FAKE_VM["port"])
    delete_quietly(lab, "router", "remove", "subnet", ROUTER, SELF_SERVICE[1])
    delete_quietly(lab, "router", "unset", "--external-gateway", ROUTER)
    delete_quietly(lab, "router", "delete", ROUTER)
    delete_quietly(lab, "network", "delete", SELF_SERVICE[0])
    lab.openstack("network", "delete", PROVIDER[0])


def gateway_address(lab):
    info = lab.openstack("router", "show", ROUTER, "-f", "json")["external_gateway_info"]
    info = json.loads(info) if isinstance(info, str) else info
    (fixed,) = info["external_fixed_ips"]
    return fixed["ip_address"]


def test_the_api_listens_on_the_management_addresses_behind_the_vip(lab, deployed):
    for node in CONTROLLERS:
        out = lab.exec(node, "ss", "-Hltn", "sport = :9696").stdout
        local = {line.split()[3] for line in out.splitlines()}
        assert f"{ADDRESS[node]}:9696" in local and "*:9696" not in local, (node, local)
        assert not any(a.startswith("0.0.0.0") for a in local), (node, local)
    with urllib.request.urlopen(f"https://{VIP}:9696/", timeout=5,
                                context=lab_secrets.ssl_context()) as answer:
        assert answer.status == 200
        assert "v2.0" in answer.read().decode()


def test_every_agent_is_alive_on_both_controllers(networks):
    found = {(a["Host"], a["Binary"]) for a in agents(networks)
             if a["Alive"] and a["State"]}
    assert found >= {(h, b) for h in CONTROLLERS for b in AGENT_BINARIES}, found


def test_the_router_is_ha_with_one_active_and_one_standby_agent(networks):
    router = networks.openstack("router", "show", ROUTER, "-f", "json")
    assert router["ha"] is True, router
    wait_router(networks, "one active and one standby L3 agent",
                lambda: sorted(ha_states(networks).values()) == ["active", "standby"], 120)
    assert set(ha_states(networks)) == set(CONTROLLERS)


def test_the_self_service_network_has_two_dhcp_agents(networks):
    hosts = {a["Host"] for a in agents(networks, "--network", SELF_SERVICE[0])}
    assert hosts == set(CONTROLLERS)
    network = networks.openstack("network", "show", SELF_SERVICE[0], "-f", "json")
    assert network["provider:network_type"] == "vxlan", network


def test_the_router_gateway_answers_the_host_on_the_provider_network(networks):
    address = gateway_address(networks)
    assert address.startswith("10.78.0.")
    wait_router(networks, "an active router", lambda: active_host(networks), 120)
    networks.wait(f"{address} answering ICMP from 10.78.0.1", lambda: answers(address),
                  60, interval=1)
    took = [icmp_echo(address, seq) for seq in range(2, 7)]
    print(f"\nrouter gateway {address}: echo {1000 * max(took):.2f} ms at most of 5")


class Pinger(threading.Thread):
    """ICMP echoes to one address every 0.2 s; records the longest gap between answers."""

    def __init__(self, address):
        super().__init__(daemon=True)
        self.address = address
        self.stop = threading.Event()
        self.last_ok = time.monotonic()
        self.longest = 0.0
        self.lost = 0

    def run(self):
        seq = 1000
        while not self.stop.is_set():
            seq = seq + 1 if seq < 0xFFFF else 1000
            if answers(self.address, seq):
                now = time.monotonic()
                self.longest = max(self.longest, now - self.last_ok)
                self.last_ok = now
            else:
                self.lost += 1
            time.sleep(0.2)


def test_the_router_fails_over_when_its_active_side_loses_the_ha_network(networks):
    address = gateway_address(networks)
    active = wait_router(networks, "an active router", lambda: active_host(networks), 120)
    standby = next(h for h in CONTROLLERS if h != active)
    netns = qrouter(networks)
    links = networks.exec(active, "ip", "netns", "exec", netns, "ip", "-o", "link").stdout
    (ha,) = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()
             if line.split(":")[1].strip().startswith("ha-")]
    pinger = Pinger(address)
    pinger.start()
    networks.exec(active, "ip", "netns", "exec", netns, "ip", "link", "set", ha, "down")
    try:
        wait_router(networks, f"{standby} taking the router over", lambda: (
            ha_states(networks).get(standby) == "active"
            and time.monotonic() - pinger.last_ok < 1), 120, interval=1)
        time.sleep(2)  # answers go on from the new side
        pinger.stop.set()
        pinger.join(5)
        print(f"\nrouter failover {active} -> {standby}: longest gap between gateway "
              f"answers {pinger.longest:.1f}s ({pinger.lost} echoes lost)")
        assert pinger.lost > 0, "the cut side kept answering: the cut did not happen"
        assert time.monotonic() - pinger.last_ok < 3
    finally:
        pinger.stop.set()
        networks.exec(active, "ip", "netns", "exec", netns, "ip", "link", "set", ha, "up")
    # back on the HA network, the old side stays standby (no preemption)
    networks.wait(f"{active} standby again", lambda: ha_states(networks) == {
        active: "standby", standby: "active"}, 60, interval=2)
    assert answers(address, 999)


def test_nova_accepts_the_metadata_secret_and_refuses_another(networks):
    instance = str(uuid.uuid4())

    def status(key):
        signature = hmac.new(key.encode(), instance.encode(), hashlib.sha256).hexdigest()
        request = urllib.request.Request(
            f"https://{VIP}:8775/openstack/latest/meta_data.json",
            headers={"X-Instance-ID": instance, "X-Instance-ID-Signature": signature,
                     "X-Tenant-ID": "none", "X-Forwarded-For": FAKE_VM["address"]})
        try:
            with urllib.request.urlopen(request, timeout=10,
                                        context=lab_secrets.ssl_context()) as answer:
                return answer.status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert status(secret("metadata_secret")) == 404  # signed right: no such instance
    assert status("not-the-secret") == 403


def test_a_port_on_the_self_service_network_reaches_nova_metadata(networks):
    """A veth in a namespace on the active router's node wears a neutron
    port's MAC and address: its request to 169.254.169.254 goes through the
    router's metadata proxy and the metadata agent to nova at the VIP, signed;
    nova answers that the port's device is no instance (404: with a bad
    signature it would be 403)."""
    port = networks.openstack("port", "create", "--network", SELF_SERVICE[0], "--fixed-ip",
                              f"subnet={SELF_SERVICE[1]},ip-address={FAKE_VM['address']}",
                              "--device", FAKE_VM["device"], FAKE_VM["port"], "-f", "json")
    node = wait_router(networks, "an active router", lambda: active_host(networks), 120)
    bridge = "brq" + networks.openstack("network", "show", SELF_SERVICE[0], "-f",
                                        "json")["id"][:11]
    ns, veth = FAKE_VM["netns"], FAKE_VM["veth"]
    setup = (f"ip netns add {ns} && ip link add {veth} type veth peer name {veth}p && "
             f"ip link set {veth}p netns {ns} && ip link set {veth} master {bridge} up && "
             f"ip netns exec {ns} sh -c 'ip link set lo up && "
             f"ip link set {veth}p address {port['mac_address']} mtu 1450 up && "
             f"ip addr add {FAKE_VM['address']}/24 dev {veth}p && "
             f"ip route add default via 192.168.78.1'")
    networks.exec(node, "sh", "-c", setup)
    try:
        def fetched():
            out = networks.exec(node, "ip", "netns", "exec", ns, "curl", "-s", "-m", "10",
                                "-o", "/dev/null", "-w", "%{http_code}",
                                "http://169.254.169.254/openstack/latest/meta_data.json",
                                check=False).stdout.strip()
            return out if out not in ("", "000") else None

        code = networks.wait("the metadata proxy answering", fetched, 60, interval=2)
        assert code == "404", code
        log = networks.exec(node, "grep", "-c", FAKE_VM["device"],
                            "/var/log/neutron/neutron-metadata-agent.log", check=False)
        assert int(log.stdout.strip() or 0) >= 1, "the metadata agent did not ask nova"
    finally:
        networks.exec(node, "sh", "-c", f"ip netns del {ns}; ip link del {veth}", check=False)
        delete_quietly(networks, "port", "delete", FAKE_VM["port"])
