"""Issue 4's smoke test on the deployed lab, through the VIP, with the
`openstack` CLI on the admin box and the clouds.yaml the deploy wrote. The
fault (the VIP holder killed) is in test_openstack_zz_failover.py, after the
other OpenStack checks.

The guest is the lab's own tiny image (`python -m lab guest-image`: a Debian
kernel and a busybox initramfs printing a marker on its serial console).
"""

import time

import pytest

from lab import secrets as lab_secrets

from .browser import ARTIFACTS, horizon_instances
from .test_openstack_heat_horizon import HORIZON, admin_password, create_stack
from .test_openstack_storage import create_volume

pytestmark = [pytest.mark.lab, pytest.mark.cloud]

MARKER = "TWIN-CLOUD-GUEST-BOOTED"
VIP = "10.77.0.10"


def boot(lab, name, host=None):
    """Boot a server on the self-service network (on compute ``host`` if given);
    return (its id, seconds to ACTIVE, seconds to the marker in its console log)."""
    start = time.monotonic()
    # --host is an option of server create (compute API 2.74 and later)
    version, placement = (["--os-compute-api-version", "2.74"], ["--host", host]) if host \
        else ([], [])
    server = lab.openstack(*version, "server", "create", *placement, "--image", "smoke-guest",
                           "--flavor", "smoke.tiny", "--network", "smoke-net", name,
                           "-f", "json")

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


def test_a_volume_is_created_and_attached_to_the_server(cloud):
    volume = create_volume(cloud, "smoke-volume")
    assert volume["status"] == "available", volume
    cloud.openstack("server", "add", "volume", "smoke-server-1", volume["id"])

    def in_use():
        shown = cloud.openstack("volume", "show", volume["id"], "-f", "json")
        assert shown["status"] not in ("error", "error_attaching"), shown
        return shown if shown["status"] == "in-use" else None

    shown = cloud.wait("the volume in-use", in_use, 180, interval=3,
                       evidence=lambda: attach_evidence(cloud, volume["id"]))
    (attachment,) = shown["attachments"]
    server = cloud.openstack("server", "show", "smoke-server-1", "-f", "json")
    assert attachment["server_id"] == server["id"], attachment
    # the guest's disk: the volume's file on the NAS export, as the host mounted it
    host = server["OS-EXT-SRV-ATTR:host"]
    disks = cloud.exec(host, "virsh", "domblklist", server["OS-EXT-SRV-ATTR:instance_name"]).stdout
    assert f"volume-{volume['id']}" in disks and "/var/lib/nova/mnt/" in disks, disks


def attach_evidence(lab, volume_id):
    """What an operator looks at when an attachment hangs: the volume, and the
    errors of nova-compute and cinder-volume on both controllers."""
    lines = [str(lab.openstack("volume", "show", volume_id, "-f", "json", check=False))]
    for node in ("ctl1", "ctl2"):
        for log in ("/var/log/nova/nova-compute.log", "/var/log/cinder/cinder-volume.log"):
            found = lab.exec(node, "sh", "-c", f"grep -E 'ERROR|Traceback|rror:' {log} | tail -8",
                             check=False).stdout
            lines.append(f"--- {node} {log}\n{found}")
        lines.append(f"--- {node} mounts\n" + lab.exec(node, "sh", "-c",
                     "grep -E 'nova/mnt|cinder/mnt' /proc/mounts", check=False).stdout)
    return "\n".join(lines)


def test_horizon_in_a_real_browser_lists_the_server(cloud):
    shot = ARTIFACTS / "smoke-horizon-instances.png"
    seen = horizon_instances(HORIZON, "admin", admin_password(), ["smoke-server-1"],
                             screenshot=shot, ca_file=lab_secrets.ca_file())
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
    stack, took = create_stack(cloud, "smoke-stack", template)
    print(f"\nstack CREATE_COMPLETE in {took:.1f}s")
    assert stack["stack_status"] == "CREATE_COMPLETE", stack


def test_gnocchi_lists_a_metric_for_the_server(cloud):
    server = cloud.openstack("server", "show", "smoke-server-1", "-f", "json")

    def metrics():
        found = cloud.openstack("metric", "resource", "show", server["id"], "-f", "json",
                                check=False)
        return isinstance(found, dict) and found.get("metrics")

    seen = cloud.wait("a gnocchi metric for the server", metrics, 600, interval=10)
    assert seen
