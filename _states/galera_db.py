"""
``galera_db.present``: a service's database and account, through the Galera VIP.

Runs on a node (the first controller, in the OpenStack service pattern),
unlike ``galera.converged`` which runs on the master; the work is
``galera.ensure_database`` of the execution module.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "galera_db"


def __virtual__():
    return __virtualname__


def present(name, user=None, password_secret=None):
    """
    Ensure service database ``name`` and its account exist, through the
    Galera VIP (``galera.ensure_database``), from any node with a ``mariadb``
    client; the password is read from pillar ``secrets:<password_secret>``
    (default ``<name>_db_password``) and never shown.

    .. code-block:: yaml

        nova-database:
          galera_db.present:
            - name: nova
            - password_secret: nova_db_password

    Test mode reports what would change. Nothing to change: no changes.
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    secret = password_secret or f"{name}_db_password"
    password = (__pillar__.get("secrets") or {}).get(secret)
    if not password:
        ret["comment"] = f"secrets:{secret}: missing; add it to the secrets pillar"
        return ret
    test = bool(__opts__.get("test"))
    try:
        outcome = __salt__["galera.ensure_database"](name, user=user, password=password, test=test)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["comment"] = str(exc)
        return ret
    ret["comment"] = outcome["comment"]
    if outcome["changes"]:
        ret["changes"] = {"database": name, "done": outcome["changes"]}
        ret["result"] = None if test else True
    else:
        ret["result"] = True
    return ret
