"""Heat and Horizon on the deployed lab, through the VIP.

Heat: heat-api (:8004) and heat-api-cfn (:8000) listen on each controller's
management address behind HAProxy, every controller runs a live heat-engine,
Keystone lists the `orchestration` and `cloudformation` services at the VIP,
the stack domain `heat` and its administrator exist, a tiny stack
(OS::Heat::RandomString) reaches CREATE_COMPLETE, and a wait-condition handle
(a user Heat creates in the stack domain) takes a signal through the VIP.

Horizon: Apache listens on the management address :80 only (HAProxy serves
it at https://VIP/horizon, its :80 redirecting there), both HAProxy
backends are up, a login made through the VIP holds on both controllers
(sessions in memcached, one SECRET_KEY), and a headless Chromium
(tests/lab/browser.py) logs in as admin and opens the instances page, which
lists the admin project's servers (and every name in
TWIN_CLOUD_HORIZON_SERVERS, comma-separated, for a test that booted one);
its screenshot is kept under artifacts/.
"""

import http.cookiejar
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from lab import secrets as lab_secrets

from .browser import ARTIFACTS, horizon_instances
from .conftest import BIN, REPO

pytestmark = [pytest.mark.lab, pytest.mark.cloud]

CONTROLLERS = ("ctl1", "ctl2")
ADDRESS = {"ctl1": "10.77.0.11", "ctl2": "10.77.0.12"}
VIP = "10.77.0.10"
PORTS = {"heat": 8004, "heat-cfn": 8000, "horizon": 80}
HORIZON = f"https://{VIP}/horizon"
TINY = """\
heat_template_version: 2018-08-31
resources:
  word:
    type: OS::Heat::RandomString
    properties:
      length: 12
outputs:
  word:
    value: {get_attr: [word, value]}
"""
SIGNALLED = """\
heat_template_version: 2018-08-31
resources:
  handle:
    type: OS::Heat::WaitConditionHandle
outputs:
  endpoint:
    value: {get_attr: [handle, endpoint]}
  token:
    value: {get_attr: [handle, token]}
"""


def admin_password():
    return lab_secrets.load()["keystone_admin_password"]


def listeners(lab, node, port):
    """The addresses ``node`` listens on at TCP ``port``."""
    found = set()
    for line in lab.exec(node, "ss", "-Hltn").stdout.splitlines():
        address, _, listen_port = line.split()[3].rpartition(":")
        if int(listen_port) == port:
            found.add(address.strip("[]"))
    return found


def site_status():
    result = subprocess.run([str(BIN / "salt-run"), "--out=json", "site.status"], cwd=REPO,
                            text=True, capture_output=True, timeout=300)
    return json.loads(result.stdout)


def create_stack(lab, name, template):
    """Create a stack and wait (polling) until it leaves CREATE_IN_PROGRESS;
    returns (its ``stack show``, seconds taken)."""
    start = time.monotonic()
    lab.openstack("stack", "create", "-t", str(template), name, "-f", "json")

    def settled():
        stack = lab.openstack("stack", "show", name, "-f", "json")
        return stack if stack["stack_status"] != "CREATE_IN_PROGRESS" else None
    stack = lab.wait(f"stack {name} created", settled, timeout=600, interval=2)
    return stack, time.monotonic() - start


def delete_stack(lab, name):
    lab.openstack("stack", "delete", "--yes", "--wait", name, check=False, timeout=600)


@pytest.fixture(scope="module")
def stack_name():
    return f"hh-{uuid.uuid4().hex[:8]}"


# --- both -------------------------------------------------------------------------------


@pytest.mark.parametrize("node", CONTROLLERS)
def test_apis_listen_on_the_management_address_only(lab, deployed, node):
    for api, port in PORTS.items():
        found = listeners(lab, node, port)
        # HAProxy holds the VIP's port on the node carrying the VIP
        assert ADDRESS[node] in found and found <= {ADDRESS[node], VIP}, (api, found)


def test_haproxy_has_both_controllers_up_for_heat_and_horizon(lab, deployed):
    def all_up():
        haproxy = site_status().get("haproxy") or {}
        states = {(proxy_node, api, server): spec.get("status")
                  for proxy_node, proxies in haproxy.items() if isinstance(proxies, dict)
                  for api in PORTS for server, spec in (proxies.get(api) or {}).items()}
        wanted = {(n, api, c) for n in haproxy for api in PORTS for c in CONTROLLERS}
        return wanted and all(states.get(key) == "UP" for key in wanted) and states
    states = lab.wait("heat and horizon backends UP in every HAProxy", all_up, timeout=120,
                      interval=3)
    print(f"haproxy backends: {len(states)} UP")


# --- heat ---------------------------------------------------------------------------------


def test_every_controller_runs_a_live_engine(lab, deployed):
    def engines():
        rows = lab.openstack("orchestration", "service", "list", "-f", "json")
        up = {row["Hostname"] for row in rows if row["Status"] == "up"}
        return set(CONTROLLERS) <= up and rows
    rows = lab.wait("a heat-engine up on each controller", engines, timeout=180, interval=5)
    print(f"orchestration services: {[(r['Hostname'], r['Status']) for r in rows]}")


def test_keystone_lists_orchestration_and_cloudformation_at_the_vip(lab, deployed):
    wanted = {"orchestration": f"https://{VIP}:8004/v1/%(tenant_id)s",
              "cloudformation": f"https://{VIP}:8000/v1"}
    for service_type, url in wanted.items():
        rows = lab.openstack("endpoint", "list", "--service", service_type, "-f", "json")
        assert sorted(r["Interface"] for r in rows) == ["admin", "internal", "public"], rows
        assert {r["URL"] for r in rows} == {url}, rows


def test_the_stack_domain_and_its_administrator_exist(lab, deployed):
    domain = lab.openstack("domain", "show", "heat", "-f", "json")
    assert domain["enabled"] is True
    user = lab.openstack("user", "show", "--domain", "heat", "heat_domain_admin", "-f", "json")
    assert user["enabled"] is True and user["domain_id"] == domain["id"]
    grants = lab.openstack("role", "assignment", "list", "--domain", "heat", "--user",
                           user["id"], "--names", "-f", "json")
    assert [g["Role"] for g in grants] == ["admin"], grants
    roles = {r["Name"] for r in lab.openstack("role", "list", "-f", "json")}
    assert {"heat_stack_owner", "heat_stack_user"} <= roles


def test_a_tiny_stack_reaches_create_complete(lab, deployed, tmp_path, stack_name):
    template = tmp_path / "tiny.yaml"
    template.write_text(TINY)
    try:
        stack, took = create_stack(lab, stack_name, template)
        assert stack["stack_status"] == "CREATE_COMPLETE", stack
        word = lab.openstack("stack", "output", "show", stack_name, "word", "-f", "json")
        assert len(word["output_value"]) == 12, word
        print(f"stack {stack_name}: CREATE_COMPLETE in {took:.1f}s")
    finally:
        delete_stack(lab, stack_name)
    names = {s["Stack Name"] for s in lab.openstack("stack", "list", "-f", "json")}
    assert stack_name not in names


def test_a_stack_domain_user_signals_through_the_vip(lab, deployed, tmp_path, stack_name):
    """A wait-condition handle makes Heat create a user (and a project) in the
    stack domain; its token signals the handle through heat-api at the VIP."""
    name = f"{stack_name}-sig"
    template = tmp_path / "signalled.yaml"
    template.write_text(SIGNALLED)
    try:
        stack, _ = create_stack(lab, name, template)
        assert stack["stack_status"] == "CREATE_COMPLETE", stack
        endpoint, token = (
            lab.openstack("stack", "output", "show", name, key, "-f", "json")["output_value"]
            for key in ("endpoint", "token"))
        assert endpoint.startswith(f"https://{VIP}:8004/"), endpoint
        users = {u["Name"] for u in lab.openstack("user", "list", "--domain", "heat",
                                                  "-f", "json")}
        assert any(u.startswith(f"{name}-handle-") for u in users), users
        request = urllib.request.Request(
            endpoint, method="POST",
            data=json.dumps({"status": "SUCCESS", "reason": "lab", "data": "ok",
                             "id": "1"}).encode(),
            headers={"X-Auth-Token": token, "Content-Type": "application/json",
                     "Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=60,
                                    context=lab_secrets.ssl_context()) as resp:
            assert resp.status == 200
        metadata = lab.openstack("stack", "resource", "metadata", name, "handle", "-f",
                                 "json")
        assert metadata["1"]["status"] == "SUCCESS", metadata
    finally:
        delete_stack(lab, name)
    users = {u["Name"] for u in lab.openstack("user", "list", "--domain", "heat", "-f", "json")}
    assert not any(u.startswith(f"{name}-") for u in users), users


# --- horizon ------------------------------------------------------------------------------


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def login(password):
    """A Django login through the VIP over https, verified with the site CA (the
    form's CSRF token, the cookies); returns the opener holding the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=lab_secrets.ssl_context()),
        urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    page = opener.open(f"{HORIZON}/auth/login/", timeout=120).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    region = re.search(r'name="region"[^>]*value="([^"]*)"', page)
    form = {"csrfmiddlewaretoken": token, "username": "admin", "password": password,
            "region": region.group(1) if region else "", "next": ""}
    request = urllib.request.Request(f"{HORIZON}/auth/login/",
                                     data=urllib.parse.urlencode(form).encode(),
                                     headers={"Referer": f"{HORIZON}/auth/login/"})
    try:
        opener.open(request, timeout=120)
        raise AssertionError("the login form did not redirect (wrong password?)")
    except urllib.error.HTTPError as exc:
        assert exc.code == 302, exc.code
        assert "/auth/login" not in exc.headers["Location"], exc.headers["Location"]
    return opener


def test_a_login_through_the_vip_holds_on_both_controllers(lab, deployed):
    opener = login(admin_password())
    marker = uuid.uuid4().hex
    for i in range(6):  # HAProxy's round robin: three on each controller
        with opener.open(f"{HORIZON}/project/instances/?probe={marker}-{i}",
                         timeout=120) as resp:
            assert resp.status == 200  # a redirect to the login page raises (NoRedirect)
    served = {}
    for node in CONTROLLERS:
        log = lab.exec(node, "sh", "-c",
                       f"grep -h 'probe={marker}' /var/log/apache2/access.log || true").stdout
        served[node] = [line for line in log.splitlines() if '" 200 ' in line]
    assert all(served.values()), f"each controller served the session: {served}"
    print({node: len(lines) for node, lines in served.items()})


def test_a_browser_logs_in_and_sees_the_instances(lab, deployed):
    wanted = [s["Name"] for s in lab.openstack("server", "list", "-f", "json")]
    wanted += [n for n in os.environ.get("TWIN_CLOUD_HORIZON_SERVERS", "").split(",") if n]
    shot = ARTIFACTS / "horizon-instances.png"
    seen = horizon_instances(HORIZON, "admin", admin_password(), wanted, screenshot=shot,
                             ca_file=lab_secrets.ca_file())
    assert seen["login_status"] == 200, seen
    assert "/auth/login" not in seen["after_login"], seen["after_login"]
    assert seen["status"] == 200 and seen["url"].endswith("/project/instances/"), seen
    assert "Instances" in seen["text"]
    assert not seen["missing"], f"the instances page lacks {seen['missing']}: {seen['rows']}"
    if not wanted:
        assert "No items to display" in seen["text"]
    assert shot.stat().st_size > 10_000
    print(f"horizon instances page: {seen['rows']} (screenshot {shot})")
