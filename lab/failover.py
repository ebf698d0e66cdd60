"""The API gap when the controller holding the VIP dies: reads through the
VIP in a loop (from the host, as a client would), the longest time without
an answer. Used by the smoke test's fault and by ``python -m lab bench
failover``.
"""

import threading
import time
import urllib.error
import urllib.request

from . import config, nodes, secrets
from .util import LabError

# one read per API kind, through the VIP (ports of salt/openstack/services/*.yaml)
PATHS = ((5000, "/v3"), (9292, "/"), (8774, "/"), (9696, "/"))


def vip_address(lab=None):
    lab = lab or config.load()
    return lab.site["vips"]["api"]["address"]


def holder(lab=None):
    """The controller whose network namespace holds the VIP, or None."""
    lab = lab or config.load()
    vip = vip_address(lab)
    for node in lab.nodes:
        if "controller" not in node.roles or not nodes.is_on(node):
            continue
        pid = nodes.init_pid(node)
        if pid and _has_address(pid, vip):
            return node.name
    return None


def _has_address(pid, address):
    import subprocess  # pylint: disable=import-outside-toplevel

    result = subprocess.run(["nsenter", "-t", str(pid), "-n", "ip", "-o", "-4", "addr", "show"],
                            capture_output=True, text=True, check=False)
    return f" {address}/" in result.stdout


def _answers(url, context):
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as answer:
            return answer.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


class ApiReader(threading.Thread):
    """Reads every API through the VIP every ``interval`` s until stopped; a
    round counts when every API answered (any status below 500)."""

    def __init__(self, vip, interval=0.2):
        super().__init__(daemon=True)
        self.urls = [f"https://{vip}:{port}{path}" for port, path in PATHS]
        self.context = secrets.ssl_context()  # the site CA: HAProxy ends TLS
        self.interval = interval
        self.stopped = threading.Event()
        self.last_ok = time.monotonic()
        self.longest = 0.0
        self.failures = 0
        self.rounds_ok = 0  # rounds in which every API answered
        self.not_answering = []  # the URLs that did not answer in the last round

    def run(self):
        while not self.stopped.is_set():
            self.not_answering = [url for url in self.urls if not _answers(url, self.context)]
            ok = not self.not_answering
            now = time.monotonic()
            if ok:
                self.longest = max(self.longest, now - self.last_ok)
                self.last_ok = now
                self.rounds_ok += 1
            else:
                self.failures += 1
            time.sleep(self.interval)

    def answering(self):
        """True once the last round answered (within two rounds)."""
        return time.monotonic() - self.last_ok < 2 + self.interval * 2

    def survivor_serves(self, killed, lab=None, timeout=180, settle=5):
        """
        After the kill of ``killed`` (the VIP's holder), wait until the VIP is
        on another controller and a whole round of reads answered since it
        got there; return that controller. Raises :class:`LabError` with the
        timeline seen (each second: where the VIP was, rounds answered, what
        did not answer), so a failure says whether the VIP never moved, came
        back, or moved while the APIs stayed silent.
        """
        start = time.monotonic()
        timeline, moved_at = [], None
        while time.monotonic() - start < timeout:
            where = holder(lab)
            seen = (where, self.rounds_ok, tuple(self.not_answering))
            if not timeline or timeline[-1][1:] != seen:
                timeline.append((round(time.monotonic() - start, 1), *seen))
            if where not in (None, killed) and time.monotonic() - start > settle:
                if moved_at is None:
                    moved_at = self.rounds_ok
                elif self.rounds_ok > moved_at:
                    return where
            else:
                moved_at = None
            time.sleep(1)
        lines = "\n".join(f"  +{t:6.1f}s  VIP on {where}  rounds answered {ok}  "
                          f"not answering {', '.join(urls) or '-'}"
                          for t, where, ok, urls in timeline)
        raise LabError(f"the APIs did not answer through the VIP from a survivor of {killed} "
                       f"within {timeout}s; seen:\n{lines}")

    def stop(self):
        self.stopped.set()
        self.join(10)
        return self.longest
