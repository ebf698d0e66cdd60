"""
Pacemaker beacon: report, from this controller's view, a cluster node lost,
a resource failed or stopped, and quorum lost, and their recoveries.

Each sample reads ``pacemaker.status`` (``crm_mon -1 --output-as=xml``) and
``pacemaker.quorum_status`` (``corosync-quorumtool -s``), after a
``systemctl is-active pacemaker`` with a short timeout: a controller whose
own stack is down is reported by the ``service`` beacon, not here. When the
``pacemaker`` module functions accept a ``timeout`` argument the beacon
passes its own; otherwise both tools answer at once when their daemon is
not there (they connect to a local socket).

A sample is a set of facts, each with a value:

``quorum``              ``quorate`` | ``lost``
``node/<name>``         ``online`` | ``offline`` | ``unclean`` | ``standby``
                        | ``maintenance``
``resource/<id>``       ``started`` | ``failed`` | ``stopped``

A fact's new value counts once it held for ``confirm`` samples in a row
(Pacemaker restarts a failed resource within seconds: that never reaches
``confirm``), and only a confirmed change is reported. The first value of a
fact is its baseline, never reported. Reported changes (the event tag's last
part):

``quorum-lost`` / ``quorum-regained``
``node-lost`` (to offline or unclean) / ``node-back`` (to online)
``resource-failed`` / ``resource-stopped`` (from started) /
``resource-started`` (back from failed or stopped)

Standby and maintenance are operator decisions: a node going there is not
reported, and coming back from there is not a recovery.

Quiet during state runs (``state.*`` on this minion): no sample, no count.
Per-beacon memory lives in ``__context__``, never in module globals.

Configuration (``salt/beacons`` writes it from pillar ``beacons:``):

.. code-block:: yaml

    beacons:
      pacemaker:
        - interval: 10   # seconds between samples (Salt's own option)
        - confirm: 2     # samples a new value must hold
        - timeout: 5     # seconds for each command

Event: ``salt/beacon/<minion id>/pacemaker/<change>`` with data
``change``, ``kind`` (``quorum`` | ``node`` | ``resource``), ``subject``
(the node or resource id; None for quorum), ``state``, ``previous``,
``since`` (epoch seconds the value was first seen), ``quorate``, ``dc``.
"""

import inspect
import logging
import time

import salt.utils.beacons
from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "pacemaker"

CONTEXT_KEY = "twin_cloud.beacon.pacemaker"
DEFAULTS = {"confirm": 2, "timeout": 5}
FRAMEWORK_KEYS = (
    "interval",
    "disable_during_state_run",
    "beacon_module",
    "enabled",
    "run_once",
    "_beacon_name",
)
LOST = ("offline", "unclean")
OPERATOR = ("standby", "maintenance")

# A seam for the tests.
_clock = time.time


def __virtual__():
    # Always loads, so that `beacons.add` accepts the configuration before
    # Pacemaker is installed; a sample is skipped while it is not.
    return __virtualname__


def _options(config):
    options = dict(DEFAULTS)
    options.update(salt.utils.beacons.list_to_dict(config))
    return options


def validate(config):
    """Validate the beacon configuration: a list of single-key mappings."""
    if not isinstance(config, list):
        return False, "pacemaker beacon: the configuration must be a list of mappings"
    try:
        options = _options(config)
    except (TypeError, ValueError, AttributeError):
        return False, "pacemaker beacon: the configuration must be a list of mappings"
    unknown = sorted(set(options) - set(DEFAULTS) - set(FRAMEWORK_KEYS))
    if unknown:
        return False, (
            f"pacemaker beacon: unknown option(s) {', '.join(unknown)}; "
            f"known: {', '.join(DEFAULTS)}"
        )
    value = options["confirm"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return False, f"pacemaker beacon: confirm must be a whole number >= 1 (got {value!r})"
    timeout = options["timeout"]
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        return False, f"pacemaker beacon: timeout must be a positive number (got {timeout!r})"
    return True, "Valid beacon configuration"


# --- sampling --------------------------------------------------------------------


def _state_running():
    """A state run (highstate, state.apply, a heal) is in progress here."""
    try:
        return bool(__salt__["saltutil.is_running"]("state.*"))
    except Exception:  # pylint: disable=broad-except
        log.debug("pacemaker beacon: cannot list the running jobs", exc_info=True)
        return False


def _call(function, timeout):
    fun = __salt__[function]
    try:
        accepts_timeout = "timeout" in inspect.signature(fun).parameters
    except (TypeError, ValueError):
        accepts_timeout = False
    return fun(timeout=timeout) if accepts_timeout else fun()


def facts(status, quorum=None):
    """
    The facts of one sample (pure): ``{fact: value}`` from
    ``pacemaker.status`` and ``pacemaker.quorum_status`` (None: use the
    quorum crm_mon reports).
    """
    quorate = quorum["quorate"] if quorum else status.get("quorate")
    found = {"quorum": "quorate" if quorate else "lost"}
    for name, node in (status.get("nodes") or {}).items():
        if node.get("unclean"):
            value = "unclean"
        elif not node.get("online"):
            value = "offline"
        elif node.get("maintenance"):
            value = "maintenance"
        elif node.get("standby"):
            value = "standby"
        else:
            value = "online"
        found[f"node/{name}"] = value
    for rid, resource in (status.get("resources") or {}).items():
        if resource.get("failed"):
            value = "failed"
        elif resource.get("active"):
            value = "started"
        else:
            value = "stopped"
        found[f"resource/{rid}"] = value
    return found


def change_of(fact, previous, value):
    """The reported change of ``fact`` from ``previous`` to ``value``, or None (pure)."""
    kind = fact.split("/", 1)[0]
    if kind == "quorum":
        return "quorum-lost" if value == "lost" else "quorum-regained"
    if kind == "node":
        if value in LOST and previous not in LOST:
            return "node-lost"
        if value == "online" and previous in LOST:
            return "node-back"
        return None
    if value == "failed":
        return "resource-failed"
    if value == "stopped" and previous == "started":
        return "resource-stopped"
    if value == "started":
        return "resource-started"
    return None


def _sample(options):
    """The facts now, or None when this controller's Pacemaker cannot say."""
    if "pacemaker.status" not in __salt__:
        return None, None
    unit = __salt__["cmd.run_all"](
        ["systemctl", "is-active", "pacemaker"],
        python_shell=False,
        ignore_retcode=True,
        timeout=options["timeout"],
        output_loglevel="quiet",
    )
    if (unit.get("stdout") or "").strip() != "active":
        return None, None
    try:
        status = _call("pacemaker.status", options["timeout"])
    except CommandExecutionError as exc:
        log.debug("pacemaker beacon: no status: %s", exc)
        return None, None
    quorum = None
    if "pacemaker.quorum_status" in __salt__:
        try:
            quorum = _call("pacemaker.quorum_status", options["timeout"])
        except CommandExecutionError as exc:
            log.debug("pacemaker beacon: no quorum status: %s", exc)
    return facts(status, quorum), status


# --- transitions ---------------------------------------------------------------------


def confirm(track, value, needed, now):
    """
    Feed one sample of a fact to ``track``; return True when ``value`` just
    became its confirmed value (it held for ``needed`` samples in a row). Pure.
    """
    if value != track.get("candidate"):
        track["candidate"], track["count"], track["first_seen"] = value, 0, now
    track["count"] += 1
    if track["count"] >= needed and value != track.get("confirmed"):
        track["confirmed"] = value
        return True
    return False


def beacon(config):
    """
    Sample the cluster from this controller; return the confirmed changes.

    See the module documentation for the facts, the configuration and the
    event.
    """
    options = _options(config)
    name = options.get("_beacon_name", __virtualname__)
    tracks = __context__.setdefault(CONTEXT_KEY, {}).setdefault(name, {})
    if _state_running():
        for track in tracks.values():
            track["candidate"], track["count"] = None, 0
        return []
    found, status = _sample(options)
    if found is None:
        return []
    now = _clock()
    for gone in set(tracks) - set(found):
        del tracks[gone]  # a node or resource no longer in the configuration
    events = []
    for fact in sorted(found):
        track = tracks.setdefault(fact, {"confirmed": None, "candidate": None, "count": 0})
        previous = track["confirmed"]
        if not confirm(track, found[fact], options["confirm"], now) or previous is None:
            continue
        change = change_of(fact, previous, found[fact])
        if change is None:
            continue
        kind, _, subject = fact.partition("/")
        events.append(
            {
                "tag": change,
                "change": change,
                "kind": kind,
                "subject": subject or None,
                "state": found[fact],
                "previous": previous,
                "since": track["first_seen"],
                "quorate": found["quorum"] == "quorate",
                "dc": status.get("dc"),
            }
        )
        log.info("pacemaker beacon: %s %s -> %s (%s)", fact, previous, found[fact], change)
    return events
