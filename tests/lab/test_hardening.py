"""Issue 6 on the deployed lab: the hardening of the HA layer and of
Keystone, checked from outside, each probe made from another machine than
the one probed (a peer controller, the witness, or the admin box, which sits
on the provider network as its router would).

1. MariaDB: root logs in over the unix socket only (a TCP login as root from
   another node is refused, with or without a password); every account's
   host is localhost or inside the management network; each OpenStack
   service's account holds privileges on its own databases only.
2. RabbitMQ: guest is refused over AMQP from another node.
3. Galera listens on the management address only; memcached, Galera and
   RabbitMQ refuse connections from the provider network.
4. Every OpenStack config file the states render is root:<service group>
   0640 on both controllers; none is world-readable.
5. Keystone: no admin token, no insecure_debug; a bogus token through the
   VIP (https, the witness trusting the site CA) gets 401.

Already checked elsewhere, not repeated here: no anonymous account, root at
localhost only with `unix_socket` and no usable password
(test_galera.py::test_the_sst_account_exists_and_the_server_is_hardened);
guest gone and refused by `rabbitmqctl authenticate_user`
(test_rabbitmq.py::test_guest_is_refused_and_admin_accepted); RabbitMQ's
and memcached's listeners on the management address
(test_rabbitmq.py::test_every_listener_on_the_management_address,
test_memcached_on_the_management_address_only).
"""

import configparser
import ipaddress
import json
import re
import secrets
import subprocess
import sys

import pytest

from lab import config as lab_config
from tests.conftest import load_ext

from .conftest import REPO
from .test_rabbitmq import listeners

pytestmark = pytest.mark.lab

LAB = lab_config.load()
CONTROLLERS = ("ctl1", "ctl2")
MANAGEMENT = {node.name: node.address for node in LAB.nodes}
PROVIDER = {node.name: node.provider_address for node in LAB.nodes if node.provider_address}
VIP = LAB.site["vips"]["api"]["address"]
MANAGEMENT_NET = ipaddress.ip_network(LAB.site["networks"]["management"]["cidr"])
# how galera.ensure_database names the management network in an account's host
MANAGEMENT_HOST = f"{MANAGEMENT_NET.network_address}/{MANAGEMENT_NET.netmask}"
GALERA_PORTS = (3306, 4567, 4568, 4444)  # SQL, group communication, IST, SST
MEMCACHED_PORTS = (11211,)
RABBITMQ_PORTS = (5672, 25672, 4369)  # AMQP, Erlang distribution, epmd
KEYSTONE_CONF = "/etc/keystone/keystone.conf"

# Connects to each port of an address; prints {port: "open" | "refused" | error}.
PORT_PROBE = """
import json, socket, sys
found = {}
for port in sys.argv[2:]:
    try:
        socket.create_connection((sys.argv[1], int(port)), timeout=5).close()
        found[port] = "open"
    except ConnectionRefusedError:
        found[port] = "refused"
    except OSError as exc:
        found[port] = f"{type(exc).__name__}: {exc}"
print(json.dumps(found))
"""

# Logs in as guest/guest over AMQP 0-9-1 with py-amqp (a controller has it:
# oslo.messaging's kombu); prints "refused: <the broker's reason>" and exits 0
# when the broker refuses the login, exits 1 when it accepts it.
AMQP_GUEST_LOGIN = """
import sys, amqp
connection = amqp.Connection(host=sys.argv[1] + ":5672", userid="guest", password="guest",
                             connect_timeout=10)
try:
    connection.connect()
except amqp.exceptions.AccessRefused as exc:
    print(f"refused: {exc}")
    sys.exit(0)
print("accepted")
connection.close()
sys.exit(1)
"""


def sql(lab, node, statement):
    """Run SQL as root over the unix socket on ``node``; return its batch output."""
    return lab.exec(node, "mariadb", "-N", "-B", "-e", statement).stdout


def catalog():
    """The OpenStack catalog the states read (salt/openstack, no pillar override:
    the lab's pillar has none)."""
    openstack = load_ext("modules", "openstack")
    return openstack, openstack.build_catalog(lambda path: (REPO / "salt" / path).read_text())


def within_management(host):
    """True when MariaDB account host ``host`` only matches the management
    network (or the server itself): ``localhost``, an address, an
    ``address/netmask`` or a ``10.77.0.%`` wildcard inside it."""
    if host == "localhost":
        return True
    octets = host.split(".")
    if octets[-1] == "%" and all(o.isdigit() for o in octets[:-1]) and 0 < len(octets) <= 4:
        prefix = octets[:-1]
        host = ".".join(prefix + ["0"] * (4 - len(prefix))) + f"/{8 * len(prefix)}"
    try:
        network = ipaddress.ip_network(host, strict=True)
    except ValueError:
        return False  # a name, a pattern of another shape
    return network.subnet_of(MANAGEMENT_NET)


def probe_ports(lab, address, ports, node=None):
    """{port: outcome} of PORT_PROBE from ``node``, or from the admin box."""
    args = [address, *map(str, ports)]
    if node is None:
        out = subprocess.run([sys.executable, "-c", PORT_PROBE, *args], text=True,
                             capture_output=True, timeout=120, check=True)
    else:
        out = lab.exec(node, "python3", "-c", PORT_PROBE, *args)
    return {int(port): outcome for port, outcome in json.loads(out.stdout).items()}


# --- 1. MariaDB ------------------------------------------------------------------------------------


@pytest.mark.parametrize("client, server", [("ctl2", "ctl1"), ("ctl1", "ctl2"), ("ctl2", "vip")])
@pytest.mark.parametrize("password", [None, "root"], ids=["no-password", "password"])
def test_root_cannot_log_in_over_tcp_from_another_node(lab, deployed, client, server, password):
    address = VIP if server == "vip" else MANAGEMENT[server]
    cmd = ["mariadb", "--no-defaults", "--protocol=TCP", "--connect-timeout=10",
           "-h", address, "-u", "root", "-N", "-B", "-e", "SELECT CURRENT_USER()"]
    if password is not None:
        cmd.insert(-2, f"--password={password}-{secrets.token_hex(4)}")
    out = lab.exec(client, *cmd, check=False)
    assert out.returncode != 0, f"root logged in from {client} to {address}: {out.stdout}"
    # refused by the server itself (1045: access denied, 1130: host not
    # allowed), not by the network
    assert re.search(r"ERROR 1045 .*'root'@|ERROR 1130 ", out.stderr), out.stderr


def test_every_account_is_local_or_on_the_management_network(lab, deployed):
    rows = sql(lab, "ctl1", "SELECT User, Host FROM mysql.user WHERE is_role = 'N'")
    accounts = [tuple(line.split("\t")) for line in rows.splitlines()]
    assert ("root", "localhost") in accounts, accounts
    outside = [f"{user}@{host}" for user, host in accounts if not within_management(host)]
    assert not outside, f"accounts reachable from outside the management network: {outside}"


def test_each_service_account_holds_its_own_databases_only(lab, deployed):
    openstack, data = catalog()
    owned = {name: {db["name"] for db in openstack.databases(svc)}
             for name, svc in data["services"].items() if openstack.databases(svc)}
    assert {"keystone", "glance", "nova", "neutron", "cinder"} <= set(owned), owned
    for node in CONTROLLERS:  # the grants replicate: both data nodes agree
        hosts = sql(lab, node, "SELECT User, Host FROM mysql.user WHERE User IN ("
                    + ", ".join(f"'{name}'" for name in owned) + ")")
        found = sorted(tuple(line.split("\t")) for line in hosts.splitlines())
        assert found == sorted((name, MANAGEMENT_HOST) for name in owned), (node, found)
        for name, databases in owned.items():
            text = sql(lab, node, f"SHOW GRANTS FOR '{name}'@'{MANAGEMENT_HOST}'")
            grants = re.findall(r"^GRANT (.+?) ON (\S+) TO ", text, re.MULTILINE)
            wanted = [("USAGE", "*.*")] + [("ALL PRIVILEGES", f"`{db}`.*") for db in databases]
            assert sorted(grants) == sorted(wanted), (node, name, grants)


# --- 2. RabbitMQ -----------------------------------------------------------------------------------


@pytest.mark.parametrize("client, server", [("ctl2", "ctl1"), ("ctl1", "ctl2"), ("ctl1", "nas")])
def test_guest_is_refused_over_amqp_from_another_node(lab, deployed, client, server):
    out = lab.exec(client, "python3", "-c", AMQP_GUEST_LOGIN, MANAGEMENT[server], check=False)
    assert out.returncode == 0, f"guest from {client} to {server}: {out.stdout}{out.stderr}"
    assert out.stdout.startswith("refused: ") and "ACCESS_REFUSED" in out.stdout, out.stdout


# --- 3. listeners ----------------------------------------------------------------------------------


def test_galera_listens_on_the_management_address_only(lab, deployed):
    # IST (4568) and SST (4444) listen only while a node joins: when they do,
    # on the management address too
    for node in CONTROLLERS:
        found = {(a, p) for a, p in listeners(lab, node) if p in GALERA_PORTS}
        allowed = {(MANAGEMENT[node], port) for port in GALERA_PORTS}
        allowed.add((VIP, 3306))  # HAProxy's Galera frontend, on both controllers
        assert found - allowed == set(), (node, sorted(found))
        assert {(MANAGEMENT[node], 3306), (MANAGEMENT[node], 4567)} <= found, (node, found)


@pytest.mark.parametrize("server", CONTROLLERS)
def test_the_provider_network_gets_no_answer_from_the_ha_services(lab, deployed, server):
    ports = GALERA_PORTS + MEMCACHED_PORTS + RABBITMQ_PORTS
    address = PROVIDER[server]
    # from the admin box (on the provider bridge, as the provider's router)
    # and from the peer controller's provider interface
    peer = next(node for node in CONTROLLERS if node != server)
    from_admin = probe_ports(lab, address, ports)
    from_peer = probe_ports(lab, address, ports, node=peer)
    refused = {port: "refused" for port in ports}
    assert from_admin == refused, f"{server} at {address}, from the admin box: {from_admin}"
    assert from_peer == refused, f"{server} at {address}, from {peer}: {from_peer}"


# --- 4. OpenStack config files ---------------------------------------------------------------------


def config_files():
    """{path: group} of every config file the OpenStack states render on a
    controller: each service's `config` files, neutron's node files
    (settings:config) and the uWSGI inis."""
    _, data = catalog()
    files = {}
    for svc in data["services"].values():
        node_files = (svc.get("settings") or {}).get("config")
        paths = [*(svc.get("config") or {}), *(node_files if isinstance(node_files, dict) else {}),
                 *(spec["ini"] for spec in (svc.get("uwsgi") or {}).values())]
        files.update({path: svc["group"] for path in paths})
    return files


@pytest.mark.parametrize("node", CONTROLLERS)
def test_every_openstack_config_file_is_root_group_0640(lab, deployed, node):
    files = config_files()
    assert len(files) >= 25 and "/etc/keystone/keystone-uwsgi.ini" in files, sorted(files)
    out = lab.exec(node, "stat", "-c", "%n %U %G %a", *sorted(files), check=False)
    found = {}
    for line in out.stdout.splitlines():
        path, user, group, mode = line.split()
        found[path] = (user, group, mode)
    assert set(found) == set(files), f"missing on {node}: {sorted(set(files) - set(found))}"
    readable = sorted(path for path, (_, _, mode) in found.items() if int(mode, 8) & 0o007)
    assert not readable, f"world-readable on {node}: {readable}"
    wrong = {path: found[path] for path, group in files.items()
             if found[path] != ("root", group, "640")}
    assert not wrong, f"not root:<group> 0640 on {node}: {wrong}"


# --- 5. Keystone -----------------------------------------------------------------------------------


@pytest.mark.parametrize("node", CONTROLLERS)
def test_keystone_has_no_admin_token_and_no_insecure_debug(lab, deployed, node):
    conf = configparser.ConfigParser(interpolation=None, strict=False)
    conf.read_string(lab.exec(node, "cat", KEYSTONE_CONF).stdout)
    assert conf.get("token", "provider") == "fernet"  # the file Salt renders
    assert not conf.has_option("DEFAULT", "admin_token")
    assert conf.get("DEFAULT", "insecure_debug", fallback="false").lower() in ("false", "0", "no")
    # Zed's Keystone builds its middleware in code (Debian 12 ships no
    # keystone-paste.ini): nothing under /etc/keystone (keystone.conf.d, a
    # stray paste file) may set a token or name the admin-token middleware
    found = lab.exec(node, "grep", "-rIliE", "-e", r"^\s*admin_token\s*=",
                     "-e", r"^\s*insecure_debug\s*=\s*(true|1|yes|on)",
                     "-e", "admin_token_auth|AdminTokenAuthMiddleware", "/etc/keystone",
                     check=False)
    assert found.returncode == 1, f"{node}: {found.stdout}{found.stderr}"


@pytest.mark.parametrize("token", ["ADMIN", "bogus"])
def test_a_bogus_token_through_the_vip_gets_401(lab, deployed, token):
    value = token if token == "ADMIN" else secrets.token_hex(16)
    out = lab.exec("nas", "curl", "-sS", "-m", "30", "-H", f"X-Auth-Token: {value}",
                   "-w", "\n%{http_code}", f"https://{VIP}:5000/v3/users")
    body, _, code = out.stdout.rpartition("\n")
    assert code == "401", out.stdout
    error = json.loads(body)["error"]
    assert error["code"] == 401, error
    # insecure_debug would add the reason and this amendment
    assert "insecure_debug" not in error["message"], error


def test_the_witness_holds_only_rabbitmqs_secrets(lab, deployed):
    """Least privilege: the NAS's pillar (secrets_witness.sls, pillar/top.sls)
    names RabbitMQ's two secrets, not the CA key, the BMC or service
    passwords; a controller's names them all. Names only: no value asked."""
    keys = lab.salt("ctl1,nas", "-L", "pillar.keys", "secrets")
    assert sorted(keys["nas"]) == ["rabbitmq_admin_password", "rabbitmq_erlang_cookie"], keys
    assert {"tls_ca_key", "bmc_nas", "keystone_db_password"} <= set(keys["ctl1"]), keys
    # the NAS's RabbitMQ member is in the cluster with them (its highstate ran)
    status = lab.exec("nas", "rabbitmqctl", "-q", "cluster_status", "--formatter", "json")
    running = json.loads(status.stdout)["running_nodes"]
    assert len(running) == 3, running
