"""Benchmarks printed by the lab, not asserted by tests: machines are noisy,
so each figure is the median of several runs, with every run shown.

    python -m lab bench deploy [--runs N]
        per run: `down`, `up` (cached image), the deploy orchestration from
        bare nodes, then the idempotent re-run (and its count of changes)
"""

import json
import statistics
import subprocess
import sys
import time

from . import config, master
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


def count_changes(doc):
    """States that reported changes, across every step of an orchestration."""
    data = doc.get("data", {})
    steps = next(iter(data.values())) if data else {}
    changed = 0
    for step in steps.values():
        ret = (step.get("changes") or {}).get("ret") or {}
        for states in ret.values() if isinstance(ret, dict) else ():
            if isinstance(states, dict):
                changed += sum(1 for s in states.values() if isinstance(s, dict) and s.get("changes"))
    return changed


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
