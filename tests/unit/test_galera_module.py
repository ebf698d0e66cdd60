"""Unit tests of _modules/galera.py: parsers on real formats, commands mocked."""

import json
import re
from unittest.mock import patch

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.conftest import load_ext

galera = load_ext("modules", "galera")
galera_plan = load_ext("modules", "galera_plan")

UUID = "6a9d5d4b-1c8e-11ef-9b0e-7e5b1f0f2a11"

# grastate.dat as galera-4 (MariaDB 10.11, Debian 12) writes it.
GRASTATE_CRASHED = f"""# GALERA saved state
version: 2.1
uuid:    {UUID}
seqno:   -1
safe_to_bootstrap: 0
"""
GRASTATE_CLEAN_LAST = f"""# GALERA saved state
version: 2.1
uuid:    {UUID}
seqno:   1417
safe_to_bootstrap: 1
"""
GRASTATE_FRESH = """# GALERA saved state
version: 2.1
uuid:    00000000-0000-0000-0000-000000000000
seqno:   -1
safe_to_bootstrap: 0
"""

_RECOVER_HEAD = """\
2024-05-14 10:21:32 0 [Note] Starting MariaDB 10.11.6-MariaDB-0+deb12u1 source revision fecd78b83785d5ae96f2c6ff340375be803cd299 as process 2211
2024-05-14 10:21:32 0 [Note] InnoDB: Compressed tables use zlib 1.2.13
2024-05-14 10:21:32 0 [Note] InnoDB: Number of transaction pools: 1
2024-05-14 10:21:32 0 [Note] InnoDB: Using crc32 + pclmulqdq instructions
2024-05-14 10:21:32 0 [Note] InnoDB: Initializing buffer pool, total size = 128.000MiB, chunk size = 2.000MiB
2024-05-14 10:21:32 0 [Note] InnoDB: Completed initialization of buffer pool
2024-05-14 10:21:32 0 [Note] InnoDB: Starting crash recovery from checkpoint LSN=46846
2024-05-14 10:21:32 0 [Note] InnoDB: End of log at LSN=48213
2024-05-14 10:21:32 0 [Note] InnoDB: 128 rollback segments are active.
"""
RECOVER_LOG = (
    _RECOVER_HEAD
    + """\
2024-05-14 10:21:32 0 [Note] InnoDB: log sequence number 48213; transaction id 1733
2024-05-14 10:21:32 0 [Warning] InnoDB: Skipping buffer pool dump/restore during wsrep recovery.
2024-05-14 10:21:32 0 [Note] Plugin 'FEEDBACK' is disabled.
2024-05-14 10:21:32 0 [Note] WSREP: Recovered position: 6a9d5d4b-1c8e-11ef-9b0e-7e5b1f0f2a11:1417
"""
)
RECOVER_LOG_PREPARED = (
    _RECOVER_HEAD
    + """\
2024-05-14 10:21:32 0 [Note] InnoDB: 2 transaction(s) which must be rolled back or cleaned up in total 0 row operations to undo
2024-05-14 10:21:32 0 [Note] InnoDB: Transaction 1736 was in the XA prepared state.
2024-05-14 10:21:32 0 [Note] InnoDB: Transaction 1738 was in the XA prepared state.
2024-05-14 10:21:32 0 [Note] InnoDB: log sequence number 48213; transaction id 1740
2024-05-14 10:21:32 0 [Note] Found 2 prepared transaction(s) in InnoDB
2024-05-14 10:21:32 0 [Note] WSREP: Recovered position: 6A9D5D4B-1C8E-11EF-9B0E-7E5B1F0F2A11:1415,0-1-1415
"""
)
RECOVER_LOG_ABORTED = (
    _RECOVER_HEAD
    + """\
2024-05-14 10:21:32 0 [Note] Found 1 prepared transaction(s) in InnoDB
2024-05-14 10:21:32 0 [ERROR] Found 1 prepared transactions! It means that server was not shut down properly last time and critical recovery information (last binlog or tc.log file) was manually deleted after a crash. You have to start server with --tc-heuristic-recover switch to commit or rollback pending transactions.
2024-05-14 10:21:32 0 [ERROR] Aborting
"""
)
RECOVER_LOG_LOCKED = """\
2024-05-14 10:21:32 0 [ERROR] InnoDB: Unable to lock ./ibdata1 error: 11
2024-05-14 10:21:32 0 [Note] InnoDB: Check that you do not already have another mariadbd process using the same InnoDB data or log files.
"""
RECOVER_LOG_FRESH = (
    _RECOVER_HEAD + "2024-05-14 10:21:32 0 [Note] WSREP: Recovered position: "
    "00000000-0000-0000-0000-000000000000:-1\n"
)

# `mariadb --batch --skip-column-names -e "SHOW GLOBAL STATUS LIKE 'wsrep_%'"`
STATUS_SYNCED = f"""\
wsrep_local_state_uuid\t{UUID}
wsrep_protocol_version\t10
wsrep_last_committed\t1417
wsrep_replicated\t12
wsrep_received\t9
wsrep_local_commits\t12
wsrep_local_cert_failures\t0
wsrep_local_send_queue\t0
wsrep_local_recv_queue\t0
wsrep_flow_control_paused\t0
wsrep_cert_deps_distance\t1
wsrep_local_state\t4
wsrep_local_state_comment\tSynced
wsrep_cert_index_size\t3
wsrep_incoming_addresses\tAUTO,AUTO
wsrep_cluster_weight\t3
wsrep_desync_count\t0
wsrep_evs_state\tOPERATIONAL
wsrep_gmcast_segment\t0
wsrep_cluster_capabilities\t
wsrep_cluster_conf_id\t3
wsrep_cluster_size\t3
wsrep_cluster_state_uuid\t{UUID}
wsrep_cluster_status\tPrimary
wsrep_connected\tON
wsrep_local_index\t0
wsrep_provider_name\tGalera
wsrep_provider_vendor\tCodership Oy <info@codership.com>
wsrep_provider_version\t26.4.14(r06a0c285)
wsrep_ready\tON
wsrep_thread_count\t2
"""
STATUS_NON_PRIMARY = (
    STATUS_SYNCED.replace("wsrep_cluster_status\tPrimary", "wsrep_cluster_status\tnon-Primary")
    .replace("wsrep_local_state\t4", "wsrep_local_state\t0")
    .replace("comment\tSynced", "comment\tInitialized")
    .replace("wsrep_cluster_size\t3", "wsrep_cluster_size\t1")
    .replace("wsrep_ready\tON", "wsrep_ready\tOFF")
)
STATUS_DONOR = STATUS_SYNCED.replace("wsrep_local_state\t4", "wsrep_local_state\t2").replace(
    "comment\tSynced", "comment\tDonor/Desynced"
)
STATUS_STANDALONE = """\
wsrep_cluster_status\tDisconnected
wsrep_connected\tOFF
wsrep_ready\tOFF
wsrep_local_state\t0
wsrep_local_state_comment\tInitialized
wsrep_cluster_size\t0
wsrep_cluster_state_uuid\t
wsrep_last_committed\t-1
"""
SOCKET_ERROR = (
    "ERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)"
)


SST_PASSWORD = "s3cret-Sst_pw"
# PASSWORD('password') in MariaDB: a published value, to check the hash itself
PASSWORD_HASH = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
MY_PRINT_DEFAULTS = f"""\
--socket=/run/mysqld/mysqld.sock
--bind-address=127.0.0.1
--bind-address=10.77.0.11
--binlog_format=ROW
--wsrep_on=ON
--wsrep_provider=/usr/lib/galera/libgalera_smm.so
--wsrep_cluster_address=gcomm://10.77.0.11:4567,10.77.0.12:4567
--wsrep_sst_method=mariabackup
--wsrep_sst_auth=galera_sst:{SST_PASSWORD}
--wsrep_provider_options=gcache.recover=yes; gcache.size=512M; pc.recovery=TRUE
"""
# mysql.global_priv rows (batch output) as Debian 12's MariaDB 10.11 creates them
ROOT_ROW = (
    'root\tlocalhost\t{"access":18446744073709551615,"plugin":"mysql_native_password",'
    '"authentication_string":"invalid","auth_or":[{},{"plugin":"unix_socket"}]}\n'
)
ACCOUNTS_DEBIAN = ROOT_ROW


def sst_row(password=SST_PASSWORD):
    return (
        'galera_sst\tlocalhost\t{"access":274879086912,"version_id":101119,'
        '"plugin":"mysql_native_password","authentication_string":'
        f'"{galera.native_password_hash(password)}","password_last_changed":1795305529}}\n'
    )


SST_GRANTS = (
    "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR ON *.* TO "
    "`galera_sst`@`localhost` IDENTIFIED BY PASSWORD '*2236D5B7931D97A022123E3B9F0B9E8EDC8F23BA'\n"
)

# The administrator creating the services' databases through the VIP: from the
# management network (site:networks:management:cidr), as a netmask host pattern.
ADMIN_PASSWORD = "Adm1n-pw_not$hown"
MANAGEMENT_CIDR = "10.77.0.0/24"
ADMIN_HOST = "10.77.0.0/255.255.255.0"
PILLAR = {
    "site": {"networks": {"management": {"cidr": MANAGEMENT_CIDR}}},
    "secrets": {"galera_admin_password": ADMIN_PASSWORD, "galera_sst_password": SST_PASSWORD},
}


def admin_row(password=ADMIN_PASSWORD, host=ADMIN_HOST):
    return (
        f'dbadmin\t{host}\t{{"access":1073741823,"version_id":101119,'
        '"plugin":"mysql_native_password","authentication_string":'
        f'"{galera.native_password_hash(password)}","password_last_changed":1795305529}}\n'
    )


ADMIN_GRANTS = (
    f"GRANT ALL PRIVILEGES ON *.* TO `dbadmin`@`{ADMIN_HOST}` IDENTIFIED BY PASSWORD "
    "'*0000000000000000000000000000000000000000' WITH GRANT OPTION\n"
)


class FakeNode:
    """``cmd.run_all`` of one data node: mysqld, systemd and the datadir tools."""

    def __init__(self, status=None, unit="inactive", pid=False, recover="", recover_rc=0):
        self.status, self.unit, self.pid = status, unit, pid
        self.recover, self.recover_rc = recover, recover_rc
        self.fail = set()
        self.calls, self.kwargs = [], []
        # the accounts side: my_print_defaults output, mysql.global_priv rows,
        # SHOW GRANTS of the SST account, the statements run on stdin
        self.options = MY_PRINT_DEFAULTS
        self.accounts, self.grants = ACCOUNTS_DEBIAN, ""
        self.admin_grants = ""
        self.stdin_reads, self.executed = [], []
        self.journal = ""

    def __call__(self, cmd, python_shell=None, **kwargs):
        assert isinstance(cmd, list), "commands are argument lists"
        assert python_shell is False, "never through a shell"
        self.calls.append(cmd)
        self.kwargs.append(kwargs)
        handler = getattr(self, "_" + cmd[0].replace("-", "_"))
        retcode, stdout, stderr = handler(cmd, kwargs)
        return {"retcode": retcode, "stdout": stdout, "stderr": stderr, "pid": 42}

    def ran(self, program):
        return [cmd for cmd in self.calls if cmd[0] == program]

    def _mariadb(self, cmd, kwargs):
        if cmd[-1].startswith("--execute="):
            sql = cmd[-1].split("=", 1)[1]
        else:
            sql = kwargs["stdin"]
        if self.status is None:
            return 1, "", SOCKET_ERROR
        if sql.startswith("SET GLOBAL wsrep_provider_options"):
            self.status = STATUS_SYNCED
            return 0, "", ""
        if sql.startswith("SELECT User, Host, Priv"):
            self.stdin_reads.append(sql)
            return 0, self.accounts, ""
        if sql.startswith("SHOW GRANTS"):
            self.stdin_reads.append(sql)
            return 0, self.admin_grants if "'dbadmin'" in sql else self.grants, ""
        if "stdin" in kwargs:
            if "sql" in self.fail:
                return 1, "", "ERROR 1227 (42000): Access denied"
            self.executed.append(sql)
            return 0, "", ""
        return 0, self.status, ""

    def _my_print_defaults(self, cmd, kwargs):
        return 0, self.options, ""

    def _systemctl(self, cmd, kwargs):
        if cmd[1] == "is-active":
            return (0 if self.unit == "active" else 3), self.unit, ""
        if "systemctl start" in self.fail:
            return 1, "", "Job for mariadb.service failed because the control process exited"
        self.status, self.unit = STATUS_SYNCED, "active"
        return 0, "", ""

    def _pidof(self, cmd, kwargs):
        return (0 if self.pid else 1), "1234" if self.pid else "", ""

    def _mariadbd(self, cmd, kwargs):
        return self.recover_rc, "", self.recover

    def _journalctl(self, cmd, kwargs):
        return 0, self.journal, ""

    def _galera_new_cluster(self, cmd, kwargs):
        if "galera_new_cluster" in self.fail:
            return 1, "", "Job for mariadb.service failed"
        self.status, self.unit = STATUS_SYNCED, "active"
        return 0, "", ""


@pytest.fixture
def configure_loader_modules():
    return {
        galera: {"__salt__": {}, "__opts__": {"test": False}, "__context__": {}, "__pillar__": {}}
    }


@pytest.fixture(autouse=True)
def log():
    """Salt's deferred log handler would print after pytest closed stderr."""
    with patch.object(galera, "log") as fake:
        yield fake


@pytest.fixture
def grastate(tmp_path, monkeypatch):
    path = tmp_path / "grastate.dat"
    monkeypatch.setattr(galera, "GRASTATE", str(path))
    return path


@pytest.fixture
def node():
    fake = FakeNode()
    with (
        patch.dict(galera.__salt__, {"cmd.run_all": fake}),
        patch.dict(galera.__pillar__, PILLAR),
    ):
        yield fake


# --- __virtual__ ---------------------------------------------------------------------


def test_virtual_needs_the_mariadb_tools():
    with patch("salt.utils.path.which", return_value=None):
        loaded, reason = galera.__virtual__()
    assert loaded is False
    assert "mariadb, mariadbd not found" in reason and "mariadb-server" in reason
    with patch("salt.utils.path.which", side_effect=lambda name: f"/usr/bin/{name}"):
        assert galera.__virtual__() == "galera"


# --- parsers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            GRASTATE_CRASHED,
            {"version": "2.1", "uuid": UUID, "seqno": -1, "safe_to_bootstrap": False},
        ),
        (
            GRASTATE_CLEAN_LAST,
            {"version": "2.1", "uuid": UUID, "seqno": 1417, "safe_to_bootstrap": True},
        ),
        (
            GRASTATE_FRESH,
            {
                "version": "2.1",
                "uuid": "00000000-0000-0000-0000-000000000000",
                "seqno": -1,
                "safe_to_bootstrap": False,
            },
        ),
        (
            f"# GALERA saved state\nversion: 2.1\nuuid: {UUID}\nseqno: 5\n",
            {"version": "2.1", "uuid": UUID, "seqno": 5, "safe_to_bootstrap": False},
        ),
    ],
    ids=["crashed", "clean-last-to-leave", "fresh", "no-safe-line"],
)
def test_parse_grastate(text, expected):
    assert galera.parse_grastate(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "# GALERA saved state\nversion: 2.1\n", f"uuid: {UUID}\nseqno: minus one\n"],
    ids=["empty", "truncated", "bad-seqno"],
)
def test_parse_grastate_rejects_a_damaged_file(text):
    with pytest.raises(ValueError, match="no valid uuid and seqno"):
        galera.parse_grastate(text)


@pytest.mark.parametrize(
    "text, uuid, seqno, prepared",
    [
        (RECOVER_LOG, UUID, 1417, 0),
        (RECOVER_LOG_PREPARED, UUID, 1415, 2),
        (RECOVER_LOG_FRESH, "00000000-0000-0000-0000-000000000000", -1, 0),
        (RECOVER_LOG_ABORTED, None, None, 1),
        (RECOVER_LOG_LOCKED, None, None, 0),
    ],
    ids=["crash-recovered", "prepared-and-gtid-suffix", "fresh", "aborted", "datadir-locked"],
)
def test_parse_wsrep_recover(text, uuid, seqno, prepared):
    parsed = galera.parse_wsrep_recover(text)
    assert (parsed["uuid"], parsed["seqno"], parsed["prepared_transactions"]) == (
        uuid,
        seqno,
        prepared,
    )


def test_parse_wsrep_recover_keeps_the_error_lines():
    parsed = galera.parse_wsrep_recover(RECOVER_LOG_ABORTED)
    assert len(parsed["errors"]) == 2
    assert "--tc-heuristic-recover" in parsed["errors"][0]


def test_parse_status_from_batch_output():
    assert galera.parse_status(STATUS_SYNCED) == {
        "cluster_status": "Primary",
        "local_state": 4,
        "local_state_comment": "Synced",
        "cluster_size": 3,
        "uuid": UUID,
        "seqno": 1417,
        "ready": True,
        "connected": True,
    }


def test_parse_status_from_rows_and_missing_variables():
    status = galera.parse_status([("WSREP_CLUSTER_STATUS", "non-Primary"), ("wsrep_ready", "OFF")])
    assert status["cluster_status"] == "non-Primary"
    assert status["ready"] is False
    assert status["local_state"] is None and status["uuid"] is None


def test_parse_status_of_a_standalone_server():
    status = galera.parse_status(STATUS_STANDALONE)
    assert status["cluster_status"] == "Disconnected"
    assert status["connected"] is False
    assert status["uuid"] is None
    assert status["seqno"] == -1


@pytest.mark.parametrize(
    "status_text, donor_ok, healthy, says",
    [
        (STATUS_SYNCED, False, True, "Synced"),
        (STATUS_DONOR, False, False, "not Synced: Donor/Desynced (2)"),
        (STATUS_DONOR, True, True, "Donor/Desynced"),
        (STATUS_NON_PRIMARY, False, False, "not in the Primary Component: non-Primary"),
        (STATUS_STANDALONE, False, False, "Disconnected"),
    ],
    ids=["synced", "donor", "donor-allowed", "non-primary", "standalone"],
)
def test_health(status_text, donor_ok, healthy, says):
    ok, message = galera.health(galera.parse_status(status_text), donor_ok=donor_ok)
    assert ok is healthy
    assert says in message


def test_with_safe_to_bootstrap():
    assert galera._with_safe_to_bootstrap(GRASTATE_CRASHED) == GRASTATE_CRASHED.replace(
        "safe_to_bootstrap: 0", "safe_to_bootstrap: 1"
    )
    assert galera._with_safe_to_bootstrap("version: 2.1\nseqno: -1").endswith(
        "seqno: -1\nsafe_to_bootstrap: 1\n"
    )


# --- probe -------------------------------------------------------------------------------


def test_probe_keys_are_always_the_same(node, grastate):
    grastate.write_text(GRASTATE_CLEAN_LAST)
    stopped = galera.probe()
    node.status = STATUS_SYNCED
    assert set(stopped) == set(galera.PROBE_KEYS) == set(galera.probe())


def test_probe_running(node):
    node.status = STATUS_SYNCED
    report = galera.probe()
    assert report["mysqld"] == "running"
    assert report["reachable"] is True
    assert report["cluster_status"] == "Primary" and report["local_state"] == 4
    assert (report["uuid"], report["seqno"], report["position_source"]) == (UUID, 1417, "status")
    assert not node.ran("mariadbd"), "never --wsrep-recover beside a running server"
    query = node.ran("mariadb")[0]
    assert "--user=root" in query and "--protocol=socket" in query
    assert not any("password" in arg for arg in query)


@pytest.mark.parametrize("unit, pid", [("activating", False), ("active", False), ("failed", True)])
def test_probe_starting_when_sql_does_not_answer_yet(node, unit, pid):
    node.unit, node.pid = unit, pid
    report = galera.probe()
    assert report["mysqld"] == "starting"
    assert "Can't connect" in report["error"]
    assert not node.ran("mariadbd")


def test_probe_stopped_after_a_clean_shutdown(node, grastate):
    grastate.write_text(GRASTATE_CLEAN_LAST)
    report = galera.probe()
    assert report["mysqld"] == "stopped"
    assert (report["uuid"], report["seqno"], report["safe_to_bootstrap"]) == (UUID, 1417, True)
    assert report["position_source"] == "grastate"
    assert report["error"] is None
    assert not node.ran("mariadbd"), "grastate.dat has the position: no recovery"


def test_probe_stopped_after_a_crash_recovers_the_position(node, grastate):
    grastate.write_text(GRASTATE_CRASHED)
    node.recover = RECOVER_LOG
    report = galera.probe()
    assert (report["uuid"], report["seqno"], report["safe_to_bootstrap"]) == (UUID, 1417, False)
    assert report["position_source"] == "wsrep-recover"
    assert node.ran("mariadbd") == [galera.RECOVER_CMD]
    assert "--user=mysql" in galera.RECOVER_CMD


def test_probe_reports_prepared_transactions(node, grastate, log):
    grastate.write_text(GRASTATE_CRASHED)
    node.recover = RECOVER_LOG_PREPARED
    report = galera.probe()
    assert (report["seqno"], report["prepared_transactions"]) == (1415, 2)
    assert "prepared transaction" in log.warning.call_args[0][0]


def test_probe_reports_a_failed_recovery_without_losing_the_prepared_count(node, grastate):
    grastate.write_text(GRASTATE_CRASHED)
    node.recover, node.recover_rc = RECOVER_LOG_ABORTED, 1
    report = galera.probe()
    assert report["mysqld"] == "stopped"
    assert report["seqno"] is None
    assert report["uuid"] == UUID, "the history is still known from grastate.dat"
    assert report["prepared_transactions"] == 1
    assert "--tc-heuristic-recover" in report["error"] and "exit 1" in report["error"]


def test_probe_without_grastate_asks_innodb(node, grastate):
    node.recover = RECOVER_LOG_FRESH
    report = galera.probe()
    assert (report["uuid"], report["seqno"]) == (None, -1)
    assert report["position_source"] == "wsrep-recover"


def test_probe_with_a_damaged_grastate_asks_innodb(node, grastate):
    grastate.write_text("# GALERA saved state\nversion: 2.1\n")
    node.recover = RECOVER_LOG
    assert galera.probe()["seqno"] == 1417


def test_probe_answers_what_the_plan_reads(node, grastate):
    grastate.write_text(GRASTATE_CLEAN_LAST)
    probes = {"ctl1": galera.probe(), "ctl2": None}
    assert galera_plan.plan(probes, ["ctl1", "ctl2"], fenced=["ctl2"])["action"] == "bootstrap"


# --- actions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, unit", [(STATUS_SYNCED, "active"), (None, "activating")], ids=["running", "starting"]
)
def test_bootstrap_refuses_unless_mysqld_is_stopped(node, grastate, status, unit):
    grastate.write_text(GRASTATE_CRASHED)
    node.status, node.unit = status, unit
    with pytest.raises(
        CommandExecutionError, match="systemctl restart mariadb.*splits the cluster"
    ):
        galera.bootstrap()
    assert not node.ran("galera_new_cluster")
    assert grastate.read_text() == GRASTATE_CRASHED


def test_bootstrap_marks_safe_then_runs_galera_new_cluster(node, grastate):
    grastate.write_text(GRASTATE_CRASHED)
    ret = galera.bootstrap()
    assert "safe_to_bootstrap: 1" in grastate.read_text()
    assert node.ran("galera_new_cluster") == [["galera_new_cluster"]]
    assert ret["changed"] is True
    assert ret["probe"]["cluster_status"] == "Primary"


def test_bootstrap_of_a_fresh_datadir(node, grastate):
    galera.bootstrap()
    assert not grastate.exists()
    assert node.ran("galera_new_cluster")


def test_bootstrap_failure_says_where_to_look(node, grastate):
    grastate.write_text(GRASTATE_CRASHED)
    node.fail.add("galera_new_cluster")
    with pytest.raises(
        CommandExecutionError, match=r"galera_new_cluster failed \(exit 1\).*journalctl -u mariadb"
    ):
        galera.bootstrap()


def test_a_failed_start_quotes_mysqlds_errors_without_credentials(node, grastate):
    node.fail.add("galera_new_cluster")
    node.journal = (
        "2026-12-07 19:06:01 0 [Note] WSREP: Read nil XID from storage engines\n"
        "2026-12-07 19:06:01 0 [ERROR] InnoDB: Missing FILE_CHECKPOINT at 1234\n"
        "WSREP_SST: [ERROR] mariabackup --password=s3cr3t failed\n"
        "2026-12-07 19:06:02 0 [ERROR] Aborting\n"
    )
    with pytest.raises(CommandExecutionError) as raised:
        galera.bootstrap()
    text = str(raised.value)
    assert "Missing FILE_CHECKPOINT" in text and "Aborting" in text
    assert "s3cr3t" not in text and "--password=<hidden>" in text
    assert "Read nil XID" not in text
    since = node.ran("journalctl")[0]
    assert since[since.index("--since") + 1].startswith("@")


def test_start_joins(node, grastate):
    grastate.write_text(GRASTATE_CRASHED)
    ret = galera.start()
    assert node.ran("systemctl")[-1] == ["systemctl", "start", "mariadb"]
    assert ret["changed"] is True and ret["probe"]["mysqld"] == "running"


@pytest.mark.parametrize(
    "status, unit", [(STATUS_SYNCED, "active"), (None, "activating")], ids=["running", "starting"]
)
def test_start_leaves_a_live_mysqld_alone(node, status, unit):
    node.status, node.unit = status, unit
    ret = galera.start()
    assert ret["changed"] is False
    assert ["systemctl", "start", "mariadb"] not in node.calls


def test_start_failure(node, grastate):
    node.fail.add("systemctl start")
    with pytest.raises(CommandExecutionError, match="systemctl start mariadb failed"):
        galera.start()


def test_recover_primary_on_a_non_primary_node(node):
    node.status = STATUS_NON_PRIMARY
    ret = galera.recover_primary()
    sets = [cmd for cmd in node.ran("mariadb") if "SET GLOBAL" in cmd[-1]]
    assert sets == [galera._sql("SET GLOBAL wsrep_provider_options='pc.bootstrap=YES'")]
    assert ret["changed"] is True and ret["probe"]["cluster_status"] == "Primary"


def test_recover_primary_leaves_a_primary_node_alone(node):
    node.status = STATUS_SYNCED
    ret = galera.recover_primary()
    assert ret["changed"] is False
    assert not [cmd for cmd in node.ran("mariadb") if "SET GLOBAL" in cmd[-1]]


def test_recover_primary_needs_a_running_node(node):
    with pytest.raises(CommandExecutionError, match="needs a running non-Primary node"):
        galera.recover_primary()


def test_recover_primary_refuses_a_standalone_server(node):
    node.status = STATUS_STANDALONE
    with pytest.raises(CommandExecutionError, match="in no Galera cluster"):
        galera.recover_primary()


@pytest.mark.parametrize(
    "status, donor_ok, http_status",
    [
        (STATUS_SYNCED, False, 200),
        (STATUS_DONOR, False, 503),
        (STATUS_DONOR, True, 200),
        (STATUS_NON_PRIMARY, False, 503),
        (None, False, 503),
    ],
    ids=["synced", "donor", "donor-allowed", "non-primary", "down"],
)
def test_clustercheck(node, status, donor_ok, http_status):
    node.status = status
    check = galera.clustercheck(donor_ok=donor_ok)
    assert check["http_status"] == http_status
    assert check["healthy"] is (http_status == 200)
    assert check["message"]


# --- plan wrapper ------------------------------------------------------------------------


def test_plan_wrapper_uses_galera_plan():
    with patch.dict(galera.__salt__, {"galera_plan.plan": galera_plan.plan}):
        result = galera.plan({"ctl1": {"mysqld": "stopped", "seqno": 7}}, ["ctl1"])
    assert (result["action"], result["node"]) == ("bootstrap", "ctl1")


def test_plan_wrapper_turns_bad_input_into_invocation_errors():
    with (
        patch.dict(galera.__salt__, {"galera_plan.plan": galera_plan.plan}),
        pytest.raises(SaltInvocationError, match="not a data node"),
    ):
        galera.plan({}, ["ctl1", "ctl2"], force_node="nas")


def test_plan_wrapper_without_galera_plan():
    with pytest.raises(CommandExecutionError, match="saltutil.sync_modules"):
        galera.plan({}, ["ctl1"])


# --- accounts ------------------------------------------------------------------------------


def test_native_password_hash_is_mariadbs():
    assert galera.native_password_hash("password") == PASSWORD_HASH


def test_parse_server_options_keeps_the_last_value_and_reads_dashes_as_underscores():
    options = galera.parse_server_options(MY_PRINT_DEFAULTS + "--wsrep-sst-method=rsync\n")
    assert options["bind_address"] == "10.77.0.11"
    assert options["wsrep_sst_auth"] == f"galera_sst:{SST_PASSWORD}"
    assert options["wsrep_sst_method"] == "rsync"
    assert options["wsrep_provider_options"].endswith("pc.recovery=TRUE")


@pytest.mark.parametrize(
    "text, expected",
    [
        (SST_GRANTS, {"RELOAD", "PROCESS", "LOCK TABLES", "BINLOG MONITOR", "SLAVE MONITOR"}),
        (
            "GRANT RELOAD, REPLICATION CLIENT, REPLICA MONITOR ON *.* TO `u`@`localhost`",
            {"RELOAD", "BINLOG MONITOR", "SLAVE MONITOR"},
        ),
        ("GRANT USAGE ON *.* TO `u`@`localhost`\nGRANT SELECT ON `db`.* TO `u`@`localhost`", set()),
        (
            "GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED VIA "
            "mysql_native_password USING 'invalid' OR unix_socket WITH GRANT OPTION",
            {"ALL PRIVILEGES", "GRANT OPTION"},
        ),
    ],
    ids=["sst", "aliases", "usage-and-db-grants", "all"],
)
def test_parse_grants(text, expected):
    assert galera.parse_grants(text) == expected


def _rows(text):
    return [line.split("\t", 2) for line in text.splitlines()]


SST_HASH = galera.native_password_hash(SST_PASSWORD)


def test_accounts_plan_on_a_fresh_debian_server_creates_the_sst_account_only():
    todo = galera.accounts_plan(_rows(ACCOUNTS_DEBIAN), "galera_sst", SST_HASH)
    assert todo == [
        (
            "create the SST account galera_sst@localhost",
            f"CREATE USER 'galera_sst'@'localhost' IDENTIFIED BY PASSWORD '{SST_HASH}'",
        ),
        (
            "grant galera_sst@localhost RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, "
            "SLAVE MONITOR",
            "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR ON *.* TO "
            "'galera_sst'@'localhost'",
        ),
    ]


def test_accounts_plan_nothing_to_do():
    rows = _rows(ACCOUNTS_DEBIAN + sst_row())
    assert galera.accounts_plan(rows, "galera_sst", SST_HASH, SST_GRANTS) == []
    assert galera.accounts_plan(_rows(ACCOUNTS_DEBIAN)) == []


def test_accounts_plan_fixes_a_changed_password_and_missing_grants_only():
    rows = _rows(ACCOUNTS_DEBIAN + sst_row("old"))
    grants = SST_GRANTS.replace("PROCESS, ", "").replace("SLAVE MONITOR", "REPLICA MONITOR")
    todo = galera.accounts_plan(rows, "galera_sst", SST_HASH, grants)
    assert [what for what, _ in todo] == [
        "set the password of galera_sst@localhost",
        "grant galera_sst@localhost PROCESS",
    ]
    assert todo[0][1] == f"ALTER USER 'galera_sst'@'localhost' IDENTIFIED BY PASSWORD '{SST_HASH}'"
    assert todo[1][1] == "GRANT PROCESS ON *.* TO 'galera_sst'@'localhost'"


def test_accounts_plan_hardening():
    rows = _rows(
        'root\tlocalhost\t{"plugin":"mysql_native_password","authentication_string":'
        '"*AAA","auth_or":[{"plugin":"unix_socket"},{}]}\n'
        'root\t%\t{"plugin":"mysql_native_password","authentication_string":"*AAA"}\n'
        '\tlocalhost\t{"plugin":"mysql_native_password","authentication_string":""}\n'
        "\tctl1\tnot json\n"
    )
    todo = galera.accounts_plan(rows)
    assert todo == [
        ("drop the anonymous account ''@'ctl1'", "DROP USER ''@'ctl1'"),
        ("drop the anonymous account ''@'localhost'", "DROP USER ''@'localhost'"),
        ("drop root@'%' (root logs in locally only)", "DROP USER 'root'@'%'"),
        ("root@localhost: unix_socket only, no password", galera.ROOT_UNIX_SOCKET_SQL),
    ]


def test_accounts_plan_root_with_an_empty_password_is_not_unix_socket_only():
    rows = _rows('root\tlocalhost\t{"plugin":"mysql_native_password","authentication_string":""}')
    assert galera.accounts_plan(rows)[0][1] == galera.ROOT_UNIX_SOCKET_SQL


def test_accounts_plan_quotes_what_it_reads():
    rows = [["", "it's", "{}"]]
    assert galera.accounts_plan(rows)[0][1] == "DROP USER ''@'it\\'s'"


def test_ensure_accounts_creates_the_sst_account_from_the_configuration(node):
    node.status = STATUS_SYNCED
    ret = galera.ensure_accounts()
    assert ret["changed"] is True
    assert ret["changes"][0] == "create the SST account galera_sst@localhost"
    assert len(node.executed) == 1
    assert node.executed[0].startswith(
        f"CREATE USER 'galera_sst'@'localhost' IDENTIFIED BY PASSWORD '{SST_HASH}';\nGRANT "
    )
    assert "OR (User = 'galera_sst' AND Host = 'localhost')" in node.stdin_reads[0]


def test_ensure_accounts_creates_the_administrator_from_the_pillar(node):
    node.status = STATUS_SYNCED
    node.accounts, node.grants = ACCOUNTS_DEBIAN + sst_row(), SST_GRANTS
    ret = galera.ensure_accounts()
    admin_hash = galera.native_password_hash(ADMIN_PASSWORD)
    assert ret["changes"] == [
        f"create the administrator dbadmin@{ADMIN_HOST}",
        f"grant dbadmin@{ADMIN_HOST} ALL PRIVILEGES, GRANT OPTION",
    ]
    assert node.executed == [
        f"CREATE USER 'dbadmin'@'{ADMIN_HOST}' IDENTIFIED BY PASSWORD '{admin_hash}';\n"
        f"GRANT ALL PRIVILEGES ON *.* TO 'dbadmin'@'{ADMIN_HOST}' WITH GRANT OPTION;\n"
    ]
    assert f"OR (User = 'dbadmin' AND Host = '{ADMIN_HOST}')" in node.stdin_reads[0]
    assert not any(r.startswith("SHOW GRANTS FOR 'dbadmin'") for r in node.stdin_reads), (
        "no SHOW GRANTS of an account that does not exist"
    )


def test_ensure_accounts_fixes_the_administrators_password_and_grant_option(node):
    node.status = STATUS_SYNCED
    node.accounts = ACCOUNTS_DEBIAN + sst_row() + admin_row("old")
    node.grants = SST_GRANTS
    node.admin_grants = ADMIN_GRANTS.replace(" WITH GRANT OPTION", "")
    ret = galera.ensure_accounts()
    assert ret["changes"] == [
        f"set the password of dbadmin@{ADMIN_HOST}",
        f"grant dbadmin@{ADMIN_HOST} GRANT OPTION",
    ]
    assert node.executed[0].endswith(
        f"GRANT USAGE ON *.* TO 'dbadmin'@'{ADMIN_HOST}' WITH GRANT OPTION;\n"
    )
    assert f"SHOW GRANTS FOR 'dbadmin'@'{ADMIN_HOST}';\n" in node.stdin_reads


def test_ensure_accounts_never_shows_the_password(node):
    node.status = STATUS_SYNCED
    ret = galera.ensure_accounts()
    for secret in (SST_PASSWORD, ADMIN_PASSWORD):
        assert not any(secret in " ".join(cmd) for cmd in node.calls)
        assert not any(secret in (kw.get("stdin") or "") for kw in node.kwargs)
        assert secret not in repr(ret)
    quiet = [kw for cmd, kw in zip(node.calls, node.kwargs) if cmd[0] != "mariadb" or "stdin" in kw]
    assert quiet and all(kw.get("output_loglevel") == "quiet" for kw in quiet)


@pytest.mark.parametrize("test", [False, True], ids=["run", "test-mode"])
def test_ensure_accounts_with_nothing_to_do(node, test):
    node.status = STATUS_SYNCED
    node.accounts, node.grants = ACCOUNTS_DEBIAN + sst_row() + admin_row(), SST_GRANTS
    node.admin_grants = ADMIN_GRANTS
    ret = galera.ensure_accounts(test=test)
    assert ret == {"changed": False, "changes": [], "comment": "accounts are as wanted"}
    assert node.executed == []


def test_ensure_accounts_test_mode_changes_nothing(node):
    node.status = STATUS_SYNCED
    ret = galera.ensure_accounts(test=True)
    assert ret["changed"] is False
    assert ret["comment"].startswith("would create the SST account galera_sst@localhost")
    assert f"create the administrator dbadmin@{ADMIN_HOST}" in ret["changes"]
    assert node.executed == []


@pytest.mark.parametrize(
    "status, says",
    [
        (STATUS_DONOR, "not Synced"),
        (STATUS_NON_PRIMARY, "not in the Primary"),
        (None, "does not answer"),
    ],
    ids=["donor", "non-primary", "down"],
)
def test_ensure_accounts_only_on_a_synced_node(node, status, says):
    node.status = status
    with pytest.raises(CommandExecutionError, match=says):
        galera.ensure_accounts()
    assert node.executed == []


def test_ensure_accounts_needs_wsrep_sst_auth_for_mariabackup(node):
    node.status = STATUS_SYNCED
    node.options = MY_PRINT_DEFAULTS.replace(f"--wsrep_sst_auth=galera_sst:{SST_PASSWORD}\n", "")
    with pytest.raises(CommandExecutionError, match="no wsrep_sst_auth: apply the galera state"):
        galera.ensure_accounts()


def test_ensure_accounts_without_sst_auth_for_rsync_hardens_only(node):
    node.status = STATUS_SYNCED
    node.options = "--wsrep_sst_method=rsync\n"
    node.accounts = (
        ACCOUNTS_DEBIAN + admin_row() + '\tlocalhost\t{"plugin":"mysql_native_password"}\n'
    )
    node.admin_grants = ADMIN_GRANTS
    ret = galera.ensure_accounts()
    assert ret["changes"] == ["drop the anonymous account ''@'localhost'"]
    assert not any(r.startswith("SHOW GRANTS FOR 'galera_sst'") for r in node.stdin_reads)
    assert "galera_sst" not in node.stdin_reads[0]


def test_ensure_accounts_refuses_a_strange_account_name(node):
    node.status = STATUS_SYNCED
    node.options = "--wsrep_sst_auth=x'; DROP TABLE t; --:pw\n"
    with pytest.raises(CommandExecutionError, match="wsrep_sst_auth names the account"):
        galera.ensure_accounts()


def test_ensure_accounts_failure_does_not_echo_the_statements(node):
    node.status = STATUS_SYNCED
    node.fail.add("sql")
    with pytest.raises(CommandExecutionError, match="changing the accounts failed") as error:
        galera.ensure_accounts()
    assert SST_HASH not in str(error.value)
    assert galera.native_password_hash(ADMIN_PASSWORD) not in str(error.value)


def test_ensure_accounts_needs_the_administrators_password(node):
    node.status = STATUS_SYNCED
    with (
        patch.dict(galera.__pillar__, {"secrets": {"galera_sst_password": SST_PASSWORD}}),
        pytest.raises(CommandExecutionError, match="secrets:galera_admin_password: missing"),
    ):
        galera.ensure_accounts()
    assert node.executed == []


@pytest.mark.parametrize("site", [{}, {"networks": {"management": {"cidr": "not-a-net"}}}],
                         ids=["missing", "malformed"])
def test_ensure_accounts_needs_the_management_network(node, site):
    node.status = STATUS_SYNCED
    with (
        patch.dict(galera.__pillar__, {"site": site}),
        pytest.raises(CommandExecutionError, match="site:networks:management:cidr"),
    ):
        galera.ensure_accounts()
    assert node.executed == []


# --- account_plan (the SST account, the administrator, every service's user) ---------------

NOVA_HASH = galera.native_password_hash("nova-pw")


def _priv(password_hash, **more):
    return {"plugin": "mysql_native_password", "authentication_string": password_hash, **more}


def test_account_plan_creates_an_absent_account_with_its_privileges():
    todo = galera.account_plan(None, "nova", ADMIN_HOST, NOVA_HASH, None, ("ALL PRIVILEGES",),
                               on="`nova`.*", what="the service account")
    assert todo == [
        (f"create the service account nova@{ADMIN_HOST}",
         f"CREATE USER 'nova'@'{ADMIN_HOST}' IDENTIFIED BY PASSWORD '{NOVA_HASH}'"),
        (f"grant nova@{ADMIN_HOST} ALL PRIVILEGES on `nova`.*",
         f"GRANT ALL PRIVILEGES ON `nova`.* TO 'nova'@'{ADMIN_HOST}'"),
    ]


def test_account_plan_with_grant_option_grants_it_with_the_privileges():
    todo = galera.account_plan(None, "dbadmin", ADMIN_HOST, NOVA_HASH, None,
                               galera.ADMIN_PRIVILEGES)
    assert todo[1] == (
        f"grant dbadmin@{ADMIN_HOST} ALL PRIVILEGES, GRANT OPTION",
        f"GRANT ALL PRIVILEGES ON *.* TO 'dbadmin'@'{ADMIN_HOST}' WITH GRANT OPTION",
    )


def test_account_plan_nothing_to_do():
    grants = f"GRANT ALL PRIVILEGES ON `nova`.* TO `nova`@`{ADMIN_HOST}`\n"
    assert galera.account_plan(_priv(NOVA_HASH), "nova", ADMIN_HOST, NOVA_HASH, grants,
                               ("ALL PRIVILEGES",), on="`nova`.*") == []


def test_account_plan_changes_the_password_only():
    grants = f"GRANT ALL PRIVILEGES ON `nova`.* TO `nova`@`{ADMIN_HOST}`\n"
    todo = galera.account_plan(_priv("*OLD"), "nova", ADMIN_HOST, NOVA_HASH, grants,
                               ("ALL PRIVILEGES",), on="`nova`.*")
    assert todo == [(f"set the password of nova@{ADMIN_HOST}",
                     f"ALTER USER 'nova'@'{ADMIN_HOST}' IDENTIFIED BY PASSWORD '{NOVA_HASH}'")]


def test_account_plan_a_second_way_to_log_in_is_a_password_change():
    current = _priv(NOVA_HASH, auth_or=[{}, {"plugin": "unix_socket"}])
    todo = galera.account_plan(current, "u", "localhost", NOVA_HASH, "GRANT RELOAD ON *.* TO u",
                               ("RELOAD",))
    assert [what for what, _ in todo] == ["set the password of u@localhost"]


def test_account_plan_grants_on_another_database_do_not_count():
    grants = (f"GRANT USAGE ON *.* TO `nova`@`{ADMIN_HOST}`\n"
              f"GRANT ALL PRIVILEGES ON `nova_api`.* TO `nova`@`{ADMIN_HOST}`\n")
    todo = galera.account_plan(_priv(NOVA_HASH), "nova", ADMIN_HOST, NOVA_HASH, grants,
                               ("ALL PRIVILEGES",), on="`nova`.*")
    assert todo == [(f"grant nova@{ADMIN_HOST} ALL PRIVILEGES on `nova`.*",
                     f"GRANT ALL PRIVILEGES ON `nova`.* TO 'nova'@'{ADMIN_HOST}'")]


def test_account_plan_all_privileges_cover_every_privilege_but_grant_option():
    grants = "GRANT ALL PRIVILEGES ON *.* TO `u`@`localhost`\n"
    assert galera.account_plan(_priv(NOVA_HASH), "u", "localhost", NOVA_HASH, grants,
                               galera.SST_PRIVILEGES) == []
    todo = galera.account_plan(_priv(NOVA_HASH), "u", "localhost", NOVA_HASH, grants,
                               galera.ADMIN_PRIVILEGES)
    assert todo == [("grant u@localhost GRANT OPTION",
                     "GRANT USAGE ON *.* TO 'u'@'localhost' WITH GRANT OPTION")]


def test_account_plan_grants_the_missing_privileges_only():
    grants = "GRANT RELOAD, LOCK TABLES ON *.* TO `u`@`localhost`\n"
    todo = galera.account_plan(_priv(NOVA_HASH), "u", "localhost", NOVA_HASH, grants,
                               ("RELOAD", "PROCESS", "LOCK TABLES", "GRANT OPTION"))
    assert todo == [("grant u@localhost PROCESS, GRANT OPTION",
                     "GRANT PROCESS ON *.* TO 'u'@'localhost' WITH GRANT OPTION")]


def test_account_plan_quotes_user_and_host():
    todo = galera.account_plan(None, "o'x", "h", NOVA_HASH, None, ("RELOAD",))
    assert todo[0][1].startswith("CREATE USER 'o\\'x'@'h' ")


@pytest.mark.parametrize(
    "text, on, expected",
    [
        ("GRANT USAGE ON *.* TO `nova`@`%`\nGRANT ALL PRIVILEGES ON `nova`.* TO `nova`@`%`",
         "`nova`.*", {"ALL PRIVILEGES"}),
        ("GRANT USAGE ON *.* TO `nova`@`%`\nGRANT ALL PRIVILEGES ON `nova`.* TO `nova`@`%`",
         "*.*", set()),
        ("GRANT ALL PRIVILEGES ON `nova_api`.* TO `nova`@`%`", "`nova`.*", set()),
        ("GRANT SELECT, INSERT ON `nova`.* TO `nova`@`%` WITH GRANT OPTION\n"
         "GRANT ALL PRIVILEGES ON `other`.* TO `nova`@`%`",
         "nova.*", {"SELECT", "INSERT", "GRANT OPTION"}),
        ("GRANT RELOAD ON *.* TO `u`@`%`\nGRANT SELECT ON `d`.* TO `u`@`%` WITH GRANT OPTION",
         "*.*", {"RELOAD"}),
    ],
    ids=["database", "global-of-a-db-user", "other-database", "grant-option-of-that-line",
         "grant-option-of-another-line"],
)
def test_parse_grants_on(text, on, expected):
    assert galera.parse_grants(text, on) == expected


# --- accounts_plan with the administrator --------------------------------------------------


def test_accounts_plan_creates_the_administrator():
    admin_hash = galera.native_password_hash(ADMIN_PASSWORD)
    todo = galera.accounts_plan(_rows(ACCOUNTS_DEBIAN),
                                admin=("dbadmin", ADMIN_HOST, admin_hash, None))
    assert todo == [
        (f"create the administrator dbadmin@{ADMIN_HOST}",
         f"CREATE USER 'dbadmin'@'{ADMIN_HOST}' IDENTIFIED BY PASSWORD '{admin_hash}'"),
        (f"grant dbadmin@{ADMIN_HOST} ALL PRIVILEGES, GRANT OPTION",
         f"GRANT ALL PRIVILEGES ON *.* TO 'dbadmin'@'{ADMIN_HOST}' WITH GRANT OPTION"),
    ]


def test_accounts_plan_administrator_after_the_hardening_and_the_sst_account():
    admin_hash = galera.native_password_hash(ADMIN_PASSWORD)
    rows = _rows(ACCOUNTS_DEBIAN + '\tlocalhost\t{}\n' + admin_row("old"))
    todo = galera.accounts_plan(rows, "galera_sst", SST_HASH, None,
                                admin=("dbadmin", ADMIN_HOST, admin_hash, ADMIN_GRANTS))
    assert [what for what, _ in todo] == [
        "drop the anonymous account ''@'localhost'",
        "create the SST account galera_sst@localhost",
        "grant galera_sst@localhost RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR",
        f"set the password of dbadmin@{ADMIN_HOST}",
    ]


def test_accounts_plan_administrator_as_wanted():
    admin_hash = galera.native_password_hash(ADMIN_PASSWORD)
    rows = _rows(ACCOUNTS_DEBIAN + admin_row())
    assert galera.accounts_plan(rows, admin=("dbadmin", ADMIN_HOST, admin_hash,
                                             ADMIN_GRANTS)) == []


def test_accounts_plan_an_administrator_from_another_network_is_another_account():
    admin_hash = galera.native_password_hash(ADMIN_PASSWORD)
    rows = _rows(ACCOUNTS_DEBIAN + admin_row(host="192.0.2.0/255.255.255.0"))
    todo = galera.accounts_plan(rows, admin=("dbadmin", ADMIN_HOST, admin_hash, ADMIN_GRANTS))
    assert todo[0][0] == f"create the administrator dbadmin@{ADMIN_HOST}"


# --- network_host_pattern --------------------------------------------------------------------


@pytest.mark.parametrize(
    "cidr, pattern",
    [
        ("10.77.0.0/24", "10.77.0.0/255.255.255.0"),
        ("192.0.2.0/25", "192.0.2.0/255.255.255.128"),
        ("10.0.0.0/8", "10.0.0.0/255.0.0.0"),
        ("10.77.0.11/24", "10.77.0.0/255.255.255.0"),  # a host address of the network
        ("10.77.0.5", "10.77.0.5/255.255.255.255"),
    ],
)
def test_network_host_pattern(cidr, pattern):
    assert galera.network_host_pattern(cidr) == pattern


@pytest.mark.parametrize("cidr", [None, "", "10.77.0.0/33", "management"])
def test_network_host_pattern_names_the_pillar_key(cidr):
    with pytest.raises(CommandExecutionError, match=r"site:networks:management:cidr: .* is not a"):
        galera.network_host_pattern(cidr)


# --- database_plan -----------------------------------------------------------------------------


def test_database_plan_of_a_new_service():
    todo = galera.database_plan(False, None, None, "nova_api", "nova", ADMIN_HOST, NOVA_HASH)
    assert todo == [
        ("create the database nova_api",
         "CREATE DATABASE IF NOT EXISTS `nova_api` CHARACTER SET utf8mb3"),
        (f"create the service account nova@{ADMIN_HOST}",
         f"CREATE USER 'nova'@'{ADMIN_HOST}' IDENTIFIED BY PASSWORD '{NOVA_HASH}'"),
        (f"grant nova@{ADMIN_HOST} ALL PRIVILEGES on `nova_api`.*",
         f"GRANT ALL PRIVILEGES ON `nova_api`.* TO 'nova'@'{ADMIN_HOST}'"),
    ]


def test_database_plan_second_database_of_an_existing_user_grants_only():
    grants = (f"GRANT USAGE ON *.* TO `nova`@`{ADMIN_HOST}`\n"
              f"GRANT ALL PRIVILEGES ON `nova`.* TO `nova`@`{ADMIN_HOST}`\n")
    todo = galera.database_plan(False, _priv(NOVA_HASH), grants, "nova_api", "nova", ADMIN_HOST,
                                NOVA_HASH)
    assert [what for what, _ in todo] == [
        "create the database nova_api", f"grant nova@{ADMIN_HOST} ALL PRIVILEGES on `nova_api`.*"]


def test_database_plan_nothing_to_do():
    grants = f"GRANT ALL PRIVILEGES ON `nova`.* TO `nova`@`{ADMIN_HOST}`\n"
    assert galera.database_plan(True, _priv(NOVA_HASH), grants, "nova", "nova", ADMIN_HOST,
                                NOVA_HASH) == []


# --- ensure_database: through the VIP, as the administrator ------------------------------------

VIP = "10.77.0.10"
DB_PASSWORD = "nova-db-pw:@/%'\"$"
DB_HASH = galera.native_password_hash(DB_PASSWORD)


class FakeVip:
    """``cmd.run_all`` of the ``mariadb`` client reaching the Galera VIP (HAProxy)."""

    def __init__(self):
        self.databases = set()
        self.accounts = {}  # (user, host) -> Priv mapping
        self.grants = {}  # (user, host) -> SHOW GRANTS text
        self.down = False
        self.calls, self.kwargs, self.executed = [], [], []

    def __call__(self, cmd, python_shell=None, **kwargs):
        assert python_shell is False
        self.calls.append(cmd)
        self.kwargs.append(kwargs)
        if self.down:
            return {"retcode": 1, "stdout": "",
                    "stderr": f"ERROR 2002 (HY000): Can't connect to server on '{VIP}' (115)"}
        sql = kwargs["stdin"]
        if sql.startswith("SELECT COUNT(*)"):
            name = re.search(r"SCHEMA_NAME = '([^']*)'", sql).group(1)
            user, host = re.search(r"User = '([^']*)' AND Host = '([^']*)'", sql).groups()
            out = f"{1 if name in self.databases else 0}\n"
            if (user, host) in self.accounts:
                out += f"{user}\t{host}\t{json.dumps(self.accounts[user, host])}\n"
            return {"retcode": 0, "stdout": out, "stderr": ""}
        if sql.startswith("SHOW GRANTS FOR"):
            user, host = re.search(r"FOR '([^']*)'@'([^']*)'", sql).groups()
            return {"retcode": 0, "stdout": self.grants.get((user, host), ""), "stderr": ""}
        self.executed.append(sql)
        return {"retcode": 0, "stdout": "", "stderr": ""}


@pytest.fixture
def vip_client():
    fake = FakeVip()
    with (
        patch.dict(galera.__salt__, {
            "cmd.run_all": fake,
            "inventory.vip": lambda name="api": {"address": VIP, "fqdn": "cloud.test"},
        }),
        patch.dict(galera.__pillar__, PILLAR),
    ):
        yield fake


def test_ensure_database_creates_database_and_account_through_the_vip(vip_client):
    ret = galera.ensure_database("nova", password=DB_PASSWORD)
    assert ret["changed"] is True
    assert ret["changes"] == [
        "create the database nova",
        f"create the service account nova@{ADMIN_HOST}",
        f"grant nova@{ADMIN_HOST} ALL PRIVILEGES on `nova`.*",
    ]
    assert vip_client.executed == [
        "CREATE DATABASE IF NOT EXISTS `nova` CHARACTER SET utf8mb3;\n"
        f"CREATE USER 'nova'@'{ADMIN_HOST}' IDENTIFIED BY PASSWORD '{DB_HASH}';\n"
        f"GRANT ALL PRIVILEGES ON `nova`.* TO 'nova'@'{ADMIN_HOST}';\n"
    ]
    for cmd in vip_client.calls:
        assert cmd[0] == "mariadb"
        assert f"--host={VIP}" in cmd and "--port=3306" in cmd and "--user=dbadmin" in cmd
        assert not any(arg.startswith(("--password", "-p")) for arg in cmd)


def test_ensure_database_never_shows_a_password(vip_client):
    ret = galera.ensure_database("nova", user="nova", password=DB_PASSWORD)
    for kwargs in vip_client.kwargs:
        assert kwargs["env"] == {"MYSQL_PWD": ADMIN_PASSWORD}
        assert kwargs["output_loglevel"] == "quiet"
        assert DB_PASSWORD not in kwargs["stdin"] and ADMIN_PASSWORD not in kwargs["stdin"]
    for secret in (DB_PASSWORD, ADMIN_PASSWORD):
        assert not any(secret in " ".join(cmd) for cmd in vip_client.calls)
        assert secret not in repr(ret)
    assert DB_HASH not in repr(ret)


def test_ensure_database_with_another_user(vip_client):
    ret = galera.ensure_database("nova_api", user="nova", password=DB_PASSWORD)
    assert ret["changes"][1] == f"create the service account nova@{ADMIN_HOST}"
    assert "ON `nova_api`.* TO 'nova'@" in vip_client.executed[0]


def test_ensure_database_as_wanted(vip_client):
    vip_client.databases.add("nova")
    vip_client.accounts["nova", ADMIN_HOST] = _priv(DB_HASH)
    vip_client.grants["nova", ADMIN_HOST] = (
        f"GRANT USAGE ON *.* TO `nova`@`{ADMIN_HOST}` IDENTIFIED BY PASSWORD '{DB_HASH}'\n"
        f"GRANT ALL PRIVILEGES ON `nova`.* TO `nova`@`{ADMIN_HOST}`\n"
    )
    ret = galera.ensure_database("nova", password=DB_PASSWORD)
    assert ret == {"changed": False, "changes": [], "comment": "database nova is as wanted"}
    assert vip_client.executed == []


def test_ensure_database_changes_a_password(vip_client):
    vip_client.databases.add("nova")
    vip_client.accounts["nova", ADMIN_HOST] = _priv("*OLD")
    vip_client.grants["nova", ADMIN_HOST] = (
        f"GRANT ALL PRIVILEGES ON `nova`.* TO `nova`@`{ADMIN_HOST}`\n")
    ret = galera.ensure_database("nova", password=DB_PASSWORD)
    assert ret["changes"] == [f"set the password of nova@{ADMIN_HOST}"]
    assert vip_client.executed == [
        f"ALTER USER 'nova'@'{ADMIN_HOST}' IDENTIFIED BY PASSWORD '{DB_HASH}';\n"]


def test_ensure_database_test_mode_changes_nothing(vip_client):
    ret = galera.ensure_database("nova", password=DB_PASSWORD, test=True)
    assert ret["changed"] is False
    assert ret["comment"].startswith("would create the database nova; create the service account")
    assert len(ret["changes"]) == 3
    assert vip_client.executed == []


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({"name": "nova`; DROP", "password": "x"}, "use letters, digits"),
        ({"name": "nova", "user": "a b", "password": "x"}, "use letters, digits"),
        ({"name": "nova", "password": ""}, "no password given"),
    ],
    ids=["bad-name", "bad-user", "no-password"],
)
def test_ensure_database_refuses_bad_arguments(vip_client, kwargs, says):
    with pytest.raises(SaltInvocationError, match=says):
        galera.ensure_database(**kwargs)
    assert vip_client.calls == []


def test_ensure_database_needs_the_administrators_password(vip_client):
    with (
        patch.dict(galera.__pillar__, {"secrets": {}}),
        pytest.raises(CommandExecutionError, match="secrets:galera_admin_password: missing"),
    ):
        galera.ensure_database("nova", password=DB_PASSWORD)
    assert vip_client.calls == []


def test_ensure_database_vip_unreachable_says_what_to_check(vip_client):
    vip_client.down = True
    with pytest.raises(CommandExecutionError) as error:
        galera.ensure_database("nova", password=DB_PASSWORD)
    message = str(error.value)
    assert f"through the Galera VIP {VIP}:3306 failed (exit 1)" in message
    assert "Can't connect" in message and "site.status" in message
    assert ADMIN_PASSWORD not in message and DB_PASSWORD not in message
