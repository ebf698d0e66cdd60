"""Unit tests of _modules/galera_backup.py (commands mocked, the NAS a temporary
directory) and of what uses it: salt/galera/backup.sls and
salt/orch/galera_restore.sls rendered by Salt's real loader."""

import calendar
import copy
import hashlib
import json
import logging
import os
import pathlib
import shutil
import subprocess
import sys
import time
import urllib.error
from unittest.mock import patch

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.conftest import load_ext

from .sls import served_roots, REPO, load, minion_loaders, minion_opts, site_pillar, state_args

galera_backup = load_ext("modules", "galera_backup")

UUID = "ea851610-e63f-11f1-9693-9e54c67186a3"
CONTROLLERS = [{"id": "ctl1", "address": "10.77.0.11"}, {"id": "ctl2", "address": "10.77.0.12"}]
NOW = calendar.timegm(time.strptime("2026-01-22T02:30:00Z", "%Y-%m-%dT%H:%M:%SZ"))
SECRET = "S3cret-galera-sst-password-value"


def rc(code=0, stdout="", stderr=""):
    return {"retcode": code, "stdout": stdout, "stderr": stderr, "pid": 1}


def option(cmd, name):
    return next(a.split("=", 1)[1] for a in cmd if a.startswith(f"--{name}="))


class FakeNode:
    """A data node as the module sees it: mysqld, mariabackup, its Synced state."""

    def __init__(self):
        self.running = True
        self.synced = True
        self.fail = set()
        self.calls = []
        self.position = f"{UUID}:1417 0\n"

    def __call__(self, cmd, python_shell=True, **kwargs):
        assert python_shell is False and isinstance(cmd, list), cmd
        self.calls.append(list(cmd))
        program = os.path.basename(cmd[0])
        if program == "systemctl":
            return rc(0, "active") if self.running else rc(3, "inactive")
        if program == "pidof":
            return rc(0, "4242") if self.running else rc(1)
        assert program in ("mariabackup", "mariadb-backup"), cmd
        for step in ("backup", "prepare", "copy-back"):
            if f"--{step}" in cmd:
                if step in self.fail:
                    return rc(1, "", f"[00] Using server version 10.11.19\n"
                                     f"[00] recognized wsrep_sst_auth=galera_sst:{SECRET}\n"
                                     f"[00] Error: {step} went wrong\n")
                return getattr(self, step.replace("-", "_"))(cmd)
        raise AssertionError(cmd)

    def backup(self, cmd):
        target = pathlib.Path(option(cmd, "target-dir"))
        target.mkdir()  # mariabackup makes the last directory only
        (target / "ibdata1").write_bytes(b"\0" * 4096)
        (target / "xtrabackup_galera_info").write_text(self.position)
        (target / "xtrabackup_checkpoints").write_text("backup_type = full-backuped\n")
        return rc(0, "", "[00] Using server version 10.11.19-MariaDB-0+deb12u1\n"
                         "[00] completed OK!\n")

    def prepare(self, cmd):
        target = pathlib.Path(option(cmd, "target-dir"))
        (target / "xtrabackup_checkpoints").write_text("backup_type = log-applied\n")
        (target / "ib_logfile0").write_bytes(b"\0" * 1024)
        return rc(0, "", "[00] completed OK!\n")

    def copy_back(self, cmd):
        source, datadir = option(cmd, "target-dir"), option(cmd, "datadir")
        assert not os.listdir(datadir), "copy-back needs an empty datadir"
        shutil.copytree(source, datadir, dirs_exist_ok=True)
        return rc(0, "", "[00] completed OK!\n")

    def mariabackup(self):
        return [c for c in self.calls if os.path.basename(c[0]) in ("mariabackup",
                                                                   "mariadb-backup")]


@pytest.fixture
def configure_loader_modules():
    return {galera_backup: {"__salt__": {}, "__opts__": {"id": "ctl2"}, "__context__": {}}}


@pytest.fixture(autouse=True)
def log():
    """Salt's deferred log handler would print after pytest closed stderr."""
    with patch.object(galera_backup, "log") as fake:
        yield fake


@pytest.fixture
def nas(tmp_path):
    root = tmp_path / "nas"
    root.mkdir()
    return root


@pytest.fixture
def config(tmp_path, nas):
    path = tmp_path / "galera-backup.json"

    def write(**changes):
        settings = {"root": str(nas), "directory": "galera", "keep": 2, "stale_hours": 24,
                    "require_mount": False, "parallel": 2, "use_memory": "512M",
                    "check_port": 9200, "check_timeout": 5, "controllers": CONTROLLERS}
        settings.update(changes)
        path.write_text(json.dumps(settings))
        return str(path)

    write()
    write.path = str(path)
    return write


@pytest.fixture
def node(monkeypatch):
    fake = FakeNode()
    peers = {"10.77.0.11": True, "10.77.0.12": True}
    fake.peers = peers
    monkeypatch.setattr(galera_backup, "_peer_synced", lambda address, port, timeout: peers[address])
    monkeypatch.setattr(galera_backup, "_now", lambda: NOW)
    monkeypatch.setattr(galera_backup, "_mysql_ids", lambda: (os.getuid(), os.getgid()))
    with patch.dict(galera_backup.__salt__, {
        "cmd.run_all": fake,
        "galera.clustercheck": lambda: {"healthy": fake.synced},
    }):
        yield fake


def base_of(nas):
    return nas / "galera"


def seal(nas, name, seqno=100, finished=None):
    """A complete backup as take leaves it."""
    path = base_of(nas) / name
    (path / "data").mkdir(parents=True)
    (path / "data" / "xtrabackup_galera_info").write_text(f"{UUID}:{seqno} 0\n")
    stamp = time.strptime(name.split("-")[0], "%Y%m%dT%H%M%SZ")
    manifest = {"format": 1, "name": name, "node": name.split("-", 1)[1],
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", stamp),
                "finished": finished or time.strftime("%Y-%m-%dT%H:%M:%SZ", stamp),
                "galera": {"uuid": UUID, "seqno": seqno}, "size_bytes": 4096, "prepared": True,
                "server_version": "10.11.19-MariaDB-0+deb12u1"}
    (path / "manifest.json").write_text(json.dumps(manifest))
    digest = hashlib.sha256((path / "manifest.json").read_bytes()).hexdigest()
    (path / "COMPLETE").write_text(json.dumps({"name": name, "manifest_sha256": digest}))
    return path


def half(nas, name):
    """A backup that died before its marker."""
    path = base_of(nas) / name
    (path / "data").mkdir(parents=True)
    return path


# --- loading, pure helpers ---------------------------------------------------------------------


def test_virtual_needs_mariadb_backup():
    with patch("salt.utils.path.which", return_value=None):
        loaded, reason = galera_backup.__virtual__()
    assert loaded is False and "mariadb-backup not found" in reason
    with patch("salt.utils.path.which", side_effect=lambda name: f"/usr/bin/{name}"):
        assert galera_backup.__virtual__() == "galera_backup"


def test_the_writer_takes_the_backup_last():
    assert galera_backup.backup_order(["ctl1", "ctl2"]) == ["ctl2", "ctl1"]
    assert galera_backup.backup_order(["a", "b", "c"]) == ["b", "c", "a"]
    assert galera_backup.backup_order(["ctl1"]) == ["ctl1"]


@pytest.mark.parametrize("text, seqno", [
    (f"{UUID}:1417 0\n", 1417),  # mariabackup 10.11: <uuid>:<seqno> <gtid domain>
    (f"{UUID}:6", 6),  # older
    (f"{UUID.upper()}:-1\n", -1),
])
def test_the_galera_position_of_a_backup(text, seqno):
    assert galera_backup.parse_position(text) == {"uuid": UUID, "seqno": seqno}


@pytest.mark.parametrize("text", ["", "garbage", f"{UUID}", "1417"])
def test_no_galera_position_is_an_error(text):
    with pytest.raises(ValueError):
        galera_backup.parse_position(text)


def test_defaults_match_the_module():
    backup = load("salt/galera/defaults.yaml")["backup"]
    assert backup["config"] == galera_backup.CONFIG
    assert backup["export"] == "backups" and backup["keep"] >= 1
    exports = load("salt/nfs/defaults.yaml")["exports"]
    assert exports["backups"]["mount"] == "/srv/backups"
    assert load("salt/galera/defaults.yaml")["service"] == galera_backup.SERVICE


# --- take: who takes it ---------------------------------------------------------------------


def test_the_node_haproxy_does_not_write_to_takes_it(node, config, nas):
    ret = galera_backup.take(config=config.path)
    assert ret["taken"] is True and ret["taker"] == "ctl2"
    name = ret["name"]
    assert name == "20260122T023000Z-ctl2"
    path = base_of(nas) / name
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest == ret["manifest"]
    assert manifest["galera"] == {"uuid": UUID, "seqno": 1417}
    assert manifest["node"] == "ctl2" and manifest["prepared"] is True
    assert manifest["started"] == "2026-01-22T02:30:00Z"
    assert manifest["server_version"] == "10.11.19-MariaDB-0+deb12u1"
    assert manifest["size_bytes"] >= 4096 + 1024
    marker = json.loads((path / "COMPLETE").read_text())
    digest = hashlib.sha256((path / "manifest.json").read_bytes()).hexdigest()
    assert marker == {"name": name, "manifest_sha256": digest}
    backup, prepare = node.mariabackup()
    assert backup[1:] == ["--backup", "--galera-info", "--user=root",
                          "--socket=/run/mysqld/mysqld.sock", f"--target-dir={path}/data",
                          "--parallel=2"]
    assert prepare[1:] == ["--prepare", f"--target-dir={path}/data", "--use-memory=512M"]
    assert not [c for c in node.calls if any("password" in a for a in c)]
    listed = galera_backup.list_(config=config.path)
    assert [(b["name"], b["complete"], b["seqno"]) for b in listed] == [(name, True, 1417)]


def test_the_writer_leaves_it_to_a_synced_peer(node, config, nas):
    with patch.dict(galera_backup.__opts__, {"id": "ctl1"}):
        ret = galera_backup.take(config=config.path)
    assert ret["taken"] is False and ret["taker"] == "ctl2"
    assert "ctl2 takes the backup" in ret["comment"] and "force=True" in ret["comment"]
    assert node.mariabackup() == [] and not base_of(nas).exists()


def test_the_writer_takes_it_when_its_peer_is_not_synced(node, config):
    node.peers["10.77.0.12"] = False
    with patch.dict(galera_backup.__opts__, {"id": "ctl1"}):
        ret = galera_backup.take(config=config.path)
    assert ret["taken"] is True and ret["name"].endswith("-ctl1")


def test_a_node_not_synced_leaves_it_to_its_peer(node, config):
    node.synced = False
    ret = galera_backup.take(config=config.path)  # ctl2, first in order, not Synced
    assert ret["taken"] is False and ret["taker"] == "ctl1"
    assert node.mariabackup() == []


def test_no_synced_controller_is_an_error(node, config):
    node.synced = False
    node.peers["10.77.0.11"] = False
    with pytest.raises(CommandExecutionError, match="no controller is Synced"):
        galera_backup.take(config=config.path)
    assert node.mariabackup() == []


def test_force_takes_it_on_a_synced_node_only(node, config):
    with patch.dict(galera_backup.__opts__, {"id": "ctl1"}):
        assert galera_backup.take(force=True, config=config.path)["taken"] is True
        node.synced = False
        with pytest.raises(CommandExecutionError, match="not Synced"):
            galera_backup.take(force=True, config=config.path)


def test_a_node_missing_from_the_settings_is_an_error(node, config):
    with patch.dict(galera_backup.__opts__, {"id": "ctl9"}):
        with pytest.raises(CommandExecutionError, match="ctl9 is not among the controllers"):
            galera_backup.take(config=config.path)


# --- take: failures, the lock -------------------------------------------------------------


@pytest.mark.parametrize("step", ["backup", "prepare"])
def test_a_failed_backup_stays_incomplete_and_is_never_used(node, config, nas, step):
    older = seal(nas, "20260121T023000Z-ctl2")
    node.fail.add(step)
    with pytest.raises(CommandExecutionError, match=f"mariabackup --{step} failed") as err:
        galera_backup.take(config=config.path)
    assert SECRET not in str(err.value) and "<hidden>" in str(err.value)
    failed = base_of(nas) / "20260122T023000Z-ctl2"
    assert failed.is_dir() and not (failed / "COMPLETE").exists()
    listed = {b["name"]: b for b in galera_backup.list_(config=config.path)}
    assert listed[failed.name]["complete"] is False
    assert "no COMPLETE marker" in listed[failed.name]["reason"]
    assert galera_backup.latest(config=config.path)["name"] == older.name


def test_a_backup_without_galera_position_is_refused(node, config, nas):
    node.position = "\n"
    with pytest.raises(CommandExecutionError, match="no Galera position"):
        galera_backup.take(config=config.path)
    assert not (base_of(nas) / "20260122T023000Z-ctl2" / "COMPLETE").exists()


@pytest.fixture
def held_lock(nas):
    """The NAS lock held by another process (POSIX locks are per process)."""
    base_of(nas).mkdir(parents=True, exist_ok=True)
    code = ("import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
            "fcntl.lockf(fd, fcntl.LOCK_EX)\n"
            "os.write(fd, b'ctl1 since 2026-01-22T02:30:00Z')\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(base_of(nas) / ".lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_a_take_already_running_is_left_alone(node, config, held_lock):
    ret = galera_backup.take(config=config.path)
    assert ret["taken"] is False and "ctl1 since 2026-01-22T02:30:00Z" in ret["comment"]
    assert node.mariabackup() == []
    with pytest.raises(CommandExecutionError, match="a backup is being taken"):
        galera_backup.prune(config=config.path)


# --- retention ------------------------------------------------------------------------------


def test_retention_keeps_the_newest_complete_and_counts_no_incomplete(node, config, nas):
    for day in ("18", "19", "20"):
        seal(nas, f"202601{day}T023000Z-ctl2")
    stale = half(nas, "20260120T120000Z-ctl1")  # died 38 h ago
    fresh = half(nas, "20260122T010000Z-ctl1")  # 1.5 h ago, no marker
    ret = galera_backup.take(config=config(keep=2))
    assert ret["pruned"] == [
        "20260120T120000Z-ctl1 (incomplete: no COMPLETE marker: it failed or is still "
        "being written)",
        "20260119T023000Z-ctl2 (complete; past the 2 newest)",
        "20260118T023000Z-ctl2 (complete; past the 2 newest)",
    ]
    left = [(b["name"], b["complete"]) for b in galera_backup.list_(config=config.path)]
    assert left == [("20260122T023000Z-ctl2", True), (fresh.name, False),
                    ("20260120T023000Z-ctl2", True)]
    assert not stale.exists()


def test_prune_by_hand(node, config, nas):
    for day in ("19", "20", "21"):
        seal(nas, f"202601{day}T023000Z-ctl2")
    ret = galera_backup.prune(config=config.path)
    assert ret["removed"] == ["20260119T023000Z-ctl2 (complete; past the 2 newest)"]
    assert galera_backup.prune(config=config.path)["removed"] == []


def test_prune_never_follows_a_link(node, config, nas, tmp_path):
    for day in ("20", "21"):
        seal(nas, f"202601{day}T023000Z-ctl2")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (base_of(nas) / "20260101T000000Z-ctl1").symlink_to(elsewhere)
    with pytest.raises(CommandExecutionError, match="is not a directory: not removed"):
        galera_backup.prune(config=config.path)
    assert elsewhere.is_dir()


def test_a_failed_retention_still_says_the_backup_was_taken(node, config, nas, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (base_of(nas)).mkdir(parents=True)
    (base_of(nas) / "20260101T000000Z-ctl1").symlink_to(elsewhere)
    with pytest.raises(CommandExecutionError) as err:
        galera_backup.take(config=config.path)
    assert "took 20260122T023000Z-ctl2 (complete), but the retention failed" in str(err.value)
    assert galera_backup.latest(config=config.path)["name"] == "20260122T023000Z-ctl2"


@pytest.mark.parametrize("keep", [0, -1, "7", True])
def test_keep_must_be_a_positive_whole_number(node, config, keep):
    with pytest.raises(SaltInvocationError, match="galera:backup:keep"):
        galera_backup.prune(config=config(keep=keep))


# --- finding a backup -----------------------------------------------------------------------


def test_latest_is_the_newest_complete_one(node, config, nas):
    seal(nas, "20260120T023000Z-ctl2")
    seal(nas, "20260121T023000Z-ctl2", finished="2026-01-21T02:40:00Z")
    half(nas, "20260122T023000Z-ctl2")
    assert galera_backup.latest(config=config.path)["name"] == "20260121T023000Z-ctl2"
    # finished after `before`: the restore does not take a backup that completed
    # while it ran
    before = calendar.timegm(time.strptime("2026-01-21T02:35:00Z", "%Y-%m-%dT%H:%M:%SZ"))
    assert galera_backup.latest(before=int(before), config=config.path)["name"] == (
        "20260120T023000Z-ctl2")
    assert galera_backup.show(before=str(int(before)), config=config.path)["name"] == (
        "20260120T023000Z-ctl2")


def test_no_complete_backup_is_an_error(node, config, nas):
    half(nas, "20260122T023000Z-ctl2")
    with pytest.raises(CommandExecutionError, match="no complete Galera backup") as err:
        galera_backup.latest(config=config.path)
    assert "20260122T023000Z-ctl2" in str(err.value) and "galera_backup.take" in str(err.value)


def test_show_refuses_a_missing_an_incomplete_and_a_bad_name(node, config, nas):
    seal(nas, "20260121T023000Z-ctl2")
    half(nas, "20260122T023000Z-ctl2")
    with pytest.raises(CommandExecutionError) as err:
        galera_backup.show("20260120T023000Z-ctl2", config=config.path)
    assert "no backup named 20260120T023000Z-ctl2" in str(err.value)
    assert "complete ones: 20260121T023000Z-ctl2" in str(err.value)
    with pytest.raises(CommandExecutionError, match="is incomplete .no COMPLETE marker"):
        galera_backup.show("20260122T023000Z-ctl2", config=config.path)
    for bad in ("../../etc", "latest", "20260122T023000Z-", 7):
        with pytest.raises(SaltInvocationError, match="is not one of this module's names"):
            galera_backup.show(bad, config=config.path)
    assert galera_backup.show("20260121T023000Z-ctl2", config=config.path)["seqno"] == 100


def test_a_changed_manifest_breaks_the_seal(node, config, nas):
    path = seal(nas, "20260121T023000Z-ctl2")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["galera"]["seqno"] = 99999
    (path / "manifest.json").write_text(json.dumps(manifest))
    entry = galera_backup.list_(config=config.path)[0]
    assert entry["complete"] is False and "does not match the COMPLETE marker" in entry["reason"]


def test_the_export_must_be_mounted(node, config, nas):
    with pytest.raises(CommandExecutionError, match="is not a mount point"):
        galera_backup.list_(config=config(require_mount=True))


def test_mount_points_are_read_from_mountinfo(tmp_path):
    assert galera_backup._is_mount("/proc") is True
    assert galera_backup._is_mount(str(tmp_path / "nowhere")) is False
    assert galera_backup._unescape(r"/srv/my\040backups") == "/srv/my backups"


def test_settings_come_from_the_state(node, config, tmp_path):
    with pytest.raises(CommandExecutionError, match="apply the galera.backup state"):
        galera_backup.list_(config=str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"root": "/srv/backups"}))
    with pytest.raises(CommandExecutionError, match="lacks directory, keep"):
        galera_backup.list_(config=str(broken))


# --- peers ----------------------------------------------------------------------------------


class _Answer:
    def __init__(self, status):
        self.status = status

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("answer, synced", [
    (_Answer(200), True),
    (urllib.error.HTTPError("http://10.77.0.12:9200/", 503, "Service Unavailable", {}, None),
     False),
    (urllib.error.URLError("connection refused"), False),
    (TimeoutError("timed out"), False),
])
def test_a_peer_is_synced_when_its_clustercheck_says_200(answer, synced):
    def urlopen(url, timeout):
        assert (url, timeout) == ("http://10.77.0.12:9200/", 5)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with patch.object(galera_backup, "_open", urlopen):
        assert galera_backup._peer_synced("10.77.0.12", 9200, 5) is synced


def test_a_peer_is_asked_directly_never_through_a_proxy(monkeypatch):
    """A real HTTP answer, as the clustercheck responder gives it, with a proxy
    in the environment that must not be used."""
    import http.server
    import threading

    class Responder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the handler's name)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Responder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9/")
    try:
        assert galera_backup._peer_synced("127.0.0.1", server.server_address[1], 5) is True
    finally:
        server.shutdown()


# --- the node-side steps of a restore --------------------------------------------------------


def test_set_aside_refuses_while_mysqld_runs(node, tmp_path):
    datadir = tmp_path / "mysql"
    datadir.mkdir()
    (datadir / "ibdata1").write_text("x")
    with pytest.raises(CommandExecutionError, match="mysqld runs on this node"):
        galera_backup.set_aside(datadir=str(datadir))
    assert (datadir / "ibdata1").exists()


def test_set_aside_keeps_the_old_datadir(node, tmp_path):
    node.running = False
    datadir = tmp_path / "mysql"
    datadir.mkdir()
    (datadir / "ibdata1").write_text("the old data")
    ret = galera_backup.set_aside(datadir=str(datadir))
    moved = pathlib.Path(ret["moved_to"])
    assert moved.name == "mysql.before-restore-20260122T023000Z"
    assert (moved / "ibdata1").read_text() == "the old data"
    assert datadir.is_dir() and os.listdir(datadir) == []
    assert oct(datadir.stat().st_mode & 0o777) == "0o755"
    assert ret["kept"] == [str(moved)]
    (datadir / "stray").write_text("again")
    again = galera_backup.set_aside(datadir=str(datadir))  # the same second: another name
    assert again["moved_to"].endswith("20260122T023000Z.2")
    assert len(again["kept"]) == 2


def test_a_datadir_that_is_a_mount_point_is_left_to_the_operator(node, tmp_path, monkeypatch):
    node.running = False
    datadir = tmp_path / "mysql"
    datadir.mkdir()
    (datadir / "ibdata1").write_text("x")
    monkeypatch.setattr(galera_backup, "_is_mount", lambda path: True)
    with pytest.raises(CommandExecutionError, match="is a mount point: it cannot be renamed"):
        galera_backup.set_aside(datadir=str(datadir))
    assert (datadir / "ibdata1").exists()


@pytest.mark.parametrize("exists", [True, False])
def test_an_empty_or_missing_datadir_has_nothing_to_keep(node, tmp_path, exists):
    node.running = False
    datadir = tmp_path / "mysql"
    if exists:
        datadir.mkdir()
    ret = galera_backup.set_aside(datadir=str(datadir))
    assert ret["moved_to"] is None and datadir.is_dir() and ret["kept"] == []


@pytest.fixture
def restorable(node, config, nas):
    path = seal(nas, "20260121T023000Z-ctl2", seqno=1417)
    (path / "data" / "ibdata1").write_text("restored data")
    (path / "data" / "gvwstate.dat").write_text("an old view")
    node.running = False
    return path


def test_restore_copies_back_with_a_grastate_to_bootstrap_from(node, config, restorable,
                                                               tmp_path):
    datadir = tmp_path / "mysql"
    datadir.mkdir()
    ret = galera_backup.restore(datadir=str(datadir), config=config.path)
    assert ret["restored"] == restorable.name and (ret["uuid"], ret["seqno"]) == (UUID, 1417)
    assert (datadir / "ibdata1").read_text() == "restored data"
    assert not (datadir / "gvwstate.dat").exists()
    assert (datadir / "grastate.dat").read_text() == (
        f"# GALERA saved state\nversion: 2.1\nuuid:    {UUID}\nseqno:   1417\n"
        f"safe_to_bootstrap: 1\n")
    (copy_back,) = node.mariabackup()
    assert copy_back[1:] == ["--copy-back", f"--target-dir={restorable}/data",
                             f"--datadir={datadir}", "--parallel=2"]
    # the backup itself is left as it was
    assert (restorable / "data" / "ibdata1").exists() and (restorable / "COMPLETE").exists()


def test_the_written_grastate_is_what_the_bootstrap_rule_reads(node, config, restorable, tmp_path):
    galera = load_ext("modules", "galera")
    datadir = tmp_path / "mysql"
    datadir.mkdir()
    galera_backup.restore(datadir=str(datadir), config=config.path)
    parsed = galera.parse_grastate((datadir / "grastate.dat").read_text())
    assert parsed == {"version": "2.1", "uuid": UUID, "seqno": 1417, "safe_to_bootstrap": True}


def test_restore_refuses_a_datadir_not_set_aside(node, config, restorable, tmp_path):
    datadir = tmp_path / "mysql"
    datadir.mkdir()
    (datadir / "ibdata1").write_text("live data")
    with pytest.raises(CommandExecutionError, match="run galera_backup.set_aside"):
        galera_backup.restore(datadir=str(datadir), config=config.path)
    assert (datadir / "ibdata1").read_text() == "live data" and node.mariabackup() == []


def test_restore_refuses_while_mysqld_runs(node, config, restorable, tmp_path):
    node.running = True
    datadir = tmp_path / "mysql"
    datadir.mkdir()
    with pytest.raises(CommandExecutionError, match="mysqld runs on this node"):
        galera_backup.restore(datadir=str(datadir), config=config.path)
    assert node.mariabackup() == []


def test_restore_refuses_an_incomplete_backup(node, config, restorable, nas, tmp_path):
    half(nas, "20260122T023000Z-ctl2")
    datadir = tmp_path / "mysql"
    datadir.mkdir()
    with pytest.raises(CommandExecutionError, match="is incomplete"):
        galera_backup.restore("20260122T023000Z-ctl2", datadir=str(datadir),
                              config=config.path)
    # without a name: the newest complete one, not the newer incomplete one
    assert galera_backup.restore(datadir=str(datadir), config=config.path)["restored"] == (
        restorable.name)


def test_a_failed_copy_back_says_so(node, config, restorable, tmp_path):
    node.fail.add("copy-back")
    datadir = tmp_path / "mysql"
    datadir.mkdir()
    with pytest.raises(CommandExecutionError, match="mariabackup --copy-back failed"):
        galera_backup.restore(datadir=str(datadir), config=config.path)
    assert not (datadir / "grastate.dat").exists()


# --- the SLS that use it ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def render(tmp_path_factory):
    """render(minion_id, sls, pillar=None): state.show_sls with the lab's pillar."""
    with minion_loaders() as loaders:

        def show(minion_id, sls, pillar=None):
            pillar = pillar if pillar is not None else site_pillar("lab")
            minion = loaders((minion_id, repr(pillar)), lambda: minion_opts(
                tmp_path_factory.mktemp(minion_id), minion_id, pillar, file_roots=served_roots()))
            salt_log = logging.getLogger("salt")
            level = salt_log.level
            salt_log.setLevel(logging.CRITICAL + 1)  # expected render errors are not logged
            try:
                return minion.modules.state.show_sls(sls)
            finally:
                salt_log.setLevel(level)

        yield show


def test_controllers_apply_the_backup_state():
    roles = load("salt/roles.yaml")
    assert "galera.backup" in roles["controller"]
    assert roles["controller"].index("galera.backup") > roles["controller"].index("nfs.client")


def test_the_backup_state_writes_the_settings_and_a_timer(render):
    high = render("ctl1", "galera.backup")
    assert isinstance(high, dict), high
    settings = state_args(high["galera-backup-settings-managed"], "file")
    assert settings["name"] == galera_backup.CONFIG
    assert settings["dataset"] == {
        "root": "/srv/backups", "directory": "galera", "keep": 7, "stale_hours": 24,
        "require_mount": True, "parallel": 2, "use_memory": "512M", "check_port": 9200,
        "check_timeout": 5, "controllers": CONTROLLERS,
    }
    assert set(settings["dataset"]) == set(galera_backup.SETTINGS)
    units = {next(iter(item)): next(iter(item.values()))[0]["contents"]
             for item in state_args(high["galera-backup-units-managed"], "file")["names"]}
    service = units["/etc/systemd/system/galera-backup.service"]
    assert ("ExecStart=/usr/bin/salt-call --local --retcode-passthrough --out=json "
            "galera_backup.take config=/etc/twin-cloud/galera-backup.json") in service
    assert "Type=oneshot" in service and "TimeoutStartSec=6h" in service
    timer = units["/etc/systemd/system/galera-backup.timer"]
    assert "OnCalendar=*-*-* 02:30:00" in timer and "WantedBy=timers.target" in timer
    running = state_args(high["galera-backup-timer-running"], "service")
    assert running["name"] == "galera-backup.timer" and running["enable"] is True
    reload_ = state_args(high["galera-backup-systemd-reloaded"], "cmd")
    assert reload_["onchanges"] == [{"file": "galera-backup-units-managed"}]


def test_the_backup_state_refuses_a_site_without_the_export(render):
    pillar = copy.deepcopy(site_pillar("lab"))
    del pillar["site"]["nas"]["exports"]["backups"]
    errors = render("ctl1", "galera.backup", pillar)
    assert isinstance(errors, list), errors
    assert "galera:backup:export: backups is no export of site:nas:exports" in "\n".join(errors)


def _chain(high):
    """{state id: (module.function, [required ids])}."""
    out = {}
    for sid, state in high.items():
        module = next(k for k in state if not k.startswith("__"))
        fun = next(item for item in state[module] if isinstance(item, str))
        requires = [next(iter(r.values())) for r in state_args(state).get("require", [])]
        out[sid] = (f"{module}.{fun}", requires)
    return out


def test_the_restore_orchestration_runs_its_steps_in_order(render):
    pillar = {**site_pillar("lab"), "backup": "20260121T023000Z-ctl2"}
    high = render("admin_master", "orch.galera_restore", pillar)
    assert isinstance(high, dict), high
    chain = _chain(high)
    assert chain == {
        "galera-restore-backup-checked": ("salt.function", []),
        "galera-restore-healing-paused": ("salt.runner", ["galera-restore-backup-checked"]),
        "galera-restore-mariadb-stopped": ("salt.function", ["galera-restore-healing-paused"]),
        "galera-restore-witness-stopped": ("salt.function", ["galera-restore-mariadb-stopped"]),
        "galera-restore-datadirs-set-aside": ("salt.function", [
            "galera-restore-mariadb-stopped", "galera-restore-witness-stopped"]),
        "galera-restore-copied-back": ("salt.function", ["galera-restore-datadirs-set-aside"]),
        "galera-restore-cluster-formed": ("galera.converged", ["galera-restore-copied-back"]),
        "galera-restore-witness-started": ("salt.function", ["galera-restore-cluster-formed"]),
        "galera-restore-witness-joined": ("galera.converged", ["galera-restore-witness-started"]),
        "galera-restore-accounts-managed": ("galera.accounts_managed", [
            "galera-restore-witness-joined"]),
        "galera-restore-healing-resumed": ("salt.runner", ["galera-restore-accounts-managed"]),
    }
    args = {sid: state_args(state) for sid, state in high.items()}
    checked = args["galera-restore-backup-checked"]
    assert (checked["name"], checked["tgt"], checked["failhard"]) == (
        "galera_backup.show", "ctl1", True)
    assert checked["kwarg"]["name"] == "20260121T023000Z-ctl2"
    assert abs(checked["kwarg"]["before"] - time.time()) < 120
    assert args["galera-restore-copied-back"]["kwarg"] == checked["kwarg"]
    assert args["galera-restore-copied-back"]["tgt"] == "ctl1"
    for sid in ("galera-restore-mariadb-stopped", "galera-restore-datadirs-set-aside"):
        assert (args[sid]["tgt"], args[sid]["tgt_type"]) == ("ctl1,ctl2", "list")
    assert args["galera-restore-mariadb-stopped"]["arg"] == ["mariadb"]
    assert (args["galera-restore-witness-stopped"]["tgt"],
            args["galera-restore-witness-stopped"]["arg"]) == ("nas", ["garb"])
    assert args["galera-restore-healing-paused"]["name"] == "heal.pause"
    assert args["galera-restore-healing-resumed"]["name"] == "heal.resume"


def test_without_a_name_the_restore_takes_the_newest_backup(render):
    high = render("admin_master", "orch.galera_restore")
    kwarg = state_args(high["galera-restore-backup-checked"])["kwarg"]
    assert set(kwarg) == {"before"}


def test_without_a_witness_there_is_no_garbd_to_stop(render):
    pillar = copy.deepcopy(site_pillar("lab"))
    pillar["site"]["quorum"] = {"mode": "two_node"}
    chain = _chain(render("admin_master", "orch.galera_restore", pillar))
    assert not [sid for sid in chain if "witness" in sid]
    assert chain["galera-restore-accounts-managed"][1] == ["galera-restore-cluster-formed"]
    assert chain["galera-restore-datadirs-set-aside"][1] == ["galera-restore-mariadb-stopped"]


def test_the_runbook_names_the_orchestration():
    text = (REPO / "docs" / "runbooks" / "galera-restore.md").read_text()
    assert "salt-run state.orchestrate orch.galera_restore" in text
    assert "heal.resume" in text and "before-restore" in text
