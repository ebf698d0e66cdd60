"""
``rabbitmq_account.present``: a RabbitMQ user, its password from the secrets
pillar, its permissions on one vhost and its tags.

What ``rabbitmq_user.present`` does, with the checks of
``rabbitmq_cluster.ensure_user``: one ``rabbitmqctl`` run per user on a run
that changes nothing (the users and permissions are read once per state
run), and the password only on rabbitmqctl's standard input.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "rabbitmq_account"


def __virtual__():
    return __virtualname__


def present(name, password_secret, vhost="/", perms=(".*", ".*", ".*"), tags=()):
    """
    Ensure RabbitMQ user ``name`` exists with the password of pillar
    ``secrets:<password_secret>`` (never shown), permissions ``perms``
    (configure, write, read) on ``vhost`` and exactly ``tags``.

    .. code-block:: yaml

        nova-rabbitmq-user:
          rabbitmq_account.present:
            - name: nova
            - password_secret: nova_rabbit_password

    Test mode reports what would change. Nothing to change: no changes.
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    password = (__pillar__.get("secrets") or {}).get(password_secret)
    if not password:
        ret["comment"] = f"secrets:{password_secret}: missing; add it to the secrets pillar"
        return ret
    test = bool(__opts__.get("test"))
    try:
        outcome = __salt__["rabbitmq_cluster.ensure_user"](
            name, password, vhost=vhost, perms=perms, tags=tags, test=test)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["comment"] = str(exc)
        return ret
    if outcome["changes"]:
        ret["changes"] = {"user": name, "done": outcome["changes"]}
        ret["result"] = None if test else True
        ret["comment"] = ("would " if test else "") + outcome["comment"]
    else:
        ret["result"] = True
        ret["comment"] = outcome["comment"]
    return ret
