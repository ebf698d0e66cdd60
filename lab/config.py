"""Where the lab keeps things, and what it reads from its own site pillar.

The lab is described by ``lab/pillar/site.sls`` (the same schema as a real
site); everything else here is a path or a name the lab owns on this host.
"""

import dataclasses
import hashlib
import ipaddress
import os
import pathlib

import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
SITE_PILLAR = REPO / "lab" / "pillar" / "site.sls"

# Outside the repo, reused across runs and clones (never committed).
CACHE = pathlib.Path(os.environ.get("HALAB_CACHE", "/var/cache/halab"))
# What a running lab owns; `down` removes all of it.
STATE = pathlib.Path(os.environ.get("HALAB_STATE", "/var/lib/halab"))

BRIDGE = "halab0"
PROVIDER_BRIDGE = "halab1"
NFT_TABLE = "halab"
SALT_VERSION = "3008.3"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("HALAB_MIRROR", "http://deb.debian.org/debian")
APT_MOUNT = "/srv/lab-apt"  # where a node sees the local apt repository


@dataclasses.dataclass(frozen=True)
class Node:
    """One lab machine, as the lab pillar describes it."""

    name: str
    address: str
    prefixlen: int
    roles: tuple
    bmc_address: str
    bmc_port: int
    bmc_username: str
    bmc_secret: str
    provider_address: str | None = None

    @property
    def dir(self):
        return STATE / "nodes" / self.name

    @property
    def root(self):
        return self.dir / "root"


@dataclasses.dataclass(frozen=True)
class Lab:
    site: dict
    nodes: tuple
    host_address: str
    prefixlen: int
    provider_host_address: str | None
    provider_prefixlen: int | None

    def node(self, name):
        for node in self.nodes:
            if node.name == name:
                return node
        if name == BARE_NODE:
            return bare_node(self)
        known = ", ".join(n.name for n in self.nodes)
        raise SystemExit(f"lab: no node named {name!r} (the lab has: {known})")


def load(path=SITE_PILLAR):
    """Read the lab's site pillar into a :class:`Lab`."""
    site = yaml.safe_load(pathlib.Path(path).read_text())["site"]
    mgmt = ipaddress.ip_network(site["networks"]["management"]["cidr"])
    gateway = site["networks"]["management"].get("gateway") or str(next(mgmt.hosts()))
    host = (site.get("admin") or {}).get("address") or gateway  # the admin box: this host
    provider = (site["networks"].get("provider") or {}).get("cidr")
    provider_net = ipaddress.ip_network(provider) if provider else None
    nodes = []
    for index, (name, spec) in enumerate(sorted(site["nodes"].items())):
        bmc = spec.get("bmc") or {}
        provider_address = None
        if provider_net and "provider" in (spec.get("interfaces") or {}):
            provider_address = str(provider_net.network_address + 11 + index)
        nodes.append(
            Node(
                name=name,
                address=spec["address"],
                prefixlen=mgmt.prefixlen,
                roles=tuple(spec.get("roles") or ()),
                bmc_address=bmc.get("address", ""),
                bmc_port=int(bmc.get("port", 623)),
                bmc_username=bmc.get("username", ""),
                bmc_secret=bmc.get("password_secret", ""),
                provider_address=provider_address,
            )
        )
    return Lab(
        site=site,
        nodes=tuple(nodes),
        host_address=host,
        prefixlen=mgmt.prefixlen,
        provider_host_address=str(provider_net.network_address + 1) if provider_net else None,
        provider_prefixlen=provider_net.prefixlen if provider_net else None,
    )


def digest(*parts):
    """A short stable key for cache entries built from ``parts``."""
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


BARE_NODE = "bare"  # `python -m lab bare up`: a node outside the inventory, without Salt


def bare_node(lab):
    """The lab's spare node for first-contact tests: not in the inventory (no
    roles, no BMC, not deployed), on the management bridge at the first free
    address from .14 up, booted with sshd and without Salt."""
    mgmt = ipaddress.ip_network(f"{lab.host_address}/{lab.prefixlen}", strict=False)
    site = lab.site
    used = {lab.host_address, *(n.address for n in lab.nodes),
            *(n.bmc_address for n in lab.nodes if n.bmc_address),
            *(vip.get("address") for vip in (site.get("vips") or {}).values())}
    address = next(str(ip) for ip in mgmt.hosts()
                   if int(ip) >= int(mgmt.network_address) + 14 and str(ip) not in used)
    return Node(name=BARE_NODE, address=address, prefixlen=lab.prefixlen, roles=(),
                bmc_address="", bmc_port=0, bmc_username="", bmc_secret="")
