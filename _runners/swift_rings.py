"""
Swift's rings, built once for the whole site and kept on the master.

Every Swift node must hold the SAME account, container and object rings (a
ring built twice, even from the same devices, places partitions
differently). So the rings are never built on the nodes by their states:

- ``ensure`` works out the devices the site inventory asks for (every node
  of role ``object``, each disk of ``site:nodes:<id>:disks:swift``: one zone
  per node, so the replicas of a partition land on different nodes), and
  compares them with what the master keeps. When devices are missing (first
  deploy, a new node or disk), it has ``swift-ring-builder`` run on the
  first object node that answers (the master has no Swift), in a scratch
  directory, on a copy of the builders the master keeps: ``create`` (first
  time only), ``add`` for the new devices, ``rebalance``. The builders and
  rings come back and are stored in one pillar file the master writes
  (``swift_rings.sls`` in the directory of master option
  ``twin_cloud_generated_pillar``), which every Swift node receives as
  pillar ``swift_rings`` (pillar/top.sls); ``openstack.swift`` writes
  ``/etc/swift/<ring>.ring.gz`` from it, byte for byte.
- Removing or moving a device, or changing the part power, replica count or
  ports, is refused with what to do: those are operator decisions (data
  moves), done with ``swift-ring-builder`` on the builders the master keeps.

The settings (``part_power``, ``replicas``, ``min_part_hours``, ``weight``,
``ports``) are ``settings`` of ``salt/openstack/services/swift.yaml``, with
pillar ``openstack:services:swift:settings`` and then pillar ``swift`` over
them.
"""

import base64
import copy
import hashlib
import json
import os

import salt.utils.files
import yaml
from salt.exceptions import SaltInvocationError

# the pillar (and its file swift_rings.sls) the generated_pillar utils keep
PILLAR_KEY = "swift_rings"
HEADER = ("written by the swift_rings runner (the builders are the only copy the site keeps); "
          "never edit")
KINDS = ("account", "container", "object")
SERVICE_FILE = "openstack/services/swift.yaml"
# the node-side script (salt/openstack/files): runs the commands, returns the files
BUILD_SCRIPT = "salt://openstack/files/swift-ring-build.py"
ROLE = "object"
RING_SETTINGS = ("part_power", "replicas", "min_part_hours")
DEFAULTS = {
    "part_power": 8,
    "replicas": 2,
    "min_part_hours": 1,
    "weight": 100,
    "ports": {"account": 6202, "container": 6201, "object": 6200},
}


# --- pure helpers -------------------------------------------------------------------


def merge(base, override):
    """Deep-merge ``override`` into a copy of ``base`` (mappings merge, the rest replaces)."""
    result = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def device_name(disk):
    """
    The Swift device name of a disk of ``site:nodes:<id>:disks:swift``: its
    file's or block device's name without directory and extension
    (``/var/lib/swift-disks/d1.img`` -> ``d1``, ``/dev/sdb`` -> ``sdb``);
    ``openstack.swift`` mounts it at ``/srv/node/<name>``.
    """
    path = (disk or {}).get("file") or (disk or {}).get("device")
    if not path:
        raise SaltInvocationError(f"a swift disk needs `file` or `device`, got {disk!r}")
    name = os.path.basename(str(path).rstrip("/")).split(".")[0]
    if not name:
        raise SaltInvocationError(f"cannot tell a device name from {path!r}")
    return name


def _cluster_order(item):
    node_id, node = item
    cluster_id = node.get("cluster_id")
    numbered = isinstance(cluster_id, int) and not isinstance(cluster_id, bool)
    return (not numbered, cluster_id if numbered else 0, str(node_id))


def object_nodes(site):
    """The node ids of role ``object``, in cluster order (as inventory.nodes)."""
    nodes = (site or {}).get("nodes") or {}
    return [node_id for node_id, node in sorted(nodes.items(), key=_cluster_order)
            if ROLE in (node.get("roles") or [])]


def plan(site, settings):
    """
    The ring devices the inventory asks for: ``[{node, region, zone, ip,
    device, weight}]``, one zone per object node (cluster order: 1, 2, ...),
    each of its swift disks a device of weight ``settings['weight']``.
    """
    nodes = (site or {}).get("nodes") or {}
    devices = []
    for zone, node_id in enumerate(object_nodes(site), start=1):
        node = nodes[node_id]
        disks = [d for d in ((node.get("disks") or {}).get("swift") or []) if d]
        if not disks:
            raise SaltInvocationError(
                f"site:nodes:{node_id}:disks:swift: node {node_id} has role object but no "
                "swift disk; give it one ({file: /var/lib/swift-disks/d1.img, size_gb: N} "
                "or {device: /dev/sdX})"
            )
        names = [device_name(d) for d in disks]
        if len(set(names)) != len(names):
            raise SaltInvocationError(
                f"site:nodes:{node_id}:disks:swift: two disks have the same device name "
                f"({', '.join(names)}); name their files or devices apart"
            )
        for name in names:
            devices.append({"node": node_id, "region": 1, "zone": zone,
                            "ip": node["address"], "device": name,
                            "weight": settings["weight"]})
    if not devices:
        raise SaltInvocationError("site:nodes: no node has role object: Swift has no storage")
    zones = {d["zone"] for d in devices}
    if len(zones) < settings["replicas"]:
        raise SaltInvocationError(
            f"{settings['replicas']} replicas need as many object nodes (one zone each); "
            f"the site has {len(zones)}: lower openstack:services:swift:settings:replicas "
            "or add object nodes"
        )
    return devices


def _key(device):
    return (device["node"], device["device"])


def changes(stored, wanted, settings):
    """
    The devices of ``wanted`` (``plan``) that the stored rings lack; raises
    when the change is not an addition (a device removed or moved, other
    ring settings or ports): those move data and are the operator's call.
    """
    if not stored:
        return list(wanted)
    problems = []
    for option in RING_SETTINGS:
        if stored.get(option) != settings[option]:
            problems.append(f"{option} is {stored.get(option)} in the rings, "
                            f"{settings[option]} in the settings")
    if stored.get("ports") != settings["ports"]:
        problems.append(f"the rings use ports {stored.get('ports')}, "
                        f"the settings {settings['ports']}")
    have = {_key(d): d for d in stored.get("devices") or []}
    want = {_key(d): d for d in wanted}
    for key in sorted(set(have) - set(want)):
        problems.append(f"device {key[1]} of {key[0]} is in the rings but not in the inventory")
    for key in sorted(set(have) & set(want)):
        if have[key] != want[key]:
            problems.append(f"device {key[1]} of {key[0]} changed: {have[key]} -> {want[key]}")
    if problems:
        raise SaltInvocationError(
            "the Swift rings cannot follow the inventory by adding devices only: "
            + "; ".join(problems)
            + ". Change the builders the master keeps (swift_rings.sls) with "
              "swift-ring-builder by hand, or, while Swift holds no data, delete that file "
              "and run swift_rings.ensure again"
        )
    return [d for d in wanted if _key(d) not in have]


def commands(kind, settings, new_devices, fresh):
    """The ``swift-ring-builder <kind>.builder ...`` argument lists, in order."""
    argv = []
    if fresh:
        argv.append(["create", str(settings["part_power"]), str(settings["replicas"]),
                     str(settings["min_part_hours"])])
    port = settings["ports"][kind]
    for dev in new_devices:
        argv.append(["add", "--region", str(dev["region"]), "--zone", str(dev["zone"]),
                     "--ip", dev["ip"], "--port", str(port), "--device", dev["device"],
                     "--weight", str(dev["weight"])])
    argv.append(["rebalance"])
    return argv


def build_request(stored, wanted, new_devices, settings):
    """What the node-side script gets on stdin: per ring, the builder to start
    from (base64, or None: created with every wanted device) and the
    commands."""
    builders = (stored or {}).get("builders") or {}
    rings = {}
    for kind in KINDS:
        fresh = not builders.get(kind)
        rings[kind] = {"builder": builders.get(kind),
                       "commands": commands(kind, settings, wanted if fresh else new_devices,
                                            fresh)}
    return {"rings": rings}


def digest(b64):
    return hashlib.sha256(base64.b64decode(b64)).hexdigest()


def stored_after(result, wanted, settings, built_on):
    """The data the master keeps (and the pillar carries) after a build."""
    data = {option: settings[option] for option in RING_SETTINGS}
    data["ports"] = dict(settings["ports"])
    data["devices"] = [dict(d) for d in wanted]
    data["builders"], data["rings"], data["sha256"] = {}, {}, {}
    for kind in KINDS:
        out = (result or {}).get(kind) or {}
        if not out.get("builder") or not out.get("ring"):
            raise SaltInvocationError(f"the build on {built_on} returned no {kind} builder/ring")
        data["builders"][kind] = out["builder"]
        data["rings"][kind] = out["ring"]
        data["sha256"][kind] = digest(out["ring"])
    data["built_on"] = built_on
    return data


def summary(data):
    """What a run reports: no ring bytes."""
    if not data:
        return {"devices": [], "sha256": {}}
    return {
        "devices": [f"z{d['zone']}-{d['ip']}/{d['device']} ({d['node']})"
                    for d in data.get("devices") or []],
        "sha256": dict(data.get("sha256") or {}),
        **{option: data.get(option) for option in RING_SETTINGS},
    }


# --- on the master --------------------------------------------------------------------


def __virtual__():
    if "generated_pillar.write" not in __utils__:
        return (False, "swift_rings: the generated_pillar utils are not synced to the master "
                       "(salt-run saltutil.sync_all)")
    return True


def _service_settings():
    for root in (__opts__.get("file_roots") or {}).get("base") or []:
        path = os.path.join(root, SERVICE_FILE)
        if os.path.exists(path):
            with salt.utils.files.fopen(path, "r") as handle:
                return (yaml.safe_load(handle) or {}).get("settings") or {}
    raise SaltInvocationError(f"{SERVICE_FILE} is not under the master's file_roots")


def _site_and_settings():
    pillar = __salt__["pillar.show_pillar"]() or {}
    site = pillar.get("site") or {}
    if not site.get("nodes"):
        raise SaltInvocationError("no site pillar (site:nodes) for the master: see pillar/top.sls")
    override = (((pillar.get("openstack") or {}).get("services") or {}).get("swift") or {})
    settings = merge(DEFAULTS, _service_settings())
    settings = merge(settings, override.get("settings") or {})
    settings = merge(settings, pillar.get("swift") or {})
    return site, settings


def _build(site, request):
    """Run the build on the first object node that answers; (node, result)."""
    errors = []
    for node in object_nodes(site):
        answer = __salt__["salt.execute"](
            node, "cmd.script", arg=[BUILD_SCRIPT],
            kwarg={"stdin": json.dumps(request), "output_loglevel": "quiet",
                   "python_shell": False},
            timeout=120,
        ) or {}
        ret = answer.get(node)
        if not isinstance(ret, dict):
            errors.append(f"{node}: no answer ({ret!r})")
            continue
        if ret.get("retcode") != 0:
            tail = "\n".join((ret.get("stderr") or ret.get("stdout") or "").splitlines()[-8:])
            errors.append(f"{node}: the build failed (exit {ret.get('retcode')}): {tail}")
            continue
        try:
            return node, json.loads(ret.get("stdout") or "")
        except ValueError:
            errors.append(f"{node}: the build printed no JSON")
    raise SaltInvocationError("no object node built the rings: " + "; ".join(errors))


def ensure():
    """
    Build the rings, or add the inventory's new devices to them, when the
    rings the master keeps lack a device; otherwise change nothing. Then
    refresh the Swift nodes' pillar and apply ``openstack.swift`` (or run
    ``salt-run state.orchestrate orch.swift_rings``, which does all three).

    CLI Example:

    .. code-block:: bash

        salt-run swift_rings.ensure
    """
    site, settings = _site_and_settings()
    wanted = plan(site, settings)
    stored = __utils__["generated_pillar.read"](__opts__, PILLAR_KEY)
    new = changes(stored, wanted, settings)
    if not new and all((stored.get("rings") or {}).get(k) for k in KINDS):
        return {"changed": False, **summary(stored)}
    node, result = _build(site, build_request(stored, wanted, new, settings))
    data = stored_after(result, wanted, settings, node)
    __utils__["generated_pillar.write"](__opts__, PILLAR_KEY, data, HEADER)
    return {"changed": True, "built_on": node,
            "added": [f"{d['node']}/{d['device']}" for d in new], **summary(data)}


def show():
    """
    The devices and the rings' SHA-256 the master keeps (no ring bytes).

    CLI Example:

    .. code-block:: bash

        salt-run swift_rings.show
    """
    return summary(__utils__["generated_pillar.read"](__opts__, PILLAR_KEY))


def pillar():
    """
    The pillar ``swift_rings`` as the Swift nodes receive it (rings and
    builders, base64): e.g. to pass it inline to a state run.

    CLI Example:

    .. code-block:: bash

        salt-run swift_rings.pillar --out=json
    """
    data = __utils__["generated_pillar.read"](__opts__, PILLAR_KEY)
    return {PILLAR_KEY: data} if data else {}
