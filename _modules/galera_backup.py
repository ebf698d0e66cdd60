"""
Galera backups on the NAS, and the two node-side steps of a restore.

A backup is a full ``mariabackup`` copy of one data node, taken while it is
Synced, onto the NAS export ``backups`` (mounted on every controller), and
prepared (``--prepare``) right after it is taken, so that a restore is only a
copy-back. Each backup is one directory ``<root>/<directory>/<name>``, where
``name`` is ``<UTC start, YYYYmmddTHHMMSSZ>-<node id>``:

``data/``
    the prepared backup (``xtrabackup_galera_info`` in it: the Galera
    position, from ``--galera-info``);
``manifest.json``
    node, start and end times (UTC), Galera cluster uuid and seqno, size;
``COMPLETE``
    the marker, written last (with the manifest's SHA-256): a directory
    without a valid marker is a backup that failed or is still being
    written. It is never restored, never counted by the retention, and
    removed once older than ``stale_hours``.

Who takes it
------------
Every controller has the timer (``salt/galera/backup.sls``); at each run
every controller decides alone, from live evidence, whether it is the one:
the first Synced node in the backup order, which is the inventory's
controllers with the first one LAST. HAProxy's Galera frontend writes to the
first controller (the others are ``backup`` servers,
``salt/haproxy/files/haproxy.cfg.jinja``), and mariabackup's
``BACKUP STAGE BLOCK_DDL`` .. ``BLOCK_COMMIT`` desyncs and pauses the node it
runs on (MariaDB does that on a Galera node) while its copy competes for the
disk: on a node nobody writes to, no client waits for it. When that node is
down or not Synced, the next one takes it (the writer last, rather than no
backup). A node reads its own state from SQL (``galera.clustercheck``) and
each peer's from the peer's clustercheck responder, the check HAProxy uses.
A lock file on the NAS keeps two takes from ever running at once, should two
nodes disagree (a peer's check port unreachable).

The timer runs ``salt-call --local galera_backup.take``: backups keep being
taken while the salt-master is away. The settings come from a JSON file the
``galera.backup`` state writes from ``salt/galera/defaults.yaml`` (key
``backup``) and the site inventory (``CONFIG``).

Restore
-------
``salt/orch/galera_restore.sls`` (docs/runbooks/galera-restore.md) stops
mariadb everywhere, then on every controller ``set_aside`` (the datadir is
renamed, never deleted, and an empty one made), then on the first controller
``restore`` (copy-back, ``grastate.dat`` with the backup's position and
``safe_to_bootstrap: 1``), and forms the cluster with ``galera.converged``:
the bootstrap rule picks that node, the others join it by SST.

mariabackup connects as root over the local unix socket (MariaDB on Debian
authenticates root by ``unix_socket``): no password anywhere.
"""

import calendar
import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import pwd
import re
import shutil
import time
import urllib.error
import urllib.request

import salt.utils.path
from salt.exceptions import CommandExecutionError, SaltInvocationError

log = logging.getLogger(__name__)

__virtualname__ = "galera_backup"
__func_alias__ = {"list_": "list"}

CONFIG = "/etc/twin-cloud/galera-backup.json"
DATADIR = "/var/lib/mysql"
SOCKET = "/run/mysqld/mysqld.sock"
SERVICE = "mariadb"
MYSQL_USER = "mysql"
DATA, MANIFEST, MARKER, LOCK = "data", "manifest.json", "COMPLETE", ".lock"
GALERA_INFO = "xtrabackup_galera_info"
CHECKPOINTS = "xtrabackup_checkpoints"
GRASTATE, GVWSTATE = "grastate.dat", "gvwstate.dat"
ASIDE = ".before-restore-"
FORMAT = 1
STAMP = "%Y%m%dT%H%M%SZ"
ISO = "%Y-%m-%dT%H:%M:%SZ"
BUSY_UNIT_STATES = ("active", "activating", "deactivating", "reloading")
SETTINGS = ("root", "directory", "keep", "stale_hours", "require_mount", "parallel",
            "use_memory", "check_port", "check_timeout", "controllers")

_NAME = re.compile(r"^(\d{8}T\d{6}Z)-([A-Za-z0-9][A-Za-z0-9._-]{0,62})$")
_POSITION = re.compile(r"^\s*([0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}):(-?\d+)")
_SERVER_VERSION = re.compile(r"Using server version (\S+)")
_SECRET = re.compile(r"(?i)(password|wsrep[_-]sst[_-]auth)(\s*[=:]\s*)\S+")

# Seams for the tests.
_now = time.time


def __virtual__():
    if not (salt.utils.path.which("mariadb-backup") or salt.utils.path.which("mariabackup")):
        return False, (
            "galera_backup: mariadb-backup not found; this is not a Galera data node "
            "(the galera state installs mariadb-backup there)"
        )
    return __virtualname__


# --- settings ----------------------------------------------------------------------------


def _settings(config):
    """The settings the ``galera.backup`` state wrote to ``config``."""
    try:
        with open(config, encoding="utf-8") as handle:
            settings = json.load(handle)
    except FileNotFoundError:
        raise CommandExecutionError(
            f"{config} is missing: apply the galera.backup state on this node first "
            f"(salt <node> state.apply galera.backup); it writes the backup settings"
        ) from None
    except (OSError, ValueError) as exc:
        raise CommandExecutionError(
            f"{config} cannot be read ({exc}): apply the galera.backup state on this node again"
        ) from None
    missing = [key for key in SETTINGS if not isinstance(settings, dict) or key not in settings]
    if missing:
        raise CommandExecutionError(
            f"{config} lacks {', '.join(missing)}: apply the galera.backup state on this "
            f"node again (the settings come from galera:backup in pillar and "
            f"salt/galera/defaults.yaml)"
        )
    keep = settings["keep"]
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise SaltInvocationError(
            f"galera:backup:keep is {keep!r}: give a whole number of complete backups to "
            f"keep, at least 1"
        )
    return settings


def _base(settings, create=False):
    """``<root>/<directory>``, on the mounted export."""
    root = settings["root"]
    if settings["require_mount"] and not _is_mount(root):
        raise CommandExecutionError(
            f"{root} is not a mount point: the NAS export holding the backups is not "
            f"mounted on this node (check `mount`, nfs.client and the NAS); nothing is "
            f"written to this node's own disk"
        )
    base = os.path.join(root, settings["directory"])
    if create and not os.path.isdir(base):
        try:
            os.makedirs(base, mode=0o750, exist_ok=True)
        except OSError as exc:
            raise CommandExecutionError(f"cannot create {base}: {exc}") from None
    return base


def _is_mount(path):
    """``path`` is a mount point (a bind mount too), per /proc/self/mountinfo."""
    wanted = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) > 4 and _unescape(fields[4]) == wanted:
                    return True
    except OSError:
        return os.path.ismount(path)
    return False


def _unescape(text):
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), text)


# --- pure helpers ------------------------------------------------------------------------


def backup_order(controllers):
    """
    The order in which controllers take the backup: the first controller
    (the one HAProxy's Galera frontend writes to) last.

    CLI Example:

    .. code-block:: bash

        salt-call galera_backup.backup_order '[ctl1, ctl2]'
    """
    controllers = list(controllers)
    return controllers[1:] + controllers[:1]


def parse_position(text):
    """
    The Galera position of ``xtrabackup_galera_info``: ``{"uuid", "seqno"}``.

    mariabackup 10.11 writes ``<uuid>:<seqno> <gtid domain id>``; older ones
    ``<uuid>:<seqno>``. Raises ValueError when there is no position.

    CLI Example:

    .. code-block:: bash

        salt-call galera_backup.parse_position 'ea851610-e63f-11f1-9693-9e54c67186a3:6 0'
    """
    match = _POSITION.match(text or "")
    if not match:
        raise ValueError(f"no <uuid>:<seqno> in {text!r}")
    return {"uuid": match.group(1).lower(), "seqno": int(match.group(2))}


def _iso(epoch):
    return time.strftime(ISO, time.gmtime(epoch))


def _epoch(iso):
    return calendar.timegm(time.strptime(iso, ISO))


def _stamp_epoch(name):
    return calendar.timegm(time.strptime(_NAME.match(name).group(1), STAMP))


def _check_name(name):
    if not isinstance(name, str) or not _NAME.match(name):
        raise SaltInvocationError(
            f"backup name {name!r} is not one of this module's names "
            f"(<YYYYmmddTHHMMSSZ>-<node>, e.g. 20260122T023000Z-ctl2): list them with "
            f"`salt <controller> galera_backup.list`"
        )
    return name


def _redact(text):
    return _SECRET.sub(lambda match: f"{match.group(1)}{match.group(2)}<hidden>", text)


def _tail(text, lines=12):
    return _redact("\n".join((text or "").strip().splitlines()[-lines:]))


# --- reading the NAS ---------------------------------------------------------------------


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _inspect(base, name):
    """One backup as ``list`` shows it; ``complete`` False with the ``reason``."""
    path = os.path.join(base, name)
    entry = {"name": name, "node": _NAME.match(name).group(2), "complete": False,
             "reason": None, "path": path}
    if os.path.islink(path) or not os.path.isdir(path):
        entry["reason"] = "not a directory"
        return entry
    try:
        marker = _read_json(os.path.join(path, MARKER))
    except FileNotFoundError:
        entry["reason"] = f"no {MARKER} marker: it failed or is still being written"
        return entry
    except (OSError, ValueError) as exc:
        entry["reason"] = f"unreadable {MARKER} marker: {exc}"
        return entry
    try:
        manifest = _read_json(os.path.join(path, MANIFEST))
        digest = _sha256(os.path.join(path, MANIFEST))
    except (OSError, ValueError) as exc:
        entry["reason"] = f"unreadable {MANIFEST}: {exc}"
        return entry
    problems = []
    if not isinstance(marker, dict) or marker.get("manifest_sha256") != digest:
        problems.append(f"{MANIFEST} does not match the {MARKER} marker")
    if not isinstance(manifest, dict) or manifest.get("name") != name:
        problems.append(f"{MANIFEST} names another backup")
    galera = (manifest.get("galera") or {}) if isinstance(manifest, dict) else {}
    if not galera.get("uuid") or not isinstance(galera.get("seqno"), int):
        problems.append(f"{MANIFEST} has no Galera position")
    if not os.path.isdir(os.path.join(path, DATA)):
        problems.append(f"no {DATA}/ directory")
    if problems:
        entry["reason"] = "; ".join(problems)
        return entry
    entry.update(
        complete=True,
        started=manifest.get("started"),
        finished=manifest.get("finished"),
        uuid=galera["uuid"],
        seqno=galera["seqno"],
        size_bytes=manifest.get("size_bytes"),
        server_version=manifest.get("server_version"),
    )
    return entry


def _entries(base):
    """Every backup under ``base``, newest first (incomplete ones included)."""
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise CommandExecutionError(f"cannot list {base}: {exc}") from None
    return [_inspect(base, name) for name in sorted(names, reverse=True) if _NAME.match(name)]


def _before(entry, before):
    if before is None:
        return True
    try:
        limit = float(before)
    except (TypeError, ValueError):
        raise SaltInvocationError(
            f"before={before!r}: give seconds since the epoch (date +%s)"
        ) from None
    try:
        return _epoch(entry["finished"]) <= limit
    except (TypeError, ValueError):
        return False


def _find(base, name=None, before=None):
    """The complete backup ``name`` (default: the newest one finished by ``before``)."""
    entries = _entries(base)
    complete = [e for e in entries if e["complete"]]
    if name is None:
        eligible = [e for e in complete if _before(e, before)]
        if not eligible:
            detail = (f"; incomplete ones, never used: {', '.join(e['name'] for e in entries)}"
                      if entries else "")
            raise CommandExecutionError(
                f"no complete Galera backup under {base}{detail}. Take one with "
                f"`salt <controller> galera_backup.take` (see galera_backup.list)"
            )
        return eligible[0]
    _check_name(name)
    entry = next((e for e in entries if e["name"] == name), None)
    if entry is None:
        known = ", ".join(e["name"] for e in complete) or "none"
        raise CommandExecutionError(
            f"no backup named {name} under {base} (complete ones: {known}); list them "
            f"with `salt <controller> galera_backup.list`"
        )
    if not entry["complete"]:
        raise CommandExecutionError(
            f"backup {name} is incomplete ({entry['reason']}): it is never restored; "
            f"choose a complete one (galera_backup.list)"
        )
    return entry


# --- the NAS lock ------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(base, owner):
    """Hold the lock of ``base``: yields None when held here, else who holds it."""
    path = os.path.join(base, LOCK)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    except OSError as exc:
        raise CommandExecutionError(f"cannot open the lock {path}: {exc}") from None
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise CommandExecutionError(f"cannot lock {path}: {exc}") from None
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
            yield holder or "another process"
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{owner} since {_iso(_now())}\n".encode(), 0)
        yield None
    finally:
        os.close(fd)


# --- commands ----------------------------------------------------------------------------


def _run(cmd, **kwargs):
    return __salt__["cmd.run_all"](cmd, python_shell=False, ignore_retcode=True,
                                   output_loglevel="quiet", **kwargs)


def _binary():
    return (salt.utils.path.which("mariadb-backup") or salt.utils.path.which("mariabackup")
            or "mariabackup")


def _mariabackup(args, what):
    """Run mariabackup; its log (stderr) when it said ``completed OK!``."""
    result = _run([_binary(), *args])
    output = f"{result.get('stdout') or ''}\n{result.get('stderr') or ''}"
    if result["retcode"] != 0 or "completed OK!" not in output:
        raise CommandExecutionError(
            f"mariabackup {what} failed (exit {result['retcode']}): {_tail(output)}"
        )
    return output


def _mysqld_running():
    unit = _run(["systemctl", "is-active", SERVICE])
    if (unit.get("stdout") or "").strip() in BUSY_UNIT_STATES:
        return True
    return _run(["pidof", "mariadbd"])["retcode"] == 0


def _refuse_if_running(what):
    if _mysqld_running():
        raise CommandExecutionError(
            f"mysqld runs on this node: refusing to {what}. Stop it first (systemctl stop "
            f"{SERVICE}); salt/orch/galera_restore.sls does, on every data node"
        )


# --- who takes the backup ----------------------------------------------------------------


def _locally_synced():
    try:
        check = __salt__["galera.clustercheck"]
    except KeyError:
        raise CommandExecutionError(
            "the galera module is not loaded on this node: sync the custom modules "
            "(saltutil.sync_modules)"
        ) from None
    return bool(check().get("healthy"))


def _open(url, timeout):
    """GET ``url`` directly: a proxy of the environment must not answer for a peer."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return opener.open(url, timeout=timeout)


def _peer_synced(address, port, timeout):
    """The peer's clustercheck responder answers 200 (Synced)."""
    try:
        with _open(f"http://{address}:{port}/", timeout) as answer:
            return answer.status == 200
    except urllib.error.HTTPError:
        return False
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _taker(settings, me):
    """(the node that takes this backup or None, {node: Synced} as seen)."""
    controllers = settings["controllers"]
    ids = [node["id"] for node in controllers]
    if me not in ids:
        raise CommandExecutionError(
            f"{me} is not among the controllers in {CONFIG} ({', '.join(ids)}): apply the "
            f"galera.backup state on this node again"
        )
    address = {node["id"]: node.get("address") for node in controllers}
    seen = {}
    for node in backup_order(ids):
        if node == me:
            seen[node] = _locally_synced()
        else:
            seen[node] = _peer_synced(address[node], settings["check_port"],
                                      settings["check_timeout"])
        if seen[node]:
            return node, seen
    return None, seen


def _states(seen):
    return ", ".join(f"{node}: {'Synced' if ok else 'not Synced'}" for node, ok in seen.items())


# --- writing the NAS ---------------------------------------------------------------------


def _write_atomic(path, text):
    """Write ``text`` to ``path`` whole or not at all (a temporary file, renamed)."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _size(path):
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


def _prepared(data):
    try:
        with open(os.path.join(data, CHECKPOINTS), encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return False
    return re.search(r"^backup_type\s*=\s*log-applied\s*$", text, re.MULTILINE) is not None


def _position(data):
    try:
        with open(os.path.join(data, GALERA_INFO), encoding="utf-8") as handle:
            return parse_position(handle.read())
    except (OSError, ValueError) as exc:
        raise CommandExecutionError(
            f"the backup has no Galera position ({GALERA_INFO}: {exc}): without it the "
            f"cluster cannot be bootstrapped from it. Was this node Synced in a cluster?"
        ) from None


def _backup(base, me, settings):
    """Take, prepare and seal one backup; returns its manifest."""
    started = _now()
    name = f"{time.strftime(STAMP, time.gmtime(started))}-{me}"
    path = os.path.join(base, name)
    data = os.path.join(path, DATA)
    try:
        os.mkdir(path, 0o750)
    except OSError as exc:
        raise CommandExecutionError(f"cannot create {path}: {exc}") from None
    log_text = _mariabackup(
        ["--backup", "--galera-info", "--user=root", f"--socket={SOCKET}",
         f"--target-dir={data}", f"--parallel={settings['parallel']}"],
        "--backup",
    )
    prepare = ["--prepare", f"--target-dir={data}"]
    if settings.get("use_memory"):
        prepare.append(f"--use-memory={settings['use_memory']}")
    _mariabackup(prepare, "--prepare")
    if not _prepared(data):
        raise CommandExecutionError(
            f"{data}/{CHECKPOINTS} does not say backup_type = log-applied after --prepare"
        )
    position = _position(data)
    version = _SERVER_VERSION.search(log_text)
    manifest = {
        "format": FORMAT,
        "name": name,
        "node": me,
        "started": _iso(started),
        "finished": _iso(_now()),
        "galera": position,
        "size_bytes": _size(data),
        "prepared": True,
        "server_version": version.group(1) if version else None,
    }
    _write_atomic(os.path.join(path, MANIFEST), json.dumps(manifest, indent=2, sort_keys=True))
    seal = {"name": name, "manifest_sha256": _sha256(os.path.join(path, MANIFEST))}
    _write_atomic(os.path.join(path, MARKER), json.dumps(seal, sort_keys=True))
    return manifest


def _remove(path):
    if os.path.islink(path) or not os.path.isdir(path):
        raise CommandExecutionError(f"{path} is not a directory: not removed, look at it")
    try:
        shutil.rmtree(path)
    except OSError as exc:
        raise CommandExecutionError(f"cannot remove {path}: {exc}") from None


def _prune(base, keep, stale_hours, now):
    """Keep the ``keep`` newest complete backups; drop stale incomplete ones."""
    removed = []
    complete = 0
    for entry in _entries(base):
        if entry["complete"]:
            complete += 1
            if complete > keep:
                _remove(entry["path"])
                removed.append(f"{entry['name']} (complete; past the {keep} newest)")
        elif now - _stamp_epoch(entry["name"]) > stale_hours * 3600:
            _remove(entry["path"])
            removed.append(f"{entry['name']} (incomplete: {entry['reason']})")
    return removed


# --- public: backups ---------------------------------------------------------------------


def take(force=False, config=CONFIG):
    """
    Take a full backup of this data node onto the NAS, if this node is the
    one to take it (see the module's docstring: the first Synced node of the
    controllers with the first one last); ``force=True`` takes it here
    anyway, still only on a Synced node.

    The backup is prepared right after it is taken, its manifest written,
    then the ``COMPLETE`` marker; then the retention runs (the
    ``keep`` newest complete backups stay). Returns ``taken`` (False when
    another node takes it, or a take is already running), ``taker``,
    ``name``, ``manifest``, ``pruned`` and ``comment``.

    CLI Example:

    .. code-block:: bash

        salt ctl2 galera_backup.take
        salt ctl1 galera_backup.take force=True
    """
    settings = _settings(config)
    me = __opts__["id"]
    taker, seen = _taker(settings, me)
    if taker is None:
        raise CommandExecutionError(
            f"no controller is Synced ({_states(seen)}): no backup is taken. Check "
            f"`salt-run site.status` (Galera)"
        )
    if taker != me and not force:
        return {"taken": False, "taker": taker, "comment": (
            f"{taker} takes the backup ({_states(seen)}; the controller HAProxy writes to "
            f"comes last): nothing to do here. force=True takes it here anyway")}
    if taker != me and not _locally_synced():
        raise CommandExecutionError(
            f"this node is not Synced ({_states(seen)}): its data may be behind; no backup")
    base = _base(settings, create=True)
    with _locked(base, me) as holder:
        if holder is not None:
            return {"taken": False, "taker": None, "comment": (
                f"a backup is being taken already ({holder.strip()}): nothing to do")}
        manifest = _backup(base, me, settings)
        try:
            pruned = _prune(base, settings["keep"], settings["stale_hours"], _now())
        except CommandExecutionError as exc:
            raise CommandExecutionError(
                f"took {manifest['name']} (complete), but the retention failed: {exc}"
            ) from None
    comment = (f"took {manifest['name']} (Galera {manifest['galera']['uuid']}:"
               f"{manifest['galera']['seqno']}, {manifest['size_bytes']} bytes)")
    if pruned:
        comment += f"; removed {', '.join(pruned)}"
    return {"taken": True, "taker": me, "name": manifest["name"], "manifest": manifest,
            "pruned": pruned, "comment": comment}


def list_(config=CONFIG):
    """
    Every backup on the NAS, newest first: ``name``, ``node``, ``complete``
    (False: ``reason``; such a backup is never restored nor counted by the
    retention) and, when complete, ``started``, ``finished`` (UTC), ``uuid``,
    ``seqno``, ``size_bytes`` and ``server_version``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 galera_backup.list
    """
    return _entries(_base(_settings(config)))


def latest(before=None, config=CONFIG):
    """
    The newest complete backup (finished at or before ``before``, seconds
    since the epoch, when given), as ``list`` shows it; raises when there is
    none.

    CLI Example:

    .. code-block:: bash

        salt ctl1 galera_backup.latest
    """
    return _find(_base(_settings(config)), None, before)


def show(name=None, before=None, config=CONFIG):
    """
    Backup ``name`` (default: the newest complete one, finished at or before
    ``before`` when given), as ``list`` shows it. Raises, saying why, when
    it does not exist or is incomplete: the restore orchestration checks its
    backup with this before it changes anything.

    CLI Example:

    .. code-block:: bash

        salt ctl1 galera_backup.show 20260122T023000Z-ctl2
    """
    return _find(_base(_settings(config)), name, before)


def prune(config=CONFIG):
    """
    Apply the retention now (``take`` does after each backup): keep the
    ``keep`` newest complete backups, remove the older ones and incomplete
    ones older than ``stale_hours``. Refuses while a backup is being taken.

    CLI Example:

    .. code-block:: bash

        salt ctl1 galera_backup.prune
    """
    settings = _settings(config)
    base = _base(settings)
    if not os.path.isdir(base):
        return {"removed": [], "comment": f"{base} does not exist: no backups"}
    with _locked(base, f"{__opts__['id']} (prune)") as holder:
        if holder is not None:
            raise CommandExecutionError(
                f"a backup is being taken ({holder.strip()}): it prunes when it ends; "
                f"run this later if needed"
            )
        removed = _prune(base, settings["keep"], settings["stale_hours"], _now())
    return {"removed": removed,
            "comment": f"removed {', '.join(removed)}" if removed else "nothing to remove"}


# --- public: the node-side steps of a restore -------------------------------------------


def _mysql_ids():
    try:
        entry = pwd.getpwnam(MYSQL_USER)
    except KeyError:
        raise CommandExecutionError(
            f"no {MYSQL_USER} user on this node: install mariadb-server (the galera state)"
        ) from None
    return entry.pw_uid, entry.pw_gid


def _kept(datadir):
    parent, base = os.path.split(datadir)
    prefix = base + ASIDE
    with contextlib.suppress(OSError):
        return sorted(os.path.join(parent, n) for n in os.listdir(parent) if n.startswith(prefix))
    return []


def set_aside(datadir=DATADIR):
    """
    Move this node's datadir aside (renamed ``<datadir>.before-restore-<UTC
    time>``, never deleted) and leave an empty one, owned by mysql, for a
    restore (``restore`` here, or an SST). An empty or missing datadir has
    nothing to keep. Refuses while mysqld runs.

    CLI Example:

    .. code-block:: bash

        salt 'ctl*' galera_backup.set_aside
    """
    _refuse_if_running("move the datadir aside")
    uid, gid = _mysql_ids()
    moved = None
    if os.path.islink(datadir) or (os.path.lexists(datadir) and not os.path.isdir(datadir)):
        raise CommandExecutionError(f"{datadir} is not a directory: look at it and fix it")
    if os.path.isdir(datadir) and os.listdir(datadir):
        if _is_mount(datadir):
            raise CommandExecutionError(
                f"{datadir} is a mount point: it cannot be renamed. Move its content into "
                f"a directory of its own on that disk by hand (nothing is deleted), then "
                f"run the restore again"
            )
        moved = f"{datadir}{ASIDE}{time.strftime(STAMP, time.gmtime(_now()))}"
        suffix = 1
        while os.path.lexists(moved):
            suffix += 1
            moved = f"{datadir}{ASIDE}{time.strftime(STAMP, time.gmtime(_now()))}.{suffix}"
        try:
            os.rename(datadir, moved)
        except OSError as exc:
            raise CommandExecutionError(f"cannot move {datadir} to {moved}: {exc}") from None
    try:
        os.makedirs(datadir, mode=0o755, exist_ok=True)
        os.chown(datadir, uid, gid)
        os.chmod(datadir, 0o755)
    except OSError as exc:
        raise CommandExecutionError(f"cannot make an empty {datadir}: {exc}") from None
    comment = (f"moved {datadir} to {moved}" if moved
               else f"{datadir} was empty or missing: nothing to keep")
    return {"datadir": datadir, "moved_to": moved, "kept": _kept(datadir),
            "comment": f"{comment}; {datadir} is empty, owned by {MYSQL_USER}"}


def _write_grastate(datadir, position, uid, gid):
    path = os.path.join(datadir, GRASTATE)
    _write_atomic(path, (
        "# GALERA saved state\n"
        "version: 2.1\n"
        f"uuid:    {position['uuid']}\n"
        f"seqno:   {position['seqno']}\n"
        "safe_to_bootstrap: 1\n"
    ))
    os.chown(path, uid, gid)
    os.chmod(path, 0o660)


def _chown_tree(path, uid, gid):
    os.lchown(path, uid, gid)
    for directory, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(directory, name), uid, gid)


def restore(name=None, before=None, datadir=DATADIR, config=CONFIG):
    """
    Copy backup ``name`` (default: the newest complete one, finished at or
    before ``before`` when given) back into this node's empty datadir
    (``set_aside`` first), owned by mysql, with a ``grastate.dat`` holding
    the backup's Galera position and ``safe_to_bootstrap: 1``: the bootstrap
    rule (``galera.converged``) then bootstraps the cluster from this node.
    Refuses while mysqld runs, when the datadir is not empty, and when the
    backup is missing or incomplete. Nothing is started here.

    CLI Example:

    .. code-block:: bash

        salt ctl1 galera_backup.restore 20260122T023000Z-ctl2
    """
    settings = _settings(config)
    entry = _find(_base(settings), name, before)
    _refuse_if_running("restore into its datadir")
    uid, gid = _mysql_ids()
    if not os.path.isdir(datadir) or os.listdir(datadir):
        raise CommandExecutionError(
            f"{datadir} is missing or not empty: run galera_backup.set_aside on this node "
            f"first (it keeps the old one)"
        )
    data = os.path.join(entry["path"], DATA)
    _mariabackup(["--copy-back", f"--target-dir={data}", f"--datadir={datadir}",
                  f"--parallel={settings['parallel']}"], "--copy-back")
    try:
        _chown_tree(datadir, uid, gid)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(datadir, GVWSTATE))
        _write_grastate(datadir, {"uuid": entry["uuid"], "seqno": entry["seqno"]}, uid, gid)
    except OSError as exc:
        raise CommandExecutionError(f"finishing the copy-back into {datadir}: {exc}") from None
    return {
        "restored": entry["name"], "datadir": datadir, "uuid": entry["uuid"],
        "seqno": entry["seqno"],
        "comment": (f"copied {entry['name']} back into {datadir} (Galera {entry['uuid']}:"
                    f"{entry['seqno']}, safe_to_bootstrap: 1); mariadb is not started"),
    }
