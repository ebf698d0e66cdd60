"""Issue 4's smoke test on the deployed lab, through the VIP, with the
`openstack` CLI on the admin box and the clouds.yaml the deploy wrote; then
the fault: the controller holding the VIP is killed while reads run, the gap
is printed, and the smoke passes again on the survivor alone.

The guest is the lab's own tiny image (`python -m lab guest-image`: a Debian
kernel and a busybox initramfs printing a marker on its serial console).
"""

import subprocess
import time

import pytest

from lab import failover

from .browser import ARTIFACTS, horizon_instances
from .conftest import PY, REPO
from .test_openstack_heat_horizon import HORIZON, admin_password
from .test_healing import wait_green

pytestmark = [pytest.mark.lab, pytest.mark.cloud]

MARKER = "TWIN-CLOUD-GUEST-BOOTED"
VIP = "10.77.0.10"


def guest_image():
    result = subprocess.run([PY, "-m", "lab", "guest-image"], cwd=REPO, text=True,
                            capture_output=True, check=True, timeout=600)
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def cloud(lab, deployed):
    """The deployed cloud, with the smoke's shared objects (image, networks)."""
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


def boot(lab, name):
    """Boot a server on the self-service network; return (its id, seconds to ACTIVE,
    seconds to the marker in its console log)."""
    start = time.monotonic()
    server = lab.openstack("server", "create", "--image", "smoke-guest", "--flavor",
                           "smoke.tiny", "--network", "smoke-net", name, "-f", "json")

    def active():
        shown = lab.openstack("server", "show", server["id"], "-f", "json")
        assert shown["status"] != "ERROR", f"{name} went to ERROR: {shown.get('fault')}"
        return shown["status"] == "ACTIVE"

    lab.wait(f"{name} ACTIVE", active, 300, interval=3)
    to_active = time.monotonic() - start

    def marker():
        log = lab.openstack("console", "log", "show", server["id"], check=False)
        return MARKER in (log.stdout or "")

    lab.wait(f"{MARKER} in {name}'s console log", marker, 300, interval=3)
    return server["id"], to_active, time.monotonic() - start


def test_a_token_through_the_vip(cloud):
    token = cloud.openstack("token", "issue", "-f", "json")
    assert token["id"] and token["project_id"]


def test_every_service_is_in_the_catalog(cloud):
    types = {entry["Type"] for entry in cloud.openstack("catalog", "list", "-f", "json")}
    assert {"identity", "image", "placement", "compute", "network", "volumev3",
            "object-store", "orchestration", "metric"} <= types


def test_a_server_boots_and_its_console_shows_the_marker(cloud):
    server_id, to_active, to_marker = boot(cloud, "smoke-server-1")
    print(f"\nserver ACTIVE after {to_active:.0f}s, marker after {to_marker:.0f}s")
    assert cloud.openstack("server", "show", server_id, "-f", "json")["status"] == "ACTIVE"


def test_horizon_in_a_real_browser_lists_the_server(cloud):
    shot = ARTIFACTS / "smoke-horizon-instances.png"
    seen = horizon_instances(HORIZON, "admin", admin_password(), ["smoke-server-1"],
                             screenshot=shot)
    assert seen["status"] == 200 and not seen["missing"], seen
    assert shot.stat().st_size > 0
    print(f"\nscreenshot: {shot}")


def test_an_object_round_trip_in_swift(cloud, tmp_path):
    payload = tmp_path / "smoke.txt"
    payload.write_text("twin-cloud smoke object\n")
    cloud.openstack("container", "create", "smoke", "-f", "json")
    cloud.openstack("object", "create", "smoke", str(payload), "--name", "smoke.txt",
                    "-f", "json")
    back = tmp_path / "back.txt"
    cloud.openstack("object", "save", "--file", str(back), "smoke", "smoke.txt")
    assert back.read_text() == payload.read_text()


def test_a_heat_stack_completes(cloud, tmp_path):
    template = tmp_path / "stack.yaml"
    template.write_text("heat_template_version: 2018-08-31\n"
                        "resources:\n  word:\n    type: OS::Heat::RandomString\n"
                        "    properties: {length: 8}\n"
                        "outputs:\n  word: {value: {get_attr: [word, value]}}\n")
    cloud.openstack("stack", "create", "-t", str(template), "--wait", "smoke-stack",
                    "-f", "json", timeout=600)
    stack = cloud.openstack("stack", "show", "smoke-stack", "-f", "json")
    assert stack["stack_status"] == "CREATE_COMPLETE"


def test_gnocchi_lists_a_metric_for_the_server(cloud):
    server = cloud.openstack("server", "show", "smoke-server-1", "-f", "json")

    def metrics():
        found = cloud.openstack("metric", "resource", "show", server["id"], "-f", "json",
                                check=False)
        return isinstance(found, dict) and found.get("metrics")

    seen = cloud.wait("a gnocchi metric for the server", metrics, 600, interval=10)
    assert seen


def test_killing_the_vip_holder_leaves_the_apis_on_the_survivor(cloud):
    holder = failover.holder()
    assert holder, "no controller holds the VIP"
    survivor = "ctl2" if holder == "ctl1" else "ctl1"
    reader = failover.ApiReader(VIP)
    reader.start()
    cloud.wait("the reads answering before the fault", reader.answering, 30)
    cloud.cli("kill", holder)
    killed = time.monotonic()
    cloud.wait("the APIs answering through the VIP again, from the survivor", lambda: (
        time.monotonic() - killed > 5 and failover.holder() == survivor
        and reader.answering()), 180)
    gap = reader.stop()
    print(f"\nAPI gap after killing {holder} (VIP holder): {gap:.1f}s")
    # the smoke again, on the survivor alone, once nova sees the dead host's
    # compute service down (the scheduler then places nothing there)
    cloud.openstack("token", "issue", "-f", "json")

    def compute_down():
        services = cloud.openstack("compute", "service", "list", "--service", "nova-compute",
                                   "-f", "json", check=False)
        return isinstance(services, list) and any(
            s["Host"] == holder and s["State"] == "down" for s in services)

    cloud.wait(f"nova to see {holder}'s compute service down", compute_down, 300, interval=5)
    server_id, to_active, to_marker = boot(cloud, "smoke-server-2")
    print(f"on {survivor} alone: server ACTIVE after {to_active:.0f}s, "
          f"marker after {to_marker:.0f}s")
    host = cloud.openstack("server", "show", server_id, "-c", "OS-EXT-SRV-ATTR:host",
                           "-f", "json")
    assert host["OS-EXT-SRV-ATTR:host"] == survivor
    cloud.cli("poweron", holder)
    # hands off: the node's boot highstate and the heal runner bring it back
    wait_green(cloud, f"{holder} back after the failover", 900)
