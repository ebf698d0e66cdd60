"""Unit tests of _states/galera.py: the orchestration's view of a fake cluster."""

import copy
from unittest.mock import MagicMock, patch

import pytest
import salt.config
import salt.loader

from tests.conftest import load_ext

galera_state = load_ext("states", "galera")
galera_plan = load_ext("modules", "galera_plan")

UUID = "6a9d5d4b-1c8e-11ef-9b0e-7e5b1f0f2a11"
PREF = ["ctl1", "ctl2"]
FLAG = "galera:force_bootstrap_node"


def synced(size=3, seqno=100):
    return {
        "reachable": True,
        "mysqld": "running",
        "cluster_status": "Primary",
        "local_state": 4,
        "local_state_comment": "Synced",
        "cluster_size": size,
        "uuid": UUID,
        "seqno": seqno,
        "ready": True,
        "connected": True,
        "position_source": "status",
        "prepared_transactions": 0,
        "error": None,
    }


def joining():
    return {**synced(), "local_state": 1, "local_state_comment": "Joining", "ready": False}


def non_primary(seqno=100):
    return {
        **synced(size=1, seqno=seqno),
        "cluster_status": "non-Primary",
        "local_state": 0,
        "local_state_comment": "Initialized",
        "ready": False,
    }


def stopped(seqno=100, safe=False):
    return {
        "reachable": True,
        "mysqld": "stopped",
        "uuid": UUID,
        "seqno": seqno,
        "safe_to_bootstrap": safe,
        "position_source": "grastate",
        "prepared_transactions": 0,
        "error": None,
    }


def starting():
    return {"reachable": True, "mysqld": "starting", "error": "Can't connect"}


class FakeCluster:
    """``saltutil.cmd`` on the master: what each data node answers and does.

    ``probes[node]`` is None for a node whose minion does not answer.
    ``timeline[node]`` lists the probes a node goes through, one per probe
    (the last one stays), e.g. a joiner finishing its SST. ``after[(node,
    fun)]`` is the timeline a node starts once it ran an action (default:
    Primary and Synced at once). ``fail[(node, fun)]`` makes an action fail.
    """

    def __init__(self, probes, garbd=True):
        self.probes = copy.deepcopy(probes)
        self.garbd = garbd
        self.after, self.timeline, self.fail = {}, {}, {}
        self.actions, self.requests = [], []
        # galera.ensure_accounts: what it answers, and (node, kwarg) per call
        self.accounts_ret = {"changed": False, "changes": [], "comment": "accounts are as wanted"}
        self.accounts = []
        self.on_restart = None  # what a garbd restart does to the cluster

    def __call__(self, tgt, fun, arg=(), tgt_type="glob", timeout=None, kwarg=None):
        assert tgt_type == "list" and isinstance(tgt, list)
        self.requests.append((tuple(tgt), fun, tuple(arg)))
        out = {}
        for node in tgt:
            if fun == "service.status":
                out[node] = {"ret": self.garbd, "retcode": 0}
            elif fun == "service.restart":
                self.actions.append((node, fun))
                if self.on_restart:
                    self.on_restart(self)
                out[node] = {"ret": True, "retcode": 0}
            elif self.probes.get(node) is None:
                out[node] = {"out": "no_return", "ret": "Minion did not return.", "retcode": 1}
            elif (node, fun) in self.fail:
                out[node] = {"ret": f"ERROR: {self.fail[node, fun]}", "retcode": 1}
            elif fun == "galera.probe":
                out[node] = {"ret": self._probe(node), "retcode": 0}
            elif fun == "galera.ensure_accounts":
                self.accounts.append((node, kwarg or {}))
                out[node] = {"ret": copy.deepcopy(self.accounts_ret), "retcode": 0}
            else:
                out[node] = {"ret": self._act(node, fun), "retcode": 0}
        return out

    def _probe(self, node):
        if self.timeline.get(node):
            self.probes[node] = self.timeline[node].pop(0)
        return copy.deepcopy(self.probes[node])

    def _act(self, node, fun):
        self.actions.append((node, fun))
        first, *rest = self.after.get((node, fun), [synced()])
        self.probes[node], self.timeline[node] = first, rest
        return {"changed": True, "comment": f"{fun.split('.')[1]} done", "probe": self.probes[node]}


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def sleep(self, seconds):
        self.now += seconds

    def __call__(self):
        return self.now


@pytest.fixture
def configure_loader_modules():
    return {
        galera_state: {
            "__salt__": {
                "galera_plan.plan": galera_plan.plan,
                "pillar.get": lambda key, default=None, unmask=False: default,
            },
            "__opts__": {"test": False, "__role": "master"},
        }
    }


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(galera_state, "_clock", fake)
    monkeypatch.setattr(galera_state, "_sleep", fake.sleep)
    return fake


def converge(cluster, test=False, pillar=None, extra_salt=None, **kwargs):
    kwargs.setdefault("preference", PREF)
    kwargs.setdefault("wait_timeout", 30)
    kwargs.setdefault("sync_timeout", 60)
    salt = {"saltutil.cmd": cluster, **(extra_salt or {})}
    if pillar is not None:
        salt["pillar.get"] = lambda key, default=None, unmask=False: pillar.get(key, default)
    with (
        patch.dict(galera_state.__salt__, salt),
        patch.dict(galera_state.__opts__, {"test": test}),
    ):
        return galera_state.converged("galera", **kwargs)


# --- loading -----------------------------------------------------------------------------


def test_virtual_only_on_the_master_with_galera_plan():
    with patch.dict(galera_state.__opts__, {"__role": "minion"}):
        loaded, reason = galera_state.__virtual__()
    assert loaded is False and "orchestration on the salt-master" in reason
    assert galera_state.__virtual__() == "galera"
    with patch.dict(galera_state.__salt__, clear=True):
        loaded, reason = galera_state.__virtual__()
    assert loaded is False and "saltutil.sync_all" in reason


# --- nothing to do: idempotent -----------------------------------------------------------


@pytest.mark.parametrize("test", [False, True], ids=["run", "test-mode"])
def test_converged_cluster_is_left_alone(test):
    cluster = FakeCluster({"ctl1": synced(), "ctl2": synced()})
    ret = converge(cluster, test=test)
    assert ret["result"] is True
    assert ret["changes"] == {}
    assert "Primary and Synced" in ret["comment"]
    assert cluster.actions == []
    assert cluster.requests[0] == (("ctl1", "ctl2"), "galera.probe", ())


# --- test mode: the plan, no action --------------------------------------------------------


def test_test_mode_shows_the_plan_and_acts_on_nothing():
    cluster = FakeCluster({"ctl1": stopped(seqno=90), "ctl2": stopped(seqno=100)})
    ret = converge(cluster, test=True)
    assert ret["result"] is None
    assert ret["changes"]["plan"]["action"] == "bootstrap"
    assert ret["changes"]["plan"]["node"] == "ctl2"
    assert ret["changes"]["plan"]["then_start"] == ["ctl1"]
    assert ret["comment"].startswith("Would bootstrap ctl2, then start ctl1: ")
    assert cluster.actions == []


def test_test_mode_of_a_wait():
    cluster = FakeCluster({"ctl1": synced(), "ctl2": joining()})
    ret = converge(cluster, test=True)
    assert ret["result"] is None
    assert ret["changes"]["plan"]["action"] == "wait"
    assert cluster.actions == []


# --- acting serially --------------------------------------------------------------------------


def test_full_outage_bootstraps_the_most_advanced_then_starts_the_other():
    cluster = FakeCluster({"ctl1": stopped(seqno=90), "ctl2": stopped(seqno=100)})
    ret = converge(cluster)
    assert cluster.actions == [("ctl2", "galera.bootstrap"), ("ctl1", "galera.start")]
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"]["plan"]["action"] == "bootstrap"
    assert ret["changes"]["steps"] == [
        "ctl2: bootstrap: bootstrap done",
        "ctl1: start: start done",
    ]
    assert ret["comment"].endswith("Primary and Synced.")


def test_the_second_node_starts_only_once_the_first_is_synced():
    cluster = FakeCluster({"ctl1": stopped(seqno=100, safe=True), "ctl2": stopped(seqno=100)})
    cluster.after["ctl1", "galera.bootstrap"] = [starting(), starting(), synced(size=1)]
    ret = converge(cluster)
    assert ret["result"] is True, ret["comment"]
    probes_between = cluster.requests.index((("ctl2",), "galera.start", ()))
    seen = [r for r in cluster.requests[:probes_between] if r == (("ctl1",), "galera.probe", ())]
    assert len(seen) == 2, "ctl1 was probed until Synced before ctl2 was started"


def test_one_node_down_beside_a_primary_is_started():
    cluster = FakeCluster({"ctl1": synced(size=2), "ctl2": stopped(seqno=90)})
    ret = converge(cluster)
    assert cluster.actions == [("ctl2", "galera.start")]
    assert ret["result"] is True
    assert ret["changes"]["plan"]["action"] == "start"


def test_survivor_is_made_primary_once_its_peer_is_fenced():
    cluster = FakeCluster({"ctl1": non_primary(), "ctl2": None})
    ret = converge(cluster, fenced=["ctl2"])
    assert cluster.actions == [("ctl1", "galera.recover_primary")]
    assert ret["result"] is True, ret["comment"]
    assert "ctl2 (confirmed powered off)" in ret["comment"]


def test_a_joiner_is_left_to_finish_by_itself():
    cluster = FakeCluster({"ctl1": synced(), "ctl2": starting()})
    cluster.timeline["ctl2"] = [starting(), joining(), synced()]
    ret = converge(cluster)
    assert cluster.actions == []
    assert ret["result"] is True
    assert ret["changes"] == {}


# --- refusing and failing ------------------------------------------------------------------


@pytest.mark.parametrize("test", [False, True], ids=["run", "test-mode"])
def test_refusal_changes_nothing_and_says_which_flag(test):
    cluster = FakeCluster({"ctl1": stopped(), "ctl2": None})
    ret = converge(cluster, test=test)
    assert ret["result"] is False
    assert ret["changes"] == {}
    assert f"`{FLAG}: ctl1`" in ret["comment"]
    assert cluster.actions == []


def test_the_force_flag_comes_from_pillar():
    cluster = FakeCluster({"ctl1": stopped(), "ctl2": None})
    ret = converge(cluster, pillar={FLAG: "ctl1"})
    assert cluster.actions == [("ctl1", "galera.bootstrap")]
    assert ret["result"] is True, ret["comment"]


def test_a_bad_force_flag_is_a_clear_error_before_anything_is_done():
    cluster = FakeCluster({"ctl1": stopped(), "ctl2": stopped()})
    ret = converge(cluster, force_node="nas")
    assert ret["result"] is False
    assert "not a data node" in ret["comment"]
    assert cluster.actions == []


def test_waiting_has_a_budget():
    cluster = FakeCluster({"ctl1": synced(size=2), "ctl2": non_primary(seqno=95)})
    ret = converge(cluster, wait_timeout=30, interval=5)
    assert ret["result"] is False
    assert ret["comment"].startswith("Still waiting after 30s: ")
    assert cluster.actions == []


def test_a_failed_action_stops_the_run():
    cluster = FakeCluster({"ctl1": stopped(seqno=90), "ctl2": stopped(seqno=100)})
    cluster.fail["ctl2", "galera.bootstrap"] = "mysqld is running on this node: refusing"
    ret = converge(cluster)
    assert ret["result"] is False
    assert "galera.bootstrap on ctl2 failed: ERROR: mysqld is running" in ret["comment"]
    assert "journalctl -u mariadb" in ret["comment"]
    assert cluster.actions == []


def test_a_node_that_never_syncs_stops_the_run_and_reports_what_was_done():
    cluster = FakeCluster({"ctl1": stopped(seqno=90), "ctl2": stopped(seqno=100)})
    cluster.after["ctl1", "galera.start"] = [starting()]
    ret = converge(cluster, sync_timeout=60)
    assert cluster.actions == [("ctl2", "galera.bootstrap"), ("ctl1", "galera.start")]
    assert ret["result"] is False
    assert "ctl1 did not reach Synced within 60s" in ret["comment"]
    assert ret["changes"]["steps"] == ["ctl2: bootstrap: bootstrap done", "ctl1: start: start done"]


def test_an_action_is_never_repeated():
    cluster = FakeCluster({"ctl1": synced(size=2), "ctl2": stopped(seqno=90)})
    # joins, is seen Synced once, then falls over
    cluster.after["ctl2", "galera.start"] = [synced(), synced(), stopped(seqno=90)]
    ret = converge(cluster)
    assert cluster.actions == [("ctl2", "galera.start")]
    assert ret["result"] is False
    assert "ctl2 still needs start after it was done once" in ret["comment"]


# --- settings ----------------------------------------------------------------------------------


def test_data_nodes_from_pillar_preference():
    cluster = FakeCluster({"ctl2": stopped(seqno=100), "ctl1": stopped(seqno=100)})
    ret = converge(
        cluster, test=True, preference=None, pillar={"galera:preference": ["ctl2", "ctl1"]}
    )
    assert ret["changes"]["plan"]["node"] == "ctl2", "a tie follows galera:preference"


def test_data_nodes_and_witness_from_the_inventory():
    cluster = FakeCluster({"ctl1": non_primary(), "ctl2": non_primary()}, garbd=False)
    inventory = {
        "inventory.controllers": MagicMock(return_value=["ctl1", "ctl2"]),
        "inventory.witness": MagicMock(return_value="nas"),
    }
    ret = converge(cluster, preference=None, extra_salt=inventory)
    assert (("nas",), "service.status", ("garb",)) in cluster.requests
    assert ret["result"] is False
    assert "Witness nas: garbd stopped" in ret["comment"]


def test_no_data_nodes_anywhere():
    ret = converge(FakeCluster({}), preference=None)
    assert ret["result"] is False
    assert "set galera:preference in pillar" in ret["comment"]


def test_data_nodes_must_be_in_the_preference():
    ret = converge(FakeCluster({}), data_nodes=["ctl1", "ctl3"])
    assert ret["result"] is False
    assert "['ctl3'] are missing from galera:preference" in ret["comment"]


def test_data_nodes_select_from_the_preference():
    cluster = FakeCluster({"ctl1": synced(size=2), "ctl3": None})
    ret = converge(cluster, data_nodes=["ctl1"], preference=["ctl3", "ctl1"])
    assert ret["result"] is True
    assert cluster.requests[0][0] == ("ctl1",)


def test_data_nodes_alone_are_their_own_preference():
    cluster = FakeCluster({"ctl2": stopped(seqno=100), "ctl1": stopped(seqno=100)})
    ret = converge(cluster, test=True, preference=None, data_nodes=["ctl2", "ctl1"])
    assert ret["changes"]["plan"]["node"] == "ctl2"


def test_a_preference_that_is_not_a_list():
    ret = converge(FakeCluster({}), preference="ctl1,ctl2")
    assert ret["result"] is False
    assert "galera:preference must be a list of node ids" in ret["comment"]


def test_the_witness_is_not_a_data_node():
    ret = converge(FakeCluster({}), witness="ctl2")
    assert ret["result"] is False
    assert "cannot also be a data node" in ret["comment"]


@pytest.mark.parametrize(
    "entry, expected",
    [
        (None, {"reachable": False, "error": "no answer from its minion"}),
        (
            {"out": "no_return", "ret": "Minion did not return. [No response]", "retcode": 1},
            {"reachable": False, "error": "no answer from its minion"},
        ),
        (
            {"ret": "'galera.probe' is not available.", "retcode": 1},
            {"reachable": True, "mysqld": None, "error": "'galera.probe' is not available."},
        ),
        ({"ret": {"mysqld": "stopped"}, "retcode": 0}, {"mysqld": "stopped"}),
    ],
    ids=["absent", "no-return", "module-missing", "answered"],
)
def test_minion_answers_become_probes(entry, expected):
    assert galera_state._as_probe(entry) == expected


def test_salt_loader_loads_each_piece_where_it_belongs(tmp_path, repo_root):
    """The real loader: galera_plan everywhere, galera.converged only on the master."""
    opts = salt.config.minion_config(None)
    opts.update(
        module_dirs=[str(repo_root / "_modules")],
        states_dirs=[str(repo_root / "_states")],
        extension_modules=str(tmp_path),
        cachedir=str(tmp_path),
        file_client="local",
        pillar={},
    )
    opts["grains"] = salt.loader.grains(opts)
    utils = salt.loader.utils(opts)
    modules = salt.loader.minion_mods(opts, utils=utils)
    assert "galera_plan.plan" in modules
    assert "galera_plan._nodes" not in modules
    with patch("salt.utils.path.which", return_value=None):
        assert "galera.probe" not in modules, "no MariaDB here: the module does not load"
    for role, loaded in (("minion", False), ("master", True)):
        opts["__role"] = role
        states = salt.loader.states(opts, modules, utils, {})
        assert ("galera.converged" in states) is loaded
        assert ("galera.accounts_managed" in states) is loaded


# --- accounts: the SST account before any joiner, then kept -----------------------------------

CREATED = {
    "changed": True,
    "changes": ["create the SST account galera_sst@localhost", "grant galera_sst@localhost ..."],
    "comment": "create the SST account galera_sst@localhost; grant galera_sst@localhost ...",
}


def test_the_sst_account_is_ensured_on_the_bootstrapped_node_before_the_joiner_starts():
    cluster = FakeCluster({"ctl1": stopped(seqno=90), "ctl2": stopped(seqno=100)})
    cluster.accounts_ret = CREATED
    ret = converge(cluster)
    assert ret["result"] is True, ret["comment"]
    assert cluster.accounts == [("ctl2", {})]
    ensure = cluster.requests.index((("ctl2",), "galera.ensure_accounts", ()))
    bootstrap = cluster.requests.index((("ctl2",), "galera.bootstrap", ()))
    start = cluster.requests.index((("ctl1",), "galera.start", ()))
    assert bootstrap < ensure < start
    assert ret["changes"]["steps"] == [
        "ctl2: bootstrap: bootstrap done",
        f"ctl2: accounts: {CREATED['comment']}",
        "ctl1: start: start done",
    ]


def test_accounts_already_right_add_no_step():
    cluster = FakeCluster({"ctl1": synced(size=2), "ctl2": stopped(seqno=90)})
    ret = converge(cluster)
    assert cluster.accounts == [("ctl1", {})]
    assert ret["changes"]["steps"] == ["ctl2: start: start done"]


def test_accounts_are_not_touched_when_no_node_is_started():
    cluster = FakeCluster({"ctl1": non_primary(), "ctl2": None})
    converge(cluster, fenced=["ctl2"])
    assert cluster.accounts == []
    converge(FakeCluster({"ctl1": synced(), "ctl2": synced()}))
    assert cluster.accounts == []


def test_a_failed_account_step_starts_no_joiner():
    cluster = FakeCluster({"ctl1": synced(size=2), "ctl2": stopped(seqno=90)})
    cluster.fail["ctl1", "galera.ensure_accounts"] = "wsrep_sst_auth missing"
    ret = converge(cluster)
    assert ret["result"] is False
    assert "galera.ensure_accounts on ctl1 failed: ERROR: wsrep_sst_auth missing" in ret["comment"]
    assert cluster.actions == []


def manage_accounts(cluster, test=False, **kwargs):
    kwargs.setdefault("preference", PREF)
    with (
        patch.dict(galera_state.__salt__, {"saltutil.cmd": cluster}),
        patch.dict(galera_state.__opts__, {"test": test}),
    ):
        return galera_state.accounts_managed("accounts", **kwargs)


@pytest.mark.parametrize("test", [False, True], ids=["run", "test-mode"])
def test_accounts_as_wanted_change_nothing(test):
    cluster = FakeCluster({"ctl1": synced(), "ctl2": synced()})
    ret = manage_accounts(cluster, test=test)
    assert ret == {
        "name": "accounts",
        "result": True,
        "changes": {},
        "comment": "Galera accounts are as wanted (checked on ctl1).",
    }
    assert cluster.accounts == [("ctl1", {"test": test})]


def test_accounts_are_fixed_through_the_first_synced_node():
    cluster = FakeCluster({"ctl1": joining(), "ctl2": synced()})
    cluster.accounts_ret = CREATED
    ret = manage_accounts(cluster)
    assert cluster.accounts == [("ctl2", {"test": False})]
    assert ret["result"] is True
    assert ret["changes"] == {"ctl2": CREATED["changes"]}
    assert ret["comment"] == f"On ctl2: {CREATED['comment']}."


def test_accounts_in_test_mode_say_what_would_change():
    cluster = FakeCluster({"ctl1": synced(), "ctl2": synced()})
    cluster.accounts_ret = {**CREATED, "changed": False}
    ret = manage_accounts(cluster, test=True)
    assert ret["result"] is None
    assert ret["changes"] == {"ctl1": CREATED["changes"]}
    assert ret["comment"].startswith("On ctl1, would: create the SST account")


@pytest.mark.parametrize("test, result", [(False, False), (True, None)], ids=["run", "test-mode"])
def test_accounts_without_a_synced_node(test, result):
    cluster = FakeCluster({"ctl1": stopped(), "ctl2": None})
    ret = manage_accounts(cluster, test=test)
    assert ret["result"] is result
    assert ret["changes"] == {}
    assert ret["comment"].startswith("No data node is Primary and Synced (ctl1: stopped, ctl2: ")
    assert cluster.accounts == []


def test_accounts_failure_is_reported():
    cluster = FakeCluster({"ctl1": synced(), "ctl2": synced()})
    cluster.fail["ctl1", "galera.ensure_accounts"] = "mysqld does not answer"
    ret = manage_accounts(cluster)
    assert ret["result"] is False
    assert ret["comment"] == (
        "galera.ensure_accounts on ctl1 failed: ERROR: mysqld does not answer"
    )


# --- the witness: garbd outside the Primary Component -------------------------------------------


def garbd_rejoins(cluster):
    for node in ("ctl1", "ctl2"):
        cluster.probes[node] = synced(size=3)


def test_garbd_alone_in_a_component_of_its_own_is_restarted_after_a_grace():
    cluster = FakeCluster({"ctl1": synced(size=2), "ctl2": synced(size=2)})
    cluster.on_restart = garbd_rejoins
    ret = converge(cluster, witness="nas", witness_grace=15, interval=5)
    assert cluster.actions == [("nas", "service.restart")]
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"]["steps"][0].startswith(
        "nas: restarted garbd: garbd runs on nas but is no member of the Primary Component "
        "(cluster size 2 with 2 data node(s))"
    )
    assert ret["comment"].endswith("garbd on nas joined the Primary Component (cluster size 3).")
    waited = [r for r in cluster.requests if r == (("ctl1", "ctl2"), "galera.probe", ())]
    assert len(waited) >= 4, "probed through the 15 s grace before restarting"


def test_test_mode_says_garbd_would_be_restarted():
    cluster = FakeCluster({"ctl1": synced(size=2), "ctl2": synced(size=2)})
    ret = converge(cluster, test=True, witness="nas")
    assert ret["result"] is None
    assert ret["changes"]["witness"] == "restart garb on nas"
    assert ret["comment"].startswith("Would restart garbd on nas unless it rejoins within 15s")
    assert cluster.actions == []


def test_garbd_rejoining_by_itself_is_left_alone():
    cluster = FakeCluster({"ctl1": synced(size=2), "ctl2": synced(size=2)})
    cluster.timeline["ctl1"] = [synced(size=2), synced(size=3)]
    cluster.timeline["ctl2"] = [synced(size=2), synced(size=3)]
    ret = converge(cluster, witness="nas")
    assert cluster.actions == []
    assert ret["result"] is True and ret["changes"] == {}


def test_garbd_that_never_joins_fails_the_run_with_the_cluster_serving():
    cluster = FakeCluster({"ctl1": synced(size=2), "ctl2": synced(size=2)})
    ret = converge(cluster, witness="nas", witness_timeout=60)
    assert cluster.actions == [("nas", "service.restart")]
    assert ret["result"] is False
    assert "garbd on nas did not join the Primary Component within 60s" in ret["comment"]
    assert "journalctl -u garb` on nas" in ret["comment"]


@pytest.mark.parametrize("test", [False, True], ids=["run", "test-mode"])
def test_a_stopped_garbd_is_the_arbitrator_states_business(test):
    cluster = FakeCluster({"ctl1": synced(size=2), "ctl2": synced(size=2)}, garbd=False)
    ret = converge(cluster, test=test, witness="nas")
    assert ret["result"] is True and ret["changes"] == {}
    assert cluster.actions == []


def test_a_lone_survivor_with_garbd_is_a_full_component():
    cluster = FakeCluster({"ctl1": synced(size=2), "ctl2": None})
    ret = converge(cluster, witness="nas")
    assert cluster.actions == []
    assert ret["result"] is True


def test_after_a_bootstrap_garbd_is_verified_too():
    cluster = FakeCluster({"ctl1": stopped(seqno=90), "ctl2": stopped(seqno=100)})
    cluster.after["ctl2", "galera.bootstrap"] = [synced(size=1)]
    cluster.after["ctl1", "galera.start"] = [synced(size=2)]
    cluster.on_restart = garbd_rejoins
    ret = converge(cluster, witness="nas")
    assert cluster.actions == [
        ("ctl2", "galera.bootstrap"),
        ("ctl1", "galera.start"),
        ("nas", "service.restart"),
    ]
    assert ret["result"] is True, ret["comment"]
