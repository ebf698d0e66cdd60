"""
The heal runner: what the master does when the site reports a fault
(DESIGN.md section 5).

The reactor (``reactor/map.yaml``) hands every event it maps to
``heal.event`` with the event's tag, the minion id and the event data:

=================================  ============================================
``salt/minion/<id>/start``         a node booted: its highstate, then the
                                   Galera check when it is a data node
                                   (that check first when no Primary is
                                   left: a power loss of the site);
                                   nothing for a node with no beacons
                                   configured (never deployed: the
                                   deploy's business)
``salt/presence/change``           minions lost or (re)connected (master
                                   option ``presence_events``): the Galera
                                   check when a data node or the witness
``salt/beacon/<id>/service/<svc>`` a watched service stopped (``running``
                                   False); running again: nothing
``salt/beacon/<id>/galera/<st>``   ``mysqld-down``, ``non-primary``,
                                   ``disconnected``: the Galera check;
                                   ``donor-stuck``: a note for the
                                   operator; ``synced``: nothing
``salt/beacon/<id>/pacemaker/<c>`` ``quorum-lost``, ``node-lost``,
                                   ``resource-failed``/``-stopped``; their
                                   recoveries: nothing
=================================  ============================================

Event data comes from a minion and is validated here: the minion id must be
a node of the site inventory (the ``site`` pillar, compiled for the master),
the same in the tag and in the data, and every field must have the expected
type and shape. Anything else is logged and answered with a
``twin-cloud/heal/ignored`` event, and nothing else happens.

How a heal runs
---------------
1. The fault is queued (a file under the state directory) and the caller
   tries to take THE lock (one lock file for every heal). When another heal
   holds it, the call returns at once: that heal picks the fault up.
2. The lock holder waits the settle period (``settle``), so that a burst of
   events (a node dying makes several beacons speak) gives one run, then
   takes every queued fault, one per kind of fault (``boot/ctl2``,
   ``service/ctl2/memcached``, ``galera``, ``pacemaker/resource/vip``...).
3. Per kind: within ``cooldown`` seconds of the last attempt, or past the
   attempt budget (``budget`` attempts within ``window`` seconds), or
   flapping (more than ``flap_limit`` faults of the kind within
   ``flap_window`` seconds): a ``twin-cloud/heal/suppressed`` event and
   nothing else for that kind; its fault is kept, and ``heal.retry`` (run
   by the master's scheduler) takes it up again once that time is over.
4. While an orchestration runs on the master (the deploy, an operator's
   ``orch.galera``), or the operator paused healing (``heal.pause``, a
   maintenance), nothing is probed or done: the faults are kept for
   ``heal.retry``. Otherwise a fresh live probe of every node through the
   master's LocalClient
   (``test.ping``; ``service.show``, ``galera.probe``, ``pacemaker.status``
   where the faults need them); never mine or cached data.
5. A decision (pure, :func:`decide`): Galera by ``galera_plan.plan``, the
   bootstrap rule's own function. A system that is recovering by itself
   gets NO action: a joiner in SST or a node rejoining (plan ``wait``), a
   service systemd is restarting (``activating``/``auto-restart``), a
   resource Pacemaker restarted or owns (``haproxy``), a node Pacemaker
   fences.
6. Actions one after the other, each verified: ``state.apply`` (the
   highstate) on a booted node, ``service.start`` of a stopped service,
   ``state.orchestrate orch.galera`` (re-decided from a fresh probe right
   before it runs), ``crm_resource --cleanup`` of a resource Pacemaker gave
   up on. A kind that gets an action counts an attempt; an action that
   fails or cannot be verified leaves its fault for ``heal.retry`` after
   the cooldown (within the budget).
7. A ``twin-cloud/heal/done`` event carrying the faults, every action with
   its result and verification, and why nothing was done where nothing was.
8. Faults queued meanwhile get their own round before the lock is released.

The lock has a time-to-live (``lock_ttl``, renewed between steps): a heal
that crashed, or a master killed in the middle of one, cannot wedge healing;
a lock whose process is gone on this host is taken over at once.

Configuration: master option ``heal:`` (every key optional)::

    heal:
      dry_run: False        # decide nothing, act on nothing: fire the events only
      settle: 10            # seconds a heal waits for the rest of a burst
      cooldown: 120         # seconds between two attempts at one kind of fault
      budget: 3             # attempts at one kind of fault ...
      window: 3600          # ... within this many seconds
      flap_limit: 4         # faults of one kind past which it is flapping ...
      flap_window: 300      # ... within this many seconds
      lock_ttl: 600         # seconds a lock lives without being renewed
      probe_timeout: 30     # seconds for a probe of the nodes
      action_timeout: 900   # seconds for one action (a highstate, an SST)
      verify_timeout: 180   # seconds an action has to show its effect
      verify_interval: 5
      state_dir: <cachedir>/twin-cloud-heal
      pacemaker_managed: [haproxy]  # never started by Salt
      remedies: {}          # unit -> {apply: <sls>} instead of service.start

State (the lock, the queue, per kind the attempts, faults, suppression and
the fault kept for a retry, and the last runs) lives in ``state_dir``,
under the master's cachedir. In ``dry_run`` a round fires its
events as if each fault had been acted upon (an attempt is counted), with
no probe and no action; there, a file named ``crash-next`` in the state
directory makes the next round raise once it holds the lock (the tests'
crash).

Runner functions: ``heal.event`` (the reactor's), ``heal.retry`` (the
scheduler's), ``heal.status``, ``heal.reset``, ``heal.pause`` and
``heal.resume`` (the operator's).

Events fired (all on the master's event bus):

``twin-cloud/heal/ignored``     ``{tag, id, reason}``
``twin-cloud/heal/suppressed``  ``{kind, node, reason: cooldown|budget|flapping,
                                detail, until, attempts, faults, dry_run}``
``twin-cloud/heal/done``        ``{faults, actions: [{type, node, service,
                                resource, kinds, why, result, verified,
                                comment}], notes, suppressed, verified,
                                dry_run, started, duration}``
"""

import copy
import dataclasses
import json
import logging
import os
import re
import socket
import time
import uuid

import salt.client
import salt.loader
import salt.utils.event
import salt.utils.master

log = logging.getLogger(__name__)

__virtualname__ = "heal"

EVENT_PREFIX = "twin-cloud/heal"
DEFAULTS = {
    "dry_run": False,
    "settle": 10,
    "cooldown": 120,
    "budget": 3,
    "window": 3600,
    "flap_limit": 4,
    "flap_window": 300,
    "lock_ttl": 600,
    "probe_timeout": 30,
    "action_timeout": 900,
    "verify_timeout": 180,
    "verify_interval": 5,
    "max_rounds": 5,
    "state_dir": None,
    "pacemaker_managed": ["haproxy"],
    "remedies": {},
}
_NUMBERS = (
    "settle",
    "cooldown",
    "budget",
    "window",
    "flap_limit",
    "flap_window",
    "lock_ttl",
    "probe_timeout",
    "action_timeout",
    "verify_timeout",
    "verify_interval",
    "max_rounds",
)

GALERA_SERVICE = "mariadb"
GARBD_SERVICE = "garb"
GALERA_FAULTS = ("mysqld-down", "non-primary", "disconnected", "donor-stuck")
GALERA_OK = ("synced",)
PACEMAKER_FAULTS = ("quorum-lost", "node-lost", "resource-failed", "resource-stopped")
PACEMAKER_OK = ("quorum-regained", "node-back", "resource-started")
GALERA_ACTIONS = ("start", "bootstrap", "recover_primary")
SYSTEMD_RECOVERING = ("activating", "deactivating", "reloading")
ACTION_ORDER = ("highstate", "apply", "service", "galera", "cleanup")
HISTORY = 50  # runs kept in the state file

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
_UNIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9@._:-]{0,127}$")
_RESOURCE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$")

# Seams for the tests.
_clock = time.time
_sleep = time.sleep


def __virtual__():
    return __virtualname__


# --- settings ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Settings:
    dry_run: bool
    settle: float
    cooldown: float
    budget: int
    window: float
    flap_limit: int
    flap_window: float
    lock_ttl: float
    probe_timeout: float
    action_timeout: float
    verify_timeout: float
    verify_interval: float
    max_rounds: int
    state_dir: str
    pacemaker_managed: tuple
    remedies: dict


def _settings():
    wanted = copy.deepcopy(DEFAULTS)
    given = __opts__.get("heal") or {}
    if not isinstance(given, dict):
        raise ValueError(f"master option heal: must be a mapping, got {given!r}")
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        log.warning("heal: unknown option(s) under heal: ignored: %s", ", ".join(unknown))
    wanted.update({key: value for key, value in given.items() if key in DEFAULTS})
    for key in _NUMBERS:
        value = wanted[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"heal:{key} must be a number >= 0, got {value!r}")
    state_dir = wanted["state_dir"] or os.path.join(__opts__["cachedir"], "twin-cloud-heal")
    return Settings(
        dry_run=bool(wanted["dry_run"]),
        settle=wanted["settle"],
        cooldown=wanted["cooldown"],
        budget=int(wanted["budget"]),
        window=wanted["window"],
        flap_limit=int(wanted["flap_limit"]),
        flap_window=wanted["flap_window"],
        lock_ttl=wanted["lock_ttl"],
        probe_timeout=wanted["probe_timeout"],
        action_timeout=wanted["action_timeout"],
        verify_timeout=wanted["verify_timeout"],
        verify_interval=wanted["verify_interval"],
        max_rounds=max(1, int(wanted["max_rounds"])),
        state_dir=state_dir,
        pacemaker_managed=tuple(wanted["pacemaker_managed"] or ()),
        remedies=dict(wanted["remedies"] or {}),
    )


# --- the site inventory ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Site:
    """Who is who, from the ``site`` pillar (never from grains)."""

    nodes: dict
    witness: object = None
    galera: dict = dataclasses.field(default_factory=dict)

    def roles(self, node):
        return list((self.nodes.get(node) or {}).get("roles") or [])

    @property
    def controllers(self):
        def order(name):
            cluster_id = (self.nodes[name] or {}).get("cluster_id")
            numbered = isinstance(cluster_id, int) and not isinstance(cluster_id, bool)
            return (not numbered, cluster_id if numbered else 0, name)

        return sorted((n for n in self.nodes if "controller" in self.roles(n)), key=order)

    @property
    def data_nodes(self):
        """Galera data nodes, most preferred bootstrap node first."""
        preference = self.galera.get("preference")
        if isinstance(preference, list) and preference:
            return [str(name) for name in preference]
        return self.controllers

    @property
    def witness_mode(self):
        return self.witness is not None


def site_from_pillar(pillar):
    """A :class:`Site` from a compiled pillar, or None without a usable ``site``."""
    site = (pillar or {}).get("site")
    if not isinstance(site, dict) or not isinstance(site.get("nodes"), dict):
        return None
    nodes = {str(name): node for name, node in site["nodes"].items() if isinstance(node, dict)}
    quorum = site.get("quorum") or {}
    witness = quorum.get("witness") if quorum.get("mode") == "witness" else None
    galera = (pillar or {}).get("galera")
    return Site(nodes=nodes, witness=witness, galera=galera if isinstance(galera, dict) else {})


def _site():
    pillar = __salt__["pillar.show_pillar"](__opts__["id"])
    return site_from_pillar(pillar)


# --- faults: what an event says, validated -------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Fault:
    """One fault reported by one event. ``kind`` groups what one heal fixes."""

    kind: str
    component: str
    what: str
    node: object = None
    subject: object = None
    reporter: object = None
    tag: str = ""
    retry: bool = False  # a suppressed fault taken up again by heal.retry

    def as_dict(self):
        return dataclasses.asdict(self)


def _valid_id(value):
    return isinstance(value, str) and bool(_ID.match(value))


def faults_from_event(tag, minion_id, data, site):
    """
    Turn one event into faults (pure).

    Returns ``(faults, recoveries, ignored)``: the faults to heal, the
    recoveries reported (text; nothing to do), and the reasons parts of the
    event were ignored (text).
    """
    data = data if isinstance(data, dict) else {}
    if not isinstance(tag, str):
        return [], [], [f"the tag {tag!r} is not text"]
    parts = tag.split("/")
    if tag == "salt/presence/change":
        return _presence_faults(tag, data, site)
    if len(parts) == 4 and parts[:2] == ["salt", "minion"] and parts[3] == "start":
        return _node_event(tag, parts[2], minion_id, data, site, _boot_fault)
    if len(parts) == 5 and parts[:2] == ["salt", "beacon"]:
        handler = {
            "service": _service_fault,
            "galera": _galera_fault,
            "pacemaker": _pacemaker_fault,
        }.get(parts[3])
        if handler:
            return _node_event(tag, parts[2], minion_id, data, site, handler)
    return [], [], [f"{tag}: not an event the heal runner handles"]


def _node_event(tag, tag_id, minion_id, data, site, handler):
    if not _valid_id(tag_id):
        return [], [], [f"{tag}: {tag_id!r} is not a minion id"]
    for claimed in (minion_id, data.get("id")):
        if claimed is not None and claimed != tag_id:
            return [], [], [f"{tag}: the event names minion {claimed!r}, the tag {tag_id!r}"]
    if tag_id not in site.nodes:
        return [], [], [f"{tag}: minion {tag_id} is not a node of the site inventory"]
    return handler(tag, tag_id, tag.split("/")[-1], data, site)


def _boot_fault(tag, node, _word, _data, _site):
    return [Fault(f"boot/{node}", "boot", "start", node=node, reporter=node, tag=tag)], [], []


def _service_fault(tag, node, unit, data, _site):
    if not _UNIT.match(unit):
        return [], [], [f"{tag}: {unit!r} is not a service name"]
    state = data.get(unit)
    if not isinstance(state, dict) or not isinstance(state.get("running"), bool):
        return [], [], [f"{tag}: no running: true|false for {unit} in the event data"]
    if data.get("service_name", unit) != unit:
        return [], [], [f"{tag}: service_name {data.get('service_name')!r} is not {unit}"]
    if state["running"]:
        return [], [f"{unit} on {node} runs again"], []
    fault = Fault(
        f"service/{node}/{unit}", "service", "stopped", node=node, subject=unit,
        reporter=node, tag=tag,
    )
    return [fault], [], []


def _galera_fault(tag, node, state, data, _site):
    if data.get("state", state) != state:
        return [], [], [f"{tag}: state {data.get('state')!r} is not {state}"]
    if state in GALERA_OK:
        return [], [f"Galera on {node} is {state} again"], []
    if state not in GALERA_FAULTS:
        return [], [], [f"{tag}: {state!r} is not a Galera fault the beacon reports"]
    return [Fault("galera", "galera", state, node=node, reporter=node, tag=tag)], [], []


def _pacemaker_fault(tag, node, change, data, site):
    if data.get("change", change) != change:
        return [], [], [f"{tag}: change {data.get('change')!r} is not {change}"]
    subject = data.get("subject")
    if change in PACEMAKER_OK:
        return [], [f"Pacemaker on {node}: {change} {subject or ''}".rstrip()], []
    if change not in PACEMAKER_FAULTS:
        return [], [], [f"{tag}: {change!r} is not a Pacemaker change the beacon reports"]
    if change == "quorum-lost":
        fault = Fault("pacemaker/quorum", "pacemaker", change, node=node, reporter=node, tag=tag)
        return [fault], [], []
    if change == "node-lost":
        if not _valid_id(subject) or subject not in site.nodes:
            return [], [], [f"{tag}: the lost node {subject!r} is not a node of the site"]
        fault = Fault(
            f"pacemaker/node/{subject}", "pacemaker", change, node=subject, subject=subject,
            reporter=node, tag=tag,
        )
        return [fault], [], []
    if not isinstance(subject, str) or not _RESOURCE.match(subject):
        return [], [], [f"{tag}: {subject!r} is not a resource id"]
    fault = Fault(
        f"pacemaker/resource/{subject}", "pacemaker", change, subject=subject,
        reporter=node, tag=tag,
    )
    return [fault], [], []


def _presence_faults(tag, data, site):
    faults, ignored = [], []
    for what in ("lost", "new"):
        names = data.get(what) or []
        if not isinstance(names, list):
            ignored.append(f"{tag}: {what} is not a list")
            continue
        for name in names:
            if not _valid_id(name):
                ignored.append(f"{tag}: {name!r} is not a minion id")
            elif name not in site.nodes:
                ignored.append(f"{tag}: minion {name} is not a node of the site inventory")
            else:
                faults.append(Fault(f"presence/{name}", "presence", what, node=name, tag=tag))
    return faults, [], ignored


# --- the decision (pure) ---------------------------------------------------------------


def _action(kind, action_type, why, node=None, **extra):
    return {"type": action_type, "node": node, "kinds": [kind], "why": why, **extra}


def _systemd_verdict(unit, node, show):
    """None when ``unit`` needs starting, else why not (from ``service.show``)."""
    if not isinstance(show, dict):
        return f"{unit} on {node}: systemd could not be asked ({show}); nothing done"
    active, sub = show.get("ActiveState"), show.get("SubState")
    if active == "active":
        return f"{unit} on {node} runs again (recovered by itself)"
    if active in SYSTEMD_RECOVERING or sub == "auto-restart":
        return f"{unit} on {node} is {active}/{sub}: systemd is restarting it"
    return None


def _galera_verdict(plan, why):
    """``(act, note)`` from the Galera plan."""
    if not plan:
        return False, f"{why}: the Galera data nodes could not be probed; nothing done"
    action, reason = plan.get("action"), plan.get("reason")
    if action in GALERA_ACTIONS:
        return True, None
    if action == "wait":
        return False, f"{why}: Galera recovers by itself: {reason}"
    if action == "none":
        return False, f"{why}: Galera is whole: {reason}"
    return False, f"{why}: Galera needs the operator: {reason}"


def _unit_remedy(kind, node, unit, show, settings, site, probes, actions, notes, why):
    if unit in settings.pacemaker_managed:
        notes.append(f"{unit} on {node} is Pacemaker's: Pacemaker restarts it")
        return
    if node not in probes["up"]:
        notes.append(f"{why}: {node} does not answer; its start event will bring it back")
        return
    verdict = _systemd_verdict(unit, node, show)
    if verdict:
        notes.append(verdict)
        return
    if unit == GALERA_SERVICE and node in site.data_nodes:
        act, note = _galera_verdict(probes.get("galera"), why)
        if act:
            actions.append(_action(kind, "galera", f"{why}: {probes['galera']['reason']}"))
        else:
            notes.append(note)
        return
    remedy = settings.remedies.get(unit) or {}
    if isinstance(remedy, dict) and isinstance(remedy.get("apply"), str):
        actions.append(_action(kind, "apply", why, node=node, sls=remedy["apply"], service=unit))
    else:
        actions.append(_action(kind, "service", why, node=node, service=unit))


def stack_units(site, node):
    """The cluster-stack units a node runs (corosync, pacemaker, qdevice, qnetd)."""
    units = []
    if "controller" in site.roles(node):
        units += ["corosync", "pacemaker"]
        if site.witness_mode:
            units.append("corosync-qdevice")
    if node == site.witness:
        units.append("corosync-qnetd")
    return units


def _resource_views(subject, pacemaker):
    views = []
    for node, status in sorted((pacemaker or {}).items()):
        if isinstance(status, dict):
            resource = (status.get("resources") or {}).get(subject)
            views.append((node, status, resource))
    return views


def _resource_remedy(fault, probes, actions, notes):
    subject = fault.subject
    views = _resource_views(subject, probes.get("pacemaker"))
    why = f"resource {subject} {fault.what.split('-')[1]} (seen from {fault.reporter})"
    if not views:
        notes.append(f"{why}: no controller's Pacemaker answers; nothing done")
        return
    known = [(node, status, rsc) for node, status, rsc in views if rsc is not None]
    if not known:
        notes.append(f"{why}: no such resource in the cluster any more")
        return
    if any(rsc.get("active") and not rsc.get("failed") for _, _, rsc in known):
        notes.append(f"{why}: it runs again (Pacemaker recovered it)")
        return
    if any(rsc.get("active") for _, _, rsc in known):
        notes.append(f"{why}: Pacemaker is recovering it")
        return
    if not all(status.get("quorate") for _, status, _ in known):
        notes.append(
            f"{why}: the cluster has no quorum, so Pacemaker stops resources (policy); "
            f"see the quorum, nothing done"
        )
        return
    failed = any(
        rsc.get("failed")
        or any(f.get("resource") == subject for f in (status.get("failures") or []))
        for _, status, rsc in known
    )
    if not failed:
        notes.append(
            f"{why}: stopped with no failure recorded (target-role, a ban?): left as it is"
        )
        return
    node = known[0][0]
    actions.append(
        _action(
            fault.kind, "cleanup",
            f"{why}: Pacemaker gave up on it: clean up its failures so it retries",
            node=node, resource=subject,
        )
    )


def _highstate_waits(node, probes, site):
    """Whether a booted data node's highstate waits for the database: no data
    node reports a Primary component, the Galera plan has no action, and a
    data node does not answer yet (the other server of a site power loss is
    still booting). Its OpenStack states would only time out; the boot fault
    is retried, and once every data node answers, Galera comes back first."""
    plan = probes.get("galera")
    return (node in site.data_nodes and bool(plan) and plan.get("primary") is False
            and plan.get("action") not in GALERA_ACTIONS
            and not set(site.data_nodes) <= set(probes["up"]))


def _boot_galera_action(kind, node, plan):
    """The Galera action owed to a booted data node. With no Primary
    component anywhere (every mysqld stopped: a power loss of the site), the
    cluster comes back first: the node's highstate needs the database (the
    OpenStack states reach it through the VIP). Otherwise its highstate
    first, then Galera, re-decided from a fresh probe right before it runs."""
    if plan and plan.get("action") in ("bootstrap", "recover_primary"):
        return _action(
            kind, "galera",
            f"{node} started with no Primary component ({plan.get('reason')}): Galera first, "
            f"its highstate needs the database",
            first=True,
        )
    return _action(
        kind, "galera", f"{node} started: bring it back into Galera (decided after its highstate)"
    )


def decide(faults, probes, site, settings):
    """
    What to do about ``faults`` given fresh ``probes`` (pure).

    ``probes``: ``up`` (the node ids answering), ``deployed`` (the booted
    nodes that have beacons configured, i.e. were deployed), ``services`` ({(node, unit):
    ``service.show`` or an error text}), ``galera`` (``galera_plan.plan``
    output, or None), ``pacemaker`` ({controller: ``pacemaker.status`` or
    None}). Returns ``(actions, notes)``: the actions in the order to run
    them (one per type and target), and why nothing is done where nothing is.
    """
    actions, notes = [], []
    services = probes.get("services") or {}
    up = probes["up"]
    for fault in faults:
        node = fault.node
        if fault.component == "boot":
            if node not in up:
                notes.append(f"{node} started but does not answer now; nothing done yet")
                continue
            if node not in probes.get("deployed", ()):
                notes.append(
                    f"{node} started but has no beacons configured: never deployed, so its "
                    f"start is the deploy's business (salt-run state.orchestrate orch.deploy)"
                )
                continue
            if _highstate_waits(node, probes, site):
                notes.append(
                    f"{node} started with no Galera Primary component while a data node does "
                    f"not answer yet: its highstate waits for the database; retried"
                )
                continue
            actions.append(
                _action(fault.kind, "highstate", f"{node} started: its highstate", node=node)
            )
            if node in site.data_nodes:
                actions.append(_boot_galera_action(fault.kind, node, probes.get("galera")))
        elif fault.component == "service":
            why = f"{fault.subject} stopped on {node}"
            _unit_remedy(
                fault.kind, node, fault.subject, services.get((node, fault.subject)),
                settings, site, probes, actions, notes, why,
            )
        elif fault.component in ("presence", "galera") or (
            fault.component == "pacemaker" and fault.what == "node-lost"
        ):
            why = {
                "presence": f"{node}'s minion {'connected' if fault.what == 'new' else 'was lost'}",
                "galera": f"Galera on {node}: {fault.what}",
                "pacemaker": f"Pacemaker lost {node} (seen from {fault.reporter})",
            }[fault.component]
            if fault.component == "pacemaker":
                notes.append(f"{why}: Pacemaker fences it and moves its resources")
            if fault.what == "donor-stuck":
                notes.append(
                    f"{why}: a state transfer from {node} outlasts the beacon's donor_stuck "
                    f"time; no automatic remedy (see the joiner's and {node}'s mariadb journal)"
                )
                continue
            if node not in site.data_nodes and node != site.witness:
                if fault.component == "presence":
                    notes.append(f"{why}: not a Galera node; nothing for Salt to do")
                continue
            act, note = _galera_verdict(probes.get("galera"), why)
            if act:
                reason = probes["galera"]["reason"]
                actions.append(_action(fault.kind, "galera", f"{why}: {reason}"))
            else:
                notes.append(note)
        elif fault.what == "quorum-lost":
            why = f"Pacemaker quorum lost (seen from {fault.reporter})"
            before = len(actions)
            for member in site.controllers + ([site.witness] if site.witness else []):
                for unit in stack_units(site, member):
                    show = services.get((member, unit))
                    if member in up and _systemd_verdict(unit, member, show) is None:
                        actions.append(
                            _action(fault.kind, "service", why, node=member, service=unit)
                        )
            if len(actions) == before:
                notes.append(
                    f"{why}: the cluster stack runs on every node that answers: a lost node "
                    f"or a cut link; Pacemaker and the quorum device decide, nothing done"
                )
        else:
            _resource_remedy(fault, probes, actions, notes)
    return _merge(actions), notes


def _merge(actions):
    """One action per (type, node, service, resource, sls), kinds merged, in
    order: those marked ``first`` (Galera with no Primary), then by type."""
    merged = {}
    for action in actions:
        key = (
            action["type"], action.get("node"), action.get("service"),
            action.get("resource"), action.get("sls"),
        )
        if key in merged:
            for kind in action["kinds"]:
                if kind not in merged[key]["kinds"]:
                    merged[key]["kinds"].append(kind)
            if action.get("first"):
                merged[key]["first"], merged[key]["why"] = True, action["why"]
        else:
            merged[key] = copy.deepcopy(action)
    return sorted(merged.values(),
                  key=lambda a: (not a.get("first"), ACTION_ORDER.index(a["type"])))


def probes_needed(faults, site):
    """Which probes :func:`decide` needs for ``faults`` (pure)."""
    units, galera, pacemaker, booted = set(), False, False, set()
    for fault in faults:
        if fault.component == "boot":
            booted.add(fault.node)
            # a data node's start: is there still a Primary (_boot_galera_action)
            galera = galera or fault.node in site.data_nodes
        elif fault.component == "service":
            units.add((fault.node, fault.subject))
            if fault.subject == GALERA_SERVICE and fault.node in site.data_nodes:
                galera = True
        elif fault.component in ("presence", "galera") or fault.what == "node-lost":
            galera = galera or fault.node in site.data_nodes or fault.node == site.witness
        elif fault.what == "quorum-lost":
            for member in site.controllers + ([site.witness] if site.witness else []):
                units.update((member, unit) for unit in stack_units(site, member))
        elif fault.component == "pacemaker":
            pacemaker = True
    return {
        "units": sorted(units),
        "galera": galera,
        "pacemaker": pacemaker,
        "booted": sorted(booted),
    }


# --- files: the lock, the queue, the state ---------------------------------------------------


def _pid_alive(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True
    return True


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}


def _write_json(path, value):
    """Write ``value`` atomically (a temporary file, then a rename)."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex}")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(value, handle, sort_keys=True)
    os.replace(tmp, path)


class Lock:
    """The one heal lock: a file holding its owner and when it expires."""

    def __init__(self, path, ttl, info):
        self.path, self.ttl, self.info = path, ttl, info

    @staticmethod
    def stale(info, now):
        """Expired, unreadable, or its process is gone on this host."""
        if not isinstance(info, dict) or not isinstance(info.get("expires"), (int, float)):
            return True
        if now > info["expires"]:
            return True
        return info.get("host") == socket.gethostname() and not _pid_alive(info.get("pid"))

    @classmethod
    def acquire(cls, path, ttl, owner=""):
        """The lock, or None when a live heal holds it."""
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        for _ in range(3):
            now = _clock()
            info = {
                "token": uuid.uuid4().hex,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "owner": owner,
                "acquired": now,
                "expires": now + ttl,
            }
            tmp = f"{path}.{info['token']}"
            _write_json(tmp, info)
            try:
                os.link(tmp, path)  # atomic: fails when the lock exists
                return cls(path, ttl, info)
            except FileExistsError:
                held = _read_json(path)
                if held is None:
                    continue  # released meanwhile: try again
                if not cls.stale(held, now):
                    return None
                log.warning("heal: taking over a stale lock: %s", held)
                cls._break(path, held)
            finally:
                os.unlink(tmp)
        return None

    @staticmethod
    def _break(path, held):
        aside = f"{path}.stale.{uuid.uuid4().hex}"
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return
        moved = _read_json(aside)
        if isinstance(held, dict) and isinstance(moved, dict) and moved.get("token") != held.get(
            "token"
        ):
            # someone else took the stale lock over in between: give theirs back
            try:
                os.link(aside, path)
            except FileExistsError:
                pass
        os.unlink(aside)

    def held(self):
        current = _read_json(self.path)
        return isinstance(current, dict) and current.get("token") == self.info["token"]

    def refresh(self):
        if self.held():
            self.info["expires"] = _clock() + self.ttl
            _write_json(self.path, self.info)

    def release(self):
        if self.held():
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


def _paths(settings):
    return {
        "lock": os.path.join(settings.state_dir, "lock"),
        "queue": os.path.join(settings.state_dir, "queue"),
        "state": os.path.join(settings.state_dir, "state.json"),
        "crash": os.path.join(settings.state_dir, "crash-next"),
        "pause": os.path.join(settings.state_dir, "paused"),
    }


def _paused(settings, now):
    """The operator's pause (``{until, reason}``) while it lasts, else None."""
    pause = _read_json(_paths(settings)["pause"])
    if isinstance(pause, dict) and (pause.get("until") is None or pause["until"] > now):
        return pause
    return None


def _enqueue(settings, faults):
    queue = _paths(settings)["queue"]
    os.makedirs(queue, mode=0o700, exist_ok=True)
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex}.json"
    _write_json(os.path.join(queue, name), [fault.as_dict() for fault in faults])


def _queued(settings):
    queue = _paths(settings)["queue"]
    try:
        return sorted(name for name in os.listdir(queue) if not name.startswith("."))
    except FileNotFoundError:
        return []


def _drain(settings):
    queue = _paths(settings)["queue"]
    faults = []
    for name in _queued(settings):
        path = os.path.join(queue, name)
        entries = _read_json(path)
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        for entry in entries if isinstance(entries, list) else []:
            try:
                faults.append(Fault(**entry))
            except TypeError:
                log.warning("heal: dropped a malformed queued fault: %r", entry)
    return faults


def _load_state(settings):
    state = _read_json(_paths(settings)["state"])
    if not isinstance(state, dict) or not isinstance(state.get("kinds"), dict):
        state = {"kinds": {}}
    return state


def _save_state(settings, state):
    _write_json(_paths(settings)["state"], state)


def gate(entry, now, settings, new=True):
    """
    Count one fault of a kind in ``entry`` (its history, updated in place;
    ``new=False``: a retry, not counted again) and say whether it is
    suppressed: ``None`` or ``(reason, detail, until)``. Pure apart from
    ``entry``.
    """
    attempts = [t for t in entry.get("attempts", []) if now - t < settings.window]
    faults = [t for t in entry.get("faults", []) if now - t < settings.flap_window]
    if new:
        faults.append(now)
    entry.update(attempts=attempts, faults=faults)
    verdict = None
    if attempts and len(attempts) >= settings.budget:
        verdict = (
            "budget",
            f"{len(attempts)} attempt(s) within {settings.window:g} s (heal:budget "
            f"{settings.budget}); `salt-run heal.reset` once fixed",
            min(attempts) + settings.window,
        )
    elif attempts and now - max(attempts) < settings.cooldown:
        verdict = (
            "cooldown",
            f"last attempt {now - max(attempts):.0f} s ago (heal:cooldown {settings.cooldown:g} s)",
            max(attempts) + settings.cooldown,
        )
    elif len(faults) > settings.flap_limit:
        verdict = (
            "flapping",
            f"{len(faults)} faults within {settings.flap_window:g} s (heal:flap_limit "
            f"{settings.flap_limit})",
            min(faults) + settings.flap_window,
        )
    if verdict:
        entry["suppressed"] = {"reason": verdict[0], "detail": verdict[1], "at": now,
                               "until": verdict[2]}
    return verdict


# --- talking to the site ----------------------------------------------------------------


def _fire(tag, data):
    with salt.utils.event.get_master_event(__opts__, __opts__["sock_dir"], listen=False) as bus:
        bus.fire_event(data, tag)


def _local(tgt, fun, arg=(), kwarg=None, timeout=30):
    """``{minion: {"ret", "retcode"}}`` of the minions in ``tgt`` that answered."""
    tgt = list(tgt)
    if not tgt:
        return {}
    with salt.client.get_local_client(mopts=__opts__) as client:
        return (
            client.cmd(
                tgt, fun, arg=list(arg), kwarg=kwarg, tgt_type="list", timeout=timeout,
                full_return=True,
            )
            or {}
        )


def _answer(out, node):
    """``(ok, ret)`` of one minion's full return."""
    entry = (out or {}).get(node)
    if not isinstance(entry, dict) or "ret" not in entry:
        return False, "no answer from its minion"
    return entry.get("retcode", 0) == 0, entry["ret"]


def _orchestrate(sls):
    return __salt__["state.orchestrate"](sls)


def _orchestrations_running():
    """The orchestrations running on this master (an operator's, the deploy)."""
    return sorted(
        f"{job.get('fun')} {' '.join(map(str, job.get('fun_args') or []))} (jid {job.get('jid')})"
        for job in salt.utils.master.get_running_jobs(__opts__)
        if str(job.get("fun", "")).startswith("runner.state.orch")
    )


def _plan_function():
    """``galera_plan.plan``, the bootstrap rule, through the master's loader."""
    key = "twin_cloud.heal.galera_plan"
    if key not in __context__:
        functions = salt.loader.minion_mods(__opts__, whitelist=["galera_plan"])
        if "galera_plan.plan" not in functions:
            raise RuntimeError(
                "galera_plan is not synced to the master: salt-run saltutil.sync_all"
            )
        __context__[key] = functions["galera_plan.plan"]
    return __context__[key]


def _galera_plan(site, settings, up):
    """A fresh probe of every data node (and garbd), through ``galera_plan.plan``."""
    nodes = site.data_nodes
    out = _local([n for n in nodes if n in up], "galera.probe", timeout=settings.probe_timeout)
    probes = {}
    for node in nodes:
        ok, ret = _answer(out, node)
        if ok and isinstance(ret, dict):
            probes[node] = ret
        elif node in out:
            probes[node] = {"reachable": True, "mysqld": None, "error": str(ret)[:400]}
        else:
            probes[node] = {"reachable": False, "error": "no answer from its minion"}
    if site.witness:
        ok, ret = _answer(
            _local([site.witness] if site.witness in up else [], "service.status",
                   [GARBD_SERVICE], timeout=settings.probe_timeout),
            site.witness,
        )
        probes[site.witness] = (
            {"role": "witness", "reachable": True, "garbd": "running" if ret is True else "stopped"}
            if ok
            else {"role": "witness", "reachable": False}
        )
    force = site.galera.get("force_bootstrap_node") or None
    try:
        plan = dict(_plan_function()(probes, list(nodes), force_node=force))
        # whether a data node reports a Primary component (_highstate_waits)
        plan["primary"] = any(probes[node].get("cluster_status") == "Primary" for node in nodes)
        return plan
    except (ValueError, RuntimeError) as exc:
        log.error("heal: no Galera plan: %s", exc)
        return None


def _up(site, settings):
    """The nodes whose minion answers now."""
    out = _local(sorted(site.nodes), "test.ping", timeout=min(settings.probe_timeout, 10))
    return {node for node in site.nodes if _answer(out, node)[0]}


def _probe(site, settings, faults):
    needed = probes_needed(faults, site)
    up = _up(site, settings)
    services = {}
    for node in sorted({node for node, _ in needed["units"] if node in up}):
        for unit in [u for n, u in needed["units"] if n == node]:
            ok, ret = _answer(
                _local([node], "service.show", [unit], timeout=settings.probe_timeout), node
            )
            services[(node, unit)] = ret if ok and isinstance(ret, dict) else str(ret)[:200]
    # a booted node with no beacons configured was never deployed
    booted = [node for node in needed["booted"] if node in up]
    out = _local(booted, "config.get", ["beacons"], timeout=settings.probe_timeout)
    deployed = {node for node in booted if all(_answer(out, node))}
    pacemaker = {}
    if needed["pacemaker"]:
        controllers = [n for n in site.controllers if n in up]
        out = _local(controllers, "pacemaker.status", timeout=settings.probe_timeout)
        for node in controllers:
            ok, ret = _answer(out, node)
            pacemaker[node] = ret if ok and isinstance(ret, dict) else None
    galera = _galera_plan(site, settings, up) if needed["galera"] else None
    return {
        "up": up,
        "deployed": deployed,
        "services": services,
        "galera": galera,
        "pacemaker": pacemaker,
    }


# --- acting -------------------------------------------------------------------------------


def _poll(settings, check):
    """Call ``check`` until it returns ``(True, text)`` or the verify time is over."""
    deadline = _clock() + settings.verify_timeout
    while True:
        ok, text = check()
        if ok or _clock() >= deadline:
            return ok, text
        _sleep(settings.verify_interval)


def _state_ok(ret):
    if not isinstance(ret, dict) or not ret:
        return False
    return all(isinstance(item, dict) and item.get("result") is not False for item in ret.values())


def _failed_states(ret):
    if not isinstance(ret, dict):
        return str(ret)[:400]
    failed = [
        f"{item.get('__id__', key)}: {item.get('comment')}"
        for key, item in ret.items()
        if isinstance(item, dict) and item.get("result") is False
    ]
    return "; ".join(failed)[:800]


def _service_running(settings, node, unit):
    def check():
        ok, ret = _answer(_local([node], "service.status", [unit], timeout=15), node)
        return ok and ret is True, f"{unit} {'runs' if ret is True else 'does not run'} on {node}"

    return _poll(settings, check)


def _do_state(settings, action, fun, arg):
    node = action["node"]
    ok, ret = _answer(_local([node], fun, arg, timeout=settings.action_timeout), node)
    ok = ok and _state_ok(ret)
    comment = f"{fun} {' '.join(arg)} on {node}".replace("  ", " ").strip()
    if not ok:
        return False, False, f"{comment} failed: {_failed_states(ret)}"
    if action.get("service"):
        verified, text = _service_running(settings, node, action["service"])
        return True, verified, f"{comment}: done; {text}"
    return True, True, f"{comment}: done"


def _do_service(settings, action):
    node, unit = action["node"], action["service"]
    out = _local([node], "service.start", [unit], timeout=settings.action_timeout)
    ok, ret = _answer(out, node)
    if not ok or ret is False:
        return False, False, f"service.start {unit} on {node} failed: {str(ret)[:400]}"
    verified, text = _service_running(settings, node, unit)
    return True, verified, f"started {unit} on {node}; {text}"


def _do_galera(settings, site):
    up = _up(site, settings)
    plan = _galera_plan(site, settings, up)
    if plan is None:
        return False, False, "no Galera plan (see the master log); orch.galera not run"
    if plan["action"] not in GALERA_ACTIONS:
        return True, plan["action"] == "none", (
            f"orch.galera not needed now ({plan['action']}): {plan['reason']}"
        )
    result = _orchestrate("orch.galera") or {}
    ok = isinstance(result, dict) and result.get("retcode", 1) == 0
    if not ok:
        return False, False, f"orch.galera failed: {json.dumps(result.get('data'))[:800]}"

    def check():
        now_plan = _galera_plan(site, settings, up)
        action = (now_plan or {}).get("action")
        return action == "none", f"Galera: {(now_plan or {}).get('reason')}"

    verified, text = _poll(settings, check)
    return True, verified, f"orch.galera ran (plan was {plan['action']}); {text}"


def _do_cleanup(settings, action):
    node, resource = action["node"], action["resource"]
    ok, ret = _answer(
        _local([node], "cmd.run_all", [["crm_resource", "--cleanup", "--resource", resource]],
               kwarg={"python_shell": False}, timeout=settings.action_timeout),
        node,
    )
    if not ok or not isinstance(ret, dict) or ret.get("retcode") != 0:
        detail = ret.get("stderr") if isinstance(ret, dict) else ret
        return False, False, f"crm_resource --cleanup {resource} on {node} failed: {detail}"

    def check():
        ok, status = _answer(_local([node], "pacemaker.status", timeout=30), node)
        known = ok and isinstance(status, dict)
        rsc = (status.get("resources") or {}).get(resource) if known else None
        running = bool(rsc and rsc.get("active") and not rsc.get("failed"))
        return running, f"{resource} {'runs' if running else 'does not run'} (seen from {node})"

    verified, text = _poll(settings, check)
    return True, verified, f"cleaned up {resource}'s failures on {node}; {text}"


def _act(settings, site, action):
    kind = action["type"]
    try:
        if kind == "highstate":
            return _do_state(settings, action, "state.apply", [])
        if kind == "apply":
            return _do_state(settings, action, "state.apply", [action["sls"]])
        if kind == "service":
            return _do_service(settings, action)
        if kind == "galera":
            return _do_galera(settings, site)
        return _do_cleanup(settings, action)
    except Exception as exc:  # pylint: disable=broad-except
        log.exception("heal: action %s failed", action)
        return False, False, f"{kind} failed: {exc}"


# --- a round -------------------------------------------------------------------------------


def _dedup(faults):
    by_kind = {}
    for fault in faults:
        by_kind.setdefault(fault.kind, []).append(fault)
    return by_kind


def _suppress(settings, state, by_kind, now):
    """Gate each kind; a suppressed kind's fault is kept for ``heal.retry``."""
    allowed, suppressed = {}, []
    deferred = state.setdefault("deferred", {})
    for kind, faults in by_kind.items():
        entry = state["kinds"].setdefault(kind, {})
        verdict = gate(entry, now, settings, new=not all(f.retry for f in faults))
        if verdict is None:
            entry.pop("suppressed", None)
            deferred.pop(kind, None)
            allowed[kind] = faults
            continue
        reason, detail, until = verdict
        deferred[kind] = {"fault": faults[-1].as_dict(), "not_before": until}
        event = {
            "kind": kind,
            "node": faults[0].node,
            "reason": reason,
            "detail": detail,
            "until": until,
            "attempts": len(entry["attempts"]),
            "faults": len(entry["faults"]),
            "dry_run": settings.dry_run,
        }
        suppressed.append(event)
        log.warning("heal: %s suppressed (%s): %s", kind, reason, detail)
        _fire(f"{EVENT_PREFIX}/suppressed", event)
    return allowed, suppressed


def _count_attempts(settings, state, kinds, now):
    for kind in kinds:
        entry = state["kinds"].setdefault(kind, {})
        entry.setdefault("attempts", []).append(now)
        entry["last_attempt"] = now
    _save_state(settings, state)


def _round(settings, lock, faults):
    started = _clock()
    state = _load_state(settings)
    allowed, suppressed = _suppress(settings, state, _dedup(faults), started)
    _save_state(settings, state)
    report = {
        "faults": [f.as_dict() for kind_faults in allowed.values() for f in kind_faults],
        "actions": [],
        "notes": [],
        "suppressed": suppressed,
        "dry_run": settings.dry_run,
        "started": started,
    }
    if not allowed:
        return report
    if settings.dry_run:
        crash = _paths(settings)["crash"]
        if os.path.exists(crash):
            os.unlink(crash)
            raise RuntimeError("heal: simulated crash (crash-next, dry_run only)")
        _count_attempts(settings, state, list(allowed), started)
        report["actions"] = [
            {"type": "dry-run", "kinds": [kind], "node": fs[0].node, "result": True,
             "verified": True, "comment": "dry run: nothing probed, nothing done"}
            for kind, fs in allowed.items()
        ]
    else:
        site = _site()
        busy = _orchestrations_running()
        paused = _paused(settings, started)
        if site is None:
            report["notes"].append("no site pillar for the master: nothing probed or done")
        elif paused or busy:
            # the deploy or an operator is at work: do not probe or act beside it
            why = (
                f"healing is paused ({paused.get('reason') or 'heal.pause'})"
                if paused
                else f"an orchestration is running ({'; '.join(busy)})"
            )
            report["notes"].append(
                f"{why}: nothing probed or done; heal.retry takes these faults up again"
            )
            if not paused:
                not_before = started + settings.settle
            else:  # until the pause ends (heal.resume brings them forward)
                not_before = paused.get("until") or started + 365 * 86400
            for kind, kind_faults in allowed.items():
                state.setdefault("deferred", {})[kind] = {
                    "fault": kind_faults[-1].as_dict(),
                    "not_before": not_before,
                }
        else:
            flat = [fs[0] for fs in allowed.values()]
            probes = _probe(site, settings, flat)
            actions, notes = decide(flat, probes, site, settings)
            report["notes"] = notes
            for fault in flat:
                if fault.component == "boot" and (
                        fault.node not in probes["up"]
                        or _highstate_waits(fault.node, probes, site)):
                    # a node that just started may not answer yet, or its
                    # highstate waits for Galera: its boot highstate is owed,
                    # so heal.retry takes it up again soon
                    state.setdefault("deferred", {})[fault.kind] = {
                        "fault": fault.as_dict(), "not_before": started + settings.settle,
                    }
            _count_attempts(
                settings, state, sorted({k for a in actions for k in a["kinds"]}), started
            )
            for action in actions:
                lock.refresh()
                result, verified, comment = _act(settings, site, action)
                report["actions"].append(
                    {**action, "result": result, "verified": verified, "comment": comment}
                )
                log.info("heal: %s", comment)
                if not (result and verified):
                    # taken up again by heal.retry after the cooldown, within the budget
                    for kind in action["kinds"]:
                        state.setdefault("deferred", {})[kind] = {
                            "fault": allowed[kind][-1].as_dict(),
                            "not_before": _clock() + settings.cooldown,
                        }
    report["verified"] = all(a["verified"] for a in report["actions"])
    report["duration"] = round(_clock() - started, 3)
    _remember(settings, state, report)
    _fire(f"{EVENT_PREFIX}/done", report)
    return report


def _remember(settings, state, report):
    """Keep a short history of the runs (``heal.status`` shows it)."""
    runs = state.setdefault("runs", [])
    runs.append(
        {
            "started": report["started"],
            "duration": report["duration"],
            "kinds": sorted({f["kind"] for f in report["faults"]}),
            "actions": [
                {key: action.get(key) for key in
                 ("type", "node", "service", "resource", "result", "verified", "comment")}
                for action in report["actions"]
            ],
            "notes": report["notes"],
            "verified": report["verified"],
            "dry_run": report["dry_run"],
        }
    )
    del runs[:-HISTORY]
    _save_state(settings, state)


def _run_queued(settings, owner):
    """Take the lock and heal every queued fault; None when another heal holds it."""
    reports = []
    for _ in range(settings.max_rounds):
        lock = Lock.acquire(_paths(settings)["lock"], settings.lock_ttl, owner)
        if lock is None:
            return reports or None
        try:
            while _queued(settings) and len(reports) < settings.max_rounds:
                _sleep(settings.settle)
                lock.refresh()
                faults = _drain(settings)
                if faults:
                    reports.append(_round(settings, lock, faults))
        finally:
            lock.release()
        if not _queued(settings):  # nothing arrived between the last look and the release
            break
    return reports


# --- the runner functions --------------------------------------------------------------------


def event(tag, id=None, data=None):  # pylint: disable=redefined-builtin
    """
    Handle one event the reactor maps here (see the module documentation).

    tag
        The event's tag.
    id
        The minion id the reactor read from the tag (None for
        ``salt/presence/change``).
    data
        The event's data, as the minion sent it (validated here).

    Returns ``ignored`` and ``recovered`` (text), and ``queued`` (the
    faults) plus ``runs`` (each round's report, also fired as
    ``twin-cloud/heal/done``) or ``held_by`` when another heal holds the
    lock and will take the faults.

    CLI Example:

    .. code-block:: bash

        salt-run heal.event salt/beacon/ctl2/service/memcached id=ctl2 \\
            data='{"memcached": {"running": false}, "service_name": "memcached"}'
    """
    settings = _settings()
    site = _site()
    if site is None:
        reason = f"{tag}: no site pillar (site:nodes) for the master: event ignored"
        log.warning("heal: %s", reason)
        _fire(f"{EVENT_PREFIX}/ignored", {"tag": tag, "id": id, "reason": reason})
        return {"ignored": [reason], "recovered": [], "queued": []}
    faults, recovered, ignored = faults_from_event(tag, id, data, site)
    for reason in ignored:
        log.warning("heal: ignored: %s", reason)
        _fire(f"{EVENT_PREFIX}/ignored", {"tag": tag, "id": id, "reason": reason})
    for text in recovered:
        log.info("heal: %s: nothing to do", text)
    result = {
        "ignored": ignored,
        "recovered": recovered,
        "queued": [fault.as_dict() for fault in faults],
    }
    if not faults:
        return result
    _enqueue(settings, faults)
    reports = _run_queued(settings, owner=f"{tag} ({id})")
    if reports is None:
        held = _read_json(_paths(settings)["lock"]) or {}
        result["held_by"] = held.get("owner")
        log.info("heal: queued %s for the heal in progress", [f.kind for f in faults])
    else:
        result["runs"] = reports
    return result


def status(runs=10):
    """
    The heal runner's state: the lock (who holds it, until when), the
    faults queued, the last ``runs`` heal runs (when, which kinds of fault,
    each action with its result and verification, the notes), per kind of
    fault its recent attempts, faults and current suppression
    (``cooldown``, ``budget`` or ``flapping``, with its detail and until
    when), and the suppressed faults ``heal.retry`` takes up again (kind ->
    not before). ``site.status`` shows the suppressions.

    CLI Example:

    .. code-block:: bash

        salt-run heal.status
        salt-run heal.status runs=50
    """
    settings = _settings()
    now = _clock()
    paths = _paths(settings)
    lock = _read_json(paths["lock"])
    state = _load_state(settings)
    kinds = {}
    for kind, entry in sorted(state["kinds"].items()):
        attempts = [t for t in entry.get("attempts", []) if now - t < settings.window]
        suppressed = entry.get("suppressed")
        if not (isinstance(suppressed, dict) and suppressed.get("until", 0) > now):
            suppressed = None
        kinds[kind] = {
            "attempts": len(attempts),
            "last_attempt": entry.get("last_attempt"),
            "faults": len([t for t in entry.get("faults", []) if now - t < settings.flap_window]),
            "suppressed": suppressed,
        }
    return {
        "dry_run": settings.dry_run,
        "paused": _paused(settings, now),
        "lock": None if lock is None or Lock.stale(lock, now) else lock,
        "queued": len(_queued(settings)),
        "runs": state.get("runs", [])[-int(runs):] if runs else [],
        "kinds": kinds,
        "suppressed": {kind: info["suppressed"] for kind, info in kinds.items()
                       if info["suppressed"]},
        "deferred": {kind: item.get("not_before")
                     for kind, item in sorted(state.get("deferred", {}).items())},
    }


def reset(kind=None, lock=False):
    """
    Forget the attempts, faults, suppression and deferred retry of ``kind``
    (every kind when not given), e.g. once the operator fixed what exhausted
    a budget. With
    ``lock=True`` also remove the lock (only when no heal is running: a
    stale lock is taken over by itself anyway).

    CLI Example:

    .. code-block:: bash

        salt-run heal.reset
        salt-run heal.reset kind=service/ctl2/memcached
    """
    settings = _settings()
    state = _load_state(settings)
    if kind is None:
        forgotten = sorted(state["kinds"])
        state["kinds"], state["deferred"] = {}, {}
    else:
        forgotten = [kind] if state["kinds"].pop(kind, None) is not None else []
        state.setdefault("deferred", {}).pop(kind, None)
    _save_state(settings, state)
    removed = False
    if lock:
        try:
            os.unlink(_paths(settings)["lock"])
            removed = True
        except FileNotFoundError:
            pass
    return {"forgotten": forgotten, "lock_removed": removed}


def retry():
    """
    Take up again the faults left for later whose time has come: those
    suppressed (kept until their cooldown, budget window or flapping window
    is over; each kind keeps its latest fault) and those whose action failed
    or could not be verified (kept for one cooldown). They go through the
    gates and a fresh probe like a new fault (not counted as one), so one
    that cleared meanwhile gets no action, and the budget still bounds the
    attempts. The master's scheduler runs this every 30 s (``schedule:`` in
    etc/salt/master): a fault is never forgotten because no new event came.

    CLI Example:

    .. code-block:: bash

        salt-run heal.retry
    """
    settings = _settings()
    now = _clock()
    lock = Lock.acquire(_paths(settings)["lock"], settings.lock_ttl, "heal.retry")
    if lock is None:
        return {"due": [], "held_by": (_read_json(_paths(settings)["lock"]) or {}).get("owner")}
    try:  # take the due faults out of the state under the lock, then queue them
        state = _load_state(settings)
        deferred = state.setdefault("deferred", {})
        due = sorted(kind for kind, item in deferred.items() if item.get("not_before", 0) <= now)
        faults = []
        for kind in due:
            entry = deferred.pop(kind)
            try:
                faults.append(Fault(**{**entry["fault"], "retry": True}))
            except (TypeError, KeyError):
                log.warning("heal: dropped a malformed deferred fault: %r", entry)
        _save_state(settings, state)
        if faults:
            _enqueue(settings, faults)
    finally:
        lock.release()
    result = {"due": due, "waiting": sorted(deferred)}
    if faults:
        result["runs"] = _run_queued(settings, owner="heal.retry") or []
    return result


def pause(minutes=None, reason=""):
    """
    Pause healing (a maintenance window, a test injecting faults on
    purpose): events are still validated and their faults kept, but nothing
    is probed or done until ``heal.resume`` or, with ``minutes``, until that
    time is over; ``heal.retry`` then takes the kept faults up again.

    CLI Example:

    .. code-block:: bash

        salt-run heal.pause minutes=30 reason='replacing a disk in ctl2'
        salt-run heal.pause
    """
    settings = _settings()
    now = _clock()
    until = now + float(minutes) * 60 if minutes is not None else None
    pause_state = {"since": now, "until": until, "reason": str(reason or "")}
    _write_json(_paths(settings)["pause"], pause_state)
    log.warning("heal: paused until %s: %s", until or "heal.resume", reason)
    return pause_state


def resume():
    """
    End a pause (``heal.pause``); the faults kept meanwhile are taken up by
    the next ``heal.retry``.

    CLI Example:

    .. code-block:: bash

        salt-run heal.resume
    """
    settings = _settings()
    try:
        os.unlink(_paths(settings)["pause"])
    except FileNotFoundError:
        return {"resumed": False, "comment": "healing was not paused"}
    state = _load_state(settings)
    now = _clock()
    for item in state.get("deferred", {}).values():
        item["not_before"] = min(item.get("not_before") or now, now)
    _save_state(settings, state)
    return {"resumed": True, "comment": "healing resumed; kept faults go to the next heal.retry"}
