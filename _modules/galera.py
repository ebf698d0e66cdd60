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
- ``ensure_accounts`` keeps the accounts Galera itself needs on a Synced
  node: the SST account ``wsrep_sst_auth`` names (a joiner's mariabackup SST
  fails without it on the donor), and MariaDB's hardening basics (no
  anonymous account, root only through ``unix_socket``).

No password is typed anywhere: the ``mariadb`` client connects over the unix
socket as root, which MariaDB on Debian authenticates by ``unix_socket``. The
SST password is read from the server's own configuration (written by the
``galera`` state from pillar) and only its hash is sent to the server, on the
client's stdin, never on a command line or in a log.
"""

import hashlib
import ipaddress
import json
import logging
import re
import time

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

# What mariabackup needs on the donor (MariaDB 10.11): RELOAD, PROCESS, LOCK
# TABLES, BINLOG MONITOR (was REPLICATION CLIENT) and SLAVE MONITOR (alias
# REPLICA MONITOR, for SHOW SLAVE STATUS).
SST_PRIVILEGES = ("RELOAD", "PROCESS", "LOCK TABLES", "BINLOG MONITOR", "SLAVE MONITOR")
_PRIVILEGE_ALIASES = {"REPLICATION CLIENT": "BINLOG MONITOR", "REPLICA MONITOR": "SLAVE MONITOR"}
# The password of an account nobody can log in to with a password (Debian's
# root@localhost: mysql_native_password USING 'invalid' OR unix_socket).
NO_PASSWORD = "invalid"
ROOT_UNIX_SOCKET_SQL = (
    "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password "
    "USING 'invalid' OR unix_socket"
)
ACCOUNTS_SQL = (
    "SELECT User, Host, Priv FROM mysql.global_priv WHERE User = '' OR User = 'root'"
)
# The account creating the services' databases and users through the VIP.
ADMIN_USER = "dbadmin"
ADMIN_SECRET = "galera_admin_password"
ADMIN_PRIVILEGES = ("ALL PRIVILEGES", "GRANT OPTION")
# HAProxy's Galera frontend on the VIP (salt/haproxy/defaults.yaml galera:port)
VIP_PORT = 3306
_ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
_GRANT_LINE = re.compile(r"^GRANT (.+?) ON (\S+) TO ", re.MULTILINE)

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


def native_password_hash(password):
    """
    The ``mysql_native_password`` hash of ``password``, as MariaDB stores it.

    ``*`` + upper-case hex of SHA1(SHA1(password)): what ``PASSWORD()``
    returns and what ``IDENTIFIED BY PASSWORD`` takes, so the plain password
    never has to reach the server.

    CLI Example:

    .. code-block:: bash

        salt-call galera.native_password_hash 'secret'
    """
    inner = hashlib.sha1(password.encode("utf-8")).digest()
    return "*" + hashlib.sha1(inner).hexdigest().upper()


def parse_server_options(text):
    """
    The server's options from ``my_print_defaults --mysqld`` output.

    Returns ``{option: value}`` with ``-`` in option names read as ``_`` (the
    server accepts both); an option given twice keeps its last value, as the
    server does.

    CLI Example:

    .. code-block:: bash

        salt-call galera.parse_server_options "$(my_print_defaults --mysqld)"
    """
    options = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("--"):
            continue
        name, _, value = line[2:].partition("=")
        options[name.replace("-", "_")] = value
    return options


def parse_grants(text, on="*.*"):
    """
    The privileges ``SHOW GRANTS`` output gives on ``on`` (default: global),
    as a set of names.

    Aliases are folded into MariaDB 10.11's names (REPLICATION CLIENT is
    BINLOG MONITOR, REPLICA MONITOR is SLAVE MONITOR); ``USAGE`` is none and
    ``ALL PRIVILEGES`` is ``{"ALL PRIVILEGES"}``; ``WITH GRANT OPTION`` adds
    ``GRANT OPTION``.

    CLI Example:

    .. code-block:: bash

        salt-call galera.parse_grants "GRANT RELOAD, PROCESS ON *.* TO \`sst\`@\`localhost\`"
    """
    privileges = set()
    for match in _GRANT_LINE.finditer(text):
        if match.group(2).replace("`", "") != on.replace("`", ""):
            continue
        for name in match.group(1).split(","):
            name = " ".join(name.split()).upper()
            if name and name != "USAGE":
                privileges.add(_PRIVILEGE_ALIASES.get(name, name))
        line_end = text.find("\n", match.end())
        if "WITH GRANT OPTION" in text[match.end():None if line_end < 0 else line_end]:
            privileges.add("GRANT OPTION")
    return privileges


def _quote(value):
    """A SQL string literal."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _account(user, host):
    return f"{_quote(user)}@{_quote(host)}"


def _auth_methods(priv):
    """Each way an account may authenticate: ``[(plugin, authentication_string)]``."""
    first = (priv.get("plugin") or "", priv.get("authentication_string") or "")
    methods = []
    for entry in priv.get("auth_or") or [{}]:
        if entry:
            methods.append((entry.get("plugin") or "", entry.get("authentication_string") or ""))
        else:
            methods.append(first)
    return methods


def _password_login(priv):
    """True when some method accepts a password (an empty one included)."""
    return any(
        plugin != "unix_socket" and string != NO_PASSWORD
        for plugin, string in _auth_methods(priv)
    )


def accounts_plan(rows, sst_user=None, sst_hash=None, sst_grants=None, admin=None):
    """
    The statements that bring the accounts to what Galera needs.

    Pure. ``rows`` are ``(User, Host, Priv JSON)`` of ``mysql.global_priv``
    for the anonymous, root and SST accounts; ``sst_user`` and ``sst_hash``
    the SST account (``localhost``) and its password's
    ``native_password_hash`` (None: no SST account wanted); ``sst_grants``
    its current ``SHOW GRANTS`` text; ``admin`` ``(user, host, hash, grants)``
    the administrator that creates the services' databases through the VIP
    (all privileges, with grant option, from the management network). Returns
    ``[(what, statement)]`` in
    order; empty when nothing is to change. Anonymous accounts and root
    other than ``root@localhost`` are dropped; ``root@localhost`` accepts no
    password (Debian's ``USING 'invalid' OR unix_socket``); the SST account
    exists with that password and at least ``SST_PRIVILEGES``.

    CLI Example:

    .. code-block:: bash

        salt-call galera.accounts_plan '[["", "localhost", "{}"]]'
    """
    accounts = {}
    for user, host, priv in rows:
        try:
            accounts[(user, host)] = json.loads(priv) if isinstance(priv, str) else dict(priv)
        except ValueError:
            accounts[(user, host)] = {}
    todo = []
    for user, host in sorted(accounts):
        drop = f"DROP USER {_account(user, host)}"
        if user == "":
            todo.append((f"drop the anonymous account ''@'{host}'", drop))
        elif user == "root" and host != "localhost":
            todo.append((f"drop root@'{host}' (root logs in locally only)", drop))
    root = accounts.get(("root", "localhost"))
    if root is not None and _password_login(root):
        todo.append(("root@localhost: unix_socket only, no password", ROOT_UNIX_SOCKET_SQL))
    if sst_user:
        current = accounts.get((sst_user, "localhost"))
        todo.extend(_sst_account_plan(current, sst_user, sst_hash, sst_grants))
    if admin:
        user, host, password_hash, grants = admin
        todo.extend(account_plan(accounts.get((user, host)), user, host, password_hash, grants,
                                 ADMIN_PRIVILEGES, what="the administrator"))
    return todo


def _sst_account_plan(current, user, password_hash, grants_text):
    return account_plan(current, user, "localhost", password_hash, grants_text,
                        SST_PRIVILEGES, what="the SST account")


def account_plan(current, user, host, password_hash, grants_text, privileges, on="*.*",
                 what="the account"):
    """
    The statements that make account ``user@host`` exist with the password
    whose ``native_password_hash`` is ``password_hash`` and at least
    ``privileges`` on ``on`` (``GRANT OPTION`` in them: granted WITH GRANT
    OPTION).

    Pure. ``current`` is the account's ``mysql.global_priv`` Priv (a mapping,
    None when absent); ``grants_text`` its ``SHOW GRANTS`` output. Returns
    ``[(what, statement)]``, empty when nothing is to change. Serves the SST
    account, the administrator reaching the VIP and every service's user.

    CLI Example:

    .. code-block:: bash

        salt-call galera.account_plan null nova '10.0.0.0/255.255.255.0' '*ABC' '' '[ALL PRIVILEGES]' on='`nova`.*'
    """
    account = _account(user, host)
    where = "" if on == "*.*" else f" on {on}"

    def grant(names):
        plain = [p for p in names if p != "GRANT OPTION"] or ["USAGE"]
        with_grant = " WITH GRANT OPTION" if "GRANT OPTION" in names else ""
        return (f"grant {user}@{host} {', '.join(names)}{where}",
                f"GRANT {', '.join(plain)} ON {on} TO {account}{with_grant}")

    if current is None:
        return [
            (
                f"create {what} {user}@{host}",
                f"CREATE USER {account} IDENTIFIED BY PASSWORD {_quote(password_hash)}",
            ),
            grant(list(privileges)),
        ]
    todo = []
    methods = _auth_methods(current)
    if methods != [("mysql_native_password", password_hash)]:
        todo.append(
            (
                f"set the password of {user}@{host}",
                f"ALTER USER {account} IDENTIFIED BY PASSWORD {_quote(password_hash)}",
            )
        )
    have = parse_grants(grants_text or "", on)
    missing = [p for p in privileges if p not in have
               and not ("ALL PRIVILEGES" in have and p != "GRANT OPTION")]
    if missing:
        todo.append(grant(missing))
    return todo


# --- commands ------------------------------------------------------------------


def _run_all(cmd, **kwargs):
    return __salt__["cmd.run_all"](cmd, python_shell=False, **kwargs)


# a journal line that could quote a credential (an SST script's, a config line)
_CREDENTIAL = re.compile(r"(?i)(password|wsrep[_-]sst[_-]auth)(\s*[=:]\s*)\S+")


def _run(cmd, starts_mysqld=False):
    """Run ``cmd``; raise with what to look at when it fails (for a command
    that starts mysqld: its error lines in the journal since)."""
    since = f"@{int(time.time()) - 1}"
    result = _run_all(cmd)
    if result["retcode"] != 0:
        detail = (result.get("stderr") or result.get("stdout") or "").strip()
        errors = _mysqld_errors(since) if starts_mysqld else ""
        raise CommandExecutionError(
            f"{' '.join(cmd)} failed (exit {result['retcode']}): {detail}. "
            f"{errors}See `journalctl -u {SERVICE}` on this node."
        )
    return result


def _mysqld_errors(since, lines=8):
    """The last ``[ERROR]`` lines of mysqld's journal since ``since`` (credentials hidden),
    as a sentence, or ''."""
    out = _run_all(["journalctl", "-q", "-u", SERVICE, "--since", since, "--no-pager",
                    "-o", "cat"])
    found = [line.strip() for line in (out.get("stdout") or "").splitlines()
             if "[ERROR]" in line][-lines:]
    if not found:
        return ""
    text = " | ".join(_CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}<hidden>", line)
                      for line in found)
    return f"mysqld's errors: {text}. "


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


def _sql_stdin():
    """The client reading statements from stdin (nothing on the command line)."""
    return [
        "mariadb",
        "--protocol=socket",
        f"--socket={SOCKET}",
        "--user=root",
        "--batch",
        "--skip-column-names",
        "--connect-timeout=5",
    ]


def _sql_quiet(statements, what):
    """Run ``statements`` (text) on stdin, logging neither them nor the output."""
    result = _run_all(_sql_stdin(), stdin=statements, output_loglevel="quiet")
    if result["retcode"] != 0:
        detail = (result.get("stderr") or "").strip()
        raise CommandExecutionError(f"{what} failed (exit {result['retcode']}): {detail}")
    return result.get("stdout") or ""


def _sst_auth():
    """``(method, user, password)`` from the server's configuration."""
    result = _run_all(["my_print_defaults", "--mysqld"], output_loglevel="quiet")
    if result["retcode"] != 0:
        raise CommandExecutionError(
            f"my_print_defaults --mysqld failed (exit {result['retcode']}): "
            f"{(result.get('stderr') or '').strip()}"
        )
    options = parse_server_options(result.get("stdout") or "")
    method = options.get("wsrep_sst_method") or "rsync"
    auth = options.get("wsrep_sst_auth") or ""
    user, _, password = auth.partition(":")
    if not user:
        if "mariabackup" in method:
            raise CommandExecutionError(
                f"wsrep_sst_method is {method} but the server configuration has no "
                f"wsrep_sst_auth: apply the galera state on this node first"
            )
        return method, None, None
    if not _ACCOUNT_NAME.match(user):
        raise CommandExecutionError(
            f"wsrep_sst_auth names the account {user!r}: use letters, digits, '_', '.' or '-'"
        )
    return method, user, password


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
    _run(["galera_new_cluster"], starts_mysqld=True)
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
    _run(["systemctl", "start", SERVICE], starts_mysqld=True)
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


def ensure_accounts(test=False):
    """
    Keep the accounts Galera needs, on this Synced node (they replicate).

    - The SST account named by ``wsrep_sst_auth`` in the server's
      configuration (``localhost``, mariabackup connects over the donor's unix
      socket): it exists, with that password and ``SST_PRIVILEGES``. A
      joiner's mariabackup SST fails without it on the donor, so
      ``galera.converged`` runs this on the Primary Component before it
      starts any joiner.
    - No anonymous account, no root other than ``root@localhost``, and that
      one accepts no password: ``unix_socket`` only (Debian's default).

    Refuses unless this node is Primary and Synced: a statement on a node
    that is not would fail or not replicate. With ``test=True`` nothing is
    executed. Returns ``changed``, ``changes`` (what was, or would be, done)
    and ``comment``. The password comes from the configuration file and only
    its hash reaches the server, on stdin.

    CLI Example:

    .. code-block:: bash

        salt ctl1 galera.ensure_accounts test=True
        salt ctl1 galera.ensure_accounts
    """
    status, error = _query_status()
    if status is None:
        raise CommandExecutionError(f"mysqld does not answer on this node: {error}")
    healthy, message = health(status)
    if not healthy:
        raise CommandExecutionError(
            f"accounts are changed on a Synced node of the Primary Component only; this "
            f"node is {message}"
        )
    _, user, password = _sst_auth()
    admin_host = network_host_pattern(
        ((__pillar__.get("site") or {}).get("networks") or {}).get("management", {}).get("cidr")
    )
    extra = [(user, "localhost")] if user else []
    extra.append((ADMIN_USER, admin_host))
    rows = [
        line.split("\t", 2)
        for line in _sql_quiet(_statement(ACCOUNTS_SQL, extra), "reading the accounts").splitlines()
        if line.count("\t") >= 2
    ]
    grants = {}
    for account_user, account_host in extra:
        if any(r[0] == account_user and r[1] == account_host for r in rows):
            grants[account_user] = _sql_quiet(
                f"SHOW GRANTS FOR {_account(account_user, account_host)};\n",
                f"SHOW GRANTS FOR {account_user}",
            )
    admin_password = (__pillar__.get("secrets") or {}).get(ADMIN_SECRET)
    if not admin_password:
        raise CommandExecutionError(
            f"secrets:{ADMIN_SECRET}: missing; add it to the secrets pillar (the account "
            f"{ADMIN_USER} creates the services' databases through the VIP)"
        )
    todo = accounts_plan(
        rows,
        sst_user=user,
        sst_hash=native_password_hash(password) if user else None,
        sst_grants=grants.get(user),
        admin=(ADMIN_USER, admin_host, native_password_hash(admin_password),
               grants.get(ADMIN_USER)),
    )
    changes = [what for what, _ in todo]
    if not todo:
        return {"changed": False, "changes": [], "comment": "accounts are as wanted"}
    if test:
        return {"changed": False, "changes": changes, "comment": "would " + "; ".join(changes)}
    _sql_quiet("".join(f"{statement};\n" for _, statement in todo), "changing the accounts")
    return {"changed": True, "changes": changes, "comment": "; ".join(changes)}


def _statement(sql, accounts):
    """ACCOUNTS_SQL, with the rows of ``accounts`` ``[(user, host)]`` too."""
    extra = "".join(
        f" OR (User = {_quote(user)} AND Host = {_quote(host)})" for user, host in accounts
    )
    return f"{sql}{extra};\n"


def network_host_pattern(cidr):
    """
    The MariaDB host pattern of network ``cidr`` (``10.0.0.0/255.255.255.0``).

    CLI Example:

    .. code-block:: bash

        salt-call galera.network_host_pattern 10.77.0.0/24
    """
    try:
        network = ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        raise CommandExecutionError(
            f"site:networks:management:cidr: {cidr!r} is not a network (e.g. 10.0.0.0/24)"
        ) from None
    return f"{network.network_address}/{network.netmask}"


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


# --- the services' databases, through the VIP ----------------------------------


def _vip_client(vip):
    return [
        "mariadb", f"--host={vip}", f"--port={VIP_PORT}", f"--user={ADMIN_USER}",
        "--batch", "--skip-column-names", "--connect-timeout=10",
    ]


def _vip_sql(vip, password, statements, what):
    """Run ``statements`` through the VIP as the administrator; nothing logged."""
    result = _run_all(_vip_client(vip), stdin=statements, output_loglevel="quiet",
                      env={"MYSQL_PWD": password})
    if result["retcode"] != 0:
        detail = (result.get("stderr") or "").strip()
        raise CommandExecutionError(
            f"{what} through the Galera VIP {vip}:{VIP_PORT} failed (exit {result['retcode']}): "
            f"{detail}. Check `salt-run site.status` (Galera, HAProxy) and that "
            f"galera.accounts_managed created {ADMIN_USER}."
        )
    return result.get("stdout") or ""


def database_plan(exists, current, grants_text, name, user, host, password_hash):
    """
    The statements giving service database ``name`` and its account
    ``user@host`` (all privileges on it, that password).

    Pure; ``exists``: the database exists; ``current``/``grants_text``: the
    account's Priv mapping (None: absent) and ``SHOW GRANTS`` text.

    CLI Example:

    .. code-block:: bash

        salt-call galera.database_plan false null '' nova nova '10.0.0.0/255.255.255.0' '*ABC'
    """
    todo = []
    if not exists:
        todo.append((f"create the database {name}",
                     f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb3"))
    todo.extend(account_plan(current, user, host, password_hash, grants_text,
                             ("ALL PRIVILEGES",), on=f"`{name}`.*", what="the service account"))
    return todo


def ensure_database(name, user=None, password=None, test=False):
    """
    Keep service database ``name`` and its account (``user``, default
    ``name``; from the management network, all privileges on that database),
    through the Galera VIP as the administrator (galera.accounts_managed
    creates it). Nothing of the passwords is logged or returned; only the
    hash reaches the server.

    CLI Example:

    .. code-block:: bash

        salt ctl1 galera.ensure_database nova password=... test=True
    """
    user = user or name
    if not _ACCOUNT_NAME.match(name) or not _ACCOUNT_NAME.match(user):
        raise SaltInvocationError(
            f"database {name!r} / user {user!r}: use letters, digits, '_', '.' or '-'"
        )
    if not password:
        raise SaltInvocationError(f"ensure_database {name}: no password given")
    vip = __salt__["inventory.vip"]("api")["address"]
    admin_password = (__pillar__.get("secrets") or {}).get(ADMIN_SECRET)
    if not admin_password:
        raise CommandExecutionError(f"secrets:{ADMIN_SECRET}: missing from the secrets pillar")
    host = network_host_pattern(
        ((__pillar__.get("site") or {}).get("networks") or {}).get("management", {}).get("cidr")
    )
    out = _vip_sql(vip, admin_password,
                   f"SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = "
                   f"{_quote(name)};\nSELECT User, Host, Priv FROM mysql.global_priv WHERE "
                   f"User = {_quote(user)} AND Host = {_quote(host)};\n",
                   f"reading database {name}")
    lines = out.splitlines()
    exists = bool(lines) and lines[0].strip() not in ("", "0")
    current = None
    for line in lines[1:]:
        parts = line.split("\t", 2)
        if len(parts) == 3:
            current = json.loads(parts[2]) if parts[2] else {}
    grants = None
    if current is not None:
        grants = _vip_sql(vip, admin_password, f"SHOW GRANTS FOR {_account(user, host)};\n",
                          f"SHOW GRANTS FOR {user}")
    todo = database_plan(exists, current, grants, name, user, host,
                         native_password_hash(password))
    changes = [what for what, _ in todo]
    if not todo:
        return {"changed": False, "changes": [], "comment": f"database {name} is as wanted"}
    if test:
        return {"changed": False, "changes": changes, "comment": "would " + "; ".join(changes)}
    _vip_sql(vip, admin_password, "".join(f"{statement};\n" for _, statement in todo),
             f"changing database {name}")
    return {"changed": True, "changes": changes, "comment": "; ".join(changes)}
