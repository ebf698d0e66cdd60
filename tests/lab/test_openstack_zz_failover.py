"""Issue 4's fault, after every other OpenStack check (it takes a controller
down): with reads running through the VIP, the controller holding it is
killed; the APIs answer again from the survivor (the gap is printed) and the
smoke passes again there. Fencing reboots the killed node through its BMC, so
it comes back by itself a minute or so later; the server booted after the
fault is therefore placed on the survivor explicitly (it must be able to do
the whole boot alone, whatever the scheduler would pick). The test ends when
the site is green again and the returning node's boot highstate is over."""

import pytest

from lab import failover
from lab.util import LabError

from .test_healing import wait_green
from .test_openstack_smoke import VIP, boot

pytestmark = [pytest.mark.lab, pytest.mark.cloud]

# what Pacemaker did about the VIP, HAProxy and the fencing lately (a failure's evidence)
PACEMAKER_LOG = ("journalctl -q -u pacemaker -u corosync --since -15min --no-pager"
                 " | grep -iE 'vip|haproxy|fenc|stonith|quorum|lost|join' | tail -n 80")


def test_killing_the_vip_holder_leaves_the_apis_on_the_survivor(cloud):
    holder = failover.holder()
    assert holder, "no controller holds the VIP"
    survivor = "ctl2" if holder == "ctl1" else "ctl1"
    reader = failover.ApiReader(VIP)
    reader.start()
    cloud.wait("the reads answering before the fault", reader.answering, 30)
    cloud.cli("kill", holder)
    try:
        _the_survivor_serves_alone(cloud, reader, holder, survivor)
    finally:
        # hands off: fencing rebooted the node; its boot highstate and the heal
        # runner bring it back (also after a failure: the checks after this
        # one need the whole site)
        cloud.cli("poweron", holder, check=False)
        wait_green(cloud, f"{holder} back after the failover", 900)
        cloud.wait_idle([holder])


def _the_survivor_serves_alone(cloud, reader, holder, survivor):
    try:
        serving = reader.survivor_serves(holder)
    except LabError as exc:
        logs = {node: cloud.exec(node, "sh", "-c", PACEMAKER_LOG, check=False).stdout
                for node in (survivor, holder)}
        raise AssertionError(f"{exc}\n" + "".join(
            f"pacemaker's VIP, HAProxy and fencing lines on {node}:\n{text}\n"
            for node, text in logs.items())) from exc
    finally:
        gap = reader.stop()
    assert serving == survivor
    print(f"\nAPI gap after killing {holder} (VIP holder): {gap:.1f}s")
    cloud.openstack("token", "issue", "-f", "json")
    server_id, to_active, to_marker = boot(cloud, "smoke-server-2", host=survivor)
    print(f"on {survivor}: server ACTIVE after {to_active:.0f}s, marker after {to_marker:.0f}s")
    host = cloud.openstack("server", "show", server_id, "-c", "OS-EXT-SRV-ATTR:host",
                           "-f", "json")
    assert host["OS-EXT-SRV-ATTR:host"] == survivor
