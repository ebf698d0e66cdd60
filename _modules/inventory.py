"""
The site inventory: schema of the ``site`` pillar, its validation, and lookups.

The ``site`` pillar (``lab/pillar/site.sls``, ``pillar/examples/site.sls``)
describes the machines, networks, VIPs, quorum and fencing of one site; the
flat ``secrets`` pillar holds the passwords a node's ``bmc.password_secret``
names.

The validation core is plain Python and needs no Salt loader, so the lab CLI
can import this file by path:

- ``validate_site(site, secrets=None)`` returns the list of problems (empty
  when valid), one line each, naming the full pillar key path and what to do;
- ``validate_site_text(yaml_text, secrets=None)`` does the same for the raw
  text of a site file, and also reports duplicate keys, which a YAML mapping
  otherwise loses silently.

Through the loader, ``inventory.validate`` raises on an invalid pillar, and
``nodes``, ``node``, ``roles``, ``peers``, ``controllers``, ``witness`` and
``vip`` answer "who does what" from pillar (never from grains).
"""

import copy
import dataclasses
import ipaddress

import yaml
from salt.exceptions import SaltInvocationError

__virtualname__ = "inventory"

KNOWN_ROLES = ("compute", "controller", "network", "object", "storage", "witness")
QUORUM_MODES = ("witness", "two_node")
# A node with no role but these gets only the witness's secrets (RabbitMQ's:
# pillar/top.sls gives it secrets_witness.sls), never the BMC passwords.
WITNESS_ROLES = ("storage", "witness")
DEFAULT_BMC_PORT = 623


def __virtual__():
    return __virtualname__


# --------------------------------------------------------------------------
# Value checks: each returns None when the value is fine, else what is wrong.


def _describe(value):
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text '{value}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _text(value):
    if isinstance(value, str) and value.strip():
        return None
    if isinstance(value, str):
        return "is empty; give it a value"
    if isinstance(value, bool):
        return (
            f"expected text, got {_describe(value)}: YAML reads unquoted "
            "yes/no/on/off/true/false as booleans; quote the value (e.g. 'on')"
        )
    if isinstance(value, (int, float)):
        return f"expected text, got {_describe(value)}; quote the value"
    return f"expected text, got {_describe(value)}"


def _boolean(value):
    if isinstance(value, bool):
        return None
    return f"expected true or false, got {_describe(value)}"


def _integer(low, high=None):
    """A check for a whole number in ``low``..``high`` (no upper bound if None)."""

    def check(value):
        if isinstance(value, bool) or not isinstance(value, int):
            unquote = "; write it without quotes" if isinstance(value, str) else ""
            return f"expected a whole number, got {_describe(value)}{unquote}"
        if value < low or (high is not None and value > high):
            allowed = f"{low}..{high}" if high is not None else f"{low} or more"
            return f"{value} is out of range; use {allowed}"
        return None

    return check


def _ip(value):
    if not isinstance(value, str):
        return f"expected an IP address, got {_describe(value)}"
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"'{value}' is not an IP address; write one address such as 192.0.2.11, no prefix"
    return None


def _cidr(value):
    if not isinstance(value, str) or "/" not in value:
        return f"expected a network in CIDR notation such as 192.0.2.0/24, got {_describe(value)}"
    try:
        ipaddress.ip_network(value)
    except ValueError as exc:
        return f"'{value}' is not a CIDR ({exc}); write the network address, e.g. 192.0.2.0/24"
    return None


def _path(value):
    error = _text(value)
    if error is None and not value.startswith("/"):
        return f"'{value}' is not an absolute path; start it with /"
    return error


def _text_list(value):
    if not isinstance(value, list) or not value:
        return f"expected a non-empty list such as [controller, compute], got {_describe(value)}"
    errors = [f"item {index} {error}" for index, item in enumerate(value) if (error := _text(item))]
    return "; ".join(errors) or None


# --------------------------------------------------------------------------
# The schema. A field's kind is a value check, a mapping of fields, or a
# _MapOf / _ListOf; ``about`` says what to set when the field is missing;
# ``default`` (documentation only: validation never reads it) is the value
# the code uses when an optional field is not set. bin/pillar-reference
# prints the schema as docs/pillar-reference.md.


@dataclasses.dataclass(frozen=True)
class _Field:
    kind: object
    about: str
    required: bool = True
    default: object = None


@dataclasses.dataclass(frozen=True)
class _MapOf:
    """A mapping from names the site chooses (node ids, VIP names) to ``item``."""

    item: object


@dataclasses.dataclass(frozen=True)
class _ListOf:
    item: object


def _optional(kind, about, default=None):
    return _Field(kind, about, required=False, default=default)


_BMC = {
    "address": _Field(_ip, "the BMC (iDRAC) IP address"),
    "port": _optional(
        _integer(1, 65535), f"the IPMI port (default {DEFAULT_BMC_PORT})", DEFAULT_BMC_PORT
    ),
    "username": _Field(_text, "the BMC user name"),
    "password_secret": _Field(_text, "the key under secrets: holding the BMC password"),
}

_SWIFT_DISK = {
    "device": _optional(_path, "a whole block device such as /dev/sdb"),
    "file": _optional(_path, "a loop file such as /var/lib/swift-disks/d1.img"),
    "size_gb": _optional(_integer(1), "the loop file's size in GB"),
}

_NODE = {
    "roles": _Field(_text_list, f"a list of roles among {', '.join(KNOWN_ROLES)}"),
    "address": _Field(_ip, "the node's IP address on the management network"),
    "cluster_id": _optional(_integer(1), "a unique cluster node number (1, 2, ...)"),
    "interfaces": _Field(
        {
            "management": _Field(_text, "the NIC on the management network, e.g. eno1"),
            "provider": _optional(_text, "the NIC on the provider network, e.g. eno2"),
        },
        "the node's network interfaces (at least management)",
    ),
    "bmc": _optional(_BMC, "the BMC's address, port, username and password_secret"),
    "disks": _optional(
        {"swift": _optional(_ListOf(_SWIFT_DISK), "a list of {device: ...} or {file: ...}")},
        "the node's disks",
    ),
}

_EXPORT = {"path": _Field(_path, "the exported directory on the NAS")}

_ADMIN = {
    "address": _Field(
        _ip,
        "the admin box's IP address on the management network: the salt-master "
        "listens there and the minions connect to it",
    ),
}

_SITE = {
    "name": _Field(_text, "a short name for the site"),
    "domain": _Field(_text, "the site's DNS domain"),
    "quorum": _Field(
        {
            "mode": _Field(_text, f"one of {', '.join(QUORUM_MODES)}"),
            "witness": _optional(_text, "the node id of the witness host"),
        },
        "the quorum settings (mode, witness)",
    ),
    "fencing": _Field(
        {
            "enabled": _Field(_boolean, "true or false"),
            "delay_node": _optional(_text, "the controller whose fencing waits (it wins a race)"),
            "delay_seconds": _optional(_integer(0), "the fencing delay in seconds"),
        },
        "the fencing settings (enabled, delay_node, delay_seconds)",
    ),
    "networks": _Field(
        {
            "management": _Field(
                {
                    "cidr": _Field(_cidr, "the management network, e.g. 192.0.2.0/24"),
                    "gateway": _optional(_ip, "the management gateway's IP address"),
                },
                "the management network (cidr, gateway)",
            ),
            "provider": _optional(
                {
                    "cidr": _Field(_cidr, "the provider network, e.g. 198.51.100.0/24"),
                    "physnet": _Field(_text, "the Neutron physical network name, e.g. provider"),
                },
                "the provider network (cidr, physnet)",
            ),
            "bmc": _optional(
                {"cidr": _Field(_cidr, "the BMC network, e.g. 192.0.2.0/24")},
                "the BMC network (cidr)",
            ),
        },
        "the site's networks (at least management)",
    ),
    "vips": _Field(
        _MapOf(
            {"address": _Field(_ip, "the VIP's IP address"), "fqdn": _Field(_text, "its DNS name")}
        ),
        "the virtual IPs, at least api: {address, fqdn}",
    ),
    "nodes": _Field(_MapOf(_NODE), "the nodes, keyed by minion id"),
    "admin": _optional(
        _ADMIN,
        "the admin box (address), where the salt-master runs; bin/admin-setup needs it",
    ),
    "nas": _optional(
        {
            "node": _Field(_text, "the node id of the NAS"),
            "exports": _optional(
                {
                    name: _optional(_EXPORT, f"the {name} export")
                    for name in ("images", "volumes", "backups", "metrics")
                },
                "the NFS exports (images, volumes, backups, metrics)",
            ),
        },
        "the NAS (node, exports)",
    ),
}


# --------------------------------------------------------------------------
# Validation.


def _key(path):
    return ":".join(str(part) for part in path)


class _Problems:
    """The problems found so far, one line each, and the key paths they name."""

    def __init__(self):
        self.lines = []
        self.paths = set()

    def add(self, path, message):
        self.lines.append(f"{_key(path)}: {message}")
        self.paths.add(tuple(path))

    def given(self, mapping, path, key):
        """Whether ``key`` was set, even if to a value already reported as wrong."""
        return key in mapping or (*path, key) in self.paths

    def require(self, mapping, path, key, about):
        if not self.given(mapping, path, key):
            self.add((*path, key), f"not set; set it to {about}")


def _shape(problems, value, kind, path):
    """Check ``value`` against ``kind``; return a copy keeping only the valid parts.

    Returns None when ``value`` itself is wrong; wrong members of a mapping
    are left out of the copy, wrong list items become None, so the checks
    that follow see only well-typed data and do not repeat the problem.
    """
    if isinstance(kind, dict):
        return _shape_fields(problems, value, kind, path)
    if isinstance(kind, _MapOf):
        if not isinstance(value, dict):
            problems.add(path, f"expected a mapping of names to entries, got {_describe(value)}")
            return None
        entries = {}
        for name, item in value.items():
            if error := _text(name):
                problems.add((*path, name), f"the name {error}")
            elif (checked := _shape(problems, item, kind.item, (*path, name))) is not None:
                entries[name] = checked
        return entries
    if isinstance(kind, _ListOf):
        if not isinstance(value, list):
            problems.add(path, f"expected a list, got {_describe(value)}")
            return None
        return [_shape(problems, item, kind.item, (*path, i)) for i, item in enumerate(value)]
    if error := kind(value):
        problems.add(path, error)
        return None
    return value


def _shape_fields(problems, value, fields, path):
    if not isinstance(value, dict):
        problems.add(
            path, f"expected a mapping with keys {', '.join(fields)}, got {_describe(value)}"
        )
        return None
    unknown = sorted(str(key) for key in value if key not in fields)
    if unknown:
        problems.add(
            path,
            f"unknown key(s) {', '.join(unknown)}; known keys: {', '.join(fields)} "
            "(check the spelling)",
        )
    checked = {}
    for key, field in fields.items():
        if value.get(key) is None:
            if field.required:
                problems.add((*path, key), f"not set; set it to {field.about}")
            continue
        item = _shape(problems, value[key], field.kind, (*path, key))
        if item is not None:
            checked[key] = item
    return checked


def _roles_of(site, node_id):
    return site.get("nodes", {}).get(node_id, {}).get("roles", [])


def _lacks_role(problems, site, node_id, role):
    """Whether node ``node_id`` lacks ``role`` (not said when its roles are already reported)."""
    already_reported = ("site", "nodes", node_id, "roles") in problems.paths
    return not already_reported and role not in _roles_of(site, node_id)


def _not_a_node(site, name):
    return (
        f"'{name}' is not a node under site:nodes; use one of: {', '.join(sorted(site['nodes']))}"
    )


def _ids_with_role(site, role):
    return sorted(node_id for node_id in site.get("nodes", {}) if role in _roles_of(site, node_id))


def _check_nodes(problems, site):
    """Every role is a known one; a controller has a cluster_id; no two nodes share a
    cluster_id; two nodes (at least) have the controller role."""
    cluster_ids = {}
    for node_id, node in site.get("nodes", {}).items():
        path = ("site", "nodes", node_id)
        unknown = [role for role in node.get("roles", []) if role not in KNOWN_ROLES]
        if unknown:
            problems.add(
                (*path, "roles"),
                f"unknown role(s) {', '.join(unknown)}; known roles: {', '.join(KNOWN_ROLES)}",
            )
        if "controller" in node.get("roles", []):
            problems.require(
                node, path, "cluster_id", "a unique cluster node number (controllers need one)"
            )
        cluster_id = node.get("cluster_id")
        if cluster_id in cluster_ids:
            problems.add(
                (*path, "cluster_id"),
                f"{cluster_id} is already the cluster_id of {cluster_ids[cluster_id]}; "
                "give each node its own number",
            )
        elif cluster_id is not None:
            cluster_ids[cluster_id] = node_id
    controllers = _ids_with_role(site, "controller")
    if "nodes" in site and len(controllers) < 2:
        problems.add(
            ("site", "nodes"),
            f"{len(controllers)} controller node(s) ({', '.join(controllers) or 'none'}); "
            "the cluster needs two: add controller to the roles of two nodes",
        )


def _addresses(site):
    """Yield (key path, IP, kind) for every node, VIP, BMC and admin box address of the site."""
    nodes = site.get("nodes", {})
    if "address" in site.get("admin", {}):
        yield ("site", "admin", "address"), site["admin"]["address"], "admin"
    for node_id, node in nodes.items():
        if "address" in node:
            yield ("site", "nodes", node_id, "address"), node["address"], "node"
    for name, vip in site.get("vips", {}).items():
        if "address" in vip:
            yield ("site", "vips", name, "address"), vip["address"], "vip"
    for node_id, node in nodes.items():
        if "address" in node.get("bmc", {}):
            yield ("site", "nodes", node_id, "bmc", "address"), node["bmc"]["address"], "bmc"


def _check_inside(problems, site, path, address, network_name):
    network = site.get("networks", {}).get(network_name, {}).get("cidr")
    if network and ipaddress.ip_address(address) not in ipaddress.ip_network(network):
        problems.add(
            path,
            f"{address} is outside the {network_name} network {network} "
            f"(site:networks:{network_name}:cidr); use an address inside it",
        )


def _check_addresses(problems, site):
    """The management gateway, the admin box, every node address and every VIP lie
    inside site:networks:management:cidr, every BMC address inside
    site:networks:bmc:cidr (each when that network is set); no two nodes, VIPs,
    BMCs or the admin box share an address."""
    gateway = site.get("networks", {}).get("management", {}).get("gateway")
    if gateway:
        _check_inside(
            problems, site, ("site", "networks", "management", "gateway"), gateway, "management"
        )
    first_user = {}  # IP -> (path, kind) of its first user
    for path, address, kind in _addresses(site):
        _check_inside(problems, site, path, address, "bmc" if kind == "bmc" else "management")
        ip = ipaddress.ip_address(address)
        if ip not in first_user:
            first_user[ip] = path, kind
            continue
        first_path, first_kind = first_user[ip]
        if (first_kind, kind) == ("node", "vip"):
            problems.add(
                path,
                f"{address} is the address of node {first_path[2]} ({_key(first_path)}); "
                "a VIP needs a free address of its own in the management network",
            )
        else:
            problems.add(
                path,
                f"{address} is already used by {_key(first_path)}; "
                "every node, VIP, BMC and admin box address must be unique",
            )


def _check_quorum(problems, site):
    """The quorum mode is witness or two_node; in mode witness, site:quorum:witness
    names a node that has the witness role and is not a controller."""
    quorum = site.get("quorum", {})
    mode = quorum.get("mode")
    path = ("site", "quorum")
    if mode is not None and mode not in QUORUM_MODES:
        problems.add(
            (*path, "mode"),
            f"unknown mode '{mode}'; use witness (a third host votes) "
            "or two_node (no third host, fencing required)",
        )
    if mode != "witness":
        return
    problems.require(
        quorum, path, "witness", "the node id of the witness host (quorum mode witness)"
    )
    witness = quorum.get("witness")
    if witness is None or "nodes" not in site:
        return
    if witness not in site["nodes"]:
        problems.add(
            (*path, "witness"),
            _not_a_node(site, witness),
        )
    elif _lacks_role(problems, site, witness, "witness"):
        problems.add(
            (*path, "witness"),
            f"node {witness} has no witness role; add witness to site:nodes:{witness}:roles",
        )
    elif "controller" in _roles_of(site, witness):
        problems.add(
            (*path, "witness"),
            f"node {witness} is a controller; the witness must be a third host",
        )


def _check_fencing(problems, site):
    """Quorum mode two_node needs fencing enabled; with fencing enabled,
    delay_node (a controller) and delay_seconds are set and every controller has
    bmc data."""
    fencing = site.get("fencing", {})
    path = ("site", "fencing")
    if fencing.get("enabled") is False and site.get("quorum", {}).get("mode") == "two_node":
        problems.add(
            (*path, "enabled"),
            "quorum mode two_node needs fencing: set it to true and give every controller "
            "bmc data, or use quorum mode witness",
        )
    if not fencing.get("enabled"):
        return
    problems.require(
        fencing, path, "delay_node", "the controller whose fencing waits (it wins a race)"
    )
    problems.require(fencing, path, "delay_seconds", "the fencing delay in seconds, e.g. 10")
    controllers = _ids_with_role(site, "controller")
    delay_node = fencing.get("delay_node")
    if delay_node is not None and "nodes" in site and delay_node not in controllers:
        problems.add(
            (*path, "delay_node"),
            f"'{delay_node}' is not a controller node; "
            f"use one of: {', '.join(controllers) or 'none'}",
        )
    for node_id in controllers:
        problems.require(
            site["nodes"][node_id],
            ("site", "nodes", node_id),
            "bmc",
            "the BMC's address, username and password_secret (fencing is enabled: "
            "site:fencing:enabled)",
        )


def _check_nas(problems, site):
    """site:nas:node names a node that has the storage role."""
    nas_node = site.get("nas", {}).get("node")
    if nas_node is None or "nodes" not in site:
        return
    path = ("site", "nas", "node")
    if nas_node not in site["nodes"]:
        problems.add(
            path,
            _not_a_node(site, nas_node),
        )
    elif _lacks_role(problems, site, nas_node, "storage"):
        problems.add(
            path, f"node {nas_node} has no storage role; add storage to site:nodes:{nas_node}:roles"
        )


def _check_disks(problems, site):
    """Each Swift disk gives exactly one of device and file; a file needs size_gb."""
    for node_id, node in site.get("nodes", {}).items():
        for index, disk in enumerate(node.get("disks", {}).get("swift", [])):
            path = ("site", "nodes", node_id, "disks", "swift", index)
            if disk is None:
                continue
            has_device = problems.given(disk, path, "device")
            has_file = problems.given(disk, path, "file")
            if has_device == has_file:
                problems.add(
                    path,
                    f"has {'both' if has_device else 'neither'} device and file; give exactly one: "
                    "device: /dev/sdX (a whole disk) or file: /path.img with size_gb (a loop file)",
                )
            elif has_file:
                problems.require(disk, path, "size_gb", "the loop file's size in GB")


def _pem_block(value):
    """True for a PEM block (``-----BEGIN ...-----`` to ``-----END ...-----``)."""
    lines = value.strip().splitlines()
    return (len(lines) > 2 and lines[0].startswith("-----BEGIN ")
            and lines[-1].startswith("-----END ") and lines[-1].endswith("-----"))


def holds_every_secret(node):
    """
    True when inventory ``node`` gets the whole secrets pillar, False when it
    has no role but the witness's and the NAS's (``WITNESS_ROLES``: it gets
    RabbitMQ's secrets only, pillar/top.sls).

    CLI Example:

    .. code-block:: bash

        salt-call inventory.holds_every_secret '{"roles": ["storage", "witness"]}'
    """
    return any(role not in WITNESS_ROLES for role in (node or {}).get("roles") or [])


def _check_secrets(problems, site, secrets, bmc=True):
    """When the secrets pillar is given: it is a mapping, no value starts
    with '-' (but a PEM block: the site CA's key, which goes to a file), and
    (``bmc``: the pillar of a node holding every secret) every node's
    bmc:password_secret is a key in it."""
    if secrets is None:
        return
    if not isinstance(secrets, dict):
        problems.add(
            ("secrets",), f"expected a mapping of secret names to values, got {_describe(secrets)}"
        )
        return
    for name, value in sorted(secrets.items()):
        if isinstance(value, str) and value.startswith("-") and not _pem_block(value):
            # the value itself is never shown
            problems.add(
                ("secrets", name),
                "starts with '-', which command-line tools it is handed to (rabbitmqctl "
                "add_user) read as an option; delete it from the secrets file and run "
                "`salt-run secrets.init` on the master, which makes a new one of letters and "
                "digits",
            )
    for node_id, node in site.get("nodes", {}).items() if bmc else ():
        name = node.get("bmc", {}).get("password_secret")
        if name is not None and name not in secrets:
            problems.add(
                ("site", "nodes", node_id, "bmc", "password_secret"),
                f"'{name}' is not a key under secrets; "
                f"add {name}: <password> to the secrets pillar",
            )


def validate_site(site, secrets=None, bmc_secrets=True):
    """
    Return the problems of a ``site`` pillar as a list of lines (empty when valid).

    Each line names the full pillar key path (``site:nodes:ctl1:address``) and
    what to do. ``secrets`` is the ``secrets`` pillar mapping; the secret
    cross-checks are skipped when it is None, the BMC passwords' when
    ``bmc_secrets`` is false (the pillar of a witness, which has none of
    them). Needs no Salt loader.

    CLI Example:

    .. code-block:: bash

        salt-call inventory.validate_site "$(salt-call --out=json pillar.get site)"
    """
    problems = _Problems()
    if site is None:
        problems.add(("site",), "not set; assign the site pillar to this minion (pillar/top.sls)")
        return problems.lines
    checked = _shape(problems, site, _SITE, ("site",))
    if checked is None:
        return problems.lines
    if "vips" in checked:
        problems.require(checked["vips"], ("site", "vips"), "api", "the API VIP: {address, fqdn}")
    for check in (
        _check_nodes,
        _check_addresses,
        _check_quorum,
        _check_fencing,
        _check_nas,
        _check_disks,
    ):
        check(problems, checked)
    _check_secrets(problems, checked, secrets, bmc_secrets)
    return problems.lines


class _DuplicateKeyLoader(yaml.SafeLoader):
    """A SafeLoader that records duplicate mapping keys with their key path.

    A plain loader keeps the last of two equal keys and drops the first, so a
    node pasted twice under the same minion id would vanish without a word.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self.path = []
        self.duplicates = []

    def compose_node(self, parent, index):
        # index: the key node of a mapping value, a sequence position, or None
        self.path.append(index.value if isinstance(index, yaml.ScalarNode) else index)
        try:
            return super().compose_node(parent, index)
        finally:
            self.path.pop()

    def compose_mapping_node(self, anchor):
        node = super().compose_mapping_node(anchor)
        first_line = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = (key_node.tag, key_node.value)
            line = key_node.start_mark.line + 1
            if key in first_line:
                path = [part for part in self.path if part is not None] + [key_node.value]
                self.duplicates.append(
                    f"{_key(path)}: duplicate key at line {line} "
                    f"(first at line {first_line[key]}); "
                    "YAML keeps only the last one: remove or rename one of them"
                )
            else:
                first_line[key] = line
        return node


def validate_site_text(yaml_text, secrets=None):
    """
    Return the problems of a site file's raw YAML text (empty when valid).

    Reports YAML syntax errors and duplicate keys (e.g. a minion id twice under
    ``site:nodes``), then everything ``validate_site`` reports for the parsed
    ``site`` mapping. The text must be plain YAML (no Jinja).

    CLI Example:

    .. code-block:: bash

        salt-call inventory.validate_site_text "$(cat pillar/site.sls)"
    """
    loader = _DuplicateKeyLoader(yaml_text)
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as exc:
        return [f"site file: not valid YAML: {exc}"]
    finally:
        loader.dispose()
    if not isinstance(document, dict):
        return [*loader.duplicates, "site: not set; the file needs a top-level site: mapping"]
    return [*loader.duplicates, *validate_site(document.get("site"), secrets)]


# --------------------------------------------------------------------------
# Execution functions (through the Salt loader).


def validate(site=None, secrets=None):
    """
    Validate the site pillar; return True, or raise with every problem found.

    ``site`` and ``secrets`` default to this minion's ``site`` and ``secrets``
    pillars; the secret cross-checks run only when secrets are available, and
    not for the BMC passwords on a node that has no role but the witness's
    and the NAS's (``holds_every_secret``: its pillar has none of them).
    Raises ``SaltInvocationError`` whose message holds one problem per line,
    each naming the pillar key path and what to do.

    CLI Example:

    .. code-block:: bash

        salt-call inventory.validate
    """
    if site is None:
        site = __pillar__.get("site")
    if secrets is None:
        secrets = __pillar__.get("secrets")
    me = ((site.get("nodes") or {}).get(__opts__.get("id"))
          if isinstance(site, dict) and isinstance(site.get("nodes"), dict) else None)
    problems = validate_site(site, secrets,
                             bmc_secrets=not isinstance(me, dict) or holds_every_secret(me))
    if problems:
        raise SaltInvocationError("\n".join(problems))
    return True


def _site_nodes():
    return (__pillar__.get("site") or {}).get("nodes") or {}


def _cluster_order(item):
    node_id, node = item
    cluster_id = node.get("cluster_id")
    numbered = isinstance(cluster_id, int) and not isinstance(cluster_id, bool)
    return (not numbered, cluster_id if numbered else 0, str(node_id))


def nodes(role=None):
    """
    Return the node ids of the site, sorted by cluster_id then id.

    Nodes without a cluster_id come last. With ``role``, only the nodes having
    that role.

    CLI Example:

    .. code-block:: bash

        salt-call inventory.nodes
        salt-call inventory.nodes role=controller
    """
    return nodes_with_any_role([role]) if role is not None else nodes_with_any_role(None)


def nodes_with_any_role(roles):
    """
    Return the node ids having at least one of ``roles`` (all nodes when
    ``roles`` is None), sorted by cluster_id then id.

    CLI Example:

    .. code-block:: bash

        salt-call inventory.nodes_with_any_role '[controller, witness]'
    """
    wanted = None if roles is None else set(roles)
    return [
        node_id
        for node_id, node in sorted(_site_nodes().items(), key=_cluster_order)
        if wanted is None or wanted & set(node.get("roles") or [])
    ]


def node(id=None):  # pylint: disable=redefined-builtin
    """
    Return the inventory entry of node ``id`` (default: this minion), or {}.

    The copy has the defaults filled in (``bmc.port``: 623).

    CLI Example:

    .. code-block:: bash

        salt-call inventory.node
        salt '*' inventory.node id=ctl2
    """
    entry = copy.deepcopy(_site_nodes().get(id or __opts__["id"]) or {})
    if "bmc" in entry:
        entry["bmc"].setdefault("port", DEFAULT_BMC_PORT)
    return entry


def roles(id=None):  # pylint: disable=redefined-builtin
    """
    Return the roles of node ``id`` (default: this minion); [] if not a node.

    CLI Example:

    .. code-block:: bash

        salt-call inventory.roles
        salt '*' inventory.roles id=nas
    """
    return list(node(id).get("roles") or [])


def peers(role):
    """
    Return the other nodes (not this minion) having ``role``, in cluster order.

    CLI Example:

    .. code-block:: bash

        salt-call inventory.peers controller
    """
    return [node_id for node_id in nodes(role) if node_id != __opts__["id"]]


def controllers():
    """
    Return the controller node ids, in cluster order.

    CLI Example:

    .. code-block:: bash

        salt-call inventory.controllers
    """
    return nodes("controller")


def witness():
    """
    Return the witness node id, or None when the quorum mode is two_node.

    CLI Example:

    .. code-block:: bash

        salt-call inventory.witness
    """
    quorum = (__pillar__.get("site") or {}).get("quorum") or {}
    return quorum.get("witness") if quorum.get("mode") == "witness" else None


def vip(name="api"):
    """
    Return the VIP ``name`` as {address, fqdn}; raise if the site has none.

    CLI Example:

    .. code-block:: bash

        salt-call inventory.vip
        salt-call inventory.vip name=api
    """
    vips = (__pillar__.get("site") or {}).get("vips") or {}
    if name not in vips:
        raise SaltInvocationError(
            f"site:vips:{name}: not set; known VIPs: {', '.join(sorted(vips)) or 'none'}"
        )
    return dict(vips[name])
