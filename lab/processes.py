"""Daemons the lab starts on the host (the BMCs, the salt-master), tracked by
session id so that `down` ends them, and only them, even after a crash."""

import os
import signal
import subprocess
import sys
import time

from . import config
from .util import pid_alive

SESSIONS = config.STATE / "sessions"


def _stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def session_members(sid):
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(entry)
            if fields and int(fields[3]) == sid:
                members.append(int(entry))
    return members


def remember(name, pid):
    """Record the session of ``pid`` (a session leader) under ``name``."""
    SESSIONS.mkdir(parents=True, exist_ok=True)
    (SESSIONS / name).write_text(f"{os.getsid(pid)}\n")


def spawn(name, args, log):
    """Start ``python -m lab <args>`` in its own session, logging to ``log``."""
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "lab", *args], cwd=config.REPO,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True)
    remember(name, proc.pid)
    return proc.pid


def running(name):
    try:
        sid = int((SESSIONS / name).read_text())
    except (OSError, ValueError):
        return False
    return any(pid_alive(p) for p in session_members(sid))


def end(name, grace=10):
    """SIGTERM every process of the named session, SIGKILL what is left."""
    path = SESSIONS / name
    try:
        sid = int(path.read_text())
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in session_members(sid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while session_members(sid) and time.monotonic() < deadline:
            time.sleep(0.2)
    path.unlink(missing_ok=True)


def end_all():
    if SESSIONS.is_dir():
        for entry in SESSIONS.iterdir():
            end(entry.name)


def stray_nspawns():
    """nspawn processes booting a lab node's root (left by a crashed run)."""
    marker = str(config.STATE / "nodes")
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"systemd-nspawn") and any(
            a.decode(errors="replace").startswith(marker) for a in argv
        ):
            found.append(int(entry))
    return found
