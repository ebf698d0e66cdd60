"""lab/failover.py's wait for the survivor (the API gap's end), with the
VIP's holder and the reads played by the test."""

import itertools

import pytest

from lab import failover
from lab.util import LabError


class Reads:
    """An ApiReader whose rounds the test sets (no thread, no network)."""

    survivor_serves = failover.ApiReader.survivor_serves

    def __init__(self):
        self.rounds_ok = 0
        self.not_answering = ["https://vip:5000/v3"]


@pytest.fixture
def clock(monkeypatch):
    """time.monotonic/sleep of lab.failover: one tick per sleep(1)."""
    now = itertools.count()
    state = {"t": 0}

    def sleep(seconds):
        state["t"] = next(now) + 1

    monkeypatch.setattr(failover.time, "monotonic", lambda: state["t"])
    monkeypatch.setattr(failover.time, "sleep", sleep)
    return state


def test_returns_once_a_whole_round_answered_after_the_vip_moved(monkeypatch, clock):
    reads = Reads()

    def holder(lab=None):
        # the VIP on ctl2 from t=3; the reads answer from t=8 on
        if clock["t"] >= 8:
            reads.rounds_ok, reads.not_answering = clock["t"], []
        return "ctl2" if clock["t"] >= 3 else None

    monkeypatch.setattr(failover, "holder", holder)
    assert reads.survivor_serves("ctl1", timeout=30) == "ctl2"
    assert clock["t"] == 8  # the first round answered after the move (and the settle)


def test_a_vip_back_on_the_killed_node_is_no_survivor_and_the_timeline_says_so(
        monkeypatch, clock):
    reads = Reads()

    def holder(lab=None):
        reads.rounds_ok = clock["t"]  # answering all along, through ctl1 again
        reads.not_answering = []
        return "ctl1" if clock["t"] >= 4 else None

    monkeypatch.setattr(failover, "holder", holder)
    with pytest.raises(LabError) as excinfo:
        reads.survivor_serves("ctl1", timeout=10)
    text = str(excinfo.value)
    assert "from a survivor of ctl1 within 10s" in text
    assert "VIP on None" in text and "VIP on ctl1" in text and "VIP on ctl2" not in text
