"""
States for the site inventory: stop a run before anything changes when the
``site`` pillar is wrong.

.. code-block:: yaml

    preflight-site-pillar-valid:
      inventory.validated:
        - failhard: True
        - order: 1
"""

from salt.exceptions import SaltInvocationError

__virtualname__ = "inventory"


def __virtual__():
    if "inventory.validate" in __salt__:
        return __virtualname__
    return (False, "the inventory execution module (_modules/inventory.py) is not loaded")


def validated(name):
    """
    Check that this minion's ``site`` pillar (and ``secrets``, if it has them)
    is valid; fail with every problem found, one per line.

    Validation only reads pillar and changes nothing, so test mode gives the
    same answer as a real run: True when valid, False with the problems when
    not. (``None`` in test mode means "would change something", which never
    applies here; and a ``False`` lets ``failhard`` stop a dry run just where
    the real run would stop.)

    name
        The state id; only used in the return.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": "The site pillar is valid"}
    try:
        __salt__["inventory.validate"]()
    except SaltInvocationError as exc:
        ret["result"] = False
        ret["comment"] = f"The site pillar is invalid:\n{exc}"
    return ret
