"""
What the site inventory asks of Corosync and Pacemaker, as data.

Pure builders (no command runs, no cluster is asked) turning the site pillar
(``site``), the secrets pillar (``secrets``) and the ``pacemaker`` settings
(``salt/pacemaker/defaults.yaml`` merged with pillar ``pacemaker``) into:

- :func:`corosync_config`: the values ``salt/pacemaker/files/corosync.conf.jinja``
  renders (cluster name, nodelist, quorum: a quorum device on the witness
  or ``two_node``);
- :func:`corosync_authkey`: corosync's shared key, derived from
  ``secrets:corosync_authkey``;
- :func:`cib_objects`: the objects ``pacemaker.cib_present`` declares (schema
  in ``_modules/pacemaker.py``): cluster properties, resource defaults, one
  ``fence_ipmilan`` device per controller against its BMC with location
  constraints keeping it off the node it fences, the API VIP, the HAProxy
  clone, and the constraints tying them.

This module loads everywhere (it needs no cluster binary), so SLS files can
call it before the cluster packages are installed. The ``build_*`` and
``derive_authkey`` functions take every input as an argument and are what the
unit tests exercise; the public functions read the pillar and call them.
"""

import base64
import hashlib
import ipaddress

from salt.exceptions import SaltInvocationError

__virtualname__ = "ha_objects"

# Domain separation: the secret may one day feed other derivations.
AUTHKEY_LABEL = b"twin-cloud corosync authkey v1\0"
# corosync 3 / knet accept keys of 128 to 4096 bytes (corosync-keygen: 256)
AUTHKEY_MIN_BYTES = 128
AUTHKEY_MAX_BYTES = 4096

DEFAULT_SETTINGS = {
    "corosync": {
        "crypto_cipher": "aes256",
        "crypto_hash": "sha256",
        "token": 3000,
        "logfile": "/var/log/corosync/corosync.log",
    },
    "qdevice": {"algorithm": "ffsplit", "port": 5403, "tls": "on"},
    "cib": {
        "properties": {"no-quorum-policy": "stop"},
        "rsc_defaults": {"resource-stickiness": 100},
        "fence": {"lanplus": 1, "method": "onoff", "monitor": "60s", "timeout": "60s",
                  "failure_timeout": "120s"},
        "vip": {"id": "vip", "monitor": "10s"},
        "haproxy": {
            "id": "haproxy",
            "clone": "haproxy-clone",
            "unit": "haproxy",
            "monitor": "5s",
            "start_timeout": "100s",
            "stop_timeout": "100s",
        },
        # systemd units that must run on one controller at a time
        "singletons": [],
    },
}


def __virtual__():
    return __virtualname__


def _fail(path, problem):
    raise SaltInvocationError(f"{path}: {problem}")


def _merged(settings):
    """DEFAULT_SETTINGS overlaid with ``settings`` (two levels deep, enough here)."""
    merged = {}
    for section, defaults in DEFAULT_SETTINGS.items():
        given = (settings or {}).get(section) or {}
        merged[section] = {**defaults, **given}
        for key, value in defaults.items():
            if isinstance(value, dict):
                merged[section][key] = {**value, **(given.get(key) or {})}
    return merged


def _controllers(site):
    """(node id, node) of every controller, by cluster_id; each must have one."""
    nodes = site.get("nodes") or {}
    controllers = [
        (node_id, node)
        for node_id, node in nodes.items()
        if "controller" in (node.get("roles") or [])
    ]
    if not controllers:
        _fail("site:nodes", "no node has the controller role")
    for node_id, node in controllers:
        cluster_id = node.get("cluster_id")
        if not isinstance(cluster_id, int) or isinstance(cluster_id, bool) or cluster_id < 1:
            _fail(f"site:nodes:{node_id}:cluster_id", "a controller needs a cluster_id >= 1")
        if not node.get("address"):
            _fail(f"site:nodes:{node_id}:address", "a controller needs its management address")
    return sorted(controllers, key=lambda item: (item[1]["cluster_id"], item[0]))


def _fencing(site):
    return site.get("fencing") or {}


def _quorum(site):
    quorum = site.get("quorum") or {}
    mode = quorum.get("mode") or "witness"
    if mode not in ("witness", "two_node"):
        _fail("site:quorum:mode", f"unknown mode {mode!r}; use witness or two_node")
    return mode, quorum


def build_corosync(site, settings=None):
    """
    The values of corosync.conf for ``site`` (the ``site`` pillar's value).

    Returns ``{"cluster_name", "nodes": [{"name", "nodeid", "ring0_addr"}],
    "quorum": {"mode", "two_node", "device"}, "totem": {...}, "logfile"}``;
    ``device`` is None in two_node mode, else ``{"host", "port",
    "algorithm", "tie_breaker", "tls"}``. The tie-breaker of a 50/50 split
    is the fencing ``delay_node`` (the node that also survives a fence race),
    so every layer picks the same winner; without one, the lowest node id.
    """
    settings = _merged(settings)
    name = site.get("name")
    if not name:
        _fail("site:name", "the site name is the cluster name; it is missing")
    controllers = _controllers(site)
    mode, quorum = _quorum(site)
    corosync = settings["corosync"]
    config = {
        "cluster_name": str(name),
        "nodes": [
            {"name": node_id, "nodeid": node["cluster_id"], "ring0_addr": node["address"]}
            for node_id, node in controllers
        ],
        "totem": {
            "crypto_cipher": corosync["crypto_cipher"],
            "crypto_hash": corosync["crypto_hash"],
            "token": int(corosync["token"]),
        },
        "logfile": corosync["logfile"],
        "quorum": {"mode": mode, "two_node": mode == "two_node", "device": None},
    }
    if mode == "witness":
        witness = quorum.get("witness")
        witness_node = (site.get("nodes") or {}).get(witness) or {}
        if not witness_node.get("address"):
            _fail("site:quorum:witness", f"{witness!r} is not a node with an address")
        delay_node = _fencing(site).get("delay_node")
        by_id = dict(controllers)
        tie_breaker = by_id[delay_node]["cluster_id"] if delay_node in by_id else "lowest"
        qdevice = settings["qdevice"]
        config["quorum"]["device"] = {
            "host": witness_node["address"],
            "port": int(qdevice["port"]),
            "algorithm": qdevice["algorithm"],
            "tie_breaker": tie_breaker,
            "tls": qdevice["tls"],
        }
    return config


def derive_authkey(secret, size=256):
    """
    corosync's authkey (``size`` bytes) derived from the site secret:
    SHAKE-256 of a fixed label and the secret. The same secret gives the
    same key on every controller; the key is as strong as the secret.
    """
    if not isinstance(secret, str) or len(secret) < 16:
        _fail("secrets:corosync_authkey", "missing, or shorter than 16 characters")
    size = int(size)
    if not AUTHKEY_MIN_BYTES <= size <= AUTHKEY_MAX_BYTES:
        _fail(
            "pacemaker:corosync:authkey_bytes",
            f"{size}: corosync takes {AUTHKEY_MIN_BYTES} to {AUTHKEY_MAX_BYTES} bytes",
        )
    return hashlib.shake_256(AUTHKEY_LABEL + secret.encode()).digest(size)


def _two_node(site):
    return ((site.get("quorum") or {}).get("mode")) == "two_node"


def _op(name, interval, **attrs):
    return {"name": name, "interval": interval, **attrs}


def _fence_objects(site, secrets, fence, controllers):
    """The stonith devices and their location constraints."""
    fencing = _fencing(site)
    delay_node = fencing.get("delay_node")
    stonith, locations = [], []
    for node_id, node in controllers:
        bmc = node.get("bmc") or {}
        where = f"site:nodes:{node_id}:bmc"
        for key in ("address", "username", "password_secret"):
            if not bmc.get(key):
                _fail(f"{where}:{key}", "needed for fencing (site:fencing:enabled)")
        password = (secrets or {}).get(bmc["password_secret"])
        if not password:
            _fail(f"secrets:{bmc['password_secret']}", f"the BMC password of {node_id} is missing")
        device = f"fence-{node_id}"
        params = {
            "ip": bmc["address"],
            "ipport": int(bmc.get("port") or 623),
            "username": bmc["username"],
            "password": password,
            "lanplus": fence["lanplus"],
            "method": fence["method"],
            "pcmk_host_list": node_id,
        }
        if node_id == delay_node and fencing.get("delay_seconds") and _two_node(site):
            # Only a two_node cluster can race (each side keeps quorum): the
            # delay_node's own device waits, so its peer is shot first. With a
            # witness the side without quorum never fences, and the qnetd
            # tie-breaker already names delay_node: a delay would only slow
            # the failover of the node holding the VIP.
            params["delay"] = int(fencing["delay_seconds"])
        stonith.append(
            {
                "id": device,
                "type": "fence_ipmilan",
                "params": params,
                "ops": [_op("monitor", fence["monitor"], timeout=fence["timeout"]),
                        _op("start", "0s", timeout=fence["timeout"])],
                "meta": {"failure-timeout": fence["failure_timeout"]},
                "description": f"fences {node_id} through its BMC",
            }
        )
        locations.append(
            {
                "id": f"salt-loc-{device}-avoid-{node_id}",
                "rsc": device,
                "node": node_id,
                "score": "-INFINITY",
            }
        )
    return stonith, locations


def _netmask_bits(site):
    cidr = ((site.get("networks") or {}).get("management") or {}).get("cidr")
    if not cidr:
        _fail("site:networks:management:cidr", "missing (the VIP's netmask)")
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen
    except ValueError as exc:
        return _fail("site:networks:management:cidr", str(exc))


def _vip_nic(site, controllers):
    """The management interface name, the same on every controller (IPaddr2's nic)."""
    nics = {
        node_id: ((node.get("interfaces") or {}).get("management") or "")
        for node_id, node in controllers
    }
    names = set(nics.values())
    if "" in names:
        missing = sorted(node_id for node_id, nic in nics.items() if not nic)
        _fail(f"site:nodes:{missing[0]}:interfaces:management", "missing (the VIP's nic)")
    if len(names) > 1:
        _fail(
            "site:nodes:*:interfaces:management",
            "the controllers name their management interface differently "
            f"({', '.join(f'{k}={v}' for k, v in sorted(nics.items()))}): the VIP needs one name",
        )
    return names.pop()


def _singleton(spec):
    return {
        "id": spec["id"],
        "class": "systemd",
        "type": spec.get("unit", spec["id"]),
        "ops": [
            _op("monitor", spec.get("monitor", "30s"), timeout="30s"),
            _op("start", "0s", timeout=spec.get("start_timeout", "120s")),
            _op("stop", "0s", timeout=spec.get("stop_timeout", "120s")),
        ],
        "meta": {"failure-timeout": spec.get("failure_timeout", "120s")},
        "description": spec.get("description", f"{spec['id']}, on one controller at a time"),
    }


def build_objects(site, secrets, settings=None, installed_units=None):
    """
    The CIB objects for ``site`` (schema in ``_modules/pacemaker.py``):
    every kind is declared, so what Salt created and the pillar no longer
    names is removed. ``secrets`` is the ``secrets`` pillar (BMC passwords).
    ``installed_units``: the singletons (``cib:singletons``, systemd units
    run on one controller at a time) are declared only once their unit is
    installed (None: all of them), so a deploy declares them after the
    packages and their configuration are in place.
    """
    cib = _merged(settings)["cib"]
    controllers = _controllers(site)
    fencing_enabled = bool(_fencing(site).get("enabled"))
    properties = {**cib["properties"], "stonith-enabled": fencing_enabled}
    stonith, locations = (
        _fence_objects(site, secrets, cib["fence"], controllers) if fencing_enabled else ([], [])
    )

    vips = site.get("vips") or {}
    vip_address = (vips.get("api") or {}).get("address")
    if not vip_address:
        _fail("site:vips:api:address", "missing")
    vip, haproxy = cib["vip"], cib["haproxy"]
    primitives = [
        {
            "id": vip["id"],
            "class": "ocf",
            "provider": "heartbeat",
            "type": "IPaddr2",
            "params": {
                "ip": vip_address,
                "cidr_netmask": _netmask_bits(site),
                "nic": _vip_nic(site, controllers),
            },
            "ops": [_op("monitor", vip["monitor"], timeout="20s")],
            "description": "the API VIP, where HAProxy runs",
        }
    ]
    primitives += [
        _singleton(spec) for spec in cib.get("singletons") or []
        if installed_units is None or spec.get("unit", spec["id"]) in installed_units
    ]
    clones = [
        {
            "id": haproxy["clone"],
            "primitive": {
                "id": haproxy["id"],
                "class": "systemd",
                "type": haproxy["unit"],
                "ops": [
                    _op("monitor", haproxy["monitor"], timeout="20s"),
                    _op("start", "0s", timeout=haproxy["start_timeout"]),
                    _op("stop", "0s", timeout=haproxy["stop_timeout"]),
                ],
            },
            "meta": {"interleave": True},
            "description": "HAProxy on every controller",
        }
    ]
    return {
        "properties": properties,
        "rsc_defaults": dict(cib["rsc_defaults"]),
        "stonith": stonith,
        "primitives": primitives,
        "clones": clones,
        "locations": locations,
        "colocations": [
            {
                "id": f"salt-col-{vip['id']}-with-{haproxy['clone']}",
                "rsc": vip["id"],
                "with-rsc": haproxy["clone"],
                "score": "INFINITY",
            }
        ],
        "orders": [
            {
                "id": f"salt-ord-{haproxy['clone']}-then-{vip['id']}",
                "first": haproxy["clone"],
                "then": vip["id"],
                "kind": "Mandatory",
            }
        ],
    }


# --------------------------------------------------------------------------
# From the pillar.


def _site():
    site = __pillar__.get("site")
    if not site:
        _fail("site", "the site pillar is missing")
    return site


def corosync_config(settings=None):
    """
    Return the values of corosync.conf built from the site pillar:
    cluster name (the site name), nodelist (each controller: name = minion
    id, nodeid = cluster_id, ring0_addr = management address), quorum (a
    quorum device on the witness, algorithm ffsplit, or two_node).

    settings
        The ``pacemaker`` settings (``salt/pacemaker/defaults.yaml`` merged
        with pillar ``pacemaker``); the defaults when omitted.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_objects.corosync_config
    """
    return build_corosync(_site(), settings)


def corosync_authkey(size=256):
    """
    Return corosync's authkey, base64-encoded (for ``file.decode``), derived
    from ``secrets:corosync_authkey``. The key is a secret: never print it.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_objects.corosync_authkey size=256 --out=quiet
    """
    secret = (__pillar__.get("secrets") or {}).get("corosync_authkey")
    return base64.b64encode(derive_authkey(secret, size)).decode("ascii")


def cib_objects(settings=None):
    """
    Return the objects ``pacemaker.cib_present`` declares for the site:
    properties (stonith-enabled from site:fencing:enabled, no-quorum-policy),
    resource defaults, a fence_ipmilan device per controller against its BMC
    (the delay on site:fencing:delay_node's own device) with a location
    constraint keeping it off the node it fences, the API VIP (IPaddr2), the
    HAProxy clone (systemd), the VIP colocated with and ordered after it.
    The BMC passwords are in the result: never print it.

    settings
        The ``pacemaker`` settings (``salt/pacemaker/defaults.yaml`` merged
        with pillar ``pacemaker``); the defaults when omitted.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_objects.cib_objects --out=quiet
    """
    singletons = (_merged(settings)["cib"].get("singletons")) or []
    installed = [
        unit for unit in (spec.get("unit", spec["id"]) for spec in singletons)
        if __salt__["service.available"](unit)
    ]
    return build_objects(_site(), __pillar__.get("secrets") or {}, settings, installed)
