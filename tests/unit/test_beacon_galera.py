"""Unit tests of _beacons/galera.py: classification, confirmation, transitions, quiet runs."""

from unittest.mock import patch

import pytest

from tests.conftest import load_ext

beacon_mod = load_ext("beacons", "galera")
galera = load_ext("modules", "galera")

def status_text(cluster_status="Primary", local_state=4, comment="Synced", connected="ON"):
    rows = {
        "wsrep_cluster_status": cluster_status,
        "wsrep_local_state": local_state,
        "wsrep_local_state_comment": comment,
        "wsrep_cluster_size": 3,
        "wsrep_last_committed": 1417,
        "wsrep_ready": "ON",
        "wsrep_connected": connected,
    }
    return "".join(f"{name}\t{value}\n" for name, value in rows.items())


class FakeNode:
    """What the mariadb client and systemctl answer on this node, and what was run."""

    def __init__(self):
        self.sql = status_text()  # None: the client cannot connect
        self.unit = "active"
        self.calls = []

    def down(self):
        self.sql, self.unit = None, "inactive"

    def restarting(self):
        self.sql, self.unit = None, "activating"

    def synced(self):
        self.sql, self.unit = status_text(), "active"

    def __call__(self, cmd, **kwargs):
        self.calls.append((cmd, kwargs))
        if cmd[0] == "mariadb":
            if self.sql is None:
                return {"retcode": 1, "stdout": "", "stderr": "Can't connect"}
            return {"retcode": 0, "stdout": self.sql, "stderr": ""}
        if cmd[:2] == ["systemctl", "is-active"]:
            return {"retcode": 0 if self.unit == "active" else 3, "stdout": self.unit + "\n"}
        raise AssertionError(f"unexpected command {cmd}")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def node():
    return FakeNode()


@pytest.fixture
def running_jobs():
    return []


@pytest.fixture
def configure_loader_modules(node, running_jobs):
    return {
        beacon_mod: {
            "__salt__": {
                "cmd.run_all": node,
                "galera.parse_status": galera.parse_status,
                "saltutil.is_running": lambda pattern: list(running_jobs),
            },
            "__context__": {},
        }
    }


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(beacon_mod, "_clock", fake)
    monkeypatch.setattr(beacon_mod.salt.utils.path, "which", lambda name: f"/usr/bin/{name}")
    return fake


CONFIG = [{"confirm": 3}, {"donor_stuck": 60}, {"timeout": 2}, {"_beacon_name": "galera"}]


def run(times, clock, config=CONFIG, step=5):
    events = []
    for _ in range(times):
        events.extend(beacon_mod.beacon(config))
        clock.now += step
    return events


# --- configuration ------------------------------------------------------------------


def test_validate_accepts_the_options_and_salts_own():
    ok, _ = beacon_mod.validate(
        [{"interval": 5}, {"confirm": 2}, {"donor_stuck": 0}, {"timeout": 1.5},
         {"emit_at_start": True}, {"disable_during_state_run": True}]
    )
    assert ok


@pytest.mark.parametrize(
    "config, words",
    [
        ({"confirm": 3}, "list"),
        ([{"confirm": 0}], "confirm"),
        ([{"confirm": True}], "confirm"),
        ([{"donor_stuck": -1}], "donor_stuck"),
        ([{"timeout": 0}], "timeout"),
        ([{"emit_at_start": "yes"}], "emit_at_start"),
        ([{"confrim": 3}], "unknown option(s) confrim"),
    ],
)
def test_validate_refuses_bad_configuration(config, words):
    ok, comment = beacon_mod.validate(config)
    assert not ok
    assert words in comment


# --- classification (pure) --------------------------------------------------------------


@pytest.mark.parametrize(
    "status, donor_for, expected",
    [
        ({"cluster_status": "Primary", "local_state": 4}, 0, "synced"),
        ({"cluster_status": "Primary", "local_state": 1}, 0, "joining"),
        ({"cluster_status": "Primary", "local_state": 3}, 0, "joining"),
        ({"cluster_status": "Primary", "local_state": 2}, 30, "donor"),
        ({"cluster_status": "Primary", "local_state": 2}, 61, "donor-stuck"),
        ({"cluster_status": "non-Primary", "local_state": 0}, 0, "non-primary"),
        ({"cluster_status": "Disconnected", "local_state": 0}, 0, "disconnected"),
        ({"cluster_status": "Primary", "local_state": 4, "connected": False}, 0, "disconnected"),
        ({"cluster_status": None}, 0, "disconnected"),
    ],
)
def test_classify(status, donor_for, expected):
    assert beacon_mod.classify(status, donor_for, donor_stuck=60) == expected


# --- transitions ------------------------------------------------------------------------


def test_baseline_is_not_reported(node, clock):
    assert run(5, clock) == []
    node.down()
    assert run(5, clock, config=CONFIG) != []  # later faults are


def test_faulty_baseline_reported_only_with_emit_at_start(node, clock):
    node.down()
    assert run(4, clock) == []
    beacon_mod.__context__.clear()
    events = run(3, clock, config=[*CONFIG[:-1], {"emit_at_start": True}, {"_beacon_name": "g2"}])
    assert [e["state"] for e in events] == ["mysqld-down"]


def test_mysqld_down_is_reported_once_after_confirmation(node, clock):
    run(3, clock)  # baseline: synced
    node.down()
    assert run(2, clock) == []  # not yet confirmed
    events = run(1, clock)
    assert len(events) == 1
    event = events[0]
    assert event["tag"] == "mysqld-down"
    assert event["state"] == "mysqld-down" and event["previous"] == "synced"
    assert event["samples"] == 3
    assert event["since"] == 1015.0  # the first sample that saw it
    assert run(10, clock) == []  # a transition, not a level: no repeat


def test_recovery_after_a_fault_is_reported(node, clock):
    run(3, clock)
    node.down()
    run(3, clock)
    node.synced()
    events = run(3, clock)
    assert [(e["state"], e["previous"]) for e in events] == [("synced", "mysqld-down")]
    assert events[0]["local_state_comment"] == "Synced"


def test_a_short_glitch_is_not_reported(node, clock):
    run(3, clock)
    node.down()
    run(2, clock)
    node.synced()
    assert run(5, clock) == []


def test_systemd_restart_recovering_by_itself_is_not_reported(node, clock):
    """kill -9 mysqld: systemd restarts it (starting), then Synced: no event."""
    run(3, clock)
    node.restarting()
    assert run(6, clock) == []
    node.sql = status_text(local_state=1, comment="Joining")
    node.unit = "active"
    assert run(6, clock) == []
    node.synced()
    assert run(6, clock) == []


def test_starting_that_ends_down_is_reported(node, clock):
    run(3, clock)
    node.restarting()
    run(4, clock)
    node.down()
    events = run(3, clock)
    assert [(e["state"], e["previous"]) for e in events] == [("mysqld-down", "synced")]


def test_non_primary_and_disconnected(node, clock):
    run(3, clock)
    node.sql = status_text(cluster_status="non-Primary", local_state=0, comment="Initialized")
    events = run(3, clock)
    assert [e["state"] for e in events] == ["non-primary"]
    assert events[0]["cluster_status"] == "non-Primary"
    node.sql = status_text(cluster_status="Disconnected", local_state=0, connected="OFF")
    assert [e["state"] for e in run(3, clock)] == ["disconnected"]


def test_donor_is_quiet_until_stuck(node, clock):
    run(3, clock)
    node.sql = status_text(local_state=2, comment="Donor/Desynced")
    assert run(12, clock, step=5) == []  # 55 s as a donor: fine
    events = run(6, clock, step=5)
    assert [e["state"] for e in events] == ["donor-stuck"]
    node.synced()
    assert [e["state"] for e in run(3, clock)] == ["synced"]


def test_quiet_during_a_state_run(node, clock, running_jobs):
    run(3, clock)
    node.down()
    run(2, clock)  # two samples counted...
    running_jobs.append({"fun": "state.highstate", "jid": "1"})
    node.calls.clear()
    assert run(5, clock) == []
    assert node.calls == []  # no sample at all during the run
    running_jobs.clear()
    assert run(2, clock) == []  # ... the count started over
    assert [e["state"] for e in run(1, clock)] == ["mysqld-down"]


def test_state_kept_in_context_per_beacon_name(node, clock):
    run(3, clock)
    tracks = beacon_mod.__context__[beacon_mod.CONTEXT_KEY]
    assert tracks["galera"]["reported"] == "synced"
    other = [*CONFIG[:-1], {"_beacon_name": "galera_other"}]
    node.down()
    assert run(3, clock, config=other) == []  # its own baseline
    assert tracks["galera_other"]["reported"] == "mysqld-down"
    assert tracks["galera"]["reported"] == "synced"


def test_commands_have_short_timeouts(node, clock):
    node.down()
    beacon_mod.beacon(CONFIG)
    assert [call[1]["timeout"] for call in node.calls] == [2, 2]
    assert "--connect-timeout=2" in node.calls[0][0]
    assert all(call[1]["python_shell"] is False for call in node.calls)


def test_no_data_node_no_sample(node, clock):
    with patch.dict(beacon_mod.__salt__, clear=True):
        beacon_mod.__salt__["saltutil.is_running"] = lambda pattern: []
        assert run(5, clock) == []
    assert node.calls == []


def test_no_module_global_state():
    mutable = {
        name: value
        for name, value in vars(beacon_mod).items()
        if not name.startswith("__") and isinstance(value, (dict, list, set))
    }
    assert mutable == {"DEFAULTS": beacon_mod.DEFAULTS}
