"""
States for Pacemaker: keep the CIB holding the objects declared in pillar.

The work is done by the ``pacemaker`` execution module
(``_modules/pacemaker.py``), whose documentation gives the schema of
``objects`` and the ownership rules (what Salt removes, what it leaves alone).

Run it on ONE node at a time: the CIB is replicated by Pacemaker, and two
nodes pushing at once would race. The orchestration targets the first
controller only, e.g.:

.. code-block:: yaml

    pacemaker-cib-present:
      pacemaker.cib_present:
        - name: twin-cloud
        - objects: {{ salt['pillar.get']('pacemaker:objects', {}) | json }}

``objects`` may hold every kind, or only the kinds this state manages; kinds
left out are not touched.
"""

import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "pacemaker"

# Seams for the tests: a fake clock that moves when the code sleeps.
_sleep = time.sleep
_clock = time.monotonic


def __virtual__():
    if "pacemaker.apply" in __salt__:
        return __virtualname__
    return (False, "the pacemaker execution module (_modules/pacemaker.py) is not loaded")


def cib_present(name, objects):
    """
    Make the live CIB hold ``objects``: push only the difference between the
    live CIB and the wanted one; nothing differs, nothing is pushed.

    Returns ``changes: {"diff": <unified diff of the configuration>}`` when
    something changed (or would, in test mode, where nothing is pushed and
    ``result`` is None). Passwords are masked in every diff and message.

    name
        A label for the declared set (e.g. the cluster name).

    objects
        The declared objects, by kind (see the execution module).
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    test = bool(__opts__.get("test"))
    try:
        outcome = __salt__["pacemaker.apply"](objects, test=test)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["comment"] = f"The CIB could not be brought to the declared state: {exc}"
        return ret

    if not outcome["changed"]:
        ret["result"] = True
        ret["comment"] = "The CIB already holds the declared objects"
        return ret

    ret["changes"] = {"diff": outcome["diff"]}
    if test:
        ret["result"] = None
        ret["comment"] = "The CIB difference shown would be pushed"
    else:
        ret["result"] = True
        ret["comment"] = "The CIB difference shown was pushed"
    return ret


def _not_ready(status, nodes):
    """What keeps the cluster from being ready, in words ("" when ready)."""
    problems = []
    if not status.get("dc"):
        problems.append("no DC elected yet")
    elif not status.get("quorate"):
        problems.append("the partition has no quorum")
    offline = [node for node in nodes if node not in status.get("nodes_online", [])]
    if offline:
        problems.append(f"not online: {', '.join(offline)}")
    return "; ".join(problems)


def online(name, nodes=(), timeout=120, interval=2):
    """
    Wait until the cluster has a DC, has quorum, and every node of ``nodes``
    is online; change nothing. A precondition for declaring resources on a
    cluster that has just started: with fencing enabled, a node not yet
    joined when the fence devices appear may be shot as unseen
    (``startup-fencing``). Fails after ``timeout`` seconds with what is
    missing. ``test=True`` looks once and does not wait.

    .. code-block:: yaml

        pacemaker-controllers-online:
          pacemaker.online:
            - nodes: [ctl1, ctl2]

    name
        A label (e.g. the cluster name).

    nodes
        The node names that must be online (default: none, only DC and quorum).

    timeout
        Seconds to wait at most.

    interval
        Seconds between two looks.
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    nodes = list(nodes or ())
    test = bool(__opts__.get("test"))
    deadline = _clock() + float(timeout)
    while True:
        try:
            why = _not_ready(__salt__["pacemaker.status"](), nodes)
        except CommandExecutionError as exc:
            why = f"the cluster does not answer ({exc})"
        if not why:
            ret["result"] = True
            ret["comment"] = "The cluster has a DC and quorum" + (
                f"; online: {', '.join(nodes)}" if nodes else ""
            )
            return ret
        if test:
            ret["result"] = None
            ret["comment"] = f"The cluster is not ready ({why}); a run would wait {timeout}s"
            return ret
        if _clock() >= deadline:
            ret["comment"] = f"The cluster was not ready after {timeout}s: {why}"
            return ret
        _sleep(float(interval))
