"""Virtual BMCs: one IPMI (lanplus) endpoint per node on the lab bridge, with
the node's BMC username and password from the lab's pillar. Power commands
act on the node's machine, so the stock ``fence_ipmilan`` fences it for real.

Power on through a BMC boots the node after the firmware's self-test
(``POST_SECONDS``; the BMC reports the power on at once, as a real one does).
A lab node's own boot takes seconds where a real server's POST alone takes a
minute or more: without that delay a fenced node was back in the cluster
before the survivor had started the VIP, was fenced again for rejoining
mid-fence, and took the VIP back (the failover check of issue 4). `lab
poweron` goes through the BMC too (ipmitool), so it waits the same; `lab up`
boots the nodes directly.

All BMCs are served by one daemon process (``python -m lab bmcd``).
"""

import threading
import uuid

from pyghmi.ipmi import bmc as ipmi_bmc

from . import nodes

POWER_OK = 0
POWER_FAILED = 0xD5  # "cannot execute command in present state"
# a real R430 posts for one to two minutes; short enough here not to slow
# the checks that wait for a fenced node
POST_SECONDS = 20


class NodeBmc(ipmi_bmc.Bmc):
    """An IPMI BMC whose chassis is a lab node."""

    def __init__(self, node, username, password, post_seconds=POST_SECONDS):
        super().__init__({username: password}, port=node.bmc_port, address=node.bmc_address)
        self.node = node
        self.guid = uuid.uuid5(uuid.NAMESPACE_DNS, f"{node.name}.bmc.lab")
        self.post_seconds = post_seconds
        self._post = None  # the timer of a power-on in its self-test
        self._lock = threading.Lock()

    def get_system_guid(self):
        return self.guid

    def posting(self):
        return self._post is not None and self._post.is_alive()

    def get_power_state(self):
        return "on" if self.posting() or nodes.is_on(self.node) else "off"

    def _act(self, action):
        try:
            action(self.node)
        except BaseException as exc:  # a failed power action must not kill every BMC
            print(f"bmc {self.node.name}: {action.__name__} failed: {exc}", flush=True)
            return POWER_FAILED
        print(f"bmc {self.node.name}: {action.__name__}", flush=True)
        return POWER_OK

    def power_off(self):
        with self._lock:
            if self.posting():  # power cut during the self-test: it never boots
                self._post.cancel()
            self._post = None
        return self._act(nodes.power_off)

    def power_on(self):
        """Power on: the node boots once its self-test is over."""
        with self._lock:
            if self.posting() or nodes.is_on(self.node):
                return POWER_OK
            self._post = threading.Timer(self.post_seconds, self._act, args=(nodes.power_on,))
            self._post.daemon = True
            self._post.start()
        print(f"bmc {self.node.name}: power on, booting after a {self.post_seconds}s self-test",
              flush=True)
        return POWER_OK

    def power_cycle(self):
        return self.power_off() or self.power_on()

    power_reset = power_cycle

    def power_shutdown(self):
        threading.Thread(target=self._act, args=(nodes.shutdown,), daemon=True).start()
        return POWER_OK

    def cold_reset(self):
        return POWER_OK

    def get_boot_device(self):
        return "default"

    def set_boot_device(self, bootdevice):
        return POWER_OK

    def is_active(self):
        return self.get_power_state() == "on"


def serve(lab, passwords):
    """Serve every node's BMC until killed."""
    for node in lab.nodes:
        if node.bmc_address:
            NodeBmc(node, node.bmc_username, passwords[node.bmc_secret])
            print(f"bmc {node.name}: listening on {node.bmc_address}:{node.bmc_port}", flush=True)
    ipmi_bmc.Bmc.listen(timeout=30)
