"""
The Galera bootstrap rule (DESIGN.md section 3) as one pure function, ``plan``.

This file imports nothing from Salt and uses no loader dunders: tests import
it by path, and Salt's loader also loads it as the tiny execution module
``galera_plan`` (``plan`` is its only public function). That is how the two
callers share it: ``galera.plan`` on a data node and the ``galera.converged``
state, which runs in an orchestration on the master where the ``galera``
module itself does not load (no MariaDB there), both call
``__salt__["galera_plan.plan"]``.

Input
-----
``probes``
    node id -> what ``galera.probe`` returned on that node, or ``None`` /
    ``{"reachable": False, "error": ...}`` for a node that cannot report.
    A probe carries ``reachable``, ``mysqld`` (``running`` | ``starting`` |
    ``stopped``), ``cluster_status``, ``local_state``,
    ``local_state_comment``, ``cluster_size``, ``uuid``, ``seqno``,
    ``ready``, ``connected``, ``safe_to_bootstrap``, ``position_source``,
    ``prepared_transactions`` and ``error`` (see ``galera.probe``). A node
    "reports" when its probe is reachable and names its mysqld state.
``preference``
    the data nodes, most preferred bootstrap node first (pillar
    ``galera:preference``). Only these ids are data nodes.
``force_node``
    the operator's decision of whose data wins (pillar
    ``galera:force_bootstrap_node``). It is read only where the evidence
    cannot decide and the plan would otherwise refuse; where the evidence
    decides, the evidence wins, so a flag forgotten in pillar can never
    override it later.
``fenced``
    data node ids confirmed powered off by their BMC. It speaks only for
    nodes that cannot report: a node that answers the probe is evidently on,
    and its live report wins (``fence_ipmilan`` with ``method=onoff`` powers
    a fenced node back on).

The witness
-----------
``garbd`` votes but holds no data: it is never a bootstrap candidate and
never blocks one. Its membership is visible in the data nodes' probes as
``cluster_size`` (ctl1 + ctl2 + garbd = 3; a survivor with the witness = 2).
The orchestration may also add the witness to ``probes`` under its own id as
``{"role": "witness", "reachable": bool, "garbd": "running" | "stopped"}``;
``plan`` ignores it for the decision and quotes it in the reason when no
data node is Primary, where the operator needs to know whether the third
vote is alive.

Output
------
``{"action", "node", "then_start", "reason"}`` where ``action`` is one of

``none``             nothing to do (all Primary and Synced, or the absent
                     nodes cannot be helped from here);
``start``            start ``node`` (then ``then_start``) to join the running
                     Primary Component by IST/SST;
``bootstrap``        mysqld is stopped on every data node: start a new
                     Primary Component on ``node``, then start ``then_start``;
``recover_primary``  ``node`` runs non-Primary and no other data node can be
                     Primary: ``pc.bootstrap=YES`` there, then ``then_start``;
``wait``             a state transfer or start is in progress, or nothing can
                     report yet: probe again later, act on nothing;
``refuse``           only the operator can decide; ``reason`` says what and
                     which pillar flag to set.

Prepared transactions
---------------------
``mariadbd --wsrep-recover`` may report "Found N prepared transaction(s)".
With wsrep on, those already certified in the cluster are committed at the
node's next start, so the node's real position may be up to ``seqno + N``.
That only matters when the pick is made by seqno: if another node's
``seqno + prepared`` reaches past the picked node's seqno, seqno no longer
decides and the plan refuses (unless forced). A ``safe_to_bootstrap: 1``
pick is Galera's own record of the last node to leave, and stands.

Invalid input (a malformed preference, a force flag naming no data node)
raises ``ValueError``; the Salt-facing callers turn it into
``SaltInvocationError``.
"""

import dataclasses
from collections.abc import Mapping

NULL_UUID = "00000000-0000-0000-0000-000000000000"
RUNNING, STARTING, STOPPED = "running", "starting", "stopped"
MYSQLD_STATES = (RUNNING, STARTING, STOPPED)
PRIMARY, NON_PRIMARY = "Primary", "non-Primary"
SYNCED = 4
FORCE_FLAG = "galera:force_bootstrap_node"
_VERBS = {
    "bootstrap": "bootstrap a new Primary Component",
    "recover_primary": "re-form the Primary Component (pc.bootstrap=YES)",
}
PREFERENCE_FLAG = "galera:preference"


@dataclasses.dataclass(frozen=True)
class _Node:
    """One data node as the plan sees it: its probe, its rank, its fencing."""

    name: str
    probe: Mapping
    fenced: bool

    @property
    def reports(self):
        return self.probe.get("reachable", True) is not False and (
            self.probe.get("mysqld") in MYSQLD_STATES
        )

    @property
    def silent(self):
        """Cannot report and is not confirmed off: it may be doing anything."""
        return not self.reports and not self.fenced

    @property
    def off(self):
        return not self.reports and self.fenced

    @property
    def mysqld(self):
        return self.probe.get("mysqld") if self.reports else None

    @property
    def running(self):
        return self.mysqld == RUNNING

    @property
    def stopped(self):
        return self.mysqld == STOPPED

    @property
    def status(self):
        return self.probe.get("cluster_status") if self.running else None

    @property
    def primary(self):
        return self.status == PRIMARY

    @property
    def standalone(self):
        """Running, but in no Galera cluster at all (Disconnected, wsrep off)."""
        return self.running and self.status not in (PRIMARY, NON_PRIMARY)

    @property
    def synced(self):
        return self.primary and self.probe.get("local_state") == SYNCED

    @property
    def history(self):
        """The cluster state UUID, or None when the node has no history."""
        uuid = self.probe.get("uuid")
        return None if uuid in (None, "", NULL_UUID) else uuid

    @property
    def seqno(self):
        return self.probe.get("seqno")

    @property
    def known(self):
        """Stopped with a position we can compare."""
        return self.stopped and isinstance(self.seqno, int)

    @property
    def prepared(self):
        return int(self.probe.get("prepared_transactions") or 0)

    @property
    def safe(self):
        return self.stopped and bool(self.probe.get("safe_to_bootstrap"))


def plan(probes, preference, force_node=None, fenced=()):
    """
    Decide what to do with the Galera data nodes from what each reported.

    Returns ``{"action", "node", "then_start", "reason"}`` (see the module
    docstring). Pure: no I/O, same input, same plan.
    """
    nodes = _nodes(probes, preference, force_node, fenced)
    standalone = [n for n in nodes if n.standalone]
    if standalone:
        return _refuse_standalone(standalone)
    if any(n.primary for n in nodes):
        return _with_primary(nodes, force_node)
    starting = [n for n in nodes if n.mysqld == STARTING]
    if starting:
        return _result(
            "wait",
            f"{_names(starting)} {_is(starting)} starting with no Primary Component to "
            f"join yet (crash recovery or a bootstrap in progress): "
            f"{_describe_all(nodes)}. Probe again.",
        )
    witness = _witness_note(probes, preference)
    running = [n for n in nodes if n.running]
    if running:
        return _without_primary(nodes, running, force_node, witness)
    return _all_stopped(nodes, force_node, witness)


# --- input -----------------------------------------------------------------


def _nodes(probes, preference, force_node, fenced):
    if (
        isinstance(preference, (str, bytes))
        or not isinstance(preference, (list, tuple))
        or not preference
        or not all(isinstance(name, str) and name for name in preference)
    ):
        raise ValueError(
            f"{PREFERENCE_FLAG} must be a non-empty list of data node ids, "
            f"most preferred bootstrap node first; got {preference!r}"
        )
    if len(set(preference)) != len(preference):
        raise ValueError(f"{PREFERENCE_FLAG} names a node twice: {list(preference)}")
    if not isinstance(probes, Mapping):
        raise ValueError(f"probes must map node id -> probe dict; got {type(probes).__name__}")
    if force_node is not None and force_node not in preference:
        raise ValueError(
            f"{FORCE_FLAG} is {force_node!r}, which is not a data node "
            f"({PREFERENCE_FLAG}: {', '.join(preference)}); fix or remove it"
        )
    if isinstance(fenced, (str, bytes)):
        raise ValueError(f"fenced must be a list of node ids; got the string {fenced!r}")
    fenced = set(fenced or ())
    return [_Node(name, _probe_of(probes.get(name)), name in fenced) for name in preference]


def _probe_of(probe):
    return probe if isinstance(probe, Mapping) else {"reachable": False}


# --- decisions ---------------------------------------------------------------


def _refuse_standalone(standalone):
    return _result(
        "refuse",
        f"mysqld on {_names(standalone)} runs outside any Galera cluster "
        f"({_describe_all(standalone)}): check wsrep_on, wsrep_provider and "
        f"wsrep_cluster_address in its configuration and stop it (systemctl stop "
        f"mariadb), then run this again; nothing is started or bootstrapped while "
        f"a data node serves on its own.",
    )


def _with_primary(nodes, force_node):
    """At least one data node is Primary: never bootstrap, join it."""
    primaries = [n for n in nodes if n.primary]
    histories = sorted({n.history for n in primaries} - {None})
    if len(histories) > 1:
        return _result(
            "refuse",
            f"Two Primary Components with different cluster UUIDs (split brain): "
            f"{_describe_all(primaries)}. Decide whose data wins, stop mariadb on the "
            f"other node(s) and move their datadir aside so that they rejoin by SST. "
            f"Nothing is done automatically.",
        )
    history = histories[0] if histories else None
    strangers = [n for n in nodes if n.stopped and n.history not in (None, history)]
    if strangers and force_node not in _ids(primaries):
        return _refuse_strangers(strangers, primaries, history, force_node)
    busy = [n for n in nodes if n.mysqld == STARTING or (n.primary and not n.synced)]
    if busy:
        return _result(
            "wait",
            f"State transfer in progress ({_describe_all(busy)}): it recovers by itself; "
            f"probe again.",
        )
    cut_off = [n for n in nodes if n.running and not n.primary]
    if cut_off:
        return _result(
            "wait",
            f"{_describe_all(cut_off)} runs beside the Primary Component on "
            f"{_names(primaries)}: the link between them is down or it is rejoining; "
            f"it serves nothing (wsrep_ready OFF) and rejoins by itself when it "
            f"reaches the Primary Component.",
        )
    to_start = [n for n in nodes if n.stopped]
    absent = [n for n in nodes if not n.reports]
    if to_start:
        return _result(
            "start",
            f"{_describe_all(primaries)} holds the Primary Component; mysqld is stopped on "
            f"{_names(to_start)}: start it to rejoin by IST/SST."
            f"{_overruled(strangers, force_node)}{_absent_note(absent)}",
            node=to_start[0].name,
            then_start=_ids(to_start[1:]),
        )
    return _result(
        "none",
        f"{_describe_all(primaries)}: Primary and Synced.{_absent_note(absent)}",
    )


def _refuse_strangers(strangers, primaries, history, force_node):
    forced = f" ({FORCE_FLAG} names {force_node}, which is not Primary)" if force_node else ""
    return _result(
        "refuse",
        f"{_describe_all(strangers)} holds cluster history "
        f"{_histories(strangers)}, but the Primary Component on {_names(primaries)} "
        f"runs {history}: starting it would replace its data by SST{forced}. If the "
        f"Primary Component's data is the one to keep, set "
        f"`{FORCE_FLAG}: {primaries[0].name}` in pillar and run this again (remove "
        f"the flag afterwards); otherwise save that node's datadir first.",
    )


def _without_primary(nodes, running, force_node, witness):
    """Some data nodes run, none is Primary: pc.bootstrap=YES on one, at most."""
    survivor = _most_advanced(running)
    problems = []
    if len(running) > 1:
        problems.append(
            f"{_describe_all(running)} all run non-Primary: a partition or a lost quorum, "
            f"and only one side may be made Primary"
        )
    for other in nodes:
        if other is not survivor and not other.running:
            problems.extend(_survivor_doubts(survivor, other))
    then_start = _ids(n for n in nodes if n.stopped)
    if not problems:
        return _result(
            "recover_primary",
            f"{_describe(survivor)} is the only data node running and no data node is "
            f"Primary; {_peers_state(nodes, survivor)}: make it Primary "
            f"(pc.bootstrap=YES){_then(then_start)}.{_lost_writes_note(nodes)}",
            node=survivor.name,
            then_start=then_start,
        )
    return _settle(
        nodes,
        problems,
        force_node=force_node,
        eligible=running,
        action="recover_primary",
        suggestion=survivor,
        then_start=then_start,
        witness=witness,
    )


def _survivor_doubts(survivor, other):
    """Why making ``survivor`` Primary might lose or split what ``other`` has."""
    if other.silent:
        doubt = (
            f"{_describe(other)} is not confirmed powered off: it may hold a Primary "
            f"Component on the other side of a partition"
        )
        return [doubt]
    if other.off:
        return []
    if not other.known:
        return [f"{_describe(other)}: its position cannot be compared"]
    if other.history not in (None, survivor.history):
        return [f"{_describe(other)} has another cluster history than {survivor.name}"]
    reach = other.seqno + other.prepared
    if reach > (survivor.seqno if isinstance(survivor.seqno, int) else -1):
        return [f"{_describe(other)} may be ahead of {survivor.name}: seqno up to {reach}"]
    return []


def _all_stopped(nodes, force_node, witness):
    """No mysqld runs anywhere that can report: the bootstrap rule proper."""
    candidates = [n for n in nodes if n.stopped]
    if not candidates:
        return _result(
            "wait",
            f"No data node can report ({_describe_all(nodes)}): nothing to decide until "
            f"a minion answers or a node is powered on.{_space(witness)}",
        )
    problems = [
        f"{_describe(n)} is not confirmed powered off by its BMC: it may hold newer writes"
        for n in nodes
        if n.silent
    ]
    problems += [f"{_describe(n)}: its position is unknown" for n in candidates if not n.known]
    known = [n for n in candidates if n.known]
    histories = sorted({n.history for n in known} - {None})
    if len(histories) > 1:
        problems.append(f"different cluster UUIDs: {_histories_by_node(known)}")
    pick, why = _evidence_pick(known)
    if pick and not pick.safe:
        problems += _prepared_doubts(pick, known)
    then_start = [n.name for n in candidates if n is not pick]
    if not problems:
        return _result(
            "bootstrap",
            f"mysqld is stopped on every data node; {why}: bootstrap it"
            f"{_then(then_start)}.{_lost_writes_note(nodes)}",
            node=pick.name,
            then_start=then_start,
        )
    return _settle(
        nodes,
        problems,
        force_node=force_node,
        eligible=candidates,
        action="bootstrap",
        suggestion=pick or candidates[0],
        then_start=_ids(candidates),
        witness=witness,
    )


def _evidence_pick(known):
    """Rule 1 (safe_to_bootstrap: 1), else rule 2 (highest seqno, preference)."""
    if not known:
        return None, ""
    safe = [n for n in known if n.safe]
    pool = safe or known
    best = max(n.seqno for n in pool)
    tied = [n for n in pool if n.seqno == best]
    pick = tied[0]
    if safe:
        return pick, (
            f"{pick.name}'s grastate.dat says safe_to_bootstrap: 1 (the last node to leave "
            f"the cluster)"
        )
    if not any(n.history for n in known):
        return pick, (
            f"no data node has a cluster history yet (a new cluster); {pick.name} comes "
            f"first in {PREFERENCE_FLAG}"
        )
    if len(tied) > 1:
        return pick, (
            f"{_names(tied)} tie at seqno {best}; {pick.name} comes first in {PREFERENCE_FLAG}"
        )
    others = ", ".join(f"{n.name}: {n.seqno}" for n in known if n is not pick)
    if not others:
        return pick, f"{pick.name} is the only data node that can report (seqno {best})"
    return pick, f"{pick.name} has the highest seqno ({best}; {others})"


def _prepared_doubts(pick, known):
    return [
        f"{n.name} reports {n.prepared} prepared transaction(s) after recovery: committed "
        f"at its next start they may carry it to seqno {n.seqno + n.prepared}, past "
        f"{pick.name}'s {pick.seqno}, so seqno no longer decides"
        for n in known
        if n is not pick and n.prepared and n.seqno + n.prepared > pick.seqno
    ]


def _settle(nodes, problems, *, force_node, eligible, action, suggestion, then_start, witness):
    """Where evidence cannot decide: the operator's flag, or a refusal naming it."""
    doubts = "; ".join(problems)
    silent = [n for n in nodes if n.silent]
    if force_node in _ids(eligible):
        return _result(
            action,
            f"{FORCE_FLAG} is {force_node}: the operator decided, despite: {doubts}. "
            f"Remove the flag from pillar once the cluster is up.",
            node=force_node,
            then_start=[name for name in then_start if name != force_node],
        )
    if force_node:
        return _result(
            "refuse",
            f"{FORCE_FLAG} names {force_node}, which cannot {_VERBS[action]} now: "
            f"{_describe(_find(force_node, nodes))}; it must name one of "
            f"{_names(eligible)}. Evidence: {doubts}.{_space(witness)}",
        )
    return _result(
        "refuse",
        f"Refusing to {_VERBS[action]} automatically: {doubts}.{_space(witness)} "
        f"Decide whose data wins (the evidence points at {suggestion.name}), set "
        f"`{FORCE_FLAG}: {suggestion.name}` in pillar and run this again; remove the "
        f"flag once the cluster is up.{_silent_hint(silent)}",
    )


def _silent_hint(silent):
    if not silent:
        return ""
    return (
        f" Or bring {_names(silent)} back so that it reports (or confirm through its "
        f"BMC that it is powered off) and run this again."
    )


# --- wording -------------------------------------------------------------------


def _result(action, reason, node=None, then_start=()):
    return {"action": action, "node": node, "then_start": list(then_start), "reason": reason}


def _most_advanced(nodes):
    """Highest seqno first, ties (and unknowns) in preference order."""
    return max(nodes, key=lambda n: n.seqno if isinstance(n.seqno, int) else -2)


def _find(name, nodes):
    return next((n for n in nodes if n.name == name), None)


def _ids(nodes):
    return [n.name for n in nodes]


def _names(nodes):
    names = _ids(nodes)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _is(nodes):
    return "is" if len(list(nodes)) == 1 else "are"


def _then(names):
    return f", then start {', '.join(names)}" if names else ""


def _space(text):
    return f" {text}" if text else ""


def _describe(node):
    if node.off:
        return f"{node.name} (confirmed powered off)"
    if not node.reports:
        error = node.probe.get("error") or "no answer from its minion"
        return f"{node.name} (cannot report: {error})"
    if node.running:
        probe = node.probe
        return (
            f"{node.name} ({probe.get('cluster_status') or 'no wsrep status'}, "
            f"{probe.get('local_state_comment') or 'state unknown'}, seqno {node.seqno}, "
            f"cluster size {probe.get('cluster_size')})"
        )
    if node.mysqld == STARTING:
        error = node.probe.get("error")
        return f"{node.name} (mysqld starting{': ' + error if error else ''})"
    return f"{node.name} (mysqld stopped, {_position(node)})"


def _position(node):
    if not node.known:
        return f"position unknown: {node.probe.get('error') or 'no seqno'}"
    text = f"seqno {node.seqno}"
    if node.safe:
        text += ", safe_to_bootstrap: 1"
    if node.prepared:
        text += f", {node.prepared} prepared transaction(s)"
    return text


def _describe_all(nodes):
    return ", ".join(_describe(n) for n in nodes)


def _histories(nodes):
    return ", ".join(sorted({n.history for n in nodes if n.history}))


def _histories_by_node(nodes):
    return ", ".join(f"{n.name} {n.history or 'none'}" for n in nodes)


def _peers_state(nodes, survivor):
    others = [n for n in nodes if n is not survivor]
    return ", ".join(_describe(n) for n in others) or "it is the only data node"


def _overruled(strangers, force_node):
    if not strangers:
        return ""
    return (
        f" {FORCE_FLAG} is {force_node}: the Primary Component's data wins, and the other "
        f"history on {_names(strangers)} is replaced by SST."
    )


def _absent_note(absent):
    if not absent:
        return ""
    return (
        f" {_describe_all(absent)}: nothing to do from here; it is started when its "
        f"minion comes back."
    )


def _lost_writes_note(nodes):
    off = [n for n in nodes if n.off]
    if not off:
        return ""
    return (
        f" {_names(off)} {_is(off)} powered off: writes it accepted after losing "
        f"contact, if any, are replaced by SST when it rejoins."
    )


def _witness_note(probes, preference):
    notes = []
    for name in sorted(probes, key=str):
        probe = probes[name]
        if name in preference or not isinstance(probe, Mapping):
            continue
        if probe.get("role") != "witness":
            continue
        if probe.get("reachable") is False:
            notes.append(f"Witness {name} cannot report.")
        else:
            notes.append(f"Witness {name}: garbd {probe.get('garbd') or 'state unknown'}.")
    return " ".join(notes)
