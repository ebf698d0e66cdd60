"""Password rotation (issue 6) on the deployed cloud: `salt-run secrets.rotate
name=glance_keystone_password` gives Glance's Keystone password a new value
in the encrypted secrets pillar and runs orch.secret_rotate (`openstack` on
the first controller, then on every node). Then Keystone issues Glance's
user a token with the new password and refuses the old one, both
controllers' glance-api.conf hold the new value and not the old, and Glance
answers through the VIP and on each controller (it validates every token
with its own, new, credentials). No value is in the runner's output."""

import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest

from lab import secrets as lab_secrets

from .conftest import BIN, REPO

pytestmark = [pytest.mark.lab, pytest.mark.cloud]

CONTROLLERS = ("ctl1", "ctl2")
ADDRESS = {"ctl1": "10.77.0.11", "ctl2": "10.77.0.12"}
VIP = "10.77.0.10"
SECRET = "glance_keystone_password"
CONFIG = "/etc/glance/glance-api.conf"


def last_json(text):
    """The last JSON document of ``text`` (salt-run's answer, after anything it printed)."""
    decoder = json.JSONDecoder()
    starts = [i for i, char in enumerate(text) if char == "{" and (i == 0 or text[i - 1] == "\n")]
    for start in reversed(starts):
        try:
            doc, end = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if not text[end:].strip():
            return doc
    raise AssertionError(f"no JSON answer in salt-run's output:\n{text[-3000:]}")


@pytest.fixture(scope="module")
def rotated(lab, deployed):
    """Glance's Keystone password rotated through the runner, as an operator would."""
    old = lab_secrets.load()[SECRET]
    result = subprocess.run([str(BIN / "salt-run"), "--out=json", "secrets.rotate",
                             f"name={SECRET}"], cwd=REPO, text=True, capture_output=True,
                            timeout=3600)
    new = lab_secrets.load()[SECRET]
    return {"old": old, "new": new, "result": result,
            "answer": last_json(result.stdout) if result.returncode == 0 else None}


def token_as(user, password, project="service"):
    """``openstack token issue`` through the VIP (https, the site CA's) as
    ``user`` (password in the environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_AUTH_URL=f"https://{VIP}:5000/v3", OS_CACERT=str(lab_secrets.ca_file()),
               OS_IDENTITY_API_VERSION="3",
               OS_USERNAME=user, OS_PASSWORD=password, OS_USER_DOMAIN_NAME="Default",
               OS_PROJECT_NAME=project, OS_PROJECT_DOMAIN_NAME="Default",
               OS_REGION_NAME="RegionOne", OS_INTERFACE="internal")
    return subprocess.run(["/usr/bin/openstack", "token", "issue", "-f", "value", "-c", "id"],
                          env=env, text=True, capture_output=True, timeout=120)


# A failed assertion shows the values it compared: every check that involves a
# secret compares booleans computed beforehand.


def test_the_runner_rotated_and_applied_without_showing_a_value(rotated):
    result = rotated["result"]
    output = result.stdout + result.stderr
    shown = rotated["old"] in output or rotated["new"] in output
    assert not shown, "a value of the secret is in salt-run's output"
    assert result.returncode == 0, output[-4000:]
    answer = rotated["answer"]
    assert answer["rotated"] == SECRET and answer["result"] is True, answer
    assert answer["orchestration"] == "orch.secret_rotate"
    failed = {sid: step for sid, step in answer["steps"].items() if step["result"] is not True}
    assert not failed, failed
    assert len(answer["steps"]) == 3, answer["steps"]  # pillar valid, first controller, all
    changed = rotated["new"] != rotated["old"]
    well_formed = len(rotated["new"]) == 32 and rotated["new"].isalnum()
    assert changed and well_formed, (changed, well_formed)


def test_the_secrets_file_stays_encrypted(rotated):
    text = lab_secrets.FILE.read_text()
    in_clear = rotated["new"] in text or rotated["old"] in text
    assert text.startswith("#!yaml|gpg\n") and not in_clear
    assert lab_secrets.FILE.stat().st_mode & 0o077 == 0


def test_keystone_takes_the_new_password_and_refuses_the_old(rotated):
    assert token_as("glance", rotated["new"]).returncode == 0
    refused = token_as("glance", rotated["old"])
    assert refused.returncode != 0


@pytest.mark.parametrize("node", CONTROLLERS)
def test_each_controllers_config_holds_the_new_value_not_the_old(lab, rotated, node):
    text = lab.exec(node, "cat", CONFIG).stdout
    section = text.partition("[keystone_authtoken]")[2].split("\n[", 1)[0]
    new_there = f"\npassword = {rotated['new']}\n" in section
    old_anywhere = rotated["old"] in text
    assert new_there and not old_anywhere, (
        f"{node}:{CONFIG}: new value in [keystone_authtoken]: {new_there}, "
        f"old value anywhere: {old_anywhere}")
    assert lab.exec(node, "systemctl", "is-active", "glance-api").stdout.strip() == "active"


def test_images_list_through_the_vip(lab, rotated):
    def listed():  # a list, maybe empty: Glance authenticated the admin's token
        return isinstance(lab.openstack("image", "list", "-f", "json", check=False), list)

    lab.wait("glance to list the images through the VIP", listed, 180, interval=3)


@pytest.mark.parametrize("node", CONTROLLERS)
def test_each_glance_api_validates_a_token_with_its_new_credentials(lab, rotated, node):
    token = lab.openstack("token", "issue", "-f", "json")["id"]
    request = urllib.request.Request(f"http://{ADDRESS[node]}:9292/v2/images",
                                     headers={"X-Auth-Token": token})

    def listed():
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status == 200 and "images" in json.loads(response.read())
        except (urllib.error.URLError, OSError):
            return False

    lab.wait(f"glance-api on {node} to list the images", listed, 180, interval=3)
