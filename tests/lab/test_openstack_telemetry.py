"""Telemetry on the deployed lab, through the VIP.

Gnocchi: gnocchi-api (:8041) and gnocchi-metricd on each controller, the
API on the management address behind HAProxy, Keystone's `metric` service
at the VIP, the indexer in Galera (archive policies, the resource types
ceilometer-upgrade created), and one file store shared by the controllers:
measures posted through the VIP are served by either controller's API.

Ceilometer: agent-notification, agent-central and agent-compute on each
controller; the central agents share the polling work (one tooz group,
both members); a sample put on the bus the way a polling agent does becomes
a Gnocchi resource with measures; an image created in Glance is polled by
the central agents into Gnocchi.

Aodh: api (:8042), evaluator, notifier, listener on each controller;
Keystone's `alarming` service at the VIP answers; the evaluators share the
alarms (one tooz group, both members); a threshold alarm on a Gnocchi
metric fires.

Gnocchi's DELETE calls go without an Accept header: Debian 12's
gnocchiclient (7.0.7) sends `Accept: application/json`, which Gnocchi
4.4.2 under pecan 1.4 answers with 406 (gnocchiclient PR #125).
"""

import json
import shlex
import time
import urllib.error
import urllib.request
import uuid

import pytest

from lab import secrets as lab_secrets

pytestmark = [pytest.mark.lab, pytest.mark.cloud]

CONTROLLERS = ("ctl1", "ctl2")
ADDRESS = {"ctl1": "10.77.0.11", "ctl2": "10.77.0.12"}
VIP = "10.77.0.10"
PORTS = {"gnocchi": 8041, "aodh": 8042}
SLS = "openstack.gnocchi,openstack.ceilometer,openstack.aodh"
UNITS = ["gnocchi-api", "gnocchi-metricd", "ceilometer-agent-notification",
         "ceilometer-agent-central", "ceilometer-agent-compute", "aodh-api",
         "aodh-evaluator", "aodh-notifier", "aodh-listener"]
# what a polling agent does (ceilometer/polling/manager.py): a signed sample
# dict in a `telemetry.polling` notification on ceilometer's exchange
POLLED_SAMPLE = """\
import sys
import oslo_messaging
from oslo_utils import timeutils
from ceilometer import messaging, sample, service
from ceilometer.publisher import utils
resource_id, project_id, volume = sys.argv[1], sys.argv[2], int(sys.argv[3])
conf = service.prepare_service(["lab-test"], ["/etc/ceilometer/ceilometer.conf"])
notifier = oslo_messaging.Notifier(messaging.get_transport(conf),
                                   driver=conf.publisher_notifier.telemetry_driver,
                                   publisher_id="ceilometer.polling")
polled = sample.Sample(name="image.size", type="gauge", unit="B", volume=volume,
                       user_id=None, project_id=project_id, resource_id=resource_id,
                       timestamp=timeutils.utcnow().isoformat(),
                       resource_metadata={"name": "telemetry-lab-test",
                                          "container_format": "bare", "disk_format": "raw"})
notifier.sample({}, "telemetry.polling", {"samples": [
    utils.meter_message_from_counter(polled, conf.publisher.telemetry_secret)]})
"""
# the members of every tooz group on the first controller's memcached
GROUPS = """\
import json
from tooz import coordination
probe = coordination.get_coordinator("memcached://10.77.0.11:11211", b"lab-test-probe")
probe.start()
text = lambda value: value.decode() if isinstance(value, bytes) else value
print(json.dumps({text(group): sorted(text(m) for m in probe.get_members(group).get())
                  for group in probe.get_groups().get()}))
probe.stop()
"""


def listeners(lab, node, port):
    """The addresses ``node`` listens on at TCP ``port``."""
    found = set()
    for line in lab.exec(node, "ss", "-Hltn").stdout.splitlines():
        address, _, listen_port = line.split()[3].rpartition(":")
        if int(listen_port) == port:
            found.add(address.strip("[]"))
    return found


def token(lab):
    return lab.openstack("token", "issue", "-f", "json")


def http(lab, method, url, body=None):
    """(status, parsed JSON or None) of one call with an admin token; no
    Accept header (see the module's docstring). https (the VIP's frontends)
    is verified with the site CA; the controllers' own addresses are http."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"X-Auth-Token": token(lab)["id"]})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30,
                                    context=lab_secrets.ssl_context()) as answer:
            text = answer.read().decode()
            return answer.status, json.loads(text) if text.strip() else None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def measures(lab, host, metric_id):
    """The measures of ``metric_id`` from the Gnocchi API at ``host`` (refreshed:
    pending measures are aggregated first): https at the VIP, http on a
    controller's own address."""
    scheme = "https" if host == VIP else "http"
    status, found = http(lab, "GET",
                         f"{scheme}://{host}:8041/v1/metric/{metric_id}/measures?refresh=true")
    assert status == 200, (host, status, found)
    return found


def tooz_groups(lab):
    return json.loads(lab.exec("ctl1", "python3", "-c", GROUPS).stdout)


# --- the states and the units ------------------------------------------------------------


@pytest.mark.parametrize("node", CONTROLLERS)
def test_every_telemetry_unit_runs(lab, deployed, node):
    result = lab.exec(node, "systemctl", "is-active", *UNITS, check=False)
    states = dict(zip(UNITS, result.stdout.split()))
    assert states == {unit: "active" for unit in UNITS}


@pytest.mark.parametrize("node", CONTROLLERS)
def test_the_apis_listen_on_the_management_address_only(lab, deployed, node):
    for api, port in PORTS.items():
        found = listeners(lab, node, port)
        # HAProxy holds the VIP's port on the node carrying the VIP
        assert ADDRESS[node] in found and found <= {ADDRESS[node], VIP}, (api, found)


# --- Gnocchi -------------------------------------------------------------------------------


def test_keystone_lists_metric_and_alarming_at_the_vip(lab, deployed):
    for service_type, port in (("metric", 8041), ("alarming", 8042)):
        rows = lab.openstack("endpoint", "list", "--service", service_type, "-f", "json")
        assert sorted(r["Interface"] for r in rows) == ["admin", "internal", "public"], rows
        assert {r["URL"] for r in rows} == {f"https://{VIP}:{port}"}, rows


def test_gnocchi_answers_its_status_and_indexes_in_galera(lab, deployed):
    status = lab.openstack("metric", "status", "-f", "json")
    print(f"\nmetric status: {status}")
    assert isinstance(status["storage/total number of measures to process"], int), status
    policies = {p["name"] for p in lab.openstack("metric", "archive-policy", "list", "-f", "json")}
    assert {"low", "medium", "high", "bool"} <= policies, policies
    types = {t["name"] for t in lab.openstack("metric", "resource-type", "list", "-f", "json")}
    # ceilometer-upgrade's
    assert {"instance", "instance_disk", "instance_network_interface", "image",
            "volume", "network"} <= types, types


def test_measures_taken_through_the_vip_are_served_by_either_controller(lab, deployed):
    """One store for both controllers (the NAS's export `metrics`): whichever
    API took the measures, both serve them."""
    name = f"telemetry-lab-{uuid.uuid4().hex[:8]}"
    metric = lab.openstack("metric", "create", "--archive-policy-name", "low", name,
                           "-f", "json")
    try:
        now = int(time.time())
        points = [f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(now - 60 * i))}@{i + 1}"
                  for i in range(4)]
        for point in points:  # one call each: HAProxy spreads them over both APIs
            lab.openstack("metric", "measures", "add", "-m", point, metric["id"])

        def served_by_both():
            seen = {node: measures(lab, ADDRESS[node], metric["id"]) for node in CONTROLLERS}
            return seen if all(seen.values()) and seen["ctl1"] == seen["ctl2"] else None
        seen = lab.wait("the same measures from both controllers' APIs", served_by_both,
                        timeout=120, interval=3)
        print(f"\nmeasures from ctl1 and ctl2: {seen['ctl1']}")
        total = sum(value for _, granularity, value in seen["ctl1"] if granularity == 300.0)
        assert total > 0
    finally:
        status, _ = http(lab, "DELETE", f"https://{VIP}:8041/v1/metric/{metric['id']}")
        assert status == 204, status


# --- Ceilometer ----------------------------------------------------------------------------


def test_the_central_agents_and_the_evaluators_share_their_work(lab, deployed):
    def both_joined():
        groups = tooz_groups(lab)
        central = {g: m for g, m in groups.items() if g.startswith("central-")}
        evaluator = groups.get("alarm_evaluator") or []
        ok = central and all(len(m) == 2 for m in central.values()) and len(evaluator) == 2
        return groups if ok else None
    groups = lab.wait("two members in each central and alarm_evaluator group", both_joined,
                      timeout=120, interval=5)
    print(f"\ntooz groups: { {g: len(m) for g, m in groups.items()} }")


def test_a_sample_polled_onto_the_bus_becomes_gnocchi_measures(lab, deployed):
    """Through RabbitMQ (the notification agents of both controllers consume
    `notifications.sample` on ceilometer's exchange), the pipeline, and the
    Gnocchi publisher through the VIP."""
    resource_id = str(uuid.uuid4())
    project_id = token(lab)["project_id"]  # not `service`: the publisher skips its samples
    script = f"cd /tmp && python3 -c {shlex.quote(POLLED_SAMPLE)} {resource_id} {project_id} 4242"
    start = time.monotonic()
    lab.exec("ctl1", "su", "-s", "/bin/sh", "-c", script, "ceilometer")
    try:
        def resource():
            found = lab.openstack("metric", "resource", "show", resource_id, "-f", "json",
                                  check=False)
            return found if isinstance(found, dict) and found.get("metrics") else None
        found = lab.wait("the polled sample's resource in Gnocchi", resource, timeout=120,
                         interval=2)
        print(f"\nresource in Gnocchi {time.monotonic() - start:.0f}s after the sample: "
              f"{found['type']} {found['metrics']}")
        assert found["type"] == "image"
        metric_id = found["metrics"]["image.size"]

        def values():
            return [value for _, _, value in measures(lab, VIP, metric_id)] or None
        assert lab.wait("the sample's measure", values, timeout=120, interval=3) == [4242.0]
    finally:
        http(lab, "DELETE", f"https://{VIP}:8041/v1/resource/generic/{resource_id}")


def test_the_central_agents_poll_a_new_image_into_gnocchi(lab, deployed, tmp_path):
    """ceilometer-agent-central polls Glance (image.size, every 300 s): a new
    image becomes a Gnocchi resource with its size as a measure."""
    payload = tmp_path / "telemetry.img"
    payload.write_bytes(b"\0" * 4096)
    image = lab.openstack("image", "create", "--disk-format", "raw", "--container-format",
                          "bare", "--file", str(payload), f"telemetry-{uuid.uuid4().hex[:8]}",
                          "-f", "json")
    start = time.monotonic()
    try:
        def polled():
            found = lab.openstack("metric", "resource", "show", image["id"], "-f", "json",
                                  check=False)
            if not (isinstance(found, dict) and "image.size" in (found.get("metrics") or {})):
                return None
            return [value for _, _, value in measures(lab, VIP, found["metrics"]["image.size"])]
        sizes = lab.wait("the new image polled into Gnocchi", polled, timeout=420, interval=10)
        print(f"\nimage polled into Gnocchi after {time.monotonic() - start:.0f}s: {sizes}")
        assert set(sizes) == {4096.0}
    finally:
        lab.openstack("image", "delete", image["id"], check=False)


# --- Aodh ----------------------------------------------------------------------------------


def test_aodh_answers_through_the_vip(lab, deployed):
    status, alarms = http(lab, "GET", f"https://{VIP}:8042/v2/alarms")
    assert status == 200 and isinstance(alarms, list), (status, alarms)
    for node in CONTROLLERS:
        status, alarms = http(lab, "GET", f"http://{ADDRESS[node]}:8042/v2/alarms")
        assert status == 200 and isinstance(alarms, list), (node, status, alarms)


def test_a_threshold_alarm_on_gnocchi_measures_fires(lab, deployed):
    """An evaluator (one of the two: they split the alarms) reads the metric
    from Gnocchi every 60 s and moves the alarm to `alarm`."""
    metric = lab.openstack("metric", "create", "--archive-policy-name", "low",
                           f"telemetry-alarm-{uuid.uuid4().hex[:8]}", "-f", "json")
    alarm_id = None
    try:
        point = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 60))
        lab.openstack("metric", "measures", "add", "-m", f"{point}@10", metric["id"])
        status, alarm = http(lab, "POST", f"https://{VIP}:8042/v2/alarms", {
            "name": f"telemetry-{uuid.uuid4().hex[:8]}",
            "type": "gnocchi_aggregation_by_metrics_threshold",
            "gnocchi_aggregation_by_metrics_threshold_rule": {
                "metrics": [metric["id"]], "threshold": 1, "comparison_operator": "gt",
                "aggregation_method": "mean", "granularity": 300, "evaluation_periods": 1}})
        assert status == 201, (status, alarm)
        alarm_id = alarm["alarm_id"]
        start = time.monotonic()

        def fired():
            status, shown = http(lab, "GET", f"https://{VIP}:8042/v2/alarms/{alarm_id}")
            assert status == 200, (status, shown)
            return shown if shown["state"] == "alarm" else None
        shown = lab.wait("the alarm in state alarm", fired, timeout=300, interval=5)
        print(f"\nalarm fired after {time.monotonic() - start:.0f}s: {shown['state_reason']}")
    finally:
        if alarm_id:
            http(lab, "DELETE", f"https://{VIP}:8042/v2/alarms/{alarm_id}")
        status, _ = http(lab, "DELETE", f"https://{VIP}:8041/v1/metric/{metric['id']}")
        assert status == 204, status
