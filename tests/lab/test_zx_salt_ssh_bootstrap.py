"""Issue 6 on a real node: a real site's first contact through salt-ssh.

The lab's bare node (`python -m lab bare up`: one extra nspawn machine on
the management bridge, outside the inventory, booted with sshd, the admin
box's key in root's authorized_keys and no Salt at all) gets the pinned
minion the way a site's server does: `python -m adminbox bootstrap bare`
(bin/node-bootstrap) applies salt/minion through salt-ssh with the roster
the lab generated, reads the new minion's key from the node through
salt-ssh, accepts it by that fingerprint, and waits for test.ping.

Cheap and out of the others' way: one node that is no part of the site
(the deploy, the heal runner and site.status ignore its id), removed at
the end with its key, so the deployed site is as the tests before left it
for test_zy_backup_restore and the teardown (files run in name order).
"""

import json
import pathlib
import subprocess

import pytest
import yaml

from adminbox import keys

from .conftest import BIN, PY, REPO, STATE

pytestmark = pytest.mark.lab

NODE = "bare"
MASTER_PKI = STATE / "master" / "pki"
NODE_ROOT = STATE / "nodes" / NODE / "root"
CONFIG = "/etc/salt/minion.d/twin-cloud.conf"


@pytest.fixture(scope="module")
def bare(lab):
    lab.cli("bare", "down", check=False)  # what an interrupted run left
    up = lab.cli("bare", "up", timeout=900)
    print(up.stdout)
    yield NODE
    lab.cli("bare", "down", check=False)


def master_finger():
    return keys.fingerprint(MASTER_PKI / "master.pub")


def salt_ssh(*args, timeout=900):
    result = subprocess.run([str(BIN / "salt-ssh"), "-c", str(REPO / "etc" / "salt"),
                             "--out=json", NODE, *args], cwd=REPO, text=True,
                            capture_output=True, timeout=timeout)
    try:
        return json.loads(result.stdout)[NODE]
    except (ValueError, KeyError) as exc:
        raise AssertionError(f"salt-ssh {args}: {result.stdout}\n{result.stderr}") from exc


def test_the_bare_node_has_sshd_and_no_salt(lab, bare):
    for path in ("/opt/salt", "/etc/salt", "/usr/bin/salt-call", "/usr/bin/salt-minion",
                 "/etc/systemd/system/salt-minion.service"):
        assert lab.exec(NODE, "test", "-e", path, check=False).returncode != 0, path
    assert lab.exec(NODE, "systemctl", "is-active", "ssh").stdout.strip() == "active"
    roster = yaml.safe_load((STATE / "master" / "roster").read_text())
    assert roster[NODE]["host"] == "10.77.0.14" and roster[NODE]["user"] == "root"
    assert set(roster) >= {"ctl1", "ctl2", "nas", NODE}
    known = (MASTER_PKI / "ssh" / "known_hosts").read_text()
    assert known.startswith("10.77.0.14 ssh-ed25519 "), known
    assert not (MASTER_PKI / "minions" / NODE).exists()


def test_first_contact_installs_the_pinned_minion_pinned_to_this_master(lab, bare):
    result = subprocess.run([PY, "-m", "adminbox", "bootstrap", NODE], cwd=REPO, text=True,
                            capture_output=True, timeout=1200)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    print(result.stdout)
    assert lab.salt(NODE, "test.ping", "--timeout=10") == {NODE: True}
    assert lab.salt(NODE, "test.version", "--timeout=10") == {NODE: "3008.3"}
    version = lab.exec(NODE, "salt-call", "--version").stdout.split()
    assert version[:2] == ["salt-call", "3008.3"], version
    conf = yaml.safe_load(lab.exec(NODE, "cat", CONFIG).stdout)
    assert conf["master_finger"] == master_finger()
    assert conf["master"] == "10.77.0.1" and conf["id"] == NODE
    assert conf["hash_type"] == "sha256" and conf["sign_pub_messages"] is True
    # the key the master accepted is the one on the node's disk
    node_key = NODE_ROOT / "etc" / "salt" / "pki" / "minion" / "minion.pub"
    assert keys.fingerprint(MASTER_PKI / "minions" / NODE) == keys.fingerprint(node_key)
    # the minion came from the admin box's wheels, in a venv of the node's python3
    assert lab.exec(NODE, "readlink", "-f", "/opt/salt/bin/python").stdout.strip().startswith(
        "/usr/bin/python3")
    assert lab.exec(NODE, "systemctl", "is-enabled", "salt-minion").stdout.strip() == "enabled"


def test_a_second_run_changes_nothing(lab, bare):
    answer = salt_ssh("state.apply", "minion",
                      "pillar=" + json.dumps({"minion": {"master_finger": master_finger()}}))
    states = answer.get("return", answer) if isinstance(answer, dict) else answer
    assert isinstance(states, dict) and states, answer
    assert all(s["result"] is True for s in states.values()), states
    assert [sid for sid, s in states.items() if s["changes"]] == []
    assert lab.salt(NODE, "test.ping", "--timeout=10") == {NODE: True}


def test_bare_down_leaves_the_site_as_it_was(lab, bare):
    lab.cli("bare", "down")
    assert not (MASTER_PKI / "minions" / NODE).exists()
    assert not pathlib.Path(STATE / "nodes" / NODE).exists()
    assert NODE not in yaml.safe_load((STATE / "master" / "roster").read_text())
    assert NODE not in lab.ping()
