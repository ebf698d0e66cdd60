"""
Galera on one data node (MariaDB 10.11 + galera-4, Debian 12): probe and act.

- ``probe`` reports this node's side of the story: wsrep status when mysqld
  runs, its saved position (``grastate.dat``, or ``mariadbd --wsrep-recover``
  when that says -1) when it is stopped.
- ``bootstrap``, ``start`` and ``recover_primary`` each do one thing on this
  node, and only in the local state where DESIGN.md section 3 allows it.
  WHICH node does WHAT is decided from every node's probe by
  ``galera_plan.plan`` (``galera.plan`` here), which the ``galera.converged``
  state runs in an orchestration on the master. Do not call them by hand
  without that plan.
- ``clustercheck`` is the HAProxy health rule (Synced, ``wsrep_local_state``
  4).

No password is used anywhere: the ``mariadb`` client connects over the unix
socket as root, which MariaDB on Debian authenticates by ``unix_socket``.
"""

import logging
import re

import salt.utils.path
from salt.exceptions import CommandExecutionError, SaltInvocationError

log = logging.getLogger(__name__)

__virtualname__ = "galera"

SERVICE = "mariadb"
SOCKET = "/run/mysqld/mysqld.sock"
GRASTATE = "/var/lib/mysql/grastate.dat"
NULL_UUID = "00000000-0000-0000-0000-000000000000"
RUNNING, STARTING, STOPPED = "running", "starting", "stopped"
BUSY_UNIT_STATES = ("active", "activating", "deactivating", "reloading")
SYNCED, DONOR = 4, 2
RECOVER_TIMEOUT = 900
STATUS_SQL = "SHOW GLOBAL STATUS LIKE 'wsrep_%'"
PC_BOOTSTRAP_SQL = "SET GLOBAL wsrep_provider_options='pc.bootstrap=YES'"
# Debian's galera_recovery does the same: mariadbd drops to the mysql user and,
# with --disable-log-error, writes its log (and the position) to stderr.
RECOVER_CMD = ["mariadbd", "--user=mysql", "--wsrep-recover", "--disable-log-error"]
PROBE_KEYS = (
    "reachable",
    "mysqld",
    "cluster_status",
    "local_state",
    "local_state_comment",
    "cluster_size",
    "uuid",
    "seqno",
    "ready",
    "connected",
    "safe_to_bootstrap",
    "position_source",
    "prepared_transactions",
    "error",
)

_RECOVERED = re.compile(r"WSREP: Recovered position:\s*([0-9a-fA-F-]{36}):(-?\d+)")
_PREPARED = re.compile(r"Found (\d+) prepared (?:XA )?transaction")
_ERROR_LINE = re.compile(r"\[ERROR\]")


def __virtual__():
    missing = [binary for binary in ("mariadb", "mariadbd") if not salt.utils.path.which(binary)]
    if missing:
        reason = (
            f"galera: {', '.join(missing)} not found; this is not a Galera data node "
            f"(install mariadb-server and galera-4 there)"
        )
        return False, reason
    return __virtualname__


# --- pure parsers ------------------------------------------------------------


def _on(value):
    return str(value).strip().upper() in ("ON", "1", "YES", "TRUE")


def _integer(value):
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _text(value):
    value = str(value).strip()
    return value or None


_STATUS_FIELDS = {
    "wsrep_cluster_status": ("cluster_status", _text),
    "wsrep_local_state": ("local_state", _integer),
    "wsrep_local_state_comment": ("local_state_comment", _text),
    "wsrep_cluster_size": ("cluster_size", _integer),
    "wsrep_cluster_state_uuid": ("uuid", _text),
    "wsrep_last_committed": ("seqno", _integer),
    "wsrep_ready": ("ready", _on),
    "wsrep_connected": ("connected", _on),
}


def parse_status(rows):
    """
    Turn ``SHOW GLOBAL STATUS LIKE 'wsrep_%'`` into the probe's status keys.

    ``rows`` is the client's batch output (``name<TAB>value`` lines) or an
    iterable of ``(name, value)`` pairs. Returns ``cluster_status``,
    ``local_state``, ``local_state_comment``, ``cluster_size``, ``uuid``,
    ``seqno`` (``wsrep_last_committed``), ``ready`` and ``connected``; a
    variable the server did not report is None.

    CLI Example:

    .. code-block:: bash

        salt-call galera.parse_status "$(mariadb -N -B -e "SHOW GLOBAL STATUS LIKE 'wsrep_%'")"
    """
    if isinstance(rows, str):
        rows = (line.split("\t", 1) for line in rows.splitlines() if "\t" in line)
    status = {key: None for key, _ in _STATUS_FIELDS.values()}
    for name, value in rows:
        field = _STATUS_FIELDS.get(str(name).strip().lower())
        if field:
            key, convert = field
            status[key] = convert(value)
    return status


def parse_grastate(text):
    """
    Parse ``grastate.dat`` (galera-4: ``version: 2.1``).

    Returns ``version``, ``uuid``, ``seqno`` (int, -1 when unknown) and
    ``safe_to_bootstrap`` (bool). Raises ValueError when the uuid or seqno
    line is missing or malformed.

    CLI Example:

    .. code-block:: bash

        salt-call galera.parse_grastate "$(cat /var/lib/mysql/grastate.dat)"
    """
    fields = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and ":" in line:
            key, value = line.split(":", 1)
            fields[key.strip()] = value.strip()
    seqno = _integer(fields.get("seqno", ""))
    if not fields.get("uuid") or seqno is None:
        raise ValueError(f"grastate.dat has no valid uuid and seqno lines: {text!r}")
    return {
        "version": fields.get("version"),
        "uuid": fields["uuid"],
        "seqno": seqno,
        "safe_to_bootstrap": _integer(fields.get("safe_to_bootstrap", "0")) == 1,
    }


def parse_wsrep_recover(text):
    """
    Parse the log of ``mariadbd --wsrep-recover``.

    Returns ``uuid`` and ``seqno`` from "WSREP: Recovered position:
    <uuid>:<seqno>[,<gtid>]" (both None when the line is absent),
    ``prepared_transactions`` (the largest N of "Found N prepared
    transaction(s)"; committed at the next start when already certified, so
    the real position may be up to seqno + N) and ``errors`` (the ``[ERROR]``
    lines, e.g. the one asking for ``--tc-heuristic-recover``).

    CLI Example:

    .. code-block:: bash

        salt-call galera.parse_wsrep_recover "$(cat /tmp/wsrep_recovery.log)"
    """
    positions = _RECOVERED.findall(text)
    uuid, seqno = positions[-1] if positions else (None, None)
    prepared = [int(count) for count in _PREPARED.findall(text)]
    return {
        "uuid": uuid.lower() if uuid else None,
        "seqno": int(seqno) if seqno is not None else None,
        "prepared_transactions": max(prepared, default=0),
        "errors": [line.strip() for line in text.splitlines() if _ERROR_LINE.search(line)],
    }


def health(status, donor_ok=False):
    """
    The HAProxy rule: healthy when Primary, ready and Synced (local state 4).

    ``status`` is what ``parse_status`` returns. With ``donor_ok``, a donor
    (local state 2) still counts as healthy. Returns ``(healthy, message)``.

    CLI Example:

    .. code-block:: bash

        salt-call galera.health '{"cluster_status": "Primary", "ready": true, "local_state": 4}'
    """
    wanted = (SYNCED, DONOR) if donor_ok else (SYNCED,)
    state = f"{status.get('local_state_comment') or 'unknown'} ({status.get('local_state')})"
    if status.get("cluster_status") != "Primary":
        return False, f"not in the Primary Component: {status.get('cluster_status')}"
    if not status.get("ready"):
        return False, "wsrep_ready is OFF"
    if status.get("local_state") not in wanted:
        return False, f"not Synced: {state}"
    return True, f"Synced: {state}"


def _with_safe_to_bootstrap(text):
    """grastate.dat text with ``safe_to_bootstrap: 1`` (added when absent)."""
    line = re.compile(r"^safe_to_bootstrap:.*$", re.MULTILINE)
    if line.search(text):
        return line.sub("safe_to_bootstrap: 1", text)
    return text.rstrip("\n") + "\nsafe_to_bootstrap: 1\n"


# --- commands ------------------------------------------------------------------


def _run_all(cmd, **kwargs):
    return __salt__["cmd.run_all"](cmd, python_shell=False, **kwargs)


def _run(cmd):
    """Run ``cmd``; raise with what to look at when it fails."""
    result = _run_all(cmd)
    if result["retcode"] != 0:
        detail = (result.get("stderr") or result.get("stdout") or "").strip()
        raise CommandExecutionError(
            f"{' '.join(cmd)} failed (exit {result['retcode']}): {detail}. "
            f"See `journalctl -u {SERVICE}` on this node."
        )
    return result


def _sql(statement):
    return [
        "mariadb",
        "--protocol=socket",
        f"--socket={SOCKET}",
        "--user=root",
        "--batch",
        "--skip-column-names",
        "--connect-timeout=5",
        f"--execute={statement}",
    ]


def _query_status():
    """``(status, None)`` when mysqld answers, else ``(None, client error)``."""
    result = _run_all(_sql(STATUS_SQL), ignore_retcode=True)
    if result["retcode"] != 0:
        return None, (result.get("stderr") or "").strip() or f"exit {result['retcode']}"
    return parse_status(result["stdout"]), None


def _mysqld_busy():
    """The unit is up or on its way, or a mariadbd process exists anyway."""
    unit = _run_all(["systemctl", "is-active", SERVICE], ignore_retcode=True)
    if (unit.get("stdout") or "").strip() in BUSY_UNIT_STATES:
        return True
    return _run_all(["pidof", "mariadbd"], ignore_retcode=True)["retcode"] == 0


def _mysqld_state():
    """``(RUNNING | STARTING | STOPPED, status or None, client error or None)``."""
    status, error = _query_status()
    if status is not None:
        return RUNNING, status, None
    if _mysqld_busy():
        return STARTING, None, error
    return STOPPED, None, None


def _read_grastate():
    try:
        with open(GRASTATE, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CommandExecutionError(f"cannot read {GRASTATE}: {exc}") from exc


def _recovered_position():
    """Ask InnoDB for the last committed position (mysqld must be stopped)."""
    result = _run_all(RECOVER_CMD, ignore_retcode=True, timeout=RECOVER_TIMEOUT)
    output = f"{result.get('stdout') or ''}\n{result.get('stderr') or ''}"
    recovered = parse_wsrep_recover(output)
    position = {
        "position_source": "wsrep-recover",
        "prepared_transactions": recovered["prepared_transactions"],
        "seqno": recovered["seqno"],
    }
    if recovered["uuid"] and recovered["uuid"] != NULL_UUID:
        position["uuid"] = recovered["uuid"]
    if recovered["seqno"] is None:
        detail = "; ".join(recovered["errors"]) or output.strip()[-400:]
        position["error"] = (
            f"{' '.join(RECOVER_CMD)} (exit {result['retcode']}) reported no position: {detail}"
        )
    if recovered["prepared_transactions"]:
        log.warning(
            "galera: wsrep recovery found %s prepared transaction(s)",
            recovered["prepared_transactions"],
        )
    return position


def _stopped_position():
    position = {
        "uuid": None,
        "seqno": -1,
        "safe_to_bootstrap": False,
        "position_source": None,
        "prepared_transactions": 0,
    }
    text = _read_grastate()
    if text is not None:
        try:
            saved = parse_grastate(text)
        except ValueError:
            log.warning("galera: %s is malformed; recovering the position from InnoDB", GRASTATE)
        else:
            position.update(
                uuid=saved["uuid"],
                seqno=saved["seqno"],
                safe_to_bootstrap=saved["safe_to_bootstrap"],
                position_source="grastate",
            )
    if position["seqno"] == -1:
        position.update(_recovered_position())
    return position


def _outcome(changed, comment):
    return {"changed": changed, "comment": comment, "probe": probe()}


# --- public --------------------------------------------------------------------


def probe():
    """
    Report this data node's Galera state, for ``galera.plan``.

    Always returns every key: ``reachable`` (True), ``mysqld`` (``running``:
    answers SQL; ``starting``: the unit or a mariadbd process is up but SQL
    does not answer, e.g. a joiner during SST; ``stopped``).

    Running: ``cluster_status``, ``local_state``, ``local_state_comment``,
    ``cluster_size``, ``uuid`` (``wsrep_cluster_state_uuid``), ``seqno``
    (``wsrep_last_committed``), ``ready``, ``connected``;
    ``position_source`` is ``status``.

    Stopped: ``uuid``, ``seqno`` and ``safe_to_bootstrap`` from
    ``grastate.dat``; when its seqno is -1 (a crash) or the file is missing,
    ``mariadbd --wsrep-recover`` (as the mysql user) gives ``uuid`` and
    ``seqno`` and ``position_source`` is ``wsrep-recover``.
    ``prepared_transactions`` is what that recovery found (see
    ``galera_plan``: the plan refuses to pick by seqno when they could change
    the order). ``error`` says why a position is unknown (``seqno`` None).

    CLI Example:

    .. code-block:: bash

        salt 'ctl*' galera.probe
    """
    report = dict.fromkeys(PROBE_KEYS)
    report.update(reachable=True, prepared_transactions=0)
    state, status, error = _mysqld_state()
    report.update(mysqld=state, error=error)
    if state == RUNNING:
        report.update(status, position_source="status")
    elif state == STOPPED:
        report.update(_stopped_position())
    return report


def bootstrap():
    """
    Start a new Primary Component on this node (``galera_new_cluster``).

    Only when mysqld is stopped here; galera.converged calls it only when it
    is stopped on every data node and this node won by the bootstrap rule.
    On Debian ``galera_new_cluster`` runs ``systemctl restart mariadb``: on a
    live node that would split the cluster, hence the refusal. Sets
    ``safe_to_bootstrap: 1`` in ``grastate.dat`` first (Galera refuses
    otherwise after a crash). Returns ``changed``, ``comment`` and the new
    ``probe``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 galera.bootstrap
    """
    state, _, _ = _mysqld_state()
    if state != STOPPED:
        raise CommandExecutionError(
            f"mysqld is {state} on this node: refusing to bootstrap. On Debian "
            f"galera_new_cluster runs `systemctl restart {SERVICE}`, which on a live node "
            f"splits the cluster. Let galera.converged decide from every node's probe; "
            f"to bootstrap here by hand, stop {SERVICE} on every data node first."
        )
    _mark_safe_to_bootstrap()
    _run(["galera_new_cluster"])
    return _outcome(True, "bootstrapped a new Primary Component (galera_new_cluster)")


def _mark_safe_to_bootstrap():
    text = _read_grastate()
    if text is None:
        return  # a fresh datadir: galera_new_cluster needs no permission
    try:
        # Same inode: owner (mysql) and mode are kept.
        with open(GRASTATE, "w", encoding="utf-8") as handle:
            handle.write(_with_safe_to_bootstrap(text))
    except OSError as exc:
        raise CommandExecutionError(f"cannot write {GRASTATE}: {exc}") from exc


def start():
    """
    Start mariadb to join the running Primary Component (IST or SST).

    Does nothing when mysqld already runs or is starting. Returns
    ``changed``, ``comment`` and the new ``probe``.

    CLI Example:

    .. code-block:: bash

        salt ctl2 galera.start
    """
    state, _, _ = _mysqld_state()
    if state != STOPPED:
        return _outcome(False, f"mysqld is already {state}")
    _run(["systemctl", "start", SERVICE])
    return _outcome(True, f"started {SERVICE}: joined the Primary Component")


def recover_primary():
    """
    Re-form the Primary Component on this non-Primary node (pc.bootstrap=YES).

    Only when mysqld runs here and is non-Primary; a Primary node is left
    alone. galera.converged calls it only once every other data node is
    confirmed off or stopped (never on both sides of a partition). Returns
    ``changed``, ``comment`` and the new ``probe``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 galera.recover_primary
    """
    status, error = _query_status()
    if status is None:
        raise CommandExecutionError(
            f"mysqld does not answer on this node ({error}): pc.bootstrap=YES needs a "
            f"running non-Primary node"
        )
    if status["cluster_status"] == "Primary":
        return _outcome(False, "already Primary: nothing to do")
    if status["cluster_status"] != "non-Primary":
        raise CommandExecutionError(
            f"this node is in no Galera cluster (wsrep_cluster_status "
            f"{status['cluster_status']}): check wsrep_on and wsrep_provider"
        )
    _run(_sql(PC_BOOTSTRAP_SQL))
    return _outcome(True, "pc.bootstrap=YES: this node re-formed the Primary Component")


def clustercheck(donor_ok=False):
    """
    Health of this node for HAProxy: Synced (``wsrep_local_state`` 4).

    Returns ``healthy``, ``http_status`` (200 or 503), ``message``,
    ``cluster_status``, ``local_state`` and ``local_state_comment``.

    HAProxy does not call Salt (a salt-call per check would be far too
    slow): its ``option httpchk`` asks the tiny HTTP responder that
    ``salt/galera/clustercheck.sls`` installs on each data node, a systemd
    socket-activated unit (``Accept=yes``) running
    ``/usr/local/sbin/galera-clustercheck``, which answers 200 when
    ``wsrep_local_state`` is 4 and 503 otherwise. The second Galera backend
    is ``backup``, so writes go to one node at a time. This function is the
    same check, with the reason, for operators, beacons and tests; its extra
    conditions (Primary, ``wsrep_ready``) hold whenever the state is 4.

    CLI Example:

    .. code-block:: bash

        salt 'ctl*' galera.clustercheck
        salt 'ctl*' galera.clustercheck donor_ok=True
    """
    status, error = _query_status()
    if status is None:
        healthy, message, status = False, f"mysqld does not answer: {error}", {}
    else:
        healthy, message = health(status, donor_ok=donor_ok)
    return {
        "healthy": healthy,
        "http_status": 200 if healthy else 503,
        "message": message,
        "cluster_status": status.get("cluster_status"),
        "local_state": status.get("local_state"),
        "local_state_comment": status.get("local_state_comment"),
    }


def plan(probes, preference, force_node=None, fenced=()):
    """
    Apply the bootstrap rule to ``probes`` (node id -> ``galera.probe``).

    A thin wrapper of ``galera_plan.plan`` for operators replaying a
    situation; ``galera.converged`` gathers the probes itself. Returns
    ``action``, ``node``, ``then_start`` and ``reason``.

    CLI Example:

    .. code-block:: bash

        salt-call galera.plan '{"ctl1": {"mysqld": "stopped", "seqno": 7}, "ctl2": null}' \\
            '["ctl1", "ctl2"]' fenced='["ctl2"]'
    """
    try:
        decide = __salt__["galera_plan.plan"]
    except KeyError as exc:
        raise CommandExecutionError(
            "galera_plan is not loaded: sync the custom modules (saltutil.sync_modules)"
        ) from exc
    try:
        return decide(probes, preference, force_node=force_node, fenced=fenced)
    except ValueError as exc:
        raise SaltInvocationError(str(exc)) from exc
