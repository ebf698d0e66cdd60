"""
``galera.converged``: bring the Galera data nodes to one Synced Primary Component.

Design
------
The bootstrap rule (DESIGN.md section 3) needs every data node's report at
the same moment, and its actions must happen one after the other. So this
state runs in an orchestration on the salt-master, not on the data nodes::

    # salt/orch/galera.sls, run by `salt-run state.orchestrate orch.galera`
    # (add test=True to see the plan) or by a reactor through
    # runner.state.orchestrate
    galera-converged:
      galera.converged: []

Each round it probes every data node live through the master's LocalClient
(``saltutil.cmd`` -> ``galera.probe``), decides with ``galera_plan.plan``,
and acts serially: the chosen node first (``galera.bootstrap``,
``galera.recover_primary`` or ``galera.start``) until it is Synced, then each
node of ``then_start`` in turn until Synced. Then it probes again, which is
the verification, until the plan says ``none`` (success), ``refuse``
(failure, with the operator's instructions), or a wait outlasts
``wait_timeout``.

Two alternatives were set aside. A per-node state fed with probes gathered
earlier through pillar would act on stale evidence, on every node at once.
A runner alone (``salt-run galera.converge``) would work, but an
orchestration's ``salt.runner`` step is skipped in test mode, whereas this
state shows the plan with ``test=True``, returns the standard dict, and is
what a reactor already calls.

Settings come from the arguments, else from pillar: ``galera:preference``
(the data nodes, most preferred bootstrap node first; else the inventory's
controllers in cluster order), ``galera:force_bootstrap_node`` (the
operator's decision, read only where the evidence cannot decide), and the
inventory's witness. ``fenced`` is never read from pillar: it must be
current evidence (a completed fencing reported by Pacemaker, or the power
status read from the BMC) and is passed by the caller.
"""

import dataclasses
import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "galera"

SYNCED = 4
GARBD_SERVICE = "garb"
MAX_ROUNDS = 500

# Seams for the tests: a fake clock that moves when the code sleeps.
_sleep = time.sleep
_clock = time.monotonic


def __virtual__():
    if __opts__.get("__role") != "master":
        reason = (
            "galera.converged runs in an orchestration on the salt-master "
            "(salt-run state.orchestrate), where every data node is in view"
        )
        return False, reason
    if "galera_plan.plan" not in __salt__:
        return (
            False,
            "galera: galera_plan is not synced to the master (salt-run saltutil.sync_all)",
        )
    return __virtualname__


@dataclasses.dataclass(frozen=True)
class _Settings:
    nodes: tuple
    force_node: object
    fenced: tuple
    witness: object
    probe_timeout: int
    sync_timeout: int
    wait_timeout: int
    interval: float


def converged(
    name,
    data_nodes=None,
    preference=None,
    force_node=None,
    fenced=None,
    witness=None,
    probe_timeout=300,
    sync_timeout=900,
    wait_timeout=300,
    interval=5,
):
    """
    Ensure the Galera data nodes form one Primary Component, all Synced.

    name
        A label for the state run.
    data_nodes
        The data node ids; default: every node of ``preference``.
    preference
        Bootstrap tie-break order; default pillar ``galera:preference``,
        else ``inventory.controllers`` (cluster_id order), else
        ``data_nodes`` in the order given.
    force_node
        Whose data wins where the evidence cannot decide; default pillar
        ``galera:force_bootstrap_node``.
    fenced
        Data node ids confirmed powered off by their BMC (current evidence).
    witness
        The garbd host, quoted in refusals; default ``inventory.witness``.
    probe_timeout, sync_timeout, wait_timeout, interval
        Seconds: for a probe (``--wsrep-recover`` may replay InnoDB), for a
        node to become Synced (SST), for the whole time spent waiting on a
        cluster that recovers by itself, and between two probes.

    Test mode returns the plan in ``changes`` and acts on nothing.
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    try:
        settings = _settings(
            data_nodes=data_nodes,
            preference=preference,
            force_node=force_node,
            fenced=fenced,
            witness=witness,
            timeouts=(probe_timeout, sync_timeout, wait_timeout, interval),
        )
        first = _decide(settings, _probe_all(settings))
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["comment"] = str(exc)
        return ret
    if first["action"] == "none":
        ret.update(result=True, comment=first["reason"])
        return ret
    if first["action"] == "refuse":
        ret["comment"] = first["reason"]
        return ret
    if __opts__.get("test"):
        ret.update(
            result=None,
            changes={"plan": first},
            comment=f"Would {_summary(first)}: {first['reason']}",
        )
        return ret
    ok, steps, comment = _converge(settings, first)
    if steps:
        ret["changes"] = {"plan": first, "steps": steps}
    ret.update(result=ok, comment=" ".join([*(f"{step}." for step in steps), comment]))
    return ret


# --- settings --------------------------------------------------------------------


def _settings(*, data_nodes, preference, force_node, fenced, witness, timeouts):
    order = (
        preference or _pillar("galera:preference") or _inventory("controllers") or data_nodes
    )
    if not order:
        raise SaltInvocationError(
            "No Galera data nodes: set galera:preference in pillar (the data nodes, most "
            "preferred bootstrap node first) or pass preference/data_nodes"
        )
    for value, what in ((order, "galera:preference"), (data_nodes, "data_nodes")):
        if value is not None and not isinstance(value, (list, tuple)):
            raise SaltInvocationError(f"{what} must be a list of node ids, got {value!r}")
    if data_nodes:
        strangers = sorted(set(data_nodes) - set(order))
        if strangers:
            raise SaltInvocationError(
                f"data_nodes {strangers} are missing from galera:preference {order}: "
                f"add them there, in bootstrap preference order"
            )
        order = [node for node in order if node in data_nodes]
    if force_node is None:
        force_node = _pillar("galera:force_bootstrap_node") or None
    if witness is None:
        witness = _inventory("witness")
    if witness in order:
        raise SaltInvocationError(f"the witness {witness} cannot also be a data node")
    if isinstance(fenced, str):
        fenced = [fenced]
    return _Settings(tuple(order), force_node, tuple(fenced or ()), witness or None, *timeouts)


def _pillar(key):
    return __salt__["pillar.get"](key, None)


def _inventory(function):
    key = f"inventory.{function}"
    return __salt__[key]() if key in __salt__ else None


# --- the nodes, seen from the master -----------------------------------------------


def _cmd(nodes, fun, timeout, arg=()):
    return (
        __salt__["saltutil.cmd"](
            tgt=list(nodes), fun=fun, arg=list(arg), tgt_type="list", timeout=timeout
        )
        or {}
    )


def _answered(entry):
    return (
        isinstance(entry, dict)
        and "ret" in entry
        and entry.get("out") != "no_return"
        and not entry.get("failed")
    )


def _succeeded(entry):
    return _answered(entry) and entry.get("retcode", 0) == 0


def _error_of(entry):
    if not _answered(entry):
        return "no answer from its minion"
    return str(entry.get("ret")).strip()[:400]


def _as_probe(entry):
    if not _answered(entry):
        return {"reachable": False, "error": _error_of(entry)}
    if not _succeeded(entry) or not isinstance(entry["ret"], dict):
        return {"reachable": True, "mysqld": None, "error": _error_of(entry)}
    return entry["ret"]


def _probe_nodes(settings, nodes):
    out = _cmd(nodes, "galera.probe", settings.probe_timeout)
    return {node: _as_probe(out.get(node)) for node in nodes}


def _witness_probe(settings):
    out = _cmd([settings.witness], "service.status", settings.probe_timeout, [GARBD_SERVICE])
    entry = out.get(settings.witness)
    if not _succeeded(entry):
        return {"role": "witness", "reachable": False, "error": _error_of(entry)}
    return {
        "role": "witness",
        "reachable": True,
        "garbd": "running" if entry["ret"] is True else "stopped",
    }


def _probe_all(settings):
    probes = _probe_nodes(settings, settings.nodes)
    if settings.witness:
        probes[settings.witness] = _witness_probe(settings)
    return probes


def _decide(settings, probes):
    try:
        return __salt__["galera_plan.plan"](
            probes, list(settings.nodes), force_node=settings.force_node, fenced=settings.fenced
        )
    except ValueError as exc:
        raise SaltInvocationError(str(exc)) from exc


def _call(settings, node, fun):
    entry = _cmd([node], fun, settings.sync_timeout).get(node)
    if not _succeeded(entry):
        raise CommandExecutionError(
            f"{fun} on {node} failed: {_error_of(entry)}. See `journalctl -u mariadb` on {node}."
        )
    return entry["ret"]


# --- acting -------------------------------------------------------------------------


def _converge(settings, plan):
    """Act, probe, decide again until done; returns (ok, steps, comment)."""
    steps, done = [], set()
    deadline = _clock() + settings.wait_timeout
    try:
        for _ in range(MAX_ROUNDS):
            action, node = plan["action"], plan["node"]
            if action == "none":
                return True, steps, plan["reason"]
            if action == "refuse":
                return False, steps, plan["reason"]
            if action == "wait":
                if _clock() >= deadline:
                    return (
                        False,
                        steps,
                        (f"Still waiting after {settings.wait_timeout}s: {plan['reason']}"),
                    )
                _sleep(settings.interval)
            elif (action, node) in done:
                return (
                    False,
                    steps,
                    (
                        f"{node} still needs {action} after it was done once: {plan['reason']} "
                        f"See `journalctl -u mariadb` on {node}."
                    ),
                )
            else:
                done.add((action, node))
                _act(settings, plan, steps)
            plan = _decide(settings, _probe_all(settings))
        return False, steps, f"Not converged after {MAX_ROUNDS} rounds: {plan['reason']}"
    except (CommandExecutionError, SaltInvocationError) as exc:
        return False, steps, str(exc)


def _act(settings, plan, steps):
    """The chosen node first, Synced; then each node of then_start, Synced."""
    _step(settings, plan["node"], plan["action"], steps)
    for node in plan["then_start"]:
        _step(settings, node, "start", steps)


def _step(settings, node, action, steps):
    outcome = _call(settings, node, f"galera.{action}")
    comment = outcome.get("comment") if isinstance(outcome, dict) else outcome
    steps.append(f"{node}: {action}: {comment}")
    _wait_synced(settings, node)


def _wait_synced(settings, node):
    deadline = _clock() + settings.sync_timeout
    while True:
        probe = _probe_nodes(settings, [node])[node]
        if probe.get("cluster_status") == "Primary" and probe.get("local_state") == SYNCED:
            return
        if _clock() >= deadline:
            raise CommandExecutionError(
                f"{node} did not reach Synced within {settings.sync_timeout}s (last seen: "
                f"mysqld {probe.get('mysqld')}, {probe.get('cluster_status')}, "
                f"{probe.get('local_state_comment')}{_error_note(probe)}). See "
                f"`journalctl -u mariadb` on {node}."
            )
        _sleep(settings.interval)


def _error_note(probe):
    return f", {probe['error']}" if probe.get("error") else ""


def _summary(plan):
    node, then = plan["node"], plan["then_start"]
    then_text = f", then start {', '.join(then)}" if then else ""
    return {
        "start": f"start {node}{then_text}",
        "bootstrap": f"bootstrap {node}{then_text}",
        "recover_primary": f"make {node} Primary (pc.bootstrap=YES){then_text}",
        "wait": "wait for the cluster to recover by itself",
    }[plan["action"]]
