"""Small helpers: running commands, timing phases, waiting for conditions."""

import contextlib
import fcntl
import os
import pathlib
import sys
import time

from adminbox import proc
from adminbox.errors import AdminError


class LabError(AdminError):
    """A lab step failed; the message says what and what to do."""

    prefix = "lab"


def say(message):
    print(f"[lab {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(cmd, check=True, capture=False, env=None, input=None, quiet=False):
    """Run ``cmd`` (a list); raise :class:`LabError` with its output on failure."""
    return proc.run(cmd, check=check, capture=capture, env=env, input=input, quiet=quiet,
                    error=LabError)


def wait_for(what, predicate, timeout, interval=0.5):
    """Poll ``predicate`` until it returns a true value; fail after ``timeout`` s."""
    return proc.wait_for(what, predicate, timeout, interval=interval, error=LabError)


class Phases:
    """Records how long each named phase took, and prints them at the end."""

    def __init__(self):
        self.times = []

    @contextlib.contextmanager
    def phase(self, name):
        say(f"{name} ...")
        start = time.monotonic()
        yield
        took = time.monotonic() - start
        self.times.append((name, took))
        say(f"{name}: {took:.1f}s")

    def report(self):
        total = sum(t for _, t in self.times)
        lines = [f"  {name:<28} {took:7.1f}s" for name, took in self.times]
        lines.append(f"  {'total':<28} {total:7.1f}s")
        return "phase times:\n" + "\n".join(lines)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def read_pid(path):
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


# Held by a session that brings the lab up and down (a test run, a benchmark):
# outside the lab's state directory, which `down` removes.
SESSION_LOCK = pathlib.Path(os.environ.get("HALAB_LOCK", "/run/lock/halab.session"))
SESSION_ENV = "HALAB_SESSION"


@contextlib.contextmanager
def session(owner, path=None):
    """Hold the lab for one session: a second session started meanwhile fails
    at once, naming the first, instead of taking the lab down under it (a
    test run's end takes down whatever lab is up). The lock is the kernel's
    (flock): it goes with the process, however that ends. A process the
    holder started (`lab bench heal` runs the healing checks) is inside the
    session already (``HALAB_SESSION`` in its environment)."""
    if os.environ.get(SESSION_ENV):
        yield
        return
    path = pathlib.Path(path or SESSION_LOCK)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 512).decode(errors="replace").strip() or "another process"
            raise LabError(
                f"the lab is in use by {holder}: wait for it to end, or stop it "
                f"(kill -TERM <its pid>, then `python -m lab down`)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{owner} (pid {os.getpid()})\n".encode(), 0)
        os.environ[SESSION_ENV] = owner
        try:
            yield
        finally:
            os.environ.pop(SESSION_ENV, None)
    finally:
        os.close(fd)  # releases the lock
