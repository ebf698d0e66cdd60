"""The master's scheduler, configured as in etc/salt/master (its period
shortened), runs heal.retry: a fault left for later is taken up again
without any new event."""

import json
import pathlib
import time

import yaml

from tests.integration.conftest import HEAL, REPO


def test_the_schedule_retries_a_fault_left_for_later(
    salt_factories, repo_root, pillar_tree, event_listener
):
    schedule = yaml.safe_load((REPO / "etc" / "salt" / "master").read_text())["schedule"]
    assert schedule["twin-cloud-heal-retry"]["function"] == "heal.retry"
    schedule["twin-cloud-heal-retry"]["seconds"] = 2
    overrides = {
        "file_roots": {"base": [str(REPO / "salt"), str(repo_root)]},
        "pillar_roots": {"base": [str(pillar_tree)]},
        "heal": HEAL,
        "schedule": schedule,
        "loop_interval": 1,
    }
    master = salt_factories.salt_master_daemon("heal-schedule-master", overrides=overrides)
    with master.started():
        assert master.salt_run_cli().run("saltutil.sync_runners").returncode == 0
        fault = {"kind": "service/ctl2/memcached", "component": "service", "what": "stopped",
                 "node": "ctl2", "subject": "memcached", "reporter": "ctl2",
                 "tag": "salt/beacon/ctl2/service/memcached", "retry": False}
        state = pathlib.Path(master.config["cachedir"]) / "twin-cloud-heal"
        state.mkdir(parents=True, exist_ok=True)
        (state / "state.json").write_text(json.dumps({
            "kinds": {}, "deferred": {fault["kind"]: {"fault": fault, "not_before": 0}}}))
        after = time.time()
        matched = event_listener.wait_for_events(
            [(master.id, "twin-cloud/heal/done")], after_time=after, timeout=30)
        assert matched.found_all_events
        [done] = matched.matches
        assert done.data["faults"][0]["retry"] is True
        assert done.data["actions"][0]["kinds"] == [fault["kind"]]
