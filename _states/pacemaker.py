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

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "pacemaker"


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
