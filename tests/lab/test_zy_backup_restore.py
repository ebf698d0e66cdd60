"""Issue 6 on real nodes: Galera backups on the NAS and a restore that works.

Runs after the other lab tests (it stops the whole database) and before the
teardown. On the deployed site: the backup timer on both controllers, and
only the controller HAProxy does not write to (ctl2) taking the backup,
through the timer's own unit (`salt-call --local`) and through Salt; the
manifest and the marker on the NAS; an incomplete backup never used; a
restore refused for a backup that does not exist, with nothing changed;
then the cluster lost (mariadb stopped on both controllers, their datadirs
moved away) and restored by `orch.galera_restore` from the newest backup:
both controllers Synced in a cluster of 3 (garbd on the NAS), the row
written before the backup there, the one written after it not, the old
datadirs kept, healing resumed, the site green and Salt idle again.
"""

import json

import pytest

from .test_galera import healthy, sql, wsrep
from .test_healing import salt_run, wait_green

pytestmark = pytest.mark.lab

CONTROLLERS = ("ctl1", "ctl2")
WRITER, TAKER = "ctl1", "ctl2"  # HAProxy's active Galera backend; the one that backs up
NAS_DIR = "/srv/nfs/backups/galera"  # on the NAS (site:nas:exports:backups:path)
DATADIR = "/var/lib/mysql"
LOST = "/var/lib/mysql.lost-by-test"
NOTE = "what-the-disk-held-after-the-loss"
UNIT = "galera-backup"
DB = "backup_lab"


def salt1(lab, node, *args, timeout=900):
    """One minion's return of ``salt <node> <args>``."""
    ret = lab.salt(node, *args, f"--timeout={timeout}", timeout=timeout + 60)
    assert node in ret, f"salt {node} {args}: no answer: {ret}"
    return ret[node]


def backups(lab, node="ctl1"):
    listed = salt1(lab, node, "galera_backup.list", timeout=120)
    assert isinstance(listed, list), listed
    return listed


def notes(lab, node):
    """{id: note} of the test's table on ``node`` ({} when it cannot be read)."""
    result = lab.exec(node, "mariadb", "-N", "-B", "-e", f"SELECT id, note FROM {DB}.t",
                      check=False)
    lines = result.stdout.splitlines() if result.returncode == 0 else []
    return dict(line.split("\t", 1) for line in lines if "\t" in line)


def paused():
    _, state = salt_run("heal.status", "runs=1")
    return state["paused"]


@pytest.fixture(scope="module")
def site(lab, deployed):
    """The deployed site, green, with the backup state (a deploy step) applied
    again on the controllers: nothing to change, the modules synced."""
    salt_run("heal.resume")  # another suite may have paused it
    assert all(salt1(lab, node, "saltutil.sync_modules", timeout=300) is not None
               for node in CONTROLLERS)
    ret = lab.salt("-L", ",".join(CONTROLLERS), "state.apply", "galera.backup", "queue=True",
                   timeout=900)
    for node in CONTROLLERS:
        states = ret.get(node)
        assert isinstance(states, dict), f"{node}: {states}"
        failed = {k: v.get("comment") for k, v in states.items() if v.get("result") is not True}
        assert not failed, f"galera.backup on {node}: {failed}"
    wait_green(lab, "before the backup and restore", 600)
    lab.wait("Galera Primary, Synced, 3 members", lambda: healthy(lab), 120)
    return lab


@pytest.fixture(scope="module")
def backup(site):
    """A row written, then a backup taken through Salt on the controller that
    takes them; (its name, its manifest)."""
    lab = site
    sql(lab, WRITER, f"CREATE DATABASE IF NOT EXISTS {DB}; "
                     f"CREATE TABLE IF NOT EXISTS {DB}.t (id INT PRIMARY KEY, note TEXT); "
                     f"DELETE FROM {DB}.t; INSERT INTO {DB}.t VALUES (1, 'before the backup')")
    lab.wait("the row on ctl2", lambda: notes(lab, TAKER).get("1") == "before the backup", 30)
    ret = salt1(lab, TAKER, "galera_backup.take")
    assert isinstance(ret, dict) and ret["taken"] is True, ret
    return ret["name"], ret["manifest"]


def test_the_timer_is_installed_and_only_ctl2_takes_a_backup(site):
    lab = site
    for node in CONTROLLERS:
        assert lab.exec(node, "systemctl", "is-enabled", f"{UNIT}.timer").stdout.strip() == (
            "enabled")
        assert lab.exec(node, "systemctl", "is-active", f"{UNIT}.timer").stdout.strip() == (
            "active")
        settings = json.loads(lab.exec(node, "cat", "/etc/twin-cloud/galera-backup.json").stdout)
        assert settings["root"] == "/srv/backups"
        assert [c["id"] for c in settings["controllers"]] == list(CONTROLLERS)
    before = {b["name"] for b in backups(lab)}
    # the timer's own unit (salt-call --local, no master needed), on each
    # controller: ctl1 leaves it to ctl2, ctl2 takes it
    for node in CONTROLLERS:
        started = lab.exec(node, "systemctl", "start", f"{UNIT}.service", check=False)
        result = lab.exec(node, "systemctl", "show", "-p", "Result", "--value",
                          f"{UNIT}.service").stdout.strip()
        journal = lab.exec(node, "journalctl", "-u", f"{UNIT}.service", "-n", "60",
                           "--no-pager").stdout
        assert started.returncode == 0 and result == "success", f"{node}:\n{journal}"
    journal = lab.exec(WRITER, "journalctl", "-u", f"{UNIT}.service", "--no-pager").stdout
    assert "ctl2 takes the backup" in journal, journal
    new = [b for b in backups(lab) if b["name"] not in before]
    assert [(b["node"], b["complete"]) for b in new] == [(TAKER, True)], new
    # through Salt, the same rule
    ret = salt1(lab, WRITER, "galera_backup.take")
    assert isinstance(ret, dict) and ret["taken"] is False and ret["taker"] == TAKER, ret


def test_a_backup_is_prepared_with_its_manifest_and_marker_on_the_nas(site, backup):
    lab, (name, manifest) = site, backup
    assert name.endswith(f"-{TAKER}") and manifest["node"] == TAKER
    cluster = wsrep(lab, WRITER)
    assert manifest["galera"]["uuid"] == cluster["wsrep_cluster_state_uuid"]
    assert 0 < manifest["galera"]["seqno"] <= int(cluster["wsrep_last_committed"])
    assert manifest["prepared"] is True and manifest["size_bytes"] > 1_000_000
    # on the NAS itself: the manifest, the marker sealing it, the prepared data
    on_nas = json.loads(lab.exec("nas", "cat", f"{NAS_DIR}/{name}/manifest.json").stdout)
    assert on_nas == manifest
    marker = json.loads(lab.exec("nas", "cat", f"{NAS_DIR}/{name}/COMPLETE").stdout)
    digest = lab.exec("nas", "sha256sum", f"{NAS_DIR}/{name}/manifest.json").stdout.split()[0]
    assert marker == {"name": name, "manifest_sha256": digest}
    checkpoints = lab.exec("nas", "cat", f"{NAS_DIR}/{name}/data/xtrabackup_checkpoints").stdout
    assert "backup_type = log-applied" in checkpoints
    position = lab.exec("nas", "cat", f"{NAS_DIR}/{name}/data/xtrabackup_galera_info").stdout
    assert position.startswith(f"{manifest['galera']['uuid']}:{manifest['galera']['seqno']}")
    # the other controller sees it on the same export, as the newest complete one
    assert salt1(lab, WRITER, "galera_backup.latest", timeout=120)["name"] == name


def test_an_incomplete_backup_is_listed_but_never_used(site, backup):
    lab, (name, _) = site, backup
    fake = "20000101T000000Z-ctl1"  # older, and no marker: a run that died
    lab.exec("nas", "mkdir", "-p", f"{NAS_DIR}/{fake}/data")
    listed = {b["name"]: b for b in backups(lab)}
    assert listed[fake]["complete"] is False and "no COMPLETE marker" in listed[fake]["reason"]
    assert listed[name]["complete"] is True
    refused = salt1(lab, WRITER, "galera_backup.show", fake, timeout=120)
    assert isinstance(refused, str) and "incomplete" in refused, refused
    assert salt1(lab, WRITER, "galera_backup.latest", timeout=120)["name"] == name
    # the retention removes it (older than stale_hours), never a complete one
    # of the newest `keep`
    pruned = salt1(lab, WRITER, "galera_backup.prune", timeout=300)
    assert isinstance(pruned, dict), pruned
    assert [r for r in pruned["removed"] if r.startswith(fake)], pruned
    assert not [r for r in pruned["removed"] if "complete;" in r], pruned
    left = {b["name"]: b["complete"] for b in backups(lab)}
    assert fake not in left and left[name] is True, left


def test_a_restore_of_a_missing_backup_is_refused_and_changes_nothing(site, backup):
    lab = site
    missing = "20000102T000000Z-ctl2"
    retcode, states = lab.orchestrate("orch.galera_restore",
                                      'pillar={"backup": "%s"}' % missing)
    text = json.dumps(states)
    assert retcode != 0, text
    assert f"no backup named {missing}" in text, text
    assert "galera_backup.list" in text, text
    assert paused() is None  # refused before healing was paused
    assert healthy(lab)


def test_the_lost_cluster_is_restored_from_the_newest_backup(site, backup):
    lab, (name, manifest) = site, backup
    sql(lab, WRITER, f"INSERT INTO {DB}.t VALUES (2, 'after the backup')")
    lab.wait("the second row on ctl2", lambda: notes(lab, TAKER).get("2") == "after the backup",
             30)
    # no newer backup meanwhile (the timer fires at night only)
    assert salt1(lab, WRITER, "galera_backup.latest", timeout=120)["name"] == name
    # the loss: mariadb stopped on both controllers, their datadirs gone (kept
    # by the test), in their place an empty disk holding one stray file
    salt_run("heal.pause", "minutes=60", "reason=test_zy_backup_restore: the cluster is lost")
    try:
        for node in CONTROLLERS:
            lab.exec(node, "systemctl", "stop", "mariadb")
        for node in CONTROLLERS:
            lab.exec(node, "sh", "-c", f"mv {DATADIR} {LOST} && mkdir {DATADIR} && "
                                       f"echo lost > {DATADIR}/{NOTE} && "
                                       f"chown -R mysql:mysql {DATADIR}")
        retcode, states = lab.orchestrate("orch.galera_restore")
        left_paused = paused()
    finally:
        if paused():  # the orchestration failed half-way: do not leave it paused
            salt_run("heal.resume")
    by_id = {state["__id__"]: state for state in states.values()}
    failed = {sid: (s.get("comment"), s.get("changes")) for sid, s in by_id.items()
              if s.get("result") is not True}
    if retcode != 0 or failed:
        journal = lab.exec("ctl1", "sh", "-c", "journalctl -q -u mariadb --since -10min "
                           "--no-pager | tail -n 60", check=False).stdout
        raise AssertionError(f"{json.dumps(failed)[-6000:]}\nmariadb's journal on ctl1:\n{journal}")
    checked = by_id["galera-restore-backup-checked"]["changes"]["ret"]["ctl1"]
    assert checked["name"] == name
    restored = by_id["galera-restore-copied-back"]["changes"]["ret"]["ctl1"]
    assert restored["restored"] == name
    steps = by_id["galera-restore-cluster-formed"]["changes"]["steps"]
    assert steps[0].startswith("ctl1: bootstrap:") and steps[-1].startswith("ctl2: start:"), steps
    # the cluster: both Synced, 3 members with garbd, the backup's history
    lab.wait("Galera Primary, Synced, 3 members", lambda: healthy(lab), 180)
    for node in CONTROLLERS:
        status = wsrep(lab, node)
        assert status["wsrep_cluster_state_uuid"] == manifest["galera"]["uuid"]
        assert status["wsrep_cluster_size"] == "3"
        # the point in time is the backup's
        assert notes(lab, node) == {"1": "before the backup"}, node
    # nothing was deleted: the lost datadir, and what stood in its place
    for node in CONTROLLERS:
        assert lab.exec(node, "test", "-f", f"{LOST}/ibdata1", check=False).returncode == 0
        aside = lab.exec(node, "sh", "-c", f"ls -d {DATADIR}.before-restore-*",
                         check=False).stdout.split()
        assert aside, f"{node}: no {DATADIR}.before-restore-* kept"
        assert lab.exec(node, "test", "-f", f"{aside[-1]}/{NOTE}",
                        check=False).returncode == 0, aside
    # healing resumed by the orchestration; the site green again, Salt idle
    assert left_paused is None, left_paused
    wait_green(lab, "Galera restored from a backup", 900)
    lab.wait_idle(list(CONTROLLERS))
