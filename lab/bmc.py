"""Virtual BMCs: one IPMI (lanplus) endpoint per node on the lab bridge, with
the node's BMC username and password from the lab's pillar. Power commands
act on the node's machine, so the stock ``fence_ipmilan`` fences it for real.

All BMCs are served by one daemon process (``python -m lab bmcd``).
"""

import threading
import uuid

from pyghmi.ipmi import bmc as ipmi_bmc

from . import nodes

POWER_OK = 0
POWER_FAILED = 0xD5  # "cannot execute command in present state"


class NodeBmc(ipmi_bmc.Bmc):
    """An IPMI BMC whose chassis is a lab node."""

    def __init__(self, node, username, password):
        super().__init__({username: password}, port=node.bmc_port, address=node.bmc_address)
        self.node = node
        self.guid = uuid.uuid5(uuid.NAMESPACE_DNS, f"{node.name}.bmc.lab")

    def get_system_guid(self):
        return self.guid

    def get_power_state(self):
        return "on" if nodes.is_on(self.node) else "off"

    def _act(self, action):
        try:
            action(self.node)
        except BaseException as exc:  # a failed power action must not kill every BMC
            print(f"bmc {self.node.name}: {action.__name__} failed: {exc}", flush=True)
            return POWER_FAILED
        print(f"bmc {self.node.name}: {action.__name__}", flush=True)
        return POWER_OK

    def power_off(self):
        return self._act(nodes.power_off)

    def power_on(self):
        return self._act(nodes.power_on)

    def power_cycle(self):
        rc = self._act(nodes.power_off)
        return rc or self._act(nodes.power_on)

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
        return nodes.is_on(self.node)


def serve(lab, passwords):
    """Serve every node's BMC until killed."""
    for node in lab.nodes:
        if node.bmc_address:
            NodeBmc(node, node.bmc_username, passwords[node.bmc_secret])
            print(f"bmc {node.name}: listening on {node.bmc_address}:{node.bmc_port}", flush=True)
    ipmi_bmc.Bmc.listen(timeout=30)
