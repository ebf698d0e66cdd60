"""
Declarative Pacemaker: keep the cluster's CIB holding the objects declared in
pillar, and report on the cluster, its quorum and its quorum device.

Salt 3008 no longer ships a ``pcs`` module, and the 3007 one only created
objects. This one works on the CIB as a whole:

1. read the live CIB (``cibadmin --query``);
2. compute the WANTED CIB in Python: a copy of the live one with the declared
   objects put in (every element built with an explicit id) and the objects
   Salt created earlier but no longer declares taken out
   (:func:`wanted_cib`, pure);
3. compare the two ``configuration`` sections (pure, canonical comparison);
   no difference: nothing is pushed;
4. otherwise compute the patch with ``crm_diff --original LIVE --new WANTED
   --no-version`` (:func:`cib_diff` shows it, masked) and push only that
   patch with ``cibadmin --patch`` (what ``pcs cluster cib-push WANTED
   diff-against=LIVE`` does), so a concurrent change elsewhere in the CIB
   is not overwritten.

It runs on ONE node at a time: the orchestration targets the first controller
only (the CIB is replicated by Pacemaker itself).

Objects schema
==============

``objects`` is a mapping whose keys are KINDS; each kind present holds the
complete declared set of that kind, and a kind that is absent is not touched
at all (so a state may manage one kind, or all of them). Every object has an
explicit ``id`` (letters, digits, ``_ . -``, starting with a letter or ``_``).
The objects of a list kind may be given as a list of mappings each with
``id``, or as a mapping ``{id: {...}}`` (friendlier to pillar merging).
Scalar values may be strings, numbers or booleans (written ``true`` /
``false``). Keys other than the ``params`` / ``meta`` names are the CIB's own
XML attribute names, hyphens included (``with-rsc``, ``first-action``,
``on-fail``).

.. code-block:: yaml

    properties:                 # crm_config, set "cib-bootstrap-options"
      stonith-enabled: true
      no-quorum-policy: stop
    rsc_defaults:               # rsc_defaults meta attributes
      resource-stickiness: 100
    stonith:                    # <primitive class="stonith">
      - id: fence-ctl1
        type: fence_ipmilan     # the default
        params: {ip: 192.0.2.11, username: fence, password: secret,
                 lanplus: 1, method: onoff, pcmk_host_list: ctl1, delay: 15}
        meta: {}                # optional
        ops: [{name: monitor, interval: 60s}]   # optional
        description: text       # optional, see Ownership
    primitives:                 # <primitive>
      - id: vip
        class: ocf              # ocf | systemd | lsb | service | ...
        provider: heartbeat     # required with class ocf, refused otherwise
        type: IPaddr2
        params: {ip: 192.0.2.10, cidr_netmask: 24}
        meta: {}
        ops:
          - {name: monitor, interval: 10s, timeout: 20s}
          # optional keys: id, timeout, on-fail, role, start-delay, ...
    clones:                     # <clone> of one primitive
      - id: haproxy-clone
        primitive: {id: haproxy, class: systemd, type: haproxy,
                    ops: [{name: monitor, interval: 5s}]}
        meta: {interleave: true}
    locations:                  # <rsc_location>
      - {id: salt-loc-fence-ctl1, rsc: fence-ctl1, node: ctl1,
         score: -INFINITY}      # score defaults to INFINITY; optional: role
    colocations:                # <rsc_colocation>
      - {id: salt-col-vip-haproxy, rsc: vip, with-rsc: haproxy-clone,
         score: INFINITY}       # score defaults to INFINITY
                                # optional: rsc-role, with-rsc-role
    orders:                     # <rsc_order>
      - {id: salt-ord-haproxy-vip, first: haproxy-clone, then: vip}
        # optional: kind (Mandatory|Optional|Serialize), first-action,
        #           then-action, symmetrical

Generated ids follow pcs: ``<id>-instance_attributes[-<name>]``,
``<id>-meta_attributes[-<name>]``, ``<id>-<op>-interval-<interval>``; the
nvpairs of a set are sorted by name (as pcs does), so the order of keys in
pillar never causes a change.

Ownership
=========

Salt owns (and will REMOVE when no longer declared) only what carries its
marker; every other object of the CIB is left alone:

- resources (``stonith``, ``primitives``, ``clones``): the ``description``
  attribute is ``salt-managed`` (or ``salt-managed: <declared description>``);
  the description is meta-data the scheduler ignores (a meta attribute would
  reach the agent's environment);
- constraints (``locations``, ``colocations``, ``orders``): the Pacemaker
  schema gives them no description, so their id must start with ``salt-``
  (a declared constraint id that does not is refused);
- ``properties`` and ``rsc_defaults``: the nvpairs Salt writes have ids
  starting with ``salt-``; declaring a name already set by someone else takes
  that nvpair over.

Salt owns an owned object WHOLE: the declared element replaces it where it
stands, so a manual change to it is reverted by the next run. To stop a
resource by hand for a while, do not ``pcs resource disable`` it (that sets a
``target-role`` meta attribute Salt reverts): declare ``meta: {target-role:
Stopped}``, or set the cluster property ``maintenance-mode`` (which Salt does
not declare, so leaves alone). What the operator adds (the ``cli-prefer-*`` /
``cli-ban-*`` constraints of ``pcs resource move``/``ban``, other properties)
is foreign and stays. Declaring the id of an existing foreign top-level
object of the same element takes it over (the declared one replaces it).
Removing a resource also removes the constraints (and resource-set
references) naming it, as ``pcs resource delete`` does: the CIB would not
validate otherwise.

Secrets
=======

The values of parameters named ``password`` or ``passwd`` never appear in
what this module returns, raises or logs: they are shown as ``********``
(``******** (changed)`` in a diff when the value changes).
"""

import contextlib
import copy
import dataclasses
import difflib
import logging
import os
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
import xml.sax.saxutils

import salt.utils.path
from salt.exceptions import CommandExecutionError, SaltInvocationError

log = logging.getLogger(__name__)

__virtualname__ = "pacemaker"

REQUIRED_BINARIES = ("cibadmin", "crm_diff")

OWNER_MARK = "salt-managed"
OWNED_ID_PREFIX = "salt-"
MASK = "********"
SECRET_NAMES = frozenset({"password", "passwd"})

PROPERTY_SET_ID = "cib-bootstrap-options"
RSC_DEFAULTS_SET_ID = "rsc_defaults-meta_attributes"

_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_ID_UNSAFE_RE = re.compile(r"[^A-Za-z0-9_.-]")

# Attributes of a constraint that name a resource.
_REFERENCE_ATTRS = ("rsc", "with-rsc", "first", "then")
_RESOURCE_TAGS = ("primitive", "group", "clone", "master", "bundle", "template")


def __virtual__():
    missing = [name for name in REQUIRED_BINARIES if not salt.utils.path.which(name)]
    if missing:
        needed = ", ".join(missing)
        return (False, f"the pacemaker module needs {needed} (Debian package pacemaker-cli-utils)")
    return __virtualname__


# --------------------------------------------------------------------------
# Schema of the declared objects.


@dataclasses.dataclass(frozen=True)
class ResourceKind:
    """A kind of top-level resource: which element, and which of them."""

    tag: str
    stonith: bool = False  # for <primitive>: the stonith ones, or the others

    def matches(self, element):
        if element.tag != self.tag:
            return False
        if self.tag != "primitive":
            return True
        return (element.get("class") == "stonith") == self.stonith


@dataclasses.dataclass(frozen=True)
class ConstraintKind:
    """A kind of constraint: its element, its attributes, its references."""

    tag: str
    required: tuple
    optional: tuple
    references: tuple
    defaults: tuple = ()  # pairs (attribute, value)


RESOURCE_KINDS = {
    "stonith": ResourceKind("primitive", stonith=True),
    "primitives": ResourceKind("primitive"),
    "clones": ResourceKind("clone"),
}

CONSTRAINT_KINDS = {
    "locations": ConstraintKind(
        "rsc_location",
        required=("rsc", "node"),
        optional=("score", "role", "resource-discovery"),
        references=("rsc",),
        defaults=(("score", "INFINITY"),),
    ),
    "colocations": ConstraintKind(
        "rsc_colocation",
        required=("rsc", "with-rsc"),
        optional=("score", "rsc-role", "with-rsc-role", "node-attribute"),
        references=("rsc", "with-rsc"),
        defaults=(("score", "INFINITY"),),
    ),
    "orders": ConstraintKind(
        "rsc_order",
        required=("first", "then"),
        optional=("kind", "first-action", "then-action", "symmetrical"),
        references=("first", "then"),
    ),
}

NVSET_KINDS = ("properties", "rsc_defaults")
KINDS = (*RESOURCE_KINDS, *CONSTRAINT_KINDS, *NVSET_KINDS)

_PRIMITIVE_KEYS = ("id", "class", "provider", "type", "params", "meta", "ops", "description")
_STONITH_KEYS = ("id", "type", "params", "meta", "ops", "description")
_CLONE_KEYS = ("id", "primitive", "meta", "description")
_FENCE_IPMILAN_PARAMS = ("ip", "username", "pcmk_host_list")


def _fail(where, problem):
    raise SaltInvocationError(f"pacemaker objects: {where}: {problem}")


def _mapping(value, where):
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(where, f"expected a mapping, got {type(value).__name__}")
    return value


def _check_keys(spec, allowed, required, where):
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        _fail(where, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    missing = [key for key in required if spec.get(key) in (None, "")]
    if missing:
        _fail(where, f"missing {', '.join(missing)}")


def _check_id(value, where):
    if not isinstance(value, str) or not _ID_RE.match(value):
        _fail(where, f"invalid id {value!r}: use letters, digits, _ . - and start with a letter")
    return value


def _cib_value(value, where):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return _fail(where, f"expected a string, number or boolean, got {type(value).__name__}")


def _values(value, where):
    """A mapping of name -> scalar, as CIB strings."""
    return {
        str(name): _cib_value(item, f"{where}:{name}")
        for name, item in _mapping(value, where).items()
    }


def _entries(kind, value):
    """The declared objects of a list kind, each a dict with its ``id``."""
    if isinstance(value, dict):
        entries = []
        for key, spec in value.items():
            spec = dict(_mapping(spec, f"{kind}:{key}"))
            if spec.setdefault("id", key) != key:
                _fail(f"{kind}:{key}", f"id {spec['id']!r} differs from its key")
            entries.append(spec)
        return entries
    if isinstance(value, list):
        return [dict(_mapping(spec, f"{kind}[{index}]")) for index, spec in enumerate(value)]
    if value is None:
        return []
    return _fail(kind, f"expected a list or a mapping, got {type(value).__name__}")


def _normalize_ops(value, where):
    if value is None:
        return []
    if not isinstance(value, list):
        _fail(where, "expected a list of operations")
    ops = []
    for index, op in enumerate(value):
        op_where = f"{where}[{index}]"
        op = _mapping(op, op_where)
        # any op attribute is accepted (timeout, on-fail, role...): the CIB schema checks them
        _check_keys(op, tuple(op), ("name", "interval"), op_where)
        ops.append({str(key): _cib_value(item, f"{op_where}:{key}") for key, item in op.items()})
    return ops


def _normalize_primitive(spec, where, stonith=False):
    allowed = _STONITH_KEYS if stonith else _PRIMITIVE_KEYS
    spec = {"type": "fence_ipmilan", **spec} if stonith else spec
    _check_keys(spec, allowed, ("id", "type") if stonith else ("id", "class", "type"), where)
    rclass = "stonith" if stonith else _cib_value(spec["class"], f"{where}:class")
    provider = spec.get("provider")
    if rclass == "ocf" and not provider:
        _fail(where, "class ocf needs a provider (e.g. heartbeat)")
    if rclass != "ocf" and provider:
        _fail(where, f"class {rclass} takes no provider")
    normalized = {
        "id": _check_id(spec["id"], where),
        "class": rclass,
        "provider": provider and _cib_value(provider, f"{where}:provider"),
        "type": _cib_value(spec["type"], f"{where}:type"),
        "params": _values(spec.get("params"), f"{where}:params"),
        "meta": _values(spec.get("meta"), f"{where}:meta"),
        "ops": _normalize_ops(spec.get("ops"), f"{where}:ops"),
        "description": spec.get("description"),
    }
    if stonith and normalized["type"] == "fence_ipmilan":
        _check_fence_ipmilan(normalized["params"], where)
    return normalized


def _check_fence_ipmilan(params, where):
    missing = [name for name in _FENCE_IPMILAN_PARAMS if not params.get(name)]
    if not (params.get("password") or params.get("passwd")):
        missing.append("password")
    if missing:
        _fail(where, f"fence_ipmilan needs params {', '.join(missing)}")


def _normalize_clone(spec, where):
    _check_keys(spec, _CLONE_KEYS, ("id", "primitive"), where)
    return {
        "id": _check_id(spec["id"], where),
        "primitive": _normalize_primitive(
            dict(_mapping(spec["primitive"], f"{where}:primitive")), f"{where}:primitive"
        ),
        "meta": _values(spec.get("meta"), f"{where}:meta"),
        "description": spec.get("description"),
    }


def _normalize_constraint(kind, spec, where):
    shape = CONSTRAINT_KINDS[kind]
    _check_keys(spec, ("id", *shape.required, *shape.optional), ("id", *shape.required), where)
    constraint_id = _check_id(spec["id"], where)
    if not constraint_id.startswith(OWNED_ID_PREFIX):
        _fail(where, f"a constraint id must start with {OWNED_ID_PREFIX!r} (the ownership mark)")
    values = {**dict(shape.defaults), **spec}
    return {
        key: _cib_value(values[key], f"{where}:{key}")
        for key in ("id", *shape.required, *shape.optional)
        if key in values
    }


def _normalize_kind(kind, value):
    if kind in NVSET_KINDS:
        return _values(value, kind)
    normalized = []
    for index, spec in enumerate(_entries(kind, value)):
        where = f"{kind}:{spec.get('id', index)}"
        if kind == "clones":
            normalized.append(_normalize_clone(spec, where))
        elif kind in RESOURCE_KINDS:
            normalized.append(_normalize_primitive(spec, where, stonith=kind == "stonith"))
        else:
            normalized.append(_normalize_constraint(kind, spec, where))
    return normalized


def _declared_ids(normalized):
    """Every top-level id declared, with the kind declaring it."""
    ids = []
    for kind, specs in normalized.items():
        if kind in NVSET_KINDS:
            continue
        for spec in specs:
            ids.append((spec["id"], kind))
            if kind == "clones":
                ids.append((spec["primitive"]["id"], kind))
    return ids


def _normalize(objects):
    """Validate ``objects``; return {kind: normalized specs} for the kinds given."""
    objects = _mapping(objects, "objects")
    unknown = sorted(set(objects) - set(KINDS))
    if unknown:
        _fail("objects", f"unknown kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
    normalized = {kind: _normalize_kind(kind, objects[kind]) for kind in KINDS if kind in objects}
    seen = {}
    for object_id, kind in _declared_ids(normalized):
        if object_id in seen:
            _fail(kind, f"id {object_id!r} is declared twice (also in {seen[object_id]})")
        seen[object_id] = kind
    return normalized


# --------------------------------------------------------------------------
# Building the elements (explicit ids, pcs conventions).


def _xml_id(*parts):
    return _ID_UNSAFE_RE.sub(".", "-".join(str(part) for part in parts))


def _nvset(tag, set_id, values):
    element = ET.Element(tag, {"id": set_id})
    for name in sorted(values):
        ET.SubElement(
            element,
            "nvpair",
            {"id": _xml_id(set_id, name), "name": name, "value": values[name]},
        )
    return element


def _owner_description(description):
    return f"{OWNER_MARK}: {description}" if description else OWNER_MARK


def _op_element(resource_id, op):
    attrs = {"id": op.get("id") or _xml_id(resource_id, op["name"], "interval", op["interval"])}
    attrs.update({"name": op["name"], "interval": op["interval"]})
    attrs.update(sorted((key, value) for key, value in op.items() if key not in attrs))
    return ET.Element("op", attrs)


def _primitive_element(spec, owned=True):
    attrs = {"id": spec["id"], "class": spec["class"]}
    if spec["provider"]:
        attrs["provider"] = spec["provider"]
    attrs["type"] = spec["type"]
    if owned:
        attrs["description"] = _owner_description(spec["description"])
    elif spec["description"]:
        attrs["description"] = spec["description"]
    element = ET.Element("primitive", attrs)
    if spec["params"]:
        element.append(
            _nvset("instance_attributes", f"{spec['id']}-instance_attributes", spec["params"])
        )
    if spec["meta"]:
        element.append(_nvset("meta_attributes", f"{spec['id']}-meta_attributes", spec["meta"]))
    if spec["ops"]:
        operations = ET.SubElement(element, "operations")
        operations.extend(_op_element(spec["id"], op) for op in spec["ops"])
    return element


def _clone_element(spec):
    element = ET.Element(
        "clone", {"id": spec["id"], "description": _owner_description(spec["description"])}
    )
    element.append(_primitive_element(spec["primitive"], owned=False))
    if spec["meta"]:
        element.append(_nvset("meta_attributes", f"{spec['id']}-meta_attributes", spec["meta"]))
    return element


def _constraint_element(kind, attrs):
    return ET.Element(CONSTRAINT_KINDS[kind].tag, attrs)


def _element_for(kind, spec):
    if kind == "clones":
        return _clone_element(spec)
    if kind in RESOURCE_KINDS:
        return _primitive_element(spec)
    return _constraint_element(kind, spec)


# --------------------------------------------------------------------------
# Reading and writing CIB XML.


def _parse(xml_text):
    try:
        return ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise CommandExecutionError(f"cannot parse the CIB XML: {exc}") from exc


def _serialize(root):
    root = copy.deepcopy(root)
    root.tail = None
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def _child(parent, tag, create=True):
    element = parent.find(tag)
    if element is None and create:
        element = ET.SubElement(parent, tag)
    return element


def _configuration(root):
    config = root.find("configuration")
    if config is None:
        raise CommandExecutionError("the CIB has no configuration section")
    return config


# --------------------------------------------------------------------------
# Ownership and removal.


def _is_owned_resource(element):
    description = element.get("description") or ""
    return description == OWNER_MARK or description.startswith(f"{OWNER_MARK}:")


def _is_owned_id(element):
    return (element.get("id") or "").startswith(OWNED_ID_PREFIX)


def _ids_within(element):
    return {node.get("id") for node in element.iter() if node.get("id")}


def _drop_references(constraints, removed_ids):
    """Remove the constraints (or resource-set entries) naming removed resources."""
    for constraint in list(constraints):
        if any(constraint.get(attr) in removed_ids for attr in _REFERENCE_ATTRS):
            constraints.remove(constraint)
            continue
        sets = constraint.findall("resource_set")
        for resource_set in sets:
            for ref in resource_set.findall("resource_ref"):
                if ref.get("id") in removed_ids:
                    resource_set.remove(ref)
            if not resource_set.findall("resource_ref"):
                constraint.remove(resource_set)
        if sets and not constraint.findall("resource_set"):
            constraints.remove(constraint)


def _remove_undeclared_resources(config, kind, specs):
    declared = {spec["id"] for spec in specs}
    resources = _child(config, "resources")
    removed = set()
    for element in list(resources):
        if (
            RESOURCE_KINDS[kind].matches(element)
            and _is_owned_resource(element)
            and element.get("id") not in declared
        ):
            removed |= _ids_within(element)
            resources.remove(element)
    if removed:
        _drop_references(_child(config, "constraints"), removed)


def _remove_undeclared_constraints(config, kind, specs):
    declared = {spec["id"] for spec in specs}
    constraints = _child(config, "constraints")
    for element in list(constraints):
        if (
            element.tag == CONSTRAINT_KINDS[kind].tag
            and _is_owned_id(element)
            and element.get("id") not in declared
        ):
            constraints.remove(element)


# --------------------------------------------------------------------------
# Putting the declared objects in.


def _check_ids_free(config, element, replaced):
    """Refuse ids of ``element`` used twice in it, or in the CIB outside ``replaced``."""
    own_ids = [node.get("id") for node in element.iter() if node.get("id")]
    twice = sorted({one for one in own_ids if own_ids.count(one) > 1})
    if twice:
        raise SaltInvocationError(
            f"pacemaker objects: {element.tag} {element.get('id')!r} would hold the id(s) "
            f"{', '.join(twice)} twice (two operations with the same name and interval "
            "need distinct ids)"
        )
    allowed = _ids_within(replaced) if replaced is not None else set()
    in_use = {node.get("id"): node for node in config.iter() if node.get("id")}
    for new_id in sorted(_ids_within(element) - allowed):
        if new_id in in_use:
            raise SaltInvocationError(
                f"pacemaker objects: id {new_id!r} (for {element.tag} "
                f"{element.get('id')!r}) is already used by a {in_use[new_id].tag} in the CIB"
            )


def _upsert(config, section, element):
    """Replace the same element in ``section`` where it stands, or append it."""
    replaced = next(
        (
            child
            for child in section
            if child.tag == element.tag and child.get("id") == element.get("id")
        ),
        None,
    )
    _check_ids_free(config, element, replaced)
    if replaced is None:
        section.append(element)
        return
    section[list(section).index(replaced)] = element


def _set_nvpairs(nvset, values):
    """Own the nvpairs named in ``values``; drop owned ones no longer named."""
    set_id = nvset.get("id")
    for nvpair in list(nvset.findall("nvpair")):
        name = nvpair.get("name")
        if name not in values and _is_owned_id(nvpair):
            nvset.remove(nvpair)
    for name in sorted(values):
        wanted = ET.Element(
            "nvpair",
            {"id": _xml_id(OWNED_ID_PREFIX + set_id, name), "name": name, "value": values[name]},
        )
        existing = [nvpair for nvpair in nvset.findall("nvpair") if nvpair.get("name") == name]
        if not existing:
            nvset.append(wanted)
            continue
        nvset[list(nvset).index(existing[0])] = wanted
        for duplicate in existing[1:]:
            nvset.remove(duplicate)


def _property_set(config):
    crm_config = _child(config, "crm_config")
    for nvset in crm_config.findall("cluster_property_set"):
        if nvset.get("id") == PROPERTY_SET_ID:
            return nvset
    nvset = ET.Element("cluster_property_set", {"id": PROPERTY_SET_ID})
    crm_config.insert(0, nvset)
    return nvset


def _rsc_defaults_set(config):
    rsc_defaults = _child(config, "rsc_defaults")
    for nvset in rsc_defaults.findall("meta_attributes"):
        if nvset.find("rule") is None:
            return nvset
    return ET.SubElement(rsc_defaults, "meta_attributes", {"id": RSC_DEFAULTS_SET_ID})


def _section_for(config, kind):
    return _child(config, "resources" if kind in RESOURCE_KINDS else "constraints")


def _resource_ids(config):
    resources = _child(config, "resources")
    ids = {node.get("id") for node in resources.iter() if node.tag in _RESOURCE_TAGS}
    tags = config.find("tags")
    if tags is not None:
        ids |= {tag.get("id") for tag in tags.findall("tag")}
    return ids


def _check_references(config, normalized):
    known = _resource_ids(config)
    for kind, shape in CONSTRAINT_KINDS.items():
        for attrs in normalized.get(kind, ()):
            for attr in shape.references:
                if attrs[attr] not in known:
                    raise SaltInvocationError(
                        f"pacemaker objects: {kind}:{attrs['id']}: {attr} names "
                        f"{attrs[attr]!r}, which is neither declared nor in the CIB"
                    )


def wanted_cib(current_xml_text, objects):
    """
    Return the CIB XML text the cluster should have: ``current_xml_text``
    with the declared ``objects`` put in and the Salt-owned objects of the
    declared kinds that are no longer declared taken out. Pure: runs nothing.
    See the module documentation for the schema of ``objects``.

    Raises SaltInvocationError on an invalid declaration (nothing is changed).

    CLI Example:

    .. code-block:: bash

        salt ctl1 pacemaker.wanted_cib "$(cat cib.xml)" \\
            '{"properties": {"stonith-enabled": true}}'
    """
    normalized = _normalize(objects)
    root = _parse(current_xml_text)
    config = _configuration(root)
    for kind, specs in normalized.items():
        if kind in RESOURCE_KINDS:
            _remove_undeclared_resources(config, kind, specs)
        elif kind in CONSTRAINT_KINDS:
            _remove_undeclared_constraints(config, kind, specs)
    for kind in (*RESOURCE_KINDS, *CONSTRAINT_KINDS):
        for spec in normalized.get(kind, ()):
            _upsert(config, _section_for(config, kind), _element_for(kind, spec))
    if "properties" in normalized:
        _set_nvpairs(_property_set(config), normalized["properties"])
    if "rsc_defaults" in normalized:
        _set_nvpairs(_rsc_defaults_set(config), normalized["rsc_defaults"])
    _check_references(config, normalized)
    return _serialize(root)


# --------------------------------------------------------------------------
# Comparing.


def _canonical(element):
    return (
        element.tag,
        tuple(sorted(element.attrib.items())),
        (element.text or "").strip(),
        tuple(_canonical(child) for child in element),
    )


def cib_differs(orig_xml_text, new_xml_text):
    """
    True when the ``configuration`` sections of two CIBs differ (attribute
    order and whitespace aside; the status section and version counters are
    ignored). Pure.

    CLI Example:

    .. code-block:: bash

        salt ctl1 pacemaker.cib_differs "$(cat old.xml)" "$(cat new.xml)"
    """
    orig = _configuration(_parse(orig_xml_text))
    new = _configuration(_parse(new_xml_text))
    return _canonical(orig) != _canonical(new)


@contextlib.contextmanager
def _private_dir():
    path = tempfile.mkdtemp(prefix="salt-pacemaker-")  # mode 0700
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _write(directory, name, text):
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def _run(cmd, secrets=(), ok_codes=(0,)):
    """
    Run an argument list; raise with a masked message on an unexpected code.
    The output is never logged: a CIB or a patch holds passwords in clear.
    """
    result = __salt__["cmd.run_all"](
        cmd, python_shell=False, ignore_retcode=True, output_loglevel="quiet"
    )
    if result["retcode"] not in ok_codes:
        detail = (result.get("stderr") or result.get("stdout") or "").strip()
        raise CommandExecutionError(
            _mask_text(f"{cmd[0]} failed (exit {result['retcode']}): {detail}", secrets)
        )
    return result


def _crm_diff_patch(orig_xml_text, new_xml_text, secrets):
    """The raw crm_diff patch (secrets in clear: for cibadmin only), or ""."""
    if not cib_differs(orig_xml_text, new_xml_text):
        return ""
    with _private_dir() as directory:
        cmd = [
            "crm_diff",
            "--original",
            _write(directory, "orig.xml", orig_xml_text),
            "--new",
            _write(directory, "new.xml", new_xml_text),
            "--no-version",
        ]
        # 0: no difference, 1: difference, anything else: error
        result = _run(cmd, secrets, ok_codes=(0, 1))
    return result["stdout"].strip() if result["retcode"] == 1 else ""


def cib_diff(orig_xml_text, new_xml_text):
    """
    Return the patch (``crm_diff --no-version`` XML) that turns the first CIB
    into the second, passwords masked, or ``""`` when their configurations do
    not differ (then crm_diff is not even run). What is pushed is the same
    patch with the real values.

    CLI Example:

    .. code-block:: bash

        salt ctl1 pacemaker.cib_diff "$(cat old.xml)" "$(cat new.xml)"
    """
    secrets = _secrets_of(_parse(orig_xml_text)) | _secrets_of(_parse(new_xml_text))
    return _mask_text(_crm_diff_patch(orig_xml_text, new_xml_text, secrets), secrets)


# --------------------------------------------------------------------------
# Secrets.


def _secret_nvpairs(root):
    return [node for node in root.iter("nvpair") if node.get("name") in SECRET_NAMES]


def _secrets_of(root):
    return {node.get("value") for node in _secret_nvpairs(root) if node.get("value")}


def _params_secrets(spec):
    params = spec.get("params") if isinstance(spec, dict) else None
    if not isinstance(params, dict):
        return set()
    return {str(value) for name, value in params.items() if name in SECRET_NAMES and value}


def _declared_secrets(objects):
    """The secret values in declared objects, even ill-formed ones (for masking)."""
    secrets = set()
    if not isinstance(objects, dict):
        return secrets
    for kind in RESOURCE_KINDS:
        try:
            entries = _entries(kind, objects.get(kind))
        except SaltInvocationError:
            continue
        for spec in entries:
            secrets |= _params_secrets(spec) | _params_secrets(spec.get("primitive"))
    return secrets


def _written_forms(secret):
    """A secret as it may appear in text: raw, XML-escaped, attribute-escaped."""
    return {
        secret,
        xml.sax.saxutils.escape(secret),
        xml.sax.saxutils.quoteattr(secret)[1:-1],
    }


def _mask_text(text, secrets):
    """Replace every secret (raw or XML-escaped) and password attribute in text."""
    for secret in sorted(secrets, key=len, reverse=True):
        for form in _written_forms(secret):
            text = text.replace(form, MASK)
    names = "|".join(sorted(SECRET_NAMES))
    # a value already masked ("******** (changed)") is kept as it is
    return re.sub(
        rf'(name="(?:{names})"\s+value=)"(?!{re.escape(MASK)})[^"]*"', rf'\1"{MASK}"', text
    )


def _masked_copy(root, known_values=None):
    """A copy of ``root`` with secret values masked (marked when not known)."""
    root = copy.deepcopy(root)
    for nvpair in _secret_nvpairs(root):
        changed = known_values is not None and nvpair.get("value") not in known_values
        nvpair.set("value", f"{MASK} (changed)" if changed else MASK)
    return root


def _sorted_attributes(element):
    for node in element.iter():
        items = sorted(node.attrib.items())
        node.attrib.clear()
        node.attrib.update(items)
    return element


def _configuration_lines(root):
    config = _sorted_attributes(copy.deepcopy(_configuration(root)))
    return _serialize(config).splitlines(keepends=True)


def _masked_diff(orig_xml_text, new_xml_text, secrets=()):
    """A unified diff of the two configurations, secrets masked."""
    orig = _parse(orig_xml_text)
    new = _parse(new_xml_text)
    orig_secrets = _secrets_of(orig)
    lines = difflib.unified_diff(
        _configuration_lines(_masked_copy(orig)),
        _configuration_lines(_masked_copy(new, known_values=orig_secrets)),
        fromfile="cib (live)",
        tofile="cib (wanted)",
    )
    all_secrets = set(secrets) | orig_secrets | _secrets_of(new)
    return _mask_text("".join(lines), all_secrets)


# --------------------------------------------------------------------------
# The live cluster.


def query_cib():
    """
    Return the live CIB XML (``cibadmin --query``).

    CLI Example:

    .. code-block:: bash

        salt ctl1 pacemaker.query_cib
    """
    return _run(["cibadmin", "--query"])["stdout"]


def _push(orig_xml_text, new_xml_text, secrets):
    patch = _crm_diff_patch(orig_xml_text, new_xml_text, secrets)
    if not patch:
        return False
    with _private_dir() as directory:
        _run(["cibadmin", "--patch", "--xml-file", _write(directory, "patch.xml", patch)], secrets)
    return True


def apply(objects, test=False):
    """
    Make the live CIB hold the declared ``objects`` (schema in the module
    documentation), pushing only the difference.

    Returns ``{"changed": bool, "diff": text}``: ``diff`` is a unified diff of
    the configuration, secrets masked. Nothing differs: nothing is pushed.
    ``test=True``: ``changed`` tells whether a push would happen; nothing is
    pushed.

    CLI Example:

    .. code-block:: bash

        salt ctl1 pacemaker.apply '{"rsc_defaults": {"resource-stickiness": 100}}' test=True
    """
    secrets = _declared_secrets(objects)
    try:
        _normalize(objects)  # a bad declaration fails before the cluster is even asked
        current = _serialize(_parse(query_cib()))
        wanted = wanted_cib(current, objects)
        if not cib_differs(current, wanted):
            return {"changed": False, "diff": ""}
        diff = _masked_diff(current, wanted, secrets)
        if test:
            return {"changed": True, "diff": diff}
        if not _push(current, wanted, secrets | _secrets_of(_parse(current))):
            return {"changed": False, "diff": ""}
        log.info("pacemaker: pushed a CIB change:\n%s", diff)
        return {"changed": True, "diff": diff}
    except (CommandExecutionError, SaltInvocationError) as exc:
        raise type(exc)(_mask_text(str(exc), secrets)) from None


# --------------------------------------------------------------------------
# Status: crm_mon.


def _flag(element, name):
    return element.get(name) == "true"


def _parse_node(node):
    return {
        "id": node.get("id"),
        "online": _flag(node, "online"),
        "standby": _flag(node, "standby"),
        "maintenance": _flag(node, "maintenance"),
        "unclean": _flag(node, "unclean"),
        "is_dc": _flag(node, "is_dc"),
        "resources_running": int(node.get("resources_running") or 0),
    }


def _parse_instance(resource):
    return {
        "agent": resource.get("resource_agent"),
        "role": resource.get("role"),
        "active": _flag(resource, "active"),
        "failed": _flag(resource, "failed"),
        "nodes": [node.get("name") for node in resource.findall("node")],
    }


def _parse_resource(element):
    """One top-level crm_mon entry (resource, clone, group, bundle) summarised."""
    if element.tag == "resource":
        summary = _parse_instance(element)
        summary["kind"] = "primitive"
        return summary
    instances = [_parse_instance(resource) for resource in element.iter("resource")]
    nodes = []
    for instance in instances:
        nodes.extend(name for name in instance["nodes"] if name not in nodes)
    return {
        "kind": element.tag,
        "agent": instances[0]["agent"] if instances else None,
        "role": None,
        "active": any(instance["active"] for instance in instances),
        "failed": _flag(element, "failed") or any(instance["failed"] for instance in instances),
        "nodes": nodes,
        "instances": len(instances),
        "started": sum(1 for instance in instances if instance["active"]),
        "members": sorted({resource.get("id") for resource in element.iter("resource")}),
    }


def _parse_failure(failure):
    op_key = failure.get("op_key") or ""
    return {
        "resource": op_key.rsplit("_", 2)[0] if op_key.count("_") >= 2 else None,
        "op_key": op_key,
        "node": failure.get("node"),
        "task": failure.get("task"),
        "exitstatus": failure.get("exitstatus"),
        "exitreason": failure.get("exitreason"),
    }


def _parse_crm_mon(xml_text):
    """Summarise ``crm_mon --output-as=xml``: nodes, resources, where they run."""
    root = _parse(xml_text)
    dc = root.find("summary/current_dc")
    nodes = {node.get("name"): _parse_node(node) for node in root.findall("nodes/node")}
    section = root.find("resources")
    resources = {
        element.get("id"): _parse_resource(element)
        for element in (section if section is not None else ())
    }
    return {
        "dc": dc.get("name") if dc is not None and _flag(dc, "present") else None,
        "quorate": dc is not None and _flag(dc, "with_quorum"),
        "nodes": nodes,
        "nodes_online": sorted(name for name, node in nodes.items() if node["online"]),
        "resources": resources,
        "resources_started": sorted(rid for rid, rsc in resources.items() if rsc["active"]),
        "failures": [_parse_failure(failure) for failure in root.findall("failures/failure")],
    }


def status():
    """
    Summarise the cluster from ``crm_mon -1 --output-as=xml``: the DC,
    quorum, every node (online, standby, maintenance, unclean), every
    top-level resource (agent, role, active, failed, the nodes it runs on;
    for clones and groups the instances started) and the failed actions.

    CLI Example:

    .. code-block:: bash

        salt ctl1 pacemaker.status
    """
    return _parse_crm_mon(_run(["crm_mon", "-1", "--output-as=xml"])["stdout"])


# --------------------------------------------------------------------------
# Quorum: corosync-quorumtool and corosync-qdevice-tool.


def _key_values(lines):
    """``Key:   value`` lines -> {"key": "value"} (key lower-cased, ``_`` for spaces)."""
    values = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key.strip() and not line.startswith((" ", "\t")):
            values[key.strip().lower().replace(" ", "_").replace("-", "_")] = value.strip()
    return values


def _number(text):
    match = re.match(r"\s*(0x[0-9a-fA-F]+|\d+)", text or "")
    return int(match.group(1), 0) if match else None


def _membership_rows(lines):
    """The rows under ``Membership information`` of corosync-quorumtool."""
    if "Membership information" not in lines:
        return [], None
    start = lines.index("Membership information")
    rows = [
        line.split() for line in lines[start + 1 :] if line.strip() and not line.startswith("-")
    ]
    if not rows or rows[0][0] != "Nodeid":
        return [], None
    header, rows = rows[0], rows[1:]
    name_column = header.index("Name")
    members, qdevice = [], None
    for row in rows:
        if _number(row[0]) == 0:  # the quorum device's own line: no Qdevice column
            configured = re.search(r"\(votes (\d+)\)", " ".join(row))
            qdevice = {
                "name": row[2],
                "votes": int(row[1]),
                "casting_vote": configured is None,
                "configured_votes": int(configured.group(1)) if configured else int(row[1]),
            }
            continue
        members.append(
            {
                "nodeid": _number(row[0]),
                "votes": int(row[1]),
                "qdevice": row[2] if "Qdevice" in header else None,
                "name": row[name_column],
                "local": "(local)" in row[name_column + 1 :],
            }
        )
    return members, qdevice


def _parse_quorumtool(text):
    """Parse ``corosync-quorumtool -s`` (or ``-s -p`` / ``pcs quorum status``)."""
    lines = [line.rstrip() for line in text.splitlines()]
    values = _key_values(lines)
    if "quorate" not in values:
        raise CommandExecutionError("corosync-quorumtool output has no 'Quorate:' line")
    flags = values.get("flags", "").split()
    members, qdevice = _membership_rows(lines)
    return {
        "quorate": values["quorate"].lower() == "yes",
        "provider": values.get("quorum_provider"),
        "node_id": _number(values.get("node_id")),
        "ring_id": values.get("ring_id"),
        "nodes": _number(values.get("nodes")),
        "expected_votes": _number(values.get("expected_votes")),
        "highest_expected": _number(values.get("highest_expected")),
        "total_votes": _number(values.get("total_votes")),
        "quorum": _number(values.get("quorum")),
        "activity_blocked": "Activity blocked" in values.get("quorum", ""),
        "flags": flags,
        "two_node": "2Node" in flags,
        "wait_for_all": "WaitForAll" in flags,
        "qdevice_registered": "Qdevice" in flags,
        "members": members,
        "qdevice": qdevice,
    }


def _parse_node_list(text):
    return [_number(part) for part in text.split(",") if part.strip()]


def _parse_qdevice_tool(text):
    """Parse ``corosync-qdevice-tool -s`` (what ``pcs quorum device status`` shows)."""
    lines = [line.rstrip() for line in text.splitlines()]
    values = _key_values(lines)
    configured = [
        _number(match.group(1))
        for line in lines
        if line.startswith((" ", "\t")) and (match := re.search(r"Node ID = (\w+)", line))
    ]
    host, _, port = values.get("qnetd_host", "").rpartition(":")
    return {
        "running": True,
        "model": values.get("model"),
        "node_id": _number(values.get("node_id")),
        "configured_nodes": configured,
        "membership": _parse_node_list(values.get("membership_node_list", "")),
        "cluster_name": values.get("cluster_name"),
        "qnetd_host": host or None,
        "qnetd_port": _number(port),
        "algorithm": values.get("algorithm"),
        "tie_breaker": values.get("tie_breaker"),
        "state": values.get("state"),
        "connected": values.get("state") == "Connected",
        "heuristics": values.get("heuristics_result"),
    }


def quorum_status():
    """
    Parse ``corosync-quorumtool -s``: quorate, expected/total votes, the
    quorum, the votequorum flags (2Node, WaitForAll, Qdevice...), the members
    (node id, votes, qdevice state, name, local) and the quorum device line.

    CLI Example:

    .. code-block:: bash

        salt ctl1 pacemaker.quorum_status
    """
    # exit 0: quorate, 2: not quorate (both print the status), 1: error
    result = _run(["corosync-quorumtool", "-s"], ok_codes=(0, 2))
    return _parse_quorumtool(result["stdout"])


def qdevice_status():
    """
    Parse ``corosync-qdevice-tool -s``: model, QNetd host and port,
    algorithm, tie-breaker, connection state, membership. When the qdevice
    daemon is not installed or not running: ``{"running": False,
    "connected": False, "error": why}``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 pacemaker.qdevice_status
    """
    if not salt.utils.path.which("corosync-qdevice-tool"):
        return {
            "running": False,
            "connected": False,
            "error": "corosync-qdevice-tool not installed",
        }
    cmd = ["corosync-qdevice-tool", "-s"]
    result = __salt__["cmd.run_all"](cmd, python_shell=False, ignore_retcode=True)
    if result["retcode"] != 0:
        error = (result.get("stderr") or result.get("stdout") or "").strip()
        return {"running": False, "connected": False, "error": error}
    return _parse_qdevice_tool(result["stdout"])
