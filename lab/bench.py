"""Benchmarks printed by the lab, not asserted by tests: machines are noisy,
so each figure is the median of several runs, with every run shown.

    python -m lab bench deploy [--runs N]
        per run: `down`, `up` (cached image), the deploy orchestration from
        bare nodes, then the idempotent re-run (and its count of changes)
    python -m lab bench heal [--runs N]
        per run: the hands-off fault scenarios of tests/lab/test_healing.py
        on a freshly deployed lab (a killed mysqld, a killed and powered-on
        server, both servers killed and powered on, a flapping service),
        each timed from the fault (or the power-on) to all green
    python -m lab bench failover [--runs N]
        on the deployed lab: per run, reads through the VIP while the
        controller holding it is killed; the longest gap; then the node is
        powered on and the site left to heal to all green (hands off)
"""

import collections
import json
import re
import statistics
import subprocess
import sys
import time

from . import config, failover as failover_probe, master
from .util import LabError, say


def _lab(*args):
    result = subprocess.run([sys.executable, "-m", "lab", *args], cwd=config.REPO,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise LabError(f"lab {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _orchestrate(sls):
    """Run an orchestration; return (seconds, number of changed states)."""
    start = time.monotonic()
    result = subprocess.run(master.salt_cmd("salt-run", "--out=json", "state.orchestrate", sls),
                            cwd=config.REPO, capture_output=True, text=True)
    took = time.monotonic() - start
    try:
        doc = json.loads(result.stdout)
    except ValueError as exc:
        raise LabError(f"{sls}: no JSON answer:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}") from exc
    if doc.get("retcode", 0) != 0:
        raise LabError(f"{sls} failed (retcode {doc.get('retcode')}); run it by hand to see why")
    return took, count_changes(doc)


def changed_states(orch_states):
    """(step id, minion, state id) of every state an orchestration changed,
    from the steps of ``salt-run --out=json state.orchestrate``."""
    changed = []
    for step_id, step in orch_states.items():
        ret = (step.get("changes") or {}).get("ret") or {}
        if not isinstance(ret, dict):
            continue
        for minion, states in ret.items():
            if isinstance(states, dict):
                changed += [(step_id, minion, sid) for sid, st in states.items()
                            if isinstance(st, dict) and st.get("changes")]
    return changed


def count_changes(doc):
    """How many states an orchestration (its whole JSON answer) changed."""
    data = doc.get("data", {})
    return len(changed_states(next(iter(data.values())) if data else {}))


def deploy(runs):
    rows = []
    for run in range(1, runs + 1):
        say(f"bench deploy: run {run}/{runs}: down, up")
        _lab("down")
        start = time.monotonic()
        _lab("up")
        up = time.monotonic() - start
        subprocess.run(master.salt_cmd("salt-run", "saltutil.sync_all"), cwd=config.REPO,
                       capture_output=True, check=True)
        say(f"bench deploy: run {run}/{runs}: deploy from bare nodes")
        first, first_changes = _orchestrate("orch.deploy")
        say(f"bench deploy: run {run}/{runs}: idempotent re-run")
        again, again_changes = _orchestrate("orch.deploy")
        rows.append((up, first, first_changes, again, again_changes))
        print(f"run {run}: up {up:.0f}s  deploy {first:.0f}s ({first_changes} changes)  "
              f"re-run {again:.0f}s ({again_changes} changes)", flush=True)
    print(f"median of {runs}: up {statistics.median(r[0] for r in rows):.0f}s  "
          f"deploy {statistics.median(r[1] for r in rows):.0f}s  "
          f"re-run {statistics.median(r[3] for r in rows):.0f}s  "
          f"(re-run/deploy ratio {statistics.median(r[3] / r[1] for r in rows):.2f})")
    return 0


GREEN = re.compile(r"^(?P<scenario>.+?): all green after (?P<seconds>\d+)s$")


def heal(runs):
    times = collections.defaultdict(list)
    for run in range(1, runs + 1):
        say(f"bench heal: run {run}/{runs} (down, up, deploy, the fault scenarios)")
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-s",
             "tests/lab/test_healing.py", "tests/lab/test_zz_teardown.py"],
            cwd=config.REPO, capture_output=True, text=True)
        found = [m for m in map(GREEN.match, result.stdout.splitlines()) if m]
        for match in found:
            times[match["scenario"]].append(int(match["seconds"]))
            print(f"run {run}: {match['scenario']}: {match['seconds']}s", flush=True)
        if result.returncode != 0:
            raise LabError(f"the healing scenarios failed in run {run}:\n{result.stdout[-4000:]}")
    print(f"median of {runs} runs, fault (or power-on) to all green:")
    for scenario, seconds in times.items():
        print(f"  {scenario}: {statistics.median(seconds):.0f}s  (runs: {seconds})")
    return 0


def _green():
    result = subprocess.run(master.salt_cmd("salt-run", "--out=json", "site.status"),
                            cwd=config.REPO, capture_output=True, text=True)
    try:
        return result.returncode == 0 and json.loads(result.stdout).get("status") == "ok"
    except ValueError:
        return False


def _wait(what, predicate, timeout, interval=1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise LabError(f"timed out after {timeout}s waiting for {what}")


def failover(runs):
    lab = config.load()
    vip = failover_probe.vip_address(lab)
    gaps = []
    for run in range(1, runs + 1):
        _wait("the site all green before the fault", _green, 900, interval=5)
        holder = failover_probe.holder(lab)
        if holder is None:
            raise LabError("no controller holds the VIP: is the site deployed?")
        reader = failover_probe.ApiReader(vip)
        reader.start()
        _wait("the APIs answering through the VIP", reader.answering, 30)
        say(f"bench failover: run {run}/{runs}: killing {holder} (holds the VIP)")
        _lab("kill", holder)
        try:
            reader.survivor_serves(holder, lab)
        finally:
            gaps.append(reader.stop())
        print(f"run {run}: API gap {gaps[-1]:.1f}s after killing {holder}", flush=True)
        _lab("poweron", holder)
    _wait("the site all green after the last run", _green, 900, interval=5)
    print(f"median of {runs}: API gap {statistics.median(gaps):.1f}s  (runs: "
          f"{', '.join(f'{g:.1f}' for g in gaps)})")
    return 0
