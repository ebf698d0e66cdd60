"""
``qdevice.certified``: every controller holds a TLS client certificate for
the quorum device, signed by the witness's qnetd CA.

Why a master-side state
-----------------------
The certificates must travel between nodes (CA certificate from the witness
to each controller, each controller's request to the witness, the signed
certificate back), and minions do not talk to each other. So this state runs
in an orchestration on the salt-master and carries those PUBLIC pieces
through the master's LocalClient (``saltutil.cmd`` -> ``qdevice.*`` on the
nodes, ``_modules/qdevice.py``). Each controller makes its own key, which
never leaves it (the stock ``corosync-qdevice-net-certutil -Q`` and ``pcs``
copy one key to every node).

.. code-block:: yaml

    # salt/orch/qdevice.sls, run by `salt-run state.orchestrate orch.qdevice`
    qdevice-certified:
      qdevice.certified: []

Why not the alternatives: ``pcs quorum device add`` needs pcsd (a web
daemon with a password on port 2224) on all three hosts and rewrites
corosync.conf, which Salt renders; ``tls: off`` would let any host of the
management network pose as the witness and hand out the deciding vote.

Idempotent: a controller whose certificate is valid, issued for the cluster
name, under the witness's current CA, is left alone (no change reported).
A controller without one, or with one from another CA (witness rebuilt) or
for another name, gets a new key and certificate, and its corosync-qdevice
is (re)started. ``test=True`` reports which controllers would get one.

Settings default to the site pillar: ``cluster`` = ``site:name``,
``witness`` = ``site:quorum:witness``, ``nodes`` = the controllers. In quorum
mode ``two_node`` there is no quorum device and nothing to do.
"""

__virtualname__ = "qdevice"


def __virtual__():
    if __opts__.get("__role") != "master":
        return (
            False,
            "qdevice.certified runs in an orchestration on the salt-master "
            "(salt-run state.orchestrate orch.qdevice)",
        )
    return __virtualname__


class _Failed(Exception):
    pass


def _cmd(tgt, fun, arg=(), timeout=60):
    """Run ``fun`` on one minion; its return, or _Failed with why."""
    out = __salt__["saltutil.cmd"](
        tgt=tgt, fun=fun, arg=list(arg), tgt_type="glob", timeout=timeout
    ) or {}
    entry = out.get(tgt)
    if not isinstance(entry, dict) or "ret" not in entry or entry.get("failed"):
        raise _Failed(f"{tgt}: no answer to {fun}")
    if entry.get("retcode", 0) != 0:
        raise _Failed(f"{tgt}: {fun} failed: {str(entry.get('ret')).strip()[:400]}")
    return entry["ret"]


def _site():
    # __pillar__ holds plain values; Salt 3008's pillar.get masks every
    # string ("**********") unless called from a template or with unmask
    return __pillar__.get("site") or {}


def _defaults(site):
    nodes = site.get("nodes") or {}
    controllers = sorted(
        (
            (node.get("cluster_id") or 0, node_id)
            for node_id, node in nodes.items()
            if "controller" in (node.get("roles") or [])
        )
    )
    quorum = site.get("quorum") or {}
    return {
        "cluster": site.get("name"),
        "witness": quorum.get("witness") if quorum.get("mode", "witness") == "witness" else None,
        "nodes": [node_id for _, node_id in controllers],
    }


def _problem(status, cluster):
    """Why a node's status is not good enough, in words."""
    if not status.get("nssdb"):
        return "no qdevice certificate database"
    if status.get("ca_matches") is False:
        return "its CA is not the witness's current qnetd CA"
    if not status.get("cluster_cert"):
        return "no client certificate"
    if status.get("subject") != f"CN={cluster}":
        return f"its certificate is for {status.get('subject')}, not CN={cluster}"
    if not status.get("valid"):
        return "its client certificate is not valid"
    return "its certificate is not usable"


def certified(name, cluster=None, witness=None, nodes=None, timeout=60):
    """
    Make every controller hold a valid client certificate for the quorum
    device, signed by the witness's qnetd CA; (re)start corosync-qdevice on
    the controllers that got a new one.

    name
        The state id (free text).

    cluster
        The cluster name (corosync ``cluster_name``); default ``site:name``.

    witness
        The minion id running corosync-qnetd; default ``site:quorum:witness``
        (none in quorum mode two_node: nothing to do).

    nodes
        The controllers' minion ids; default every controller of the site.

    timeout
        Seconds to wait for each node's answer.
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    defaults = _defaults(_site())
    cluster = cluster or defaults["cluster"]
    witness = witness or defaults["witness"]
    nodes = list(nodes or defaults["nodes"])
    if not witness:
        ret["result"] = True
        ret["comment"] = "No quorum device (quorum mode two_node): no certificate needed"
        return ret
    if not cluster or not nodes:
        ret["comment"] = "site:name and at least one controller are needed"
        return ret
    test = bool(__opts__.get("test"))
    try:
        ca = _cmd(witness, "qdevice.qnetd_ca", [not test], timeout)
        todo = {}
        for node in nodes:
            status = (
                _cmd(node, "qdevice.node_status", [ca, cluster], timeout)
                if ca
                else {"nssdb": False}
            )
            if not status.get("ok"):
                todo[node] = _problem(status, cluster)
        if not todo:
            ret["result"] = True
            ret["comment"] = (
                f"Every controller ({', '.join(nodes)}) holds a valid qdevice "
                f"certificate for {cluster} from {witness}'s CA"
            )
            return ret
        if test:
            ret["result"] = None
            ret["changes"] = {
                node: f"would get a new key and certificate ({why})" for node, why in todo.items()
            }
            ret["comment"] = f"{len(todo)} controller(s) would get a qdevice certificate"
            return ret
        for node, why in todo.items():
            request = _cmd(node, "qdevice.node_request", [ca, cluster], timeout)
            certificate = _cmd(witness, "qdevice.qnetd_sign", [request, cluster], timeout)
            imported = _cmd(node, "qdevice.node_import", [certificate], timeout)
            status = _cmd(node, "qdevice.node_status", [ca, cluster], timeout)
            if not status.get("ok"):
                raise _Failed(f"{node}: after import: {_problem(status, cluster)}")
            service = (imported or {}).get("service")
            ret["changes"][node] = (
                f"new key and certificate (CN={cluster}) signed by {witness}'s CA ({why})"
                + (f"; corosync-qdevice {service}" if service else "")
            )
    except _Failed as exc:
        ret["comment"] = f"qdevice certificates: {exc}"
        return ret
    ret["result"] = True
    ret["comment"] = f"{len(ret['changes'])} controller(s) got a qdevice certificate"
    return ret
