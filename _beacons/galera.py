"""
Galera beacon: report this data node's wsrep state when it changes.

Every sample asks the local server one cheap question
(``SHOW GLOBAL STATUS LIKE 'wsrep_%'`` over the unix socket, parsed by
``galera.parse_status``) and, only when that fails, ``systemctl is-active
mariadb``; both with a short timeout, so the beacon never blocks the
minion's main loop. It never runs ``galera.probe`` (which may run
``mariadbd --wsrep-recover`` for minutes on a stopped node).

Each sample is classified as one state:

``synced``        Primary, local state 4;
``joining``       Primary, local state 1 or 3 (a joiner, IST/SST), or 0;
``donor``         Primary, local state 2 (Donor/Desynced);
``donor-stuck``   ``donor`` for longer than ``donor_stuck`` seconds;
``non-primary``   ``wsrep_cluster_status`` non-Primary (lost quorum);
``disconnected``  in no cluster (Disconnected, ``wsrep_connected`` OFF);
``starting``      SQL does not answer but the unit is up or on its way
                  (crash recovery, a joiner before SQL, a systemd restart);
``mysqld-down``   SQL does not answer and the unit is not running.

A state counts once it held for ``confirm`` samples in a row. The beacon
fires only on a confirmed change INTO one of ``mysqld-down``,
``non-primary``, ``disconnected``, ``donor-stuck`` (faults) or ``synced``
(recovery, after a reported fault). The transitional states (``starting``,
``joining``, ``donor``) are never reported themselves, so a mysqld that
systemd restarts or a joiner in SST produces no event unless it ends
somewhere bad. The first confirmed state after the minion starts is a
baseline and is not reported (``emit_at_start: True`` reports a faulty
baseline): the ``salt/minion/<id>/start`` event covers a node that boots.

While a state run is in progress on this minion (``state.*``, e.g. the
highstate at boot or a heal), the beacon neither samples nor counts:
states restart services on purpose.

Per-beacon memory lives in ``__context__`` (never in module globals): it
lasts as long as the minion's beacon loader.

Configuration (``salt/beacons`` writes it from pillar ``beacons:``):

.. code-block:: yaml

    beacons:
      galera:
        - interval: 5        # seconds between samples (Salt's own option)
        - confirm: 3         # samples a new state must hold
        - donor_stuck: 900   # seconds in Donor/Desynced before donor-stuck
        - timeout: 3         # seconds for each command
        - emit_at_start: False

Event: ``salt/beacon/<minion id>/galera/<state>`` with data ``state``,
``previous`` (the last reported state), ``since`` (epoch seconds the state
was first seen), ``samples`` (``confirm``), and from the server (None when
it does not answer) ``cluster_status``, ``local_state``,
``local_state_comment``, ``cluster_size``, ``seqno``.
"""

import logging
import time

import salt.utils.beacons
import salt.utils.path

log = logging.getLogger(__name__)

__virtualname__ = "galera"

SERVICE = "mariadb"
SOCKET = "/run/mysqld/mysqld.sock"
STATUS_SQL = "SHOW GLOBAL STATUS LIKE 'wsrep_%'"
BUSY_UNIT_STATES = ("active", "activating", "deactivating", "reloading")
CONTEXT_KEY = "twin_cloud.beacon.galera"

SYNCED, JOINING, DONOR, DONOR_STUCK = "synced", "joining", "donor", "donor-stuck"
NON_PRIMARY, DISCONNECTED, STARTING, DOWN = "non-primary", "disconnected", "starting", "mysqld-down"
FAULTS = (DOWN, NON_PRIMARY, DISCONNECTED, DONOR_STUCK)
REPORTED = (*FAULTS, SYNCED)

DEFAULTS = {"confirm": 3, "donor_stuck": 900, "timeout": 3, "emit_at_start": False}
# Options Salt's beacon framework reads itself (validate sees them too).
FRAMEWORK_KEYS = (
    "interval",
    "disable_during_state_run",
    "beacon_module",
    "enabled",
    "run_once",
    "_beacon_name",
)

# A seam for the tests.
_clock = time.time


def __virtual__():
    # Always loads, so that `beacons.add` accepts the configuration before
    # MariaDB is installed; a sample is skipped while it is not.
    return __virtualname__


def _options(config):
    options = dict(DEFAULTS)
    options.update(salt.utils.beacons.list_to_dict(config))
    return options


def validate(config):
    """Validate the beacon configuration: a list of single-key mappings."""
    if not isinstance(config, list):
        return False, "galera beacon: the configuration must be a list of mappings"
    try:
        options = _options(config)
    except (TypeError, ValueError, AttributeError):
        return False, "galera beacon: the configuration must be a list of mappings"
    unknown = sorted(set(options) - set(DEFAULTS) - set(FRAMEWORK_KEYS))
    if unknown:
        return False, (
            f"galera beacon: unknown option(s) {', '.join(unknown)}; "
            f"known: {', '.join(DEFAULTS)}"
        )
    for key, low in (("confirm", 1), ("donor_stuck", 0)):
        value = options[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            return False, f"galera beacon: {key} must be a whole number >= {low} (got {value!r})"
    timeout = options["timeout"]
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        return False, f"galera beacon: timeout must be a positive number (got {timeout!r})"
    if not isinstance(options["emit_at_start"], bool):
        return False, "galera beacon: emit_at_start must be true or false"
    return True, "Valid beacon configuration"


# --- sampling --------------------------------------------------------------------


def _state_running():
    """A state run (highstate, state.apply, a heal) is in progress here."""
    try:
        return bool(__salt__["saltutil.is_running"]("state.*"))
    except Exception:  # pylint: disable=broad-except
        log.debug("galera beacon: cannot list the running jobs", exc_info=True)
        return False


def _run(cmd, timeout):
    return __salt__["cmd.run_all"](
        cmd,
        python_shell=False,
        ignore_retcode=True,
        timeout=timeout,
        output_loglevel="quiet",
    )


def _status_cmd(timeout):
    return [
        "mariadb",
        "--protocol=socket",
        f"--socket={SOCKET}",
        "--user=root",
        "--batch",
        "--skip-column-names",
        f"--connect-timeout={max(1, int(timeout))}",
        f"--execute={STATUS_SQL}",
    ]


def classify(status, donor_for=0.0, donor_stuck=900):
    """
    The state of a node from ``galera.parse_status`` output (pure).

    ``donor_for`` is how long the node has been a donor so far (seconds).
    """
    cluster_status = status.get("cluster_status")
    if cluster_status == "non-Primary":
        return NON_PRIMARY
    if cluster_status != "Primary" or status.get("connected") is False:
        return DISCONNECTED
    local_state = status.get("local_state")
    if local_state == 4:
        return SYNCED
    if local_state == 2:
        return DONOR_STUCK if donor_stuck and donor_for > donor_stuck else DONOR
    return JOINING


def _sample(options, track, now):
    """``(state, status)`` now, or ``(None, None)`` when this is no data node yet."""
    if "galera.parse_status" not in __salt__ or not salt.utils.path.which("mariadb"):
        return None, None
    result = _run(_status_cmd(options["timeout"]), options["timeout"])
    if result.get("retcode") == 0:
        status = __salt__["galera.parse_status"](result.get("stdout") or "")
        if status.get("local_state") == 2 and status.get("cluster_status") == "Primary":
            track["donor_since"] = track.get("donor_since") or now
        else:
            track["donor_since"] = None
        donor_for = now - track["donor_since"] if track["donor_since"] else 0.0
        return classify(status, donor_for, options["donor_stuck"]), status
    track["donor_since"] = None
    unit = _run(["systemctl", "is-active", SERVICE], options["timeout"])
    busy = (unit.get("stdout") or "").strip() in BUSY_UNIT_STATES
    return (STARTING if busy else DOWN), {}


# --- transitions ---------------------------------------------------------------------


def _new_track():
    return {
        "confirmed": None,
        "reported": None,
        "candidate": None,
        "count": 0,
        "first_seen": None,
        "donor_since": None,
    }


def confirm(track, value, needed, now):
    """
    Feed one sample to ``track``; return True when ``value`` just became the
    confirmed state (it held for ``needed`` samples in a row). Pure.
    """
    if value != track["candidate"]:
        track["candidate"], track["count"], track["first_seen"] = value, 0, now
    track["count"] += 1
    if track["count"] >= needed and value != track["confirmed"]:
        track["confirmed"] = value
        return True
    return False


def _event(state, previous, track, status, options):
    fields = ("cluster_status", "local_state", "local_state_comment", "cluster_size", "seqno")
    data = {
        "tag": state,
        "state": state,
        "previous": previous,
        "since": track["first_seen"],
        "samples": options["confirm"],
    }
    data.update({field: (status or {}).get(field) for field in fields})
    return data


def beacon(config):
    """
    Sample this node's Galera state; return the confirmed transitions.

    See the module documentation for the states, the configuration and the
    event.
    """
    options = _options(config)
    name = options.get("_beacon_name", __virtualname__)
    tracks = __context__.setdefault(CONTEXT_KEY, {})
    track = tracks.setdefault(name, _new_track())
    if _state_running():
        # states restart services on purpose: no sample, no count
        track["candidate"], track["count"] = None, 0
        return []
    now = _clock()
    state, status = _sample(options, track, now)
    if state is None:
        return []
    baseline = track["confirmed"] is None
    if not confirm(track, state, options["confirm"], now):
        return []
    if state not in REPORTED or state == track["reported"]:
        return []  # transitional (starting, joining, donor), or nothing new
    previous, track["reported"] = track["reported"], state
    if baseline and not (options["emit_at_start"] and state in FAULTS):
        return []
    if state == SYNCED and previous not in FAULTS:
        return []  # back to normal after transitional states only
    log.info("galera beacon: %s -> %s", previous, state)
    return [_event(state, previous, track, status, options)]
