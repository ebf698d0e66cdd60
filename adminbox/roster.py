"""salt-ssh's roster, made from the site inventory: each node's management
address, user root, and the admin box's ssh key."""

import yaml


def addresses(site):
    """``{node id: management address}`` of every node of ``site`` (the
    ``site`` pillar mapping)."""
    return {node_id: node["address"]
            for node_id, node in ((site or {}).get("nodes") or {}).items()}


def entries(hosts, priv, user="root"):
    """The roster: ``{id: {host, user, priv}}`` for ``hosts`` (``{id: address}``),
    sorted by id, each logging in as ``user`` with the private key ``priv``."""
    return {node_id: {"host": address, "user": user, "priv": str(priv)}
            for node_id, address in sorted(hosts.items())}


def render(roster):
    """The text of a flat roster file."""
    return ("# generated from the site inventory (site:nodes): salt-ssh's targets\n"
            + yaml.safe_dump(roster, default_flow_style=False))


def known_hosts(host_keys):
    """The text of a known_hosts file from ``{address: "type base64"}``."""
    return "".join(f"{address} {key}\n" for address, key in sorted(host_keys.items()))
