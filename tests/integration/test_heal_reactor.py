"""The reactor hands every kind of event to the heal runner (dry run), which
settles bursts, suppresses inside the cooldown, ignores strangers and
survives its own crash. Real master and minion daemons on loopback."""

import json
import os
import subprocess
import sys
import time

import pytest

from tests.integration.conftest import MINION_ID

DONE = "twin-cloud/heal/done"
SUPPRESSED = "twin-cloud/heal/suppressed"
IGNORED = "twin-cloud/heal/ignored"

pytestmark = pytest.mark.usefixtures("minion")


def heal_returns(event_listener, master, after, count=1, timeout=60):
    """Wait for ``count`` returns of the reactions' own job (runner.heal.event)."""
    deadline = time.time() + timeout
    while True:
        rets = [
            event
            for event in event_listener.get_events([(master.id, "salt/run/*/ret")],
                                                   after_time=after)
            if event.data.get("fun") == "runner.heal.event"
        ]
        if len(rets) >= count or time.time() > deadline:
            assert len(rets) >= count, f"{len(rets)} heal.event return(s), wanted {count}"
            return sorted(rets, key=lambda event: event.stamp)
        time.sleep(0.25)


def wait_for(event_listener, master, tag, after, timeout=60):
    matched = event_listener.wait_for_events([(master.id, tag)], after_time=after,
                                             timeout=timeout)
    assert matched.found_all_events, f"no {tag} event"
    return sorted(matched.matches, key=lambda event: event.stamp)


def events(event_listener, master, tag, after):
    return sorted(event_listener.get_events([(master.id, tag)], after_time=after),
                  key=lambda event: event.stamp)


def service_down(node="ctl2", name="memcached"):
    return (f"salt/beacon/{node}/service/{name}",
            {name: {"running": False}, "service_name": name, "id": node})


EVENTS = {
    "boot": ("salt/minion/ctl2/start",
             {"id": "ctl2", "cmd": "_minion_event", "pretag": None,
              "data": "Minion ctl2 started at Thu Jan  1 00:00:00 2026",
              "tag": "salt/minion/ctl2/start"},
             ["boot/ctl2"]),
    "presence": ("salt/presence/change", {"new": [], "lost": ["ctl2"]}, ["presence/ctl2"]),
    "service": (*service_down(), ["service/ctl2/memcached"]),
    "galera": ("salt/beacon/ctl2/galera/non-primary",
               {"tag": "non-primary", "state": "non-primary", "previous": "synced",
                "since": 1.0, "samples": 3, "cluster_status": "non-Primary", "local_state": 0,
                "local_state_comment": "Initialized", "cluster_size": 1, "seqno": 7,
                "id": "ctl2"},
               ["galera"]),
    "pacemaker": ("salt/beacon/ctl1/pacemaker/resource-failed",
                  {"change": "resource-failed", "kind": "resource", "subject": "vip",
                   "state": "failed", "previous": "started", "since": 1.0, "quorate": True,
                   "dc": "ctl1", "id": "ctl1"},
                  ["pacemaker/resource/vip"]),
}


def test_the_real_minion_start_reaches_the_runner(event_listener, master, minion):
    after = minion.started_at
    reports = wait_for(event_listener, master, DONE, after)
    kinds = {a["kinds"][0] for event in reports for a in event.data["actions"]}
    assert f"boot/{MINION_ID}" in kinds
    heal_returns(event_listener, master, after)


@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_an_event_of_each_kind_makes_the_reactor_call_the_runner(
    kind, event_listener, master, heal_state, fire
):
    tag, data, kinds = EVENTS[kind]
    after = time.time()
    fire(tag, data)
    [ret] = heal_returns(event_listener, master, after)
    assert ret.data["success"] is True
    assert ret.data["user"] == "Reactor"
    assert [fault["kind"] for fault in ret.data["return"]["queued"]] == kinds
    [report] = wait_for(event_listener, master, DONE, after)
    assert report.data["dry_run"] is True
    assert [a["kinds"] for a in report.data["actions"]] == [[k] for k in kinds]
    assert {a["type"] for a in report.data["actions"]} == {"dry-run"}
    assert report.data["faults"][0]["tag"] == tag


def test_a_second_event_inside_the_cooldown_is_suppressed(
    event_listener, master, heal_state, fire
):
    after = time.time()
    fire(*service_down())
    wait_for(event_listener, master, DONE, after)
    heal_returns(event_listener, master, after)
    second = time.time()
    fire(*service_down())
    [suppressed] = wait_for(event_listener, master, SUPPRESSED, second)
    heal_returns(event_listener, master, second)
    assert suppressed.data["kind"] == "service/ctl2/memcached"
    assert suppressed.data["reason"] == "cooldown"
    assert suppressed.data["until"] > time.time()
    assert events(event_listener, master, DONE, second) == []  # nothing else
    # kept for heal.retry (the master's schedule), once the cooldown is over
    retry = master.salt_run_cli().run("heal.retry")
    assert retry.data == {"due": [], "waiting": ["service/ctl2/memcached"]}


def test_an_id_not_in_the_inventory_is_ignored(event_listener, master, heal_state, fire):
    after = time.time()
    fire(*service_down(node="intruder"))
    [ignored] = wait_for(event_listener, master, IGNORED, after)
    [ret] = heal_returns(event_listener, master, after)
    assert "intruder is not a node of the site inventory" in ignored.data["reason"]
    assert ret.data["return"]["queued"] == []
    assert ret.data["return"]["ignored"] == [ignored.data["reason"]]
    assert events(event_listener, master, DONE, after) == []
    assert not (heal_state / "queue").exists() or not os.listdir(heal_state / "queue")


def test_a_tag_id_that_differs_from_the_data_id_is_ignored(
    event_listener, master, heal_state, fire
):
    after = time.time()
    tag, data = service_down()
    fire(tag, {**data, "id": "nas"})
    [ignored] = wait_for(event_listener, master, IGNORED, after)
    heal_returns(event_listener, master, after)
    assert "names minion 'nas'" in ignored.data["reason"]


def test_a_burst_gives_one_run(event_listener, master, heal_state, fire):
    after = time.time()
    for kind in ("service", "galera", "pacemaker"):
        fire(*EVENTS[kind][:2])
    rets = heal_returns(event_listener, master, after, count=3)
    [report] = wait_for(event_listener, master, DONE, after)
    time.sleep(1)  # a second done would come right after the first
    assert len(events(event_listener, master, DONE, after)) == 1
    assert sorted(a["kinds"][0] for a in report.data["actions"]) == [
        "galera", "pacemaker/resource/vip", "service/ctl2/memcached"]
    assert sum(1 for ret in rets if ret.data["return"].get("runs")) == 1


def test_a_runner_crash_leaves_no_lock_that_blocks_the_next_run(
    event_listener, master, heal_state, fire
):
    heal_state.mkdir(parents=True, exist_ok=True)
    (heal_state / "crash-next").touch()
    after = time.time()
    fire(*service_down())
    [ret] = heal_returns(event_listener, master, after)
    assert ret.data["success"] is False
    assert "simulated crash" in json.dumps(ret.data["return"])
    assert not (heal_state / "lock").exists()

    # and a lock left by a process that died (kill -9 of the master mid-heal)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (heal_state / "lock").write_text(json.dumps({
        "token": "dead", "pid": dead.pid, "host": os.uname().nodename, "owner": "killed",
        "acquired": time.time(), "expires": time.time() + 3600}))
    after = time.time()
    fire(*EVENTS["galera"][:2])
    [report] = wait_for(event_listener, master, DONE, after)
    heal_returns(event_listener, master, after)
    assert report.data["actions"][0]["kinds"] == ["galera"]
    assert not (heal_state / "lock").exists()


def test_an_expired_lock_does_not_block(event_listener, master, heal_state, fire):
    heal_state.mkdir(parents=True, exist_ok=True)
    (heal_state / "lock").write_text(json.dumps({
        "token": "old", "pid": os.getpid(), "host": os.uname().nodename, "owner": "wedged",
        "acquired": time.time() - 7200, "expires": time.time() - 10}))
    after = time.time()
    fire(*service_down())
    wait_for(event_listener, master, DONE, after)
    heal_returns(event_listener, master, after)


def test_heal_status_and_reset_from_the_cli(master, heal_state, fire, event_listener):
    after = time.time()
    fire(*service_down())
    wait_for(event_listener, master, DONE, after)
    heal_returns(event_listener, master, after)
    cli = master.salt_run_cli()
    status = cli.run("heal.status")
    assert status.returncode == 0
    assert status.data["kinds"]["service/ctl2/memcached"]["attempts"] == 1
    assert status.data["dry_run"] is True
    reset = cli.run("heal.reset")
    assert reset.data["forgotten"] == ["service/ctl2/memcached"]
