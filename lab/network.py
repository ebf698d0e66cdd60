"""The lab's networks: a management bridge (nodes, the host as admin box and
the virtual BMCs) and a provider bridge, both private to this machine, and
nftables rules that cut links between nodes on demand.

Nothing leaves the machine: nodes get no default route, and the ``halab``
table drops anything the host would forward off the lab bridges.
"""

import json
import os

from . import config
from .util import run

GUARD_TABLE = config.NFT_TABLE            # family inet: no forwarding off the lab
CUT_TABLE = f"{config.NFT_TABLE}_cut"     # family bridge: partitions between nodes


def link_exists(name):
    return os.path.exists(f"/sys/class/net/{name}")


def addresses(name):
    out = run(["ip", "-j", "addr", "show", "dev", name], capture=True).stdout
    return {a["local"] for entry in json.loads(out) for a in entry.get("addr_info", [])}


def ensure_bridge(name, addrs):
    """Create bridge ``name`` with the ``(address, prefixlen)`` pairs, idempotently."""
    if not link_exists(name):
        run(["ip", "link", "add", name, "type", "bridge"])
    present = addresses(name)
    for address, prefixlen in addrs:
        if address not in present:
            run(["ip", "addr", "add", f"{address}/{prefixlen}", "dev", name])
    run(["ip", "link", "set", name, "up"])


def up(lab):
    mgmt = [(lab.host_address, lab.prefixlen)]
    mgmt += [(n.bmc_address, lab.prefixlen) for n in lab.nodes if n.bmc_address]
    ensure_bridge(config.BRIDGE, mgmt)
    bridges = [config.BRIDGE]
    if lab.provider_host_address:
        ensure_bridge(config.PROVIDER_BRIDGE, [(lab.provider_host_address, lab.provider_prefixlen)])
        bridges.append(config.PROVIDER_BRIDGE)
    ours = ", ".join(f'"{b}"' for b in bridges)
    rules = (
        f"table inet {GUARD_TABLE} {{\n"
        f"  chain forward {{\n"
        f"    type filter hook forward priority 0; policy accept;\n"
        f"    iifname {{ {ours} }} oifname != {{ {ours} }} drop\n"
        f"    oifname {{ {ours} }} iifname != {{ {ours} }} drop\n"
        f"  }}\n"
        f"}}\n"
    )
    run(["nft", "delete", "table", "inet", GUARD_TABLE], check=False, quiet=True)
    run(["nft", "-f", "-"], input=rules)


def ports(node_name):
    """The host-side bridge ports of a node (management, provider)."""
    return [f"vb-{node_name}"[:15], f"vp-{node_name}"[:15]]


def partition(a, b):
    """Drop every frame between nodes ``a`` and ``b``, both ways, on both bridges."""
    run(["nft", "add", "table", "bridge", CUT_TABLE])
    run(["nft", "add", "chain", "bridge", CUT_TABLE, "forward",
         "{ type filter hook forward priority 0; policy accept; }"])
    pa = ", ".join(f'"{p}"' for p in ports(a))
    pb = ", ".join(f'"{p}"' for p in ports(b))
    for src, dst in ((pa, pb), (pb, pa)):
        run(["nft", "add", "rule", "bridge", CUT_TABLE, "forward",
             "iifname", f"{{ {src} }}", "oifname", f"{{ {dst} }}", "drop"])


def heal():
    """Remove every partition."""
    run(["nft", "delete", "table", "bridge", CUT_TABLE], check=False, quiet=True)


def cuts():
    """Pairs of nodes currently cut apart, as text lines (for status)."""
    result = run(["nft", "list", "table", "bridge", CUT_TABLE], check=False, capture=True)
    if result.returncode != 0:
        return []
    return [line.strip() for line in result.stdout.splitlines() if "drop" in line]


def down():
    heal()
    run(["nft", "delete", "table", "inet", GUARD_TABLE], check=False, quiet=True)
    for name in (config.BRIDGE, config.PROVIDER_BRIDGE):
        if link_exists(name):
            run(["ip", "link", "delete", name], check=False)
