"""Issue 3 on real nodes: Galera by the bootstrap rule.

On top of the deployed site: the data nodes' configuration and accounts,
the clustercheck HAProxy reads, replication, idempotence of the `galera`
states and of `orch.galera` (test mode shows the plan), a SIGKILLed mysqld
rejoining by IST, and a graceful stop of both data nodes recovered from the
node that committed last, with garbd (left alone in a component of its own)
brought back into the cluster. Every test leaves the cluster Primary and
Synced with 3 members.
"""

import pytest

from lab import secrets as lab_secrets

from .conftest import changed_states

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("healer_paused")]

DATA = ("ctl1", "ctl2")
ADDRESS = {"ctl1": "10.77.0.11", "ctl2": "10.77.0.12", "nas": "10.77.0.13"}
CONFIG = "/etc/mysql/mariadb.conf.d/60-galera.cnf"


def sql(lab, node, statement):
    """Run SQL as root over the unix socket on ``node``; return its batch output."""
    return lab.exec(node, "mariadb", "-N", "-B", "-e", statement).stdout


def wsrep(lab, node):
    out = sql(lab, node, "SHOW GLOBAL STATUS LIKE 'wsrep_%'")
    return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)


def healthy(lab):
    """Both data nodes Primary and Synced in one component of 3 (with garbd)."""
    try:
        states = [wsrep(lab, node) for node in DATA]
    except AssertionError:
        return False
    return all(
        s.get("wsrep_cluster_status") == "Primary"
        and s.get("wsrep_local_state") == "4"
        and s.get("wsrep_cluster_size") == "3"
        for s in states
    )


def summarise(ret):
    """{minion: (states changed, all succeeded)} of a state run's JSON."""
    out = {}
    for minion, states in ret.items():
        assert isinstance(states, dict), f"{minion}: {states}"
        out[minion] = (
            sum(1 for s in states.values() if s["changes"]),
            all(s["result"] for s in states.values()),
        )
    return out


def apply(lab, nodes, sls):
    return lab.salt("-L", ",".join(nodes), "state.apply", sls, "queue=True", timeout=900)


def orch_galera(lab, *args):
    retcode, states = lab.orchestrate("orch.galera", *args)
    by_id = {state["__id__"]: state for state in states.values()}
    return retcode, by_id


def sst_password():
    return lab_secrets.load()["galera_sst_password"]


@pytest.fixture
def cluster(lab, deployed):
    """The deployed cluster, healthy before and after the test."""
    lab.wait("Galera Primary, Synced, 3 members", lambda: healthy(lab), 120)
    yield lab
    lab.wait("Galera Primary, Synced, 3 members again", lambda: healthy(lab), 180)


def test_data_nodes_are_configured_and_mariadb_is_left_to_the_orchestration(cluster):
    lab = cluster
    for node in DATA:
        stat = lab.exec(node, "stat", "-c", "%U:%G %a", CONFIG).stdout.split()
        assert stat == ["root:mysql", "640"], stat
        options = lab.exec(node, "my_print_defaults", "--mysqld").stdout.splitlines()
        assert f"--bind-address={ADDRESS[node]}" in options
        assert f"--wsrep_node_address={ADDRESS[node]}" in options
        assert "--wsrep_cluster_address=gcomm://10.77.0.11:4567,10.77.0.12:4567" in options
        assert "--wsrep_sst_method=mariabackup" in options
        assert "--innodb_flush_log_at_trx_commit=1" in options
        provider = [o for o in options if o.startswith("--wsrep_provider_options=")]
        assert len(provider) == 1 and "pc.recovery=TRUE" in provider[0], provider
        enabled = lab.exec(node, "systemctl", "is-enabled", "mariadb", check=False).stdout
        assert enabled.strip() == "disabled"
        listening = lab.exec(node, "ss", "-Hltn", "sport = :3306").stdout
        assert f"{ADDRESS[node]}:3306" in listening and "0.0.0.0:3306" not in listening


def test_the_sst_account_exists_and_the_server_is_hardened(cluster):
    lab = cluster
    for node in DATA:
        grants = sql(lab, node, "SHOW GRANTS FOR 'galera_sst'@'localhost'")
        for privilege in ("RELOAD", "PROCESS", "LOCK TABLES", "BINLOG MONITOR", "SLAVE MONITOR"):
            assert privilege in grants, grants
        users = sql(lab, node, "SELECT User, Host FROM mysql.user").splitlines()
        assert not [u for u in users if u.startswith("\t")], f"anonymous accounts: {users}"
        assert [u for u in users if u.startswith("root\t")] == ["root\tlocalhost"], users
        root = sql(lab, node, "SHOW GRANTS FOR 'root'@'localhost'")
        assert "USING 'invalid' OR unix_socket" in root, root


def test_no_secret_in_state_output(cluster):
    ret = apply(cluster, DATA, "galera")
    assert sst_password() not in str(ret)


def test_clustercheck_answers_200_when_synced(cluster):
    out = cluster.exec(
        "ctl2", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://10.77.0.11:9200/"
    ).stdout
    assert out == "200", out


def test_a_row_written_on_ctl1_is_read_on_ctl2(cluster):
    lab = cluster
    sql(
        lab,
        "ctl1",
        "CREATE DATABASE IF NOT EXISTS galera_lab; "
        "CREATE TABLE IF NOT EXISTS galera_lab.t (id INT PRIMARY KEY, note VARCHAR(64)); "
        "REPLACE INTO galera_lab.t VALUES (1, 'written on ctl1')",
    )
    assert sql(lab, "ctl2", "SELECT note FROM galera_lab.t WHERE id = 1").strip() == (
        "written on ctl1"
    )


def test_second_runs_change_nothing_and_test_mode_shows_the_plan(cluster):
    lab = cluster
    assert summarise(apply(lab, DATA, "galera")) == {n: (0, True) for n in DATA}
    assert summarise(apply(lab, ["nas"], "galera.arbitrator")) == {"nas": (0, True)}
    retcode, states = orch_galera(lab)
    assert retcode == 0
    assert [sid for sid, s in states.items() if s["changes"] or not s["result"]] == []
    assert changed_states(states) == []
    assert "Primary and Synced" in states["galera-converged"]["comment"]
    retcode, states = orch_galera(lab, "test=True")
    assert retcode == 0
    assert states["galera-converged"]["result"] is True
    assert states["galera-converged"]["changes"] == {}


def test_a_killed_mysqld_rejoins_by_ist(cluster):
    lab = cluster
    lab.exec("ctl2", "systemctl", "kill", "--kill-whom=main", "-s", "KILL", "mariadb")
    sql(lab, "ctl1", "REPLACE INTO galera_lab.t VALUES (2, 'while ctl2 was down')")
    # mariadb.service has Restart=on-abnormal: ctl2 comes back by itself; the
    # orchestration waits for it (or starts it) and verifies
    lab.wait("ctl2 to answer again", lambda: wsrep(lab, "ctl2") if _answers(lab) else None, 120)
    retcode, states = orch_galera(lab)
    assert retcode == 0, states
    lab.wait("ctl2 Synced", lambda: healthy(lab), 120)
    journal = lab.exec("ctl2", "journalctl", "-u", "mariadb", "--since", "-5min").stdout
    assert "IST received" in journal
    assert sql(lab, "ctl2", "SELECT note FROM galera_lab.t WHERE id = 2").strip() == (
        "while ctl2 was down"
    )


def _answers(lab):
    return lab.exec("ctl2", "mariadb", "-e", "SELECT 1", check=False).returncode == 0


def test_both_data_nodes_stopped_recover_from_the_last_writer_and_garbd_rejoins(cluster):
    lab = cluster
    lab.exec("ctl1", "systemctl", "stop", "mariadb")
    sql(lab, "ctl2", "REPLACE INTO galera_lab.t VALUES (3, 'ctl2 alone, last writer')")
    lab.exec("ctl2", "systemctl", "stop", "mariadb")
    # garbd stays alone in a Primary Component of its own: no data node is
    # safe_to_bootstrap, ctl2 has the highest seqno
    retcode, states = orch_galera(lab, "test=True")
    plan = states["galera-converged"]["changes"]["plan"]
    assert (plan["action"], plan["node"], plan["then_start"]) == ("bootstrap", "ctl2", ["ctl1"])
    assert "ctl2 has the highest seqno" in plan["reason"]
    retcode, states = orch_galera(lab)
    assert retcode == 0, states
    steps = states["galera-converged"]["changes"]["steps"]
    assert steps[0].startswith("ctl2: bootstrap:") and steps[-2].startswith("ctl1: start:")
    assert steps[-1].startswith("nas: restarted garbd:"), steps
    assert healthy(lab)
    assert sql(lab, "ctl1", "SELECT note FROM galera_lab.t WHERE id = 3").strip() == (
        "ctl2 alone, last writer"
    )
