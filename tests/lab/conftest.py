"""The lab, for tests that need real nodes.

The session fixture brings the lab up from nothing (any previous lab is
taken down first; the cached image and apt repository are reused) and takes
it down at the end. Lab tests need root and systemd-nspawn: where they are
missing the tests fail, they are never skipped.
"""

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PY = sys.executable
BIN = pathlib.Path(PY).parent


class Lab:
    """Drives the lab and the master the way an operator would."""

    def cli(self, *args, check=True, timeout=900):
        result = subprocess.run([PY, "-m", "lab", *args], cwd=REPO, text=True,
                                capture_output=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"lab {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def salt(self, target, *args, timeout=600):
        """Run ``salt`` through the repo's Saltfile; return the JSON answer."""
        result = subprocess.run(
            [str(BIN / "salt"), "--out=json", "--static", target, *args],
            cwd=REPO, text=True, capture_output=True, timeout=timeout)
        try:
            return json.loads(result.stdout or "{}")
        except ValueError as exc:
            raise AssertionError(f"salt {target} {args}: not JSON:\n{result.stdout}\n"
                                 f"{result.stderr}") from exc

    def ping(self):
        return {m for m, ok in self.salt("*", "test.ping", "--timeout=5").items() if ok is True}

    def exec(self, node, *cmd, check=True):
        return self.cli("exec", node, *cmd, check=check)

    def status(self):
        result = self.cli("status", "--json", check=False)
        return json.loads(result.stdout), result.returncode

    def wait(self, what, predicate, timeout, interval=1.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="session")
def lab():
    if os.geteuid() != 0:
        pytest.fail("lab tests need root (mounts, namespaces, bridges): run bin/test as root")
    driver = Lab()
    driver.cli("down")
    up = driver.cli("up")
    print(up.stdout)
    yield driver
    driver.cli("down", check=False)
