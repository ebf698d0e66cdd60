"""Unit tests of _runners/heal.py: event validation, lock, settle, gates, decisions, acts."""

import json
import logging
import os
import subprocess
import sys

import pytest

from tests.conftest import load_ext

heal = load_ext("runners", "heal")
galera_plan = load_ext("modules", "galera_plan")
ORCHESTRATIONS_RUNNING = heal._orchestrations_running  # before the autouse seams

SITE = {
    "name": "test",
    "quorum": {"mode": "witness", "witness": "nas"},
    "nodes": {
        "ctl1": {"roles": ["controller", "compute"], "cluster_id": 1, "address": "10.0.0.11"},
        "ctl2": {"roles": ["controller", "compute"], "cluster_id": 2, "address": "10.0.0.12"},
        "nas": {"roles": ["storage", "witness"], "address": "10.0.0.13"},
    },
}
UUID = "6a9d5d4b-1c8e-11ef-9b0e-7e5b1f0f2a11"


def synced(seqno=100):
    return {"reachable": True, "mysqld": "running", "cluster_status": "Primary", "local_state": 4,
            "local_state_comment": "Synced", "cluster_size": 3, "uuid": UUID, "seqno": seqno,
            "ready": True, "connected": True, "error": None}


def stopped(seqno=90):
    return {"reachable": True, "mysqld": "stopped", "uuid": UUID, "seqno": seqno,
            "safe_to_bootstrap": False, "prepared_transactions": 0, "error": None}


def joining():
    return {**synced(), "local_state": 1, "local_state_comment": "Joining", "ready": False}


def unit(active="active", sub="running"):
    return {"ActiveState": active, "SubState": sub}


class FakeSite:
    """The minions, as the master's LocalClient sees them, and what was asked of them."""

    def __init__(self):
        self.up = {"ctl1", "ctl2", "nas"}
        self.units = {}  # (node, unit) -> service.show answer
        self.galera = {"ctl1": synced(), "ctl2": synced()}
        self.garbd = True
        self.pacemaker = {}  # node -> pacemaker.status answer
        self.calls = []
        self.after_start = {}  # (node, unit) -> show after service.start
        self.deployed = {"ctl1", "ctl2", "nas"}  # nodes with beacons configured

    def show(self, node, name):
        return self.units.get((node, name), unit())

    def __call__(self, tgt, fun, arg=(), kwarg=None, timeout=30):
        self.calls.append((tuple(tgt), fun, tuple(map(str, arg))))
        out = {}
        for node in tgt:
            if node not in self.up:
                continue
            if fun == "test.ping":
                ret = True
            elif fun == "config.get":
                assert arg[0] == "beacons"
                ret = {"service": [{"services": {}}]} if node in self.deployed else {}
            elif fun == "service.show":
                ret = self.show(node, arg[0])
            elif fun == "service.status":
                ret = (self.garbd if arg[0] == "garb" else
                       self.show(node, arg[0])["ActiveState"] == "active")
            elif fun == "service.start":
                self.units[(node, arg[0])] = self.after_start.get((node, arg[0]), unit())
                ret = True
            elif fun == "galera.probe":
                ret = self.galera[node]
            elif fun == "pacemaker.status":
                ret = self.pacemaker[node]
            elif fun == "state.apply":
                ret = {"file_|-x_|-x_|-managed": {"result": True, "comment": "ok"}}
            elif fun == "cmd.run_all":
                ret = {"retcode": 0, "stdout": "", "stderr": ""}
                self.pacemaker = {n: _running(s, arg[0][-1]) for n, s in self.pacemaker.items()}
            else:
                raise AssertionError(f"unexpected {fun}")
            out[node] = {"ret": ret, "retcode": 0}
        return out

    def asked(self, fun):
        return [call for call in self.calls if call[1] == fun]


def _running(status, resource):
    status = json.loads(json.dumps(status))
    status["resources"][resource].update(active=True, failed=False, nodes=["ctl1"])
    return status


class Clock:
    def __init__(self):
        self.now = 100000.0
        self.sleeps = []
        self.during_sleep = None

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        if self.during_sleep:
            hook, self.during_sleep = self.during_sleep, None
            hook()


@pytest.fixture
def fake():
    return FakeSite()


@pytest.fixture
def fired():
    return []


@pytest.fixture
def orchestrations(fake):
    runs = []

    def orchestrate(sls):
        runs.append(sls)
        fake.galera = {"ctl1": synced(), "ctl2": synced()}
        return {"data": {"master": {}}, "outputter": "highstate", "retcode": 0}

    orchestrate.runs = runs
    return orchestrate


@pytest.fixture
def configure_loader_modules(tmp_path, orchestrations):
    return {
        heal: {
            "__opts__": {
                "id": "master",
                "cachedir": str(tmp_path / "cache"),
                "sock_dir": str(tmp_path / "sock"),
                "heal": {"settle": 2, "cooldown": 60, "budget": 3, "window": 3600,
                         "flap_limit": 4, "flap_window": 300, "verify_timeout": 20,
                         "verify_interval": 5},
            },
            "__salt__": {
                "pillar.show_pillar": lambda minion: {"site": SITE},
                "state.orchestrate": orchestrations,
            },
            "__context__": {},
        }
    }


@pytest.fixture(autouse=True)
def seams(monkeypatch, fake, fired):
    # keep the runner's warnings out of Salt's deferred log handler, which
    # would flush them into pytest's closed streams at exit
    monkeypatch.setattr(heal.log, "propagate", False)
    monkeypatch.setattr(heal.log, "handlers", [logging.NullHandler()])
    clock = Clock()
    monkeypatch.setattr(heal, "_clock", clock)
    monkeypatch.setattr(heal, "_sleep", clock.sleep)
    monkeypatch.setattr(heal, "_local", fake)
    monkeypatch.setattr(heal, "_fire", lambda tag, data: fired.append((tag, data)))
    monkeypatch.setattr(heal, "_plan_function", lambda: galera_plan.plan)
    monkeypatch.setattr(heal, "_orchestrations_running", lambda: [])
    return clock


def options(**extra):
    heal.__opts__["heal"] = {**heal.__opts__["heal"], **extra}


def state_dir():
    return os.path.join(heal.__opts__["cachedir"], "twin-cloud-heal")


def tags(fired):
    return [tag for tag, _ in fired]


def done(fired):
    return [data for tag, data in fired if tag == "twin-cloud/heal/done"]


def service_down(node="ctl2", name="memcached"):
    return (f"salt/beacon/{node}/service/{name}", node,
            {name: {"running": False}, "service_name": name, "id": node})


# --- events: validation -------------------------------------------------------------------

SITE_OBJ = heal.site_from_pillar({"site": SITE})


def kinds_of(tag, minion, data):
    faults, recovered, ignored = heal.faults_from_event(tag, minion, data, SITE_OBJ)
    return [f.kind for f in faults], recovered, ignored


def test_site_from_pillar():
    assert SITE_OBJ.controllers == ["ctl1", "ctl2"]
    assert SITE_OBJ.data_nodes == ["ctl1", "ctl2"]
    assert SITE_OBJ.witness == "nas"
    assert heal.site_from_pillar({}) is None
    assert heal.site_from_pillar({"site": {"nodes": "x"}}) is None
    preferred = heal.site_from_pillar({"site": SITE, "galera": {"preference": ["ctl2", "ctl1"]}})
    assert preferred.data_nodes == ["ctl2", "ctl1"]


@pytest.mark.parametrize(
    "tag, minion, data, expected",
    [
        ("salt/minion/ctl2/start", "ctl2", {"id": "ctl2", "data": "Minion ctl2 started"},
         ["boot/ctl2"]),
        (*service_down(), ["service/ctl2/memcached"]),
        ("salt/beacon/ctl1/galera/non-primary", "ctl1", {"state": "non-primary", "id": "ctl1"},
         ["galera"]),
        ("salt/beacon/ctl1/pacemaker/node-lost", "ctl1",
         {"change": "node-lost", "kind": "node", "subject": "ctl2"}, ["pacemaker/node/ctl2"]),
        ("salt/beacon/ctl1/pacemaker/resource-failed", "ctl1",
         {"change": "resource-failed", "subject": "vip"}, ["pacemaker/resource/vip"]),
        ("salt/beacon/ctl1/pacemaker/quorum-lost", "ctl1", {"change": "quorum-lost"},
         ["pacemaker/quorum"]),
        ("salt/presence/change", None, {"lost": ["ctl2"], "new": ["nas"]},
         ["presence/ctl2", "presence/nas"]),
    ],
)
def test_every_kind_of_event_gives_its_fault(tag, minion, data, expected):
    assert kinds_of(tag, minion, data) == (expected, [], [])


@pytest.mark.parametrize(
    "tag, minion, data",
    [
        ("salt/beacon/ctl2/service/memcached", "ctl2",
         {"memcached": {"running": True}, "service_name": "memcached"}),
        ("salt/beacon/ctl2/galera/synced", "ctl2", {"state": "synced"}),
        ("salt/beacon/ctl1/pacemaker/node-back", "ctl1",
         {"change": "node-back", "subject": "ctl2"}),
    ],
)
def test_recoveries_are_no_faults(tag, minion, data):
    faults, recovered, ignored = kinds_of(tag, minion, data)
    assert faults == [] and ignored == [] and len(recovered) == 1


@pytest.mark.parametrize(
    "tag, minion, data, words",
    [
        ("salt/minion/intruder/start", "intruder", {}, "not a node of the site inventory"),
        ("salt/beacon/ctl2/service/memcached", "ctl1", {}, "names minion 'ctl1'"),
        ("salt/beacon/ctl2/service/memcached", "ctl2", {"id": "nas"}, "names minion 'nas'"),
        ("salt/beacon/ctl2/service/memcached", "ctl2", {"memcached": "down"}, "running"),
        ("salt/beacon/ctl2/service/mem cached", "ctl2", {}, "not a service name"),
        ("salt/beacon/ctl2/galera/weird", "ctl2", {}, "not a Galera fault"),
        ("salt/beacon/ctl1/pacemaker/node-lost", "ctl1", {"subject": "x;rm"}, "lost node"),
        ("salt/beacon/ctl1/pacemaker/resource-failed", "ctl1", {"subject": "$(x)"},
         "not a resource id"),
        ("salt/beacon/ctl1/pacemaker/exploded", "ctl1", {}, "not a Pacemaker change"),
        ("salt/beacon/../service/x", "..", {}, "not a minion id"),
        ("salt/job/123/ret/ctl1", "ctl1", {}, "not an event the heal runner handles"),
        ("salt/presence/change", None, {"lost": ["stranger"]}, "not a node of the site"),
        ("salt/presence/change", None, {"lost": "ctl2"}, "not a list"),
    ],
)
def test_invalid_or_foreign_events_are_ignored(tag, minion, data, words):
    faults, recovered, ignored = kinds_of(tag, minion, data)
    assert faults == [] and recovered == []
    assert len(ignored) == 1 and words in ignored[0]


def test_an_unknown_minion_is_ignored_logged_and_announced(fired, fake):
    ret = heal.event("salt/minion/intruder/start", id="intruder", data={"id": "intruder"})
    assert ret["queued"] == [] and "runs" not in ret
    assert "not a node of the site inventory" in ret["ignored"][0]
    assert tags(fired) == ["twin-cloud/heal/ignored"]
    assert fired[0][1]["id"] == "intruder"
    assert fake.calls == []


def test_a_recovery_takes_no_lock_and_fires_nothing(fired):
    ret = heal.event("salt/beacon/ctl2/galera/synced", id="ctl2", data={"state": "synced"})
    assert ret["recovered"] and "runs" not in ret
    assert fired == []
    assert not os.path.exists(os.path.join(state_dir(), "lock"))


# --- the lock ------------------------------------------------------------------------------


def lock_path():
    return os.path.join(state_dir(), "lock")


def test_lock_is_exclusive_and_released():
    first = heal.Lock.acquire(lock_path(), 60, "one")
    assert first is not None
    assert heal.Lock.acquire(lock_path(), 60, "two") is None
    first.release()
    assert not os.path.exists(lock_path())
    assert heal.Lock.acquire(lock_path(), 60, "three") is not None


def test_lock_ttl_lets_a_crashed_heal_go(seams):
    assert heal.Lock.acquire(lock_path(), 60, "crashed") is not None  # never released
    seams.now += 59
    assert heal.Lock.acquire(lock_path(), 60, "next") is None
    seams.now += 2
    taken = heal.Lock.acquire(lock_path(), 60, "next")
    assert taken is not None and taken.held()


def test_lock_of_a_dead_process_is_taken_over_at_once():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    heal._write_json(lock_path(), {"token": "x", "pid": dead.pid, "host": heal.socket.gethostname(),
                                   "expires": heal._clock() + 3600})
    assert heal.Lock.acquire(lock_path(), 60, "next") is not None


def test_lock_unreadable_is_stale():
    os.makedirs(state_dir(), exist_ok=True)
    with open(lock_path(), "w", encoding="utf-8") as handle:
        handle.write("{half a lo")
    assert heal.Lock.acquire(lock_path(), 60, "next") is not None


def test_lock_refresh_extends_it(seams):
    lock = heal.Lock.acquire(lock_path(), 60, "long")
    seams.now += 50
    lock.refresh()
    seams.now += 50
    assert heal.Lock.acquire(lock_path(), 60, "other") is None


def test_a_held_lock_queues_the_fault_for_the_holder(fired, fake):
    holder = heal.Lock.acquire(lock_path(), 600, "a heal in progress")
    ret = heal.event(*service_down())
    assert ret["held_by"] == "a heal in progress" and "runs" not in ret
    assert fired == [] and fake.calls == []
    assert len(heal._queued(heal._settings())) == 1
    holder.release()


# --- settle, cooldown, budget, flapping ---------------------------------------------------------


def test_a_burst_of_events_gives_one_run(seams, fired, fake):
    options(dry_run=True)
    settings = heal._settings()

    def burst():  # while the first heal settles, other reactor threads queue theirs
        site = heal.site_from_pillar({"site": SITE})
        for tag, minion, data in (
            service_down(name="rabbitmq-server"),
            service_down(),  # the same kind again
            ("salt/beacon/ctl1/galera/non-primary", "ctl1", {"state": "non-primary"}),
        ):
            heal._enqueue(settings, heal.faults_from_event(tag, minion, data, site)[0])

    seams.during_sleep = burst
    ret = heal.event(*service_down())
    assert seams.sleeps == [2]  # one settle period
    assert len(ret["runs"]) == 1
    assert tags(fired) == ["twin-cloud/heal/done"]
    report = done(fired)[0]
    assert sorted({a["kinds"][0] for a in report["actions"]}) == [
        "galera", "service/ctl2/memcached", "service/ctl2/rabbitmq-server"]
    assert report["dry_run"] is True and fake.calls == []  # dry run: no probe, no action
    assert not os.path.exists(lock_path())


def test_a_second_event_inside_the_cooldown_is_suppressed(seams, fired):
    options(dry_run=True)
    heal.event(*service_down())
    seams.now += 30
    fired.clear()
    ret = heal.event(*service_down())
    assert tags(fired) == ["twin-cloud/heal/suppressed"]
    suppressed = fired[0][1]
    assert suppressed["kind"] == "service/ctl2/memcached" and suppressed["reason"] == "cooldown"
    assert suppressed["until"] == seams.now - 30 - 2 + 60  # last attempt + cooldown
    assert ret["runs"][0]["actions"] == []
    seams.now += 60
    fired.clear()
    heal.event(*service_down())
    assert tags(fired) == ["twin-cloud/heal/done"]  # the cooldown is over


def test_past_the_budget_only_a_suppressed_event(seams, fired, fake):
    options(cooldown=0)
    for _ in range(3):
        fake.units[("ctl2", "memcached")] = unit("failed", "failed")
        heal.event(*service_down())
        seams.now += 100
    assert len(fake.asked("service.start")) == 3
    fired.clear()
    fake.calls.clear()
    fake.units[("ctl2", "memcached")] = unit("failed", "failed")
    heal.event(*service_down())
    assert tags(fired) == ["twin-cloud/heal/suppressed"]
    assert fired[0][1]["reason"] == "budget" and fired[0][1]["attempts"] == 3
    assert fake.calls == []  # nothing probed, nothing done
    status = heal.status()
    assert status["suppressed"]["service/ctl2/memcached"]["reason"] == "budget"
    heal.reset(kind="service/ctl2/memcached")
    fired.clear()
    heal.event(*service_down())
    assert tags(fired) == ["twin-cloud/heal/done"]


def test_flapping_is_suppressed_even_when_it_recovers_by_itself(seams, fired, fake):
    fake.units[("ctl2", "memcached")] = unit("activating", "auto-restart")
    for _ in range(4):
        heal.event(*service_down())
        seams.now += 30
    assert tags(fired) == ["twin-cloud/heal/done"] * 4
    assert all(report["actions"] == [] for report in done(fired))
    fired.clear()
    heal.event(*service_down())
    assert tags(fired) == ["twin-cloud/heal/suppressed"]
    assert fired[0][1]["reason"] == "flapping"


def test_gate_pure():
    settings = heal.Settings(**{**{k: v for k, v in heal.DEFAULTS.items()
                                   if k not in ("state_dir",)},
                                "state_dir": "/x", "pacemaker_managed": (), "cooldown": 10,
                                "budget": 2, "flap_limit": 10})
    entry = {"attempts": [0.0]}
    assert heal.gate(entry, 5.0, settings)[0] == "cooldown"
    assert heal.gate(entry, 11.0, settings) is None
    entry["attempts"].append(11.0)
    assert heal.gate(entry, 30.0, settings)[0] == "budget"
    assert heal.gate(entry, 3601.0, settings) is None  # the first attempt left the window


# --- decisions: recovering by itself means no action ---------------------------------------------


def run_event(tag, minion, data):
    heal.event(tag, id=minion, data=data)


def test_service_systemd_restarts_gets_no_action(fired, fake):
    fake.units[("ctl2", "memcached")] = unit("activating", "auto-restart")
    run_event(*service_down())
    report = done(fired)[0]
    assert report["actions"] == []
    assert "systemd is restarting it" in report["notes"][0]
    assert fake.asked("service.start") == []
    assert heal.status()["kinds"]["service/ctl2/memcached"]["attempts"] == 0


def test_service_running_again_gets_no_action(fired, fake):
    run_event(*service_down())
    assert "recovered by itself" in done(fired)[0]["notes"][0]


def test_pacemaker_managed_service_gets_no_action(fired, fake):
    fake.units[("ctl2", "haproxy")] = unit("failed", "failed")
    run_event(*service_down(name="haproxy"))
    assert done(fired)[0]["actions"] == []
    assert "Pacemaker restarts it" in done(fired)[0]["notes"][0]


def test_stopped_service_is_started_and_verified(fired, fake):
    fake.units[("ctl2", "memcached")] = unit("failed", "failed")
    run_event(*service_down())
    report = done(fired)[0]
    [action] = report["actions"]
    assert (action["type"], action["node"], action["service"]) == ("service", "ctl2", "memcached")
    assert action["result"] is True and action["verified"] is True
    assert report["verified"] is True
    assert fake.asked("service.start") == [(("ctl2",), "service.start", ("memcached",))]


def test_a_start_that_does_not_hold_is_not_verified_and_retried(seams, fired, fake):
    fake.units[("ctl2", "memcached")] = unit("failed", "failed")
    fake.after_start[("ctl2", "memcached")] = unit("failed", "failed")
    run_event(*service_down())
    action = done(fired)[0]["actions"][0]
    assert action["result"] is True and action["verified"] is False
    assert done(fired)[0]["verified"] is False
    assert list(heal.status()["deferred"]) == ["service/ctl2/memcached"]
    for _ in range(4):  # retried after each cooldown, up to the budget
        seams.now += 61
        heal.retry()
    assert len(fake.asked("service.start")) == 3
    assert tags(fired)[-1] == "twin-cloud/heal/suppressed"
    assert fired[-1][1]["reason"] == "budget"


def test_remedy_may_apply_an_sls_instead(fired, fake):
    options(remedies={"garb": {"apply": "galera.arbitrator"}})
    fake.units[("nas", "garb")] = unit("inactive", "dead")
    run_event(*service_down(node="nas", name="garb"))
    [action] = done(fired)[0]["actions"]
    assert (action["type"], action["sls"]) == ("apply", "galera.arbitrator")
    assert fake.asked("state.apply") == [(("nas",), "state.apply", ("galera.arbitrator",))]


def test_mariadb_stopped_is_healed_by_the_galera_orchestration(fired, fake, orchestrations):
    fake.units[("ctl2", "mariadb")] = unit("failed", "failed")
    fake.galera["ctl2"] = stopped()
    run_event(*service_down(name="mariadb"))
    [action] = done(fired)[0]["actions"]
    assert action["type"] == "galera" and action["verified"] is True
    assert "plan was start" in action["comment"]
    assert orchestrations.runs == ["orch.galera"]
    assert fake.asked("service.start") == []  # never mariadb directly


def test_galera_joiner_in_sst_gets_no_action(fired, fake, orchestrations):
    fake.galera["ctl2"] = joining()
    run_event("salt/beacon/ctl1/galera/non-primary", "ctl1", {"state": "non-primary"})
    report = done(fired)[0]
    assert report["actions"] == [] and orchestrations.runs == []
    assert "recovers by itself" in report["notes"][0]


def test_a_stuck_donor_is_for_the_operator(fired, fake, orchestrations):
    fake.galera["ctl1"] = {**synced(), "local_state": 2, "local_state_comment": "Donor/Desynced"}
    run_event("salt/beacon/ctl1/galera/donor-stuck", "ctl1", {"state": "donor-stuck"})
    report = done(fired)[0]
    assert report["actions"] == [] and orchestrations.runs == []
    assert "no automatic remedy" in report["notes"][0]


def test_galera_refusal_is_reported_not_acted_on(fired, fake, orchestrations):
    fake.galera = {"ctl1": {**synced(), "mysqld": "running", "cluster_status": "Disconnected"},
                   "ctl2": stopped()}
    run_event("salt/beacon/ctl1/galera/disconnected", "ctl1", {"state": "disconnected"})
    report = done(fired)[0]
    assert report["actions"] == [] and orchestrations.runs == []
    assert "needs the operator" in report["notes"][0]


def test_boot_gets_highstate_then_galera(fired, fake, orchestrations):
    fake.galera["ctl2"] = stopped()
    run_event("salt/minion/ctl2/start", "ctl2", {"id": "ctl2"})
    actions = done(fired)[0]["actions"]
    assert [a["type"] for a in actions] == ["highstate", "galera"]
    assert fake.asked("state.apply") == [(("ctl2",), "state.apply", ())]
    assert orchestrations.runs == ["orch.galera"]


def test_boot_after_a_site_power_loss_brings_galera_back_before_the_highstates(
        fired, fake, orchestrations):
    fake.galera = {"ctl1": stopped(seqno=100), "ctl2": stopped(seqno=90)}
    run_event("salt/minion/ctl1/start", "ctl1", {"id": "ctl1"})
    actions = done(fired)[0]["actions"]
    assert [a["type"] for a in actions] == ["galera", "highstate"], actions
    assert "no Primary component" in actions[0]["why"]
    assert orchestrations.runs == ["orch.galera"]


def test_boot_while_the_other_server_does_not_report_defers_the_highstate(
        fired, fake, orchestrations):
    fake.galera = {"ctl2": stopped(seqno=90)}
    fake.up.discard("ctl1")  # the other server of a site power loss, still booting
    run_event("salt/minion/ctl2/start", "ctl2", {"id": "ctl2"})
    report = done(fired)[0]
    assert report["actions"] == [] and fake.asked("state.apply") == []
    assert any("waits for the database" in note for note in report["notes"]), report["notes"]
    assert "boot/ctl2" in heal.status()["deferred"]


def test_boot_of_a_node_never_deployed_is_the_deploys_business(fired, fake, orchestrations):
    fake.deployed.discard("ctl2")
    run_event("salt/minion/ctl2/start", "ctl2", {"id": "ctl2"})
    report = done(fired)[0]
    assert report["actions"] == [] and "never deployed" in report["notes"][0]
    assert fake.asked("state.apply") == [] and orchestrations.runs == []


def test_boot_of_the_witness_is_a_highstate_only(fired, fake, orchestrations):
    run_event("salt/minion/nas/start", "nas", {"id": "nas"})
    assert [a["type"] for a in done(fired)[0]["actions"]] == ["highstate"]


def test_boot_of_a_node_that_is_gone_again(fired, fake):
    fake.up.discard("ctl2")
    run_event("salt/minion/ctl2/start", "ctl2", {"id": "ctl2"})
    assert done(fired)[0]["actions"] == []


def test_presence_lost_with_the_survivor_primary_gets_no_action(fired, fake, orchestrations):
    fake.up.discard("ctl2")
    run_event("salt/presence/change", None, {"lost": ["ctl2"], "new": []})
    report = done(fired)[0]
    assert report["actions"] == [] and orchestrations.runs == []
    assert "Galera is whole" in report["notes"][0]


def test_pacemaker_node_lost_is_pacemakers_to_fence(fired, fake):
    fake.up.discard("ctl2")
    run_event("salt/beacon/ctl1/pacemaker/node-lost", "ctl1",
              {"change": "node-lost", "subject": "ctl2"})
    report = done(fired)[0]
    assert report["actions"] == []
    assert any("Pacemaker fences it" in note for note in report["notes"])


def resource(active, failed):
    return {"active": active, "failed": failed, "nodes": ["ctl1"] if active else []}


def pcmk(vip, quorate=True, failures=()):
    return {"quorate": quorate, "resources": {"vip": vip},
            "failures": [{"resource": r} for r in failures]}


def vip_failed():
    return ("salt/beacon/ctl1/pacemaker/resource-failed", "ctl1",
            {"change": "resource-failed", "subject": "vip"})


def test_resource_pacemaker_recovered_gets_no_action(fired, fake):
    fake.pacemaker = {"ctl1": pcmk(resource(True, False)), "ctl2": pcmk(resource(False, False))}
    run_event(*vip_failed())
    assert done(fired)[0]["actions"] == []
    assert "Pacemaker recovered it" in done(fired)[0]["notes"][0]


def test_resource_without_quorum_gets_no_action(fired, fake):
    fake.pacemaker = {"ctl1": pcmk(resource(False, True), quorate=False)}
    fake.up.discard("ctl2")
    run_event(*vip_failed())
    assert done(fired)[0]["actions"] == []
    assert "no quorum" in done(fired)[0]["notes"][0]


def test_resource_pacemaker_gave_up_on_is_cleaned_up(fired, fake):
    fake.pacemaker = {"ctl1": pcmk(resource(False, False), failures=["vip"]),
                      "ctl2": pcmk(resource(False, False), failures=["vip"])}
    run_event(*vip_failed())
    [action] = done(fired)[0]["actions"]
    assert (action["type"], action["node"], action["resource"]) == ("cleanup", "ctl1", "vip")
    assert action["verified"] is True
    [call] = fake.asked("cmd.run_all")
    assert "['crm_resource', '--cleanup', '--resource', 'vip']" in call[2]


def test_quorum_lost_starts_the_stopped_stack_units(fired, fake):
    fake.units[("ctl2", "corosync-qdevice")] = unit("failed", "failed")
    run_event("salt/beacon/ctl1/pacemaker/quorum-lost", "ctl1", {"change": "quorum-lost"})
    [action] = done(fired)[0]["actions"]
    assert (action["node"], action["service"]) == ("ctl2", "corosync-qdevice")
    asked = {call[2][0] for call in fake.asked("service.show")}
    assert asked == {"corosync", "pacemaker", "corosync-qdevice", "corosync-qnetd"}


def test_quorum_lost_with_the_stack_running_gets_no_action(fired, fake):
    run_event("salt/beacon/ctl1/pacemaker/quorum-lost", "ctl1", {"change": "quorum-lost"})
    assert done(fired)[0]["actions"] == []
    assert "Pacemaker and the quorum device decide" in done(fired)[0]["notes"][0]


def test_actions_are_merged_and_ordered():
    actions = [
        {"type": "galera", "node": None, "kinds": ["galera"], "why": "a"},
        {"type": "service", "node": "ctl2", "service": "memcached", "kinds": ["s"], "why": "b"},
        {"type": "galera", "node": None, "kinds": ["boot/ctl2"], "why": "c"},
        {"type": "highstate", "node": "ctl2", "kinds": ["boot/ctl2"], "why": "d"},
    ]
    merged = heal._merge(actions)
    assert [a["type"] for a in merged] == ["highstate", "service", "galera"]
    assert merged[2]["kinds"] == ["galera", "boot/ctl2"]


# --- crashes ---------------------------------------------------------------------------------


def test_a_crash_leaves_no_lock_and_the_next_event_runs(fired):
    options(dry_run=True)
    os.makedirs(state_dir(), exist_ok=True)
    open(os.path.join(state_dir(), "crash-next"), "w", encoding="utf-8").close()
    with pytest.raises(RuntimeError, match="simulated crash"):
        heal.event(*service_down())
    assert not os.path.exists(lock_path())
    ret = heal.event(*service_down(name="rabbitmq-server"))
    assert len(ret["runs"]) == 1 and tags(fired) == ["twin-cloud/heal/done"]


def test_crash_hook_is_dry_run_only(fired, fake):
    os.makedirs(state_dir(), exist_ok=True)
    open(os.path.join(state_dir(), "crash-next"), "w", encoding="utf-8").close()
    heal.event(*service_down())
    assert tags(fired) == ["twin-cloud/heal/done"]


def test_an_action_that_raises_is_a_failed_action(fired, fake, monkeypatch):
    fake.units[("ctl2", "memcached")] = unit("failed", "failed")

    def broken(settings, action):
        raise OSError("boom")

    monkeypatch.setattr(heal, "_do_service", broken)
    heal.event(*service_down())
    action = done(fired)[0]["actions"][0]
    assert action["result"] is False and "boom" in action["comment"]
    assert not os.path.exists(lock_path())


# --- settings and status ----------------------------------------------------------------------


def test_settings_refuse_nonsense():
    options(settle=-1)
    with pytest.raises(ValueError, match="heal:settle"):
        heal._settings()


def test_status_and_reset(seams, fired):
    options(dry_run=True)
    heal.event(*service_down())
    status = heal.status()
    assert status["dry_run"] is True and status["lock"] is None and status["queued"] == 0
    assert status["kinds"]["service/ctl2/memcached"]["attempts"] == 1
    heal.event(*service_down())
    assert heal.status()["suppressed"]["service/ctl2/memcached"]["reason"] == "cooldown"
    assert heal.reset()["forgotten"] == ["service/ctl2/memcached"]
    assert heal.status()["kinds"] == {}


def test_public_functions_have_cli_examples():
    for name in ("event", "status", "reset", "retry", "pause", "resume"):
        assert "CLI Example:" in getattr(heal, name).__doc__


def test_status_keeps_the_recent_runs(seams, fired, fake):
    fake.units[("ctl2", "memcached")] = unit("failed", "failed")
    heal.event(*service_down())
    seams.now += 1000
    fake.units[("ctl2", "rabbitmq-server")] = unit("activating", "auto-restart")
    heal.event(*service_down(name="rabbitmq-server"))
    runs = heal.status()["runs"]
    assert [run["kinds"] for run in runs] == [["service/ctl2/memcached"],
                                              ["service/ctl2/rabbitmq-server"]]
    assert runs[0]["actions"][0]["type"] == "service" and runs[0]["actions"][0]["verified"]
    assert runs[1]["actions"] == [] and "systemd is restarting it" in runs[1]["notes"][0]
    assert [run["kinds"] for run in heal.status(runs=1)["runs"]] == [
        ["service/ctl2/rabbitmq-server"]]


def test_a_fault_suppressed_in_the_cooldown_is_retried_once_it_is_over(seams, fired, fake):
    fake.units[("ctl2", "memcached")] = unit("failed", "failed")
    heal.event(*service_down())  # attempt 1: started
    seams.now += 30
    fake.units[("ctl2", "memcached")] = unit("failed", "failed")  # down again
    heal.event(*service_down())
    assert tags(fired)[-1] == "twin-cloud/heal/suppressed"
    deferred = heal.status()["deferred"]
    assert deferred == {"service/ctl2/memcached": seams.now - 30 - 2 + 60}
    assert heal.retry() == {"due": [], "waiting": ["service/ctl2/memcached"]}
    seams.now += 60
    fired.clear()
    ret = heal.retry()
    assert ret["due"] == ["service/ctl2/memcached"] and ret["waiting"] == []
    [report] = done(fired)
    assert report["faults"][0]["retry"] is True
    assert report["actions"][0]["type"] == "service"
    assert len(fake.asked("service.start")) == 2
    status = heal.status()
    assert status["deferred"] == {}
    assert status["kinds"]["service/ctl2/memcached"]["faults"] == 2  # the retry is no new fault


def test_retry_with_nothing_deferred_does_nothing(fired, fake):
    assert heal.retry() == {"due": [], "waiting": []}
    assert fired == [] and fake.calls == []


def test_reset_forgets_the_deferred_faults(seams, fired):
    options(dry_run=True)
    heal.event(*service_down())
    heal.event(*service_down())
    assert heal.status()["deferred"]
    heal.reset(kind="service/ctl2/memcached")
    assert heal.status()["deferred"] == {}


def test_nothing_is_probed_or_done_beside_a_running_orchestration(seams, fired, fake, monkeypatch):
    running = ["runner.state.orchestrate orch.deploy (jid 20260101)"]
    monkeypatch.setattr(heal, "_orchestrations_running", lambda: list(running))
    fake.units[("ctl2", "memcached")] = unit("failed", "failed")
    heal.event(*service_down())
    report = done(fired)[0]
    assert report["actions"] == [] and fake.calls == []
    assert "orch.deploy" in report["notes"][0]
    assert heal.status()["kinds"]["service/ctl2/memcached"]["attempts"] == 0
    running.clear()
    seams.now += 5
    fired.clear()
    heal.retry()
    assert done(fired)[0]["actions"][0]["type"] == "service"


def test_orchestrations_running_reads_the_masters_jobs(monkeypatch):
    jobs = [{"fun": "runner.state.orchestrate", "fun_args": ["orch.galera"], "jid": "1"},
            {"fun": "runner.heal.event", "jid": "2"}, {"fun": "runner.state.orch", "jid": "3"}]
    monkeypatch.setattr(heal.salt.utils.master, "get_running_jobs", lambda opts: jobs)
    assert ORCHESTRATIONS_RUNNING() == [
        "runner.state.orch  (jid 3)", "runner.state.orchestrate orch.galera (jid 1)"]


def test_a_pause_keeps_the_faults_until_resume(seams, fired, fake):
    paused = heal.pause(reason="disk swap on ctl2")
    assert paused["until"] is None and heal.status()["paused"]["reason"] == "disk swap on ctl2"
    fake.units[("ctl2", "memcached")] = unit("failed", "failed")
    heal.event(*service_down())
    report = done(fired)[0]
    assert report["actions"] == [] and "healing is paused (disk swap on ctl2)" in report["notes"][0]
    assert fake.calls == []
    seams.now += 3600
    assert heal.retry()["due"] == []  # still paused
    assert heal.resume()["resumed"] is True
    fired.clear()
    assert heal.retry()["due"] == ["service/ctl2/memcached"]
    assert done(fired)[0]["actions"][0]["type"] == "service"
    assert heal.resume()["resumed"] is False


def test_a_timed_pause_ends_by_itself(seams, fired, fake):
    heal.pause(minutes=10)
    fake.units[("ctl2", "memcached")] = unit("failed", "failed")
    heal.event(*service_down())
    assert done(fired)[0]["actions"] == []
    seams.now += 601
    assert heal.status()["paused"] is None
    fired.clear()
    assert heal.retry()["due"] == ["service/ctl2/memcached"]
    assert done(fired)[0]["actions"][0]["type"] == "service"
