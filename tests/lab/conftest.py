"""The lab, for tests that need real nodes.

The session fixture brings the lab up from nothing (any previous lab is
taken down first; the cached image and apt repository are reused) and takes
it down at the end. Lab tests need root and systemd-nspawn: where they are
missing the tests fail, they are never skipped.
"""

import contextlib
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from lab import util
from lab.bench import changed_states  # noqa: F401 (the lab tests use it from here)

REPO = pathlib.Path(__file__).resolve().parents[2]
STATE = pathlib.Path(os.environ.get("HALAB_STATE", "/var/lib/halab"))
CLOUD = "lab"  # the lab's site name: the cloud's name in clouds.yaml
# the master's event stream during the deploy from bare nodes (deployed)
EVENTS = STATE / "deploy-events.txt"
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
        """Run ``salt`` through the repo's Saltfile; return the JSON answer.

        A state run waits for every targeted minion's return (up to
        ``timeout``): with Salt's default ``--timeout`` the CLI drops, without
        a word, a minion too busy to answer its job query in time (a node
        still in its boot highstate on this 2-core lab)."""
        if any(arg.startswith("state.") for arg in args) and not any(
                arg.startswith(("--timeout", "-t")) for arg in args):
            args = (f"--timeout={max(30, timeout - 30)}", *args)
        result = subprocess.run(
            [str(BIN / "salt"), "--out=json", "--static", target, *args],
            cwd=REPO, text=True, capture_output=True, timeout=timeout)
        try:
            return json.loads(result.stdout or "{}")
        except ValueError as exc:
            raise AssertionError(f"salt {target} {args}: not JSON:\n{result.stdout}\n"
                                 f"{result.stderr}") from exc

    def orchestrate(self, sls, *args, timeout=1800):
        """Run an orchestration; return (retcode, {state id: state return})."""
        result = subprocess.run(
            [str(BIN / "salt-run"), "--out=json", "state.orchestrate", sls, *args],
            cwd=REPO, text=True, capture_output=True, timeout=timeout)
        try:
            doc = json.loads(result.stdout)
        except ValueError as exc:
            raise AssertionError(f"orchestrate {sls}: not JSON:\n{result.stdout[-4000:]}\n"
                                 f"{result.stderr[-4000:]}") from exc
        data = doc.get("data", doc)
        states = next(iter(data.values())) if isinstance(data, dict) and data else {}
        return doc.get("retcode", result.returncode), states

    def openstack(self, *args, check=True, timeout=300, tool="openstack"):
        """Run an OpenStack CLI (Debian's, on the admin box) with the clouds.yaml the
        deploy wrote; ``-f json`` answers are parsed."""
        env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(STATE / "clouds.yaml"),
                   OS_CLOUD=CLOUD)
        result = subprocess.run([f"/usr/bin/{tool}", *args], env=env, text=True,
                                capture_output=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{tool} {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        if "json" in args and result.returncode == 0 and result.stdout.strip():
            return json.loads(result.stdout)
        return result

    def wait_idle(self, nodes, timeout=900):
        """Wait until no Salt job runs on ``nodes`` (a node back from a power
        loss runs its boot highstate, also after the site is green again)."""
        def idle():
            running = self.salt("-L", ",".join(nodes), "saltutil.running", "--timeout=10")
            return set(running) >= set(nodes) and not any(running[n] for n in nodes)
        return self.wait(f"no Salt job running on {', '.join(nodes)}", idle, timeout,
                         interval=5)

    def ping(self):
        return {m for m, ok in self.salt("*", "test.ping", "--timeout=5").items() if ok is True}

    def exec(self, node, *cmd, check=True):
        return self.cli("exec", node, *cmd, check=check)

    def status(self):
        result = self.cli("status", "--json", check=False)
        return json.loads(result.stdout), result.returncode

    def wait(self, what, predicate, timeout, interval=1.0, evidence=None):
        """``predicate()``'s first true value, asked every ``interval`` s; on
        timeout an AssertionError naming ``what``, and what ``evidence()``
        (when given) says the failure's cause may be."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        message = f"timed out after {timeout}s waiting for {what}"
        raise AssertionError(f"{message}\n{evidence()}" if evidence else message)


def secrets_in(text, values):
    """The names of ``values`` ({name: secret}) whose value is in ``text``;
    a value of several lines (the CA's PEM key) counts when any line of it
    (32 characters or more) is there, as JSON or a log would break it up."""
    found = []
    for name, value in values.items():
        value = str(value)
        pieces = [value] + [line for line in value.splitlines() if len(line) >= 32]
        if any(piece in text for piece in pieces):
            found.append(name)
    return sorted(found)


def failed_states(orch_states):
    """Every failed step of an orchestration, with the failed states inside it."""
    failed = {}
    for step_id, step in orch_states.items():
        if step.get("result") is True:
            continue
        inner = (step.get("changes") or {}).get("ret") or {}
        details = {
            f"{minion}: {sid}": st.get("comment")
            for minion, sts in (inner.items() if isinstance(inner, dict) else ())
            if isinstance(sts, dict)
            for sid, st in sts.items() if isinstance(st, dict) and st.get("result") is not True
        }
        failed[step_id] = details or step.get("comment")
    return failed


@contextlib.contextmanager
def master_events(path, timeout=60):
    """The master's event bus (``salt-run state.event``: one ``tag<TAB>json``
    line per event) written to ``path`` (mode 0600) while the block runs;
    the block starts once the listener has seen an event fired for it."""
    marker = "twin-cloud/test/event-capture-started"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        listener = subprocess.Popen([str(BIN / "salt-run"), "state.event"], cwd=REPO,
                                    stdout=out, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + timeout
            while marker not in path.read_text():
                assert listener.poll() is None, f"state.event exited ({listener.returncode})"
                assert time.monotonic() < deadline, "salt-run state.event saw no event in time"
                subprocess.run([str(BIN / "salt-run"), "event.send", marker], cwd=REPO,
                               capture_output=True, timeout=60)
                time.sleep(1)
            yield path
        finally:
            listener.terminate()
            try:
                listener.wait(timeout=30)
            except subprocess.TimeoutExpired:
                listener.kill()
                listener.wait()


@pytest.fixture(scope="session")
def deployed(lab):
    """The whole site deployed from bare nodes by the deploy orchestration,
    with the master's event stream meanwhile in ``events`` (a file)."""
    start = time.monotonic()
    subprocess.run([str(BIN / "salt-run"), "saltutil.sync_all"], cwd=REPO, check=True,
                   capture_output=True, timeout=300)
    with master_events(EVENTS):
        retcode, states = lab.orchestrate("orch.deploy")
    took = time.monotonic() - start
    failed = failed_states(states)
    assert retcode == 0 and not failed, f"deploy failed (retcode {retcode}): {failed}"
    print(f"deploy from bare nodes: {took:.0f}s")
    return {"seconds": took, "states": states, "events": EVENTS}


@pytest.fixture(scope="session")
def lab():
    if os.geteuid() != 0:
        pytest.fail("lab tests need root (mounts, namespaces, bridges): run bin/test as root")
    held = contextlib.ExitStack()
    try:
        held.enter_context(util.session(f"a test run in {REPO}"))
    except util.LabError as exc:
        pytest.fail(str(exc))
    with held:
        driver = Lab()
        driver.cli("down")
        up = driver.cli("up")
        print(up.stdout)
        yield driver
        driver.cli("down", check=False)


@pytest.fixture(scope="module")
def healer_paused(lab):
    """Tests that break things on purpose to check one layer pause the heal
    runner, so that it does not race them; it resumes afterwards."""
    def heal(*args):
        subprocess.run([str(BIN / "salt-run"), *args], cwd=REPO, check=True,
                       capture_output=True, timeout=120)

    heal("heal.pause", "minutes=60", "reason=layer test on purpose")
    yield
    # what the layer test broke on purpose it also repaired: forget it
    heal("heal.reset")
    heal("heal.resume")


def guest_image():
    result = subprocess.run([PY, "-m", "lab", "guest-image"], cwd=REPO, text=True,
                            capture_output=True, check=True, timeout=600)
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def cloud(lab, deployed):
    """The deployed cloud, with the smoke's shared objects (image, flavor,
    networks, router): made once, for the smoke and the failover."""
    image = guest_image()
    lab.openstack("image", "create", "--disk-format", "raw", "--container-format", "bare",
                  "--file", image, "--public", "smoke-guest", "-f", "json", timeout=600)
    lab.openstack("flavor", "create", "--ram", "128", "--disk", "1", "--vcpus", "1",
                  "smoke.tiny", "-f", "json")
    lab.openstack("network", "create", "--external", "--share", "--provider-network-type",
                  "flat", "--provider-physical-network", "provider", "smoke-provider",
                  "-f", "json")
    lab.openstack("subnet", "create", "--network", "smoke-provider", "--subnet-range",
                  "10.78.0.0/24", "--gateway", "10.78.0.1", "--allocation-pool",
                  "start=10.78.0.100,end=10.78.0.200", "--no-dhcp", "smoke-provider-v4",
                  "-f", "json")
    lab.openstack("network", "create", "smoke-net", "-f", "json")
    lab.openstack("subnet", "create", "--network", "smoke-net", "--subnet-range",
                  "192.168.77.0/24", "smoke-net-v4", "-f", "json")
    lab.openstack("router", "create", "smoke-router", "-f", "json")
    lab.openstack("router", "set", "--external-gateway", "smoke-provider", "smoke-router")
    lab.openstack("router", "add", "subnet", "smoke-router", "smoke-net-v4")
    return lab
