"""The Galera bootstrap rule (DESIGN.md section 3), situation by situation."""

import dataclasses

import pytest

from tests.conftest import load_ext

galera_plan = load_ext("modules", "galera_plan")
plan = galera_plan.plan

UUID = "6a9d5d4b-1c8e-11ef-9b0e-7e5b1f0f2a11"
OTHER_UUID = "9f0c1e2d-3b4a-11ef-8c7d-0242ac120002"
NULL_UUID = "00000000-0000-0000-0000-000000000000"
PREF = ["ctl1", "ctl2"]
FLAG = "galera:force_bootstrap_node"


# --- probes as galera.probe returns them ------------------------------------------


def running(status="Primary", state=4, comment="Synced", size=3, uuid=UUID, seqno=100):
    return {
        "reachable": True,
        "mysqld": "running",
        "cluster_status": status,
        "local_state": state,
        "local_state_comment": comment,
        "cluster_size": size,
        "uuid": uuid,
        "seqno": seqno,
        "ready": status == "Primary",
        "connected": status != "Disconnected",
        "safe_to_bootstrap": None,
        "position_source": "status",
        "prepared_transactions": 0,
        "error": None,
    }


def non_primary(seqno=100, size=1):
    return running("non-Primary", 0, "Initialized", size, seqno=seqno)


def stopped(seqno=100, uuid=UUID, safe=False, prepared=0, source="grastate", error=None):
    return {
        "reachable": True,
        "mysqld": "stopped",
        "cluster_status": None,
        "local_state": None,
        "local_state_comment": None,
        "cluster_size": None,
        "uuid": uuid,
        "seqno": seqno,
        "ready": None,
        "connected": None,
        "safe_to_bootstrap": safe,
        "position_source": source,
        "prepared_transactions": prepared,
        "error": error,
    }


def starting(error="Can't connect to local server through socket '/run/mysqld/mysqld.sock'"):
    return {"reachable": True, "mysqld": "starting", "error": error}


NO_ANSWER = {"reachable": False, "error": "no answer from its minion"}
NOT_LOADED = {"reachable": True, "mysqld": None, "error": "'galera.probe' is not available."}
UNKNOWN_POSITION = stopped(
    seqno=None, uuid=None, source="wsrep-recover", error="mariadbd --wsrep-recover gave no position"
)


@dataclasses.dataclass
class Case:
    id: str
    probes: dict
    action: str
    node: object = None
    then_start: list = dataclasses.field(default_factory=list)
    says: tuple = ()
    preference: list = dataclasses.field(default_factory=lambda: list(PREF))
    force_node: object = None
    fenced: tuple = ()


# fmt: off
CASES = [
    # --- a Primary Component exists: never bootstrap --------------------------------
    Case("all running Primary and Synced", {"ctl1": running(), "ctl2": running()}, "none",
         says=("Primary and Synced",)),
    Case("peer stopped while the other is Primary: start it (IST)",
         {"ctl1": running(size=2), "ctl2": stopped(seqno=90)}, "start", "ctl2",
         says=("holds the Primary Component", "IST/SST")),
    Case("peer with an empty datadir joins by SST",
         {"ctl1": running(size=2), "ctl2": stopped(seqno=-1, uuid=NULL_UUID)}, "start", "ctl2"),
    Case("peer cannot report, survivor Primary: nothing to do from here",
         {"ctl1": running(size=2), "ctl2": None}, "none",
         says=("ctl2 (cannot report", "when its minion comes back")),
    Case("peer confirmed off, survivor Primary with the witness",
         {"ctl1": running(size=2), "ctl2": None}, "none", fenced=("ctl2",),
         says=("ctl2 (confirmed powered off)",)),
    Case("joiner in SST (mysqld starting) beside its donor: wait",
         {"ctl1": running(state=2, comment="Donor/Desynced"), "ctl2": starting()}, "wait",
         says=("State transfer in progress", "recovers by itself")),
    Case("joiner in IST (Primary, Joining): wait",
         {"ctl1": running(), "ctl2": running(state=1, comment="Joining")}, "wait",
         says=("State transfer in progress",)),
    Case("joined, catching up: wait",
         {"ctl1": running(), "ctl2": running(state=3, comment="Joined")}, "wait"),
    Case("donor while the other is stopped: wait before starting another joiner",
         {"ctl1": running(state=2, comment="Donor/Desynced"), "ctl2": stopped()}, "wait"),
    Case("cut link: witness side Primary, other side non-Primary heals by itself",
         {"ctl1": running(size=2), "ctl2": non_primary(seqno=95)}, "wait",
         says=("rejoins by itself", "serves nothing")),
    Case("two Primary Components with different histories: split brain",
         {"ctl1": running(size=1), "ctl2": running(size=1, uuid=OTHER_UUID)}, "refuse",
         says=("split brain", "Decide whose data wins")),
    Case("split brain is refused even with a force flag",
         {"ctl1": running(size=1), "ctl2": running(size=1, uuid=OTHER_UUID)}, "refuse",
         force_node="ctl1", says=("split brain",)),
    Case("stopped peer with another history: starting it would wipe it",
         {"ctl1": running(size=2), "ctl2": stopped(uuid=OTHER_UUID)}, "refuse",
         says=(OTHER_UUID, "replace its data by SST", f"`{FLAG}: ctl1`")),
    Case("stopped peer with another history, operator keeps the Primary's data",
         {"ctl1": running(size=2), "ctl2": stopped(uuid=OTHER_UUID)}, "start", "ctl2",
         force_node="ctl1", says=("the Primary Component's data wins",)),
    Case("a force flag naming the stranger does not let it in",
         {"ctl1": running(size=2), "ctl2": stopped(uuid=OTHER_UUID)}, "refuse",
         force_node="ctl2", says=("which is not Primary",)),
    Case("a forgotten force flag changes nothing while a Primary runs",
         {"ctl1": running(size=2), "ctl2": stopped()}, "start", "ctl2", force_node="ctl2"),
    Case("fencing evidence is stale: a node that answers is on, its report wins",
         {"ctl1": running(), "ctl2": running()}, "none", fenced=("ctl2",)),
    # --- mysqld stopped on every data node: the bootstrap rule ----------------------
    Case("rule 1: safe_to_bootstrap: 1 wins over a higher seqno",
         {"ctl1": stopped(seqno=120), "ctl2": stopped(seqno=110, safe=True)},
         "bootstrap", "ctl2", ["ctl1"], says=("safe_to_bootstrap: 1",)),
    Case("rule 2: highest seqno (recovered with --wsrep-recover)",
         {"ctl1": stopped(seqno=97, source="wsrep-recover"),
          "ctl2": stopped(seqno=101, source="wsrep-recover")},
         "bootstrap", "ctl2", ["ctl1"], says=("highest seqno (101; ctl1: 97)",)),
    Case("rule 2: a tie goes to the first node of the preference",
         {"ctl1": stopped(seqno=100), "ctl2": stopped(seqno=100)},
         "bootstrap", "ctl1", ["ctl2"], says=("tie at seqno 100", "galera:preference")),
    Case("rule 2: the tie follows the preference, not the probe order",
         {"ctl2": stopped(seqno=100), "ctl1": stopped(seqno=100)},
         "bootstrap", "ctl2", ["ctl1"], preference=["ctl2", "ctl1"]),
    Case("a new cluster (no history anywhere): first of the preference",
         {"ctl1": stopped(seqno=-1, uuid=NULL_UUID, source="wsrep-recover"),
          "ctl2": stopped(seqno=-1, uuid=None, source="wsrep-recover")},
         "bootstrap", "ctl1", ["ctl2"], says=("new cluster",)),
    Case("an empty datadir next to a node with history is no conflict",
         {"ctl1": stopped(seqno=-1, uuid=NULL_UUID), "ctl2": stopped(seqno=12)},
         "bootstrap", "ctl2", ["ctl1"]),
    Case("rule 3: different cluster UUIDs",
         {"ctl1": stopped(seqno=100), "ctl2": stopped(seqno=5, uuid=OTHER_UUID)}, "refuse",
         says=("different cluster UUIDs", UUID, OTHER_UUID, f"`{FLAG}: ctl1`")),
    Case("rule 3: different cluster UUIDs, the operator decided",
         {"ctl1": stopped(seqno=100), "ctl2": stopped(seqno=5, uuid=OTHER_UUID)},
         "bootstrap", "ctl2", ["ctl1"], force_node="ctl2",
         says=(f"{FLAG} is ctl2", "Remove the flag")),
    Case("rule 3: a node that cannot report and is not confirmed off",
         {"ctl1": stopped(seqno=100), "ctl2": None}, "refuse",
         says=("not confirmed powered off", f"`{FLAG}: ctl1`", "bring ctl2 back")),
    Case("rule 3: a node whose minion runs but cannot probe counts as silent",
         {"ctl1": stopped(seqno=100), "ctl2": NOT_LOADED}, "refuse",
         says=("'galera.probe' is not available.",)),
    Case("rule 3: the silent node is confirmed off by its BMC",
         {"ctl1": stopped(seqno=100), "ctl2": NO_ANSWER}, "bootstrap", "ctl1", [],
         fenced=("ctl2",), says=("only data node that can report", "powered off")),
    Case("rule 3: the operator forces the survivor",
         {"ctl1": stopped(seqno=100), "ctl2": None}, "bootstrap", "ctl1", [],
         force_node="ctl1", says=(f"{FLAG} is ctl1", "not confirmed powered off")),
    Case("the force flag cannot name a node that cannot report",
         {"ctl1": stopped(seqno=100), "ctl2": None}, "refuse", force_node="ctl2",
         says=(f"{FLAG} names ctl2", "it must name one of ctl1")),
    Case("a position that cannot be recovered",
         {"ctl1": stopped(seqno=100), "ctl2": UNKNOWN_POSITION}, "refuse",
         says=("position unknown", "gave no position")),
    Case("a forgotten force flag never overrides the evidence",
         {"ctl1": stopped(seqno=90), "ctl2": stopped(seqno=100)}, "bootstrap", "ctl2",
         ["ctl1"], force_node="ctl1"),
    Case("prepared transactions that may reorder the seqnos",
         {"ctl1": stopped(seqno=100), "ctl2": stopped(seqno=99, prepared=2)}, "refuse",
         says=("2 prepared transaction(s)", "seqno no longer decides", f"`{FLAG}: ctl1`")),
    Case("prepared transactions on a tie",
         {"ctl1": stopped(seqno=100), "ctl2": stopped(seqno=100, prepared=1)}, "refuse"),
    Case("prepared transactions too few to matter",
         {"ctl1": stopped(seqno=100), "ctl2": stopped(seqno=90, prepared=3)},
         "bootstrap", "ctl1", ["ctl2"]),
    Case("prepared transactions on the picked node only push it further ahead",
         {"ctl1": stopped(seqno=100, prepared=4), "ctl2": stopped(seqno=90)},
         "bootstrap", "ctl1", ["ctl2"]),
    Case("prepared transactions do not override safe_to_bootstrap",
         {"ctl1": stopped(seqno=100, safe=True), "ctl2": stopped(seqno=99, prepared=5)},
         "bootstrap", "ctl1", ["ctl2"]),
    Case("prepared transactions, the operator decided",
         {"ctl1": stopped(seqno=100), "ctl2": stopped(seqno=99, prepared=2)},
         "bootstrap", "ctl1", ["ctl2"], force_node="ctl1"),
    Case("no data node can report: nothing to decide yet",
         {"ctl1": None, "ctl2": NO_ANSWER}, "wait", says=("No data node can report",)),
    Case("every data node is powered off",
         {}, "wait", fenced=("ctl1", "ctl2"), says=("confirmed powered off",)),
    Case("mysqld starting with no Primary anywhere (a bootstrap in progress)",
         {"ctl1": starting(), "ctl2": stopped()}, "wait", says=("starting",)),
    # --- some run, none is Primary: pc.bootstrap=YES on one side at most -------------
    Case("survivor non-Primary, peer confirmed off: recover on the survivor",
         {"ctl1": non_primary(), "ctl2": None}, "recover_primary", "ctl1", [],
         fenced=("ctl2",), says=("pc.bootstrap=YES", "powered off")),
    Case("survivor non-Primary, peer not confirmed off: refuse (maybe a partition)",
         {"ctl1": non_primary(), "ctl2": None}, "refuse",
         says=("other side of a partition", f"`{FLAG}: ctl1`")),
    Case("survivor non-Primary, peer silent, the operator decided",
         {"ctl1": non_primary(), "ctl2": None}, "recover_primary", "ctl1", [],
         force_node="ctl1"),
    Case("survivor non-Primary, peer's mysqld stopped behind it",
         {"ctl1": non_primary(seqno=100), "ctl2": stopped(seqno=98)},
         "recover_primary", "ctl1", ["ctl2"]),
    Case("survivor non-Primary, peer stopped but ahead",
         {"ctl1": non_primary(seqno=100), "ctl2": stopped(seqno=104)}, "refuse",
         says=("may be ahead of ctl1", "seqno up to 104")),
    Case("survivor non-Primary, peer stopped with another history",
         {"ctl1": non_primary(), "ctl2": stopped(seqno=1, uuid=OTHER_UUID)}, "refuse",
         says=("another cluster history",)),
    Case("survivor non-Primary, peer position unknown",
         {"ctl1": non_primary(), "ctl2": UNKNOWN_POSITION}, "refuse",
         says=("cannot be compared",)),
    Case("both sides non-Primary: never bootstrap both sides of a partition",
         {"ctl1": non_primary(seqno=100), "ctl2": non_primary(seqno=103)}, "refuse",
         says=("only one side may be made Primary", f"`{FLAG}: ctl2`")),
    Case("both sides non-Primary even when one is listed as fenced",
         {"ctl1": non_primary(), "ctl2": non_primary()}, "refuse", fenced=("ctl2",)),
    Case("both sides non-Primary, the operator picks one",
         {"ctl1": non_primary(seqno=100), "ctl2": non_primary(seqno=103)},
         "recover_primary", "ctl1", [], force_node="ctl1"),
    Case("the witness is quoted, never a candidate",
         {"ctl1": non_primary(), "ctl2": non_primary(),
          "nas": {"role": "witness", "reachable": True, "garbd": "stopped"}}, "refuse",
         says=("Witness nas: garbd stopped",)),
    Case("an unreachable witness is said so",
         {"ctl1": non_primary(), "ctl2": None, "nas": {"role": "witness", "reachable": False}},
         "refuse", says=("Witness nas cannot report",)),
    Case("a witness in the probes changes no decision",
         {"ctl1": running(), "ctl2": stopped(), "nas": {"role": "witness", "garbd": "running"}},
         "start", "ctl2"),
    Case("mysqld serving outside any cluster (wsrep Disconnected)",
         {"ctl1": running("Disconnected", 0, "Initialized", 0, uuid=""), "ctl2": stopped()},
         "refuse", says=("outside any Galera cluster", "wsrep_provider")),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_plan(case):
    result = plan(case.probes, case.preference, force_node=case.force_node, fenced=case.fenced)
    assert (result["action"], result["node"], result["then_start"]) == (
        case.action,
        case.node,
        case.then_start,
    ), result["reason"]
    for text in case.says:
        assert text in result["reason"]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_plan_invariants(case):
    result = plan(case.probes, case.preference, force_node=case.force_node, fenced=case.fenced)
    assert set(result) == {"action", "node", "then_start", "reason"}
    assert result["reason"]
    if result["action"] in ("none", "wait", "refuse"):
        assert result["node"] is None and result["then_start"] == []
    else:
        assert result["node"] in case.preference
        assert result["node"] not in result["then_start"]
        assert set(result["then_start"]) <= set(case.preference)
    reports = [galera_plan._probe_of(case.probes.get(n)) for n in case.preference]
    if result["action"] == "bootstrap":
        assert all(p.get("mysqld") != "running" for p in reports)
    operator_only = ("split brain", "outside any Galera cluster")
    if result["action"] == "refuse" and not any(t in result["reason"] for t in operator_only):
        assert FLAG in result["reason"], "a refusal names the flag that decides"


def test_refusal_tells_exactly_which_flag_to_set():
    result = plan({"ctl1": stopped(seqno=100), "ctl2": None}, PREF)
    assert f"set `{FLAG}: ctl1` in pillar" in result["reason"]
    assert "remove the flag once the cluster is up" in result["reason"]


def test_plan_is_pure():
    probes = {"ctl1": stopped(seqno=100), "ctl2": stopped(seqno=101)}
    snapshot = repr(probes)
    assert plan(probes, PREF) == plan(probes, PREF)
    assert repr(probes) == snapshot


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"preference": "ctl1,ctl2"}, "non-empty list"),
        ({"preference": []}, "non-empty list"),
        ({"preference": ["ctl1", "ctl1"]}, "names a node twice"),
        ({"preference": ["ctl1", None]}, "non-empty list"),
        ({"force_node": "nas"}, "not a data node"),
        ({"fenced": "ctl2"}, "list of node ids"),
        ({"probes": [("ctl1", None)]}, "probes must map"),
    ],
)
def test_invalid_input_is_a_clear_error(kwargs, message):
    arguments = {"probes": {}, "preference": PREF, **kwargs}
    with pytest.raises(ValueError, match=message):
        plan(**arguments)
