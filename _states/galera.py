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

Accounts
--------
A joiner's mariabackup SST fails unless its donor has the SST account
(``wsrep_sst_auth``). On a new cluster only the bootstrapped node can
create it, after the bootstrap and before the joiner starts: so
``galera.converged`` runs ``galera.ensure_accounts`` on a Synced node of the
Primary Component before it starts any node (idempotent; a step is reported
only when it changed something). ``galera.accounts_managed``, the next state
of ``orch.galera``, keeps them afterwards (a new SST password in pillar, an
account changed by hand), with no change reported when all is as wanted.
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
    witness_grace: float = 0
    witness_timeout: float = 0


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
    witness_grace=15,
    witness_timeout=60,
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
    witness_grace, witness_timeout
        Seconds: how long garbd, running but outside the Primary Component,
        is given to rejoin by itself before it is restarted, and to join
        after that restart.

    Once the data nodes are Primary and Synced, the witness is verified
    too: garbd running on it but no member of the Primary Component (after
    both data nodes left gracefully it holds a one-member component of its
    own and never reconnects) is restarted, which is harmless: it holds no
    data and is no vote of this component.

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
        settings = dataclasses.replace(
            settings, witness_grace=witness_grace, witness_timeout=witness_timeout
        )
        probes = _probe_all(settings)
        first = _decide(settings, probes)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["comment"] = str(exc)
        return ret
    if first["action"] == "refuse":
        ret["comment"] = first["reason"]
        return ret
    if __opts__.get("test"):
        return _test_mode(ret, settings, first, probes)
    if first["action"] == "none":
        ok, steps, comment = True, [], first["reason"]
    else:
        ok, steps, comment = _converge(settings, first)
    if ok:
        ok, comment = _with_witness(settings, steps, comment)
    if steps:
        ret["changes"] = {"plan": first, "steps": steps}
    ret.update(result=ok, comment=" ".join([*(f"{step}." for step in steps), comment]))
    return ret


def _test_mode(ret, settings, first, probes):
    if first["action"] != "none":
        ret.update(
            result=None,
            changes={"plan": first},
            comment=f"Would {_summary(first)}: {first['reason']}",
        )
        return ret
    gap = _witness_gap(settings, probes)
    if gap is None:
        ret.update(result=True, comment=first["reason"])
        return ret
    ret.update(
        result=None,
        changes={"plan": first, "witness": f"restart {GARBD_SERVICE} on {settings.witness}"},
        comment=(
            f"Would restart garbd on {settings.witness} unless it rejoins within "
            f"{settings.witness_grace}s: {gap}. {first['reason']}"
        ),
    )
    return ret


def accounts_managed(name, data_nodes=None, preference=None, probe_timeout=300):
    """
    Ensure the accounts Galera needs, through one Synced data node.

    Runs ``galera.ensure_accounts`` on the first data node (in
    ``galera:preference`` order) that is Primary and Synced; the changes
    replicate to the others. That is the SST account of ``wsrep_sst_auth``
    (password from pillar ``secrets:galera_sst_password`` through the
    ``galera`` state's configuration file, never passed here) and the
    hardening basics: no anonymous account, root only through
    ``unix_socket``.

    name
        A label for the state run.
    data_nodes, preference
        As for ``galera.converged``.
    probe_timeout
        Seconds to wait for each minion.

    Test mode reports what would change. Nothing to change: no changes.
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    test = bool(__opts__.get("test"))
    try:
        settings = _settings(
            data_nodes=data_nodes,
            preference=preference,
            force_node=None,
            fenced=None,
            witness=None,
            timeouts=(probe_timeout, probe_timeout, 0, 0),
        )
        probes = _probe_nodes(settings, settings.nodes)
        node = _first_synced(probes, settings.nodes)
        if node is None:
            ret["result"] = None if test else False
            ret["comment"] = (
                f"No data node is Primary and Synced ({_states_of(probes)}): the accounts are "
                f"kept once galera.converged has formed the cluster."
            )
            return ret
        entry = _cmd([node], "galera.ensure_accounts", probe_timeout, kwarg={"test": test}).get(
            node
        )
        if not _succeeded(entry) or not isinstance(entry.get("ret"), dict):
            raise CommandExecutionError(
                f"galera.ensure_accounts on {node} failed: {_error_of(entry)}"
            )
        outcome = entry["ret"]
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["comment"] = str(exc)
        return ret
    if not outcome.get("changes"):
        ret.update(result=True, comment=f"Galera accounts are as wanted (checked on {node}).")
        return ret
    ret["changes"] = {node: outcome["changes"]}
    if test:
        ret.update(result=None, comment=f"On {node}, would: {'; '.join(outcome['changes'])}.")
    else:
        ret.update(result=True, comment=f"On {node}: {outcome['comment']}.")
    return ret


def _states_of(probes):
    return ", ".join(
        f"{node}: {probe.get('cluster_status') or probe.get('mysqld') or probe.get('error')}"
        for node, probe in probes.items()
    )


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
    # Salt 3008's pillar.get masks every string outside templates unless told
    # not to: the node names read here are not secret, so unmask them.
    return __salt__["pillar.get"](key, None, unmask=True)


def _inventory(function):
    key = f"inventory.{function}"
    return __salt__[key]() if key in __salt__ else None


# --- the nodes, seen from the master -----------------------------------------------


def _cmd(nodes, fun, timeout, arg=(), kwarg=None):
    extra = {"kwarg": kwarg} if kwarg else {}
    return (
        __salt__["saltutil.cmd"](
            tgt=list(nodes), fun=fun, arg=list(arg), tgt_type="list", timeout=timeout, **extra
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
    run = {"accounts": False}
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
                _act(settings, plan, steps, run)
            plan = _decide(settings, _probe_all(settings))
        return False, steps, f"Not converged after {MAX_ROUNDS} rounds: {plan['reason']}"
    except (CommandExecutionError, SaltInvocationError) as exc:
        return False, steps, str(exc)


def _act(settings, plan, steps, run):
    """The chosen node first, Synced; then each node of then_start, Synced."""
    _step(settings, plan["node"], plan["action"], steps, run)
    for node in plan["then_start"]:
        _step(settings, node, "start", steps, run)


def _step(settings, node, action, steps, run):
    if action == "start" and not run["accounts"]:
        # the joiner may need an SST, whose donor needs the SST account
        _accounts_before_join(settings, steps)
        run["accounts"] = True
    outcome = _call(settings, node, f"galera.{action}")
    comment = outcome.get("comment") if isinstance(outcome, dict) else outcome
    steps.append(f"{node}: {action}: {comment}")
    _wait_synced(settings, node)


def _synced(probe):
    return probe.get("cluster_status") == "Primary" and probe.get("local_state") == SYNCED


def _accounts_before_join(settings, steps):
    donor = _first_synced(_probe_nodes(settings, settings.nodes), settings.nodes)
    if donor is None:
        raise CommandExecutionError(
            "no data node is Primary and Synced: a joiner's SST would find no donor"
        )
    outcome = _call(settings, donor, "galera.ensure_accounts")
    if isinstance(outcome, dict) and outcome.get("changed"):
        steps.append(f"{donor}: accounts: {outcome.get('comment')}")


def _first_synced(probes, nodes):
    return next((node for node in nodes if _synced(probes.get(node) or {})), None)


def _wait_synced(settings, node):
    deadline = _clock() + settings.sync_timeout
    while True:
        probe = _probe_nodes(settings, [node])[node]
        if _synced(probe):
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


# --- the witness -------------------------------------------------------------------------------


def _witness_gap(settings, probes):
    """Why garbd runs on the witness but is outside the Primary Component, or None.

    The data nodes' ``wsrep_cluster_size`` counts every member of their
    component: when it is no larger than the number of Primary data nodes,
    garbd is not among them. Not running, or no Primary data node to compare
    with: nothing to say here (the ``galera.arbitrator`` state starts it).
    """
    witness = settings.witness
    entry = probes.get(witness) if witness else None
    if not entry or not entry.get("reachable") or entry.get("garbd") != "running":
        return None
    primaries, size = _component(settings, probes)
    if not primaries or size > primaries:
        return None
    return (
        f"garbd runs on {witness} but is no member of the Primary Component (cluster size "
        f"{size} with {primaries} data node(s)): it holds a component of its own, as "
        f"after both data nodes left it gracefully, or it cannot reach them"
    )


def _with_witness(settings, steps, comment):
    """(ok, comment) once garbd is a member again, or why it is not."""
    try:
        joined = _rejoin_witness(settings, steps)
    except CommandExecutionError as exc:
        return False, f"{comment} {exc}"
    return True, f"{comment} {joined}" if joined else comment


def _rejoin_witness(settings, steps):
    """Give garbd ``witness_grace`` to rejoin by itself, else restart it; verify."""
    deadline = _clock() + settings.witness_grace
    while True:
        gap = _witness_gap(settings, _probe_all(settings))
        if gap is None:
            return None
        if _clock() >= deadline:
            break
        _sleep(settings.interval)
    witness = settings.witness
    entry = _cmd([witness], "service.restart", settings.probe_timeout, [GARBD_SERVICE]).get(
        witness
    )
    if not _succeeded(entry) or entry.get("ret") is not True:
        raise CommandExecutionError(
            f"{gap}; restarting it failed: {_error_of(entry)}. See `journalctl -u "
            f"{GARBD_SERVICE}` on {witness}."
        )
    steps.append(f"{witness}: restarted garbd: {gap}")
    deadline = _clock() + settings.witness_timeout
    while True:
        probes = _probe_all(settings)
        if _witness_gap(settings, probes) is None and _witness_member(settings, probes):
            return (
                f"garbd on {witness} joined the Primary Component (cluster size "
                f"{_component(settings, probes)[1]})."
            )
        if _clock() >= deadline:
            raise CommandExecutionError(
                f"garbd on {witness} did not join the Primary Component within "
                f"{settings.witness_timeout}s of its restart: the data cluster serves, with one "
                f"vote less. See `journalctl -u {GARBD_SERVICE}` on {witness}."
            )
        _sleep(settings.interval)


def _witness_member(settings, probes):
    """garbd runs and the Primary data nodes count one member more than themselves."""
    primaries, size = _component(settings, probes)
    running = (probes.get(settings.witness) or {}).get("garbd") == "running"
    return running and primaries > 0 and size > primaries


def _component(settings, probes):
    """(how many data nodes are Primary, the largest cluster size they report)."""
    primaries = [
        probes[node]
        for node in settings.nodes
        if (probes.get(node) or {}).get("cluster_status") == "Primary"
    ]
    size = max((int(probe.get("cluster_size") or 0) for probe in primaries), default=0)
    return len(primaries), size


def _summary(plan):
    node, then = plan["node"], plan["then_start"]
    then_text = f", then start {', '.join(then)}" if then else ""
    return {
        "start": f"start {node}{then_text}",
        "bootstrap": f"bootstrap {node}{then_text}",
        "recover_primary": f"make {node} Primary (pc.bootstrap=YES){then_text}",
        "wait": "wait for the cluster to recover by itself",
    }[plan["action"]]

