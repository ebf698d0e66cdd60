"""Issue 5 on real nodes, hands off: once a fault is injected no test calls a
state or an orchestration; only the reactor (the heal runner) may act.

Each scenario reads `salt-run site.status --out=json` green before, degraded
with the right line during (where the fault lasts long enough to be seen),
and green again after; it prints the time from the fault (or the power-on)
to all green, the figures the benchmark reports as medians.
"""

import json
import subprocess
import time

import pytest

from .conftest import BIN, REPO

pytestmark = pytest.mark.lab

CONTROLLERS = ("ctl1", "ctl2")
BUDGET = 3  # heal:budget in etc/salt/master


def salt_run(*args, timeout=600):
    result = subprocess.run([str(BIN / "salt-run"), "--out=json", *args], cwd=REPO, text=True,
                            capture_output=True, timeout=timeout)
    try:
        return result.returncode, json.loads(result.stdout)
    except ValueError as exc:
        raise AssertionError(f"salt-run {args}: not JSON:\n{result.stdout[-3000:]}\n"
                             f"{result.stderr[-2000:]}") from exc


def site_status():
    """(exit status, data) of the status command."""
    return salt_run("site.status")


def rows(data):
    return {(row["component"], row["item"]): row for row in data["rows"]}


def green():
    retcode, data = site_status()
    return retcode == 0 and data["status"] == "ok"


def wait_green(lab, what, timeout):
    """Wait until the status command says all green; on timeout, the error
    names what it still said was degraded."""
    start = time.monotonic()
    last = {}

    def is_green():
        retcode, data = site_status()
        last["problems"] = data.get("problems")
        return retcode == 0 and data["status"] == "ok"

    lab.wait(f"the site all green ({what})", is_green, timeout, interval=5,
             evidence=lambda: f"the status still said: {last.get('problems')}")
    took = time.monotonic() - start
    print(f"\n{what}: all green after {took:.0f}s")
    return took


def wait_row(lab, key, predicate, timeout=180):
    """Wait until the status shows row ``key`` matching ``predicate``; return the data."""
    def seen():
        retcode, data = site_status()
        row = rows(data).get(key)
        return data if retcode == 1 and row and predicate(row) else None

    return lab.wait(f"status row {key}", seen, timeout, interval=3)


def wait_healer_idle(lab, timeout=900):
    """Wait until no heal holds the lock and no fault is queued."""
    def idle():
        _, state = salt_run("heal.status", "runs=0")
        return state["lock"] is None and state["queued"] == 0
    lab.wait("the heal runner idle", idle, timeout, interval=5)


def heal_runs(since):
    _, state = salt_run("heal.status", "runs=50")
    return [run for run in state["runs"] if run["started"] >= since]


def acted(runs):
    return [action for run in runs for action in run["actions"]]


def wait_acted(lab, since, what, predicate, timeout):
    """Wait until the heal runs on record since ``since`` hold actions for
    which ``predicate(actions)`` is true (a run is on record once it is
    over, which may be after the site is green); on timeout, name the runs."""
    lab.wait(what, lambda: predicate(acted(heal_runs(since))), timeout, interval=5,
             evidence=lambda: f"the heal runs since: {heal_runs(since)}")


class Writes:
    """Rows written through a data node's client, and those acknowledged."""

    def __init__(self, lab):
        self.lab, self.next_id, self.acked = lab, 1, []
        self.sql("ctl1", "CREATE DATABASE IF NOT EXISTS heal_lab; "
                         "CREATE TABLE IF NOT EXISTS heal_lab.t (id INT PRIMARY KEY, note TEXT); "
                         "DELETE FROM heal_lab.t")

    def sql(self, node, statement):
        return self.lab.exec(node, "mariadb", "-N", "-B", "-e", statement, check=False)

    def write(self, node, note):
        row_id, self.next_id = self.next_id, self.next_id + 1
        result = self.sql(node, f"INSERT INTO heal_lab.t VALUES ({row_id}, '{note}')")
        if result.returncode == 0:
            self.acked.append(row_id)
        return result.returncode == 0

    def all_present_on(self, node):
        out = self.sql(node, "SELECT id FROM heal_lab.t").stdout.split()
        missing = sorted(set(self.acked) - {int(x) for x in out})
        assert not missing, f"acknowledged writes missing on {node}: {missing}"


@pytest.fixture(scope="module")
def healing(lab, deployed):
    """Self-healing on: the beacons on every node, the heal runner's memory
    empty, the site green."""
    ret = lab.salt("*", "state.apply", "beacons", "queue=True", timeout=600)
    for node, states in ret.items():
        failed = {k: v.get("comment") for k, v in states.items() if v.get("result") is not True}
        assert not failed, f"beacons on {node}: {failed}"
    salt_run("heal.resume")  # another suite may have paused it
    salt_run("heal.reset")
    wait_green(lab, "before the healing scenarios", 300)
    return lab


@pytest.fixture
def writes(healing):
    return Writes(healing)


def test_status_is_green_with_every_component(healing):
    retcode, data = site_status()
    assert retcode == 0, data["problems"]
    table = rows(data)
    for key in [("node", n) for n in ("ctl1", "ctl2", "nas")] + [
        ("pacemaker", "quorum"), ("pacemaker", "fencing"), ("pacemaker", "vip"),
        ("galera", "ctl1"), ("galera", "ctl2"), ("galera", "garbd (nas)"),
        ("rabbitmq", "members"), ("haproxy", "ctl1"), ("haproxy", "ctl2"),
        ("memcached", "ctl1"), ("memcached", "ctl2"), ("nfs", "server (nas)"),
    ]:
        assert table[key]["state"] == "ok", table[key]
    assert "power on" in table[("node", "ctl2")]["detail"]
    assert "Synced" in table[("galera", "ctl2")]["detail"]


def test_killed_mysqld_is_back_synced_with_no_heal_action(healing, writes):
    lab = healing
    writes.write("ctl1", "before the kill")
    since = time.time()
    lab.exec("ctl2", "systemctl", "kill", "--kill-whom=main", "-s", "KILL", "mariadb")
    writes.write("ctl1", "while mysqld on ctl2 was down")
    # a figure, not a timed assert: under the whole cloud's load on this 2-core
    # lab, mysqld's restart (wsrep recovery, then IST) took up to ~2 min
    wait_green(lab, "kill -9 mysqld on ctl2 (target 30 s)", 300)
    assert "Synced" in rows(site_status()[1])[("galera", "ctl2")]["detail"]
    writes.all_present_on("ctl2")
    # mariadb.service restarts it (Restart=on-abnormal) and it rejoins by IST:
    # it recovers by itself, so no heal acts
    assert acted(heal_runs(since)) == []


def test_killed_server_powers_on_highstates_and_rejoins_every_pool(healing, writes):
    lab = healing
    writes.write("ctl1", "before ctl2 was killed")
    since = time.time()
    lab.cli("kill", "ctl2")
    data = wait_row(lab, ("node", "ctl2"), lambda row: "minion DOWN" in row["detail"])
    table = rows(data)
    assert table[("node", "ctl2")]["state"] == "DEGRADED"
    assert table[("galera", "ctl2")]["state"] == "DEGRADED"
    # Primary on the survivor + garbd once Galera has evicted ctl2 (its
    # membership change may still be under way when the minion is seen down)
    wait_row(lab, ("galera", "ctl1"), lambda row: row["state"] == "ok", timeout=90)
    assert writes.write("ctl1", "while ctl2 was off")
    # fencing (fence_ipmilan, method onoff) may have powered it on already
    lab.cli("poweron", "ctl2", check=False)
    powered = time.monotonic()
    lab.wait("ctl2's minion back", lambda: "ctl2" in lab.ping(), 300, interval=3)
    print(f"\nctl2 minion back {time.monotonic() - powered:.0f}s after the power-on")
    took = wait_green(lab, "ctl2 killed, then powered on", 600)
    # the site may be green before the heal of ctl2's start is over (fencing
    # powered it on early, Galera rejoined first)
    wait_acted(lab, since, "the heal's highstate of ctl2 and its Galera check on record",
               lambda actions: (
                   any(a["type"] == "highstate" and a["node"] == "ctl2" and a["result"]
                       for a in actions)
                   and any(a["type"] == "galera" and a["result"] for a in actions)), 600)
    journal = lab.exec("ctl2", "journalctl", "-u", "mariadb", "--since", "-15min").stdout
    assert "IST received" in journal
    writes.all_present_on("ctl2")
    table = rows(site_status()[1])
    assert "ctl2 UP" in table[("haproxy", "ctl1")]["detail"]
    assert "OFFLINE" not in table[("pacemaker", "nodes")]["detail"]
    print(f"ctl2 back in every pool {took:.0f}s after its minion answered (target 60 s)")


def test_both_servers_killed_come_back_green_by_themselves(healing, writes):
    lab = healing
    writes.write("ctl1", "ctl1 before the power loss")
    writes.write("ctl2", "ctl2 last before the power loss")
    since = time.time()
    for node in CONTROLLERS:
        lab.cli("kill", node)
    data = wait_row(lab, ("pacemaker", "cluster"), lambda row: row["state"] == "DEGRADED")
    assert rows(data)[("node", "ctl1")]["state"] == "DEGRADED"
    for node in CONTROLLERS:
        lab.cli("poweron", node, check=False)
    wait_green(lab, "both servers killed, then powered on (target 3 min)", 900)
    for node in CONTROLLERS:
        writes.all_present_on(node)
    # each server's boot highstate is owed even when the cluster is green
    # first (a minion that does not answer yet at its start is retried)
    wait_acted(lab, since, "a boot highstate on both servers", lambda actions: {
        a["node"] for a in actions if a["type"] == "highstate"
    } >= set(CONTROLLERS), 240)
    # and over: the checks after this one find both servers settled
    lab.wait_idle(list(CONTROLLERS))
    wait_healer_idle(lab)


def test_a_flapping_service_gets_at_most_the_budget_then_suppressed(healing):
    lab = healing
    # one heal at a time: a heal still busy (a node's highstate) would take
    # these faults only once it is over, past this test's minute
    wait_healer_idle(lab)
    _, data = site_status()
    unit = data["nfs"]["server"]["unit"]  # nfs-ganesha in the lab: no Restart= of its own
    since = time.time()
    # for a minute, kill it each time it runs again (up to 5 times): only a
    # heal brings it back (nfs-ganesha has no Restart= of its own)
    kills, deadline = 0, time.monotonic() + 60
    while kills < 5 and time.monotonic() < deadline:
        if lab.exec("nas", "systemctl", "is-active", unit, check=False).stdout.strip() == "active":
            if kills:
                # up long enough for the service beacon (a sample every 5 s)
                # to see it running, or the next kill is no transition at all
                time.sleep(7)
            lab.exec("nas", "systemctl", "kill", "--kill-whom=main", "-s", "KILL", unit)
            kills += 1
        time.sleep(1)
    assert kills >= 2, f"{unit} was healed only {kills - 1} times in a minute"
    time.sleep(20)  # the last fault's settle period and run
    runs = heal_runs(since)
    started = [a for a in acted(runs) if a["type"] == "service" and a["service"] == unit]
    assert 1 <= len(started) <= BUDGET, runs
    _, state = salt_run("heal.status")
    kind = f"service/nas/{unit}"
    assert kind in state["suppressed"] or kind in state["deferred"], state
    # the status shows why it is left down for now, then the retry heals it
    retcode, data = site_status()
    if retcode == 1:
        table = rows(data)
        assert ("heal", kind) in table, data["rows"]
        assert table[("heal", kind)]["detail"].startswith("suppressed (")
    wait_green(lab, "a flapping NFS server, after its cooldown", 400)
