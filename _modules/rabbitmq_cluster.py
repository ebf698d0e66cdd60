"""
RabbitMQ cluster facts that Salt's own ``rabbitmq`` module lacks or gets
wrong with RabbitMQ 3.10 (Debian 12), read through ``rabbitmqctl
--formatter json``.

The states in ``salt/rabbitmq`` use Salt's ``rabbitmq_cluster``,
``rabbitmq_user`` and ``rabbitmq_policy`` states; this module only fills
their gaps:

- ``policy_matches`` is the ``unless`` guard of ``rabbitmq_policy.present``:
  that state compares ``apply-to`` with a key the ``rabbitmq`` module never
  sets (``apply_to``), so with ``apply_to`` it reapplies the policy and
  reports a change on every run (saltstack/salt#61925);
- ``erlang_address`` writes an IP address as the Erlang tuple
  ``inet_dist_use_interface`` wants, for the templates;
- ``status``, ``policies`` and ``running_members`` answer "is the cluster
  whole" for operators and the lab tests (the ``rabbitmq`` module returns
  ``cluster_status`` as text and raises on any line on stderr);
- ``ensure_user`` (state ``rabbitmq_account.present``) keeps an account
  with a fraction of the ``rabbitmqctl`` runs of ``rabbitmq_user.present``
  (five per user, ~0.5 s of CPU each: 17 s of every re-run of the OpenStack
  step on the lab): the users and a vhost's permissions are read once per
  state run, each password is checked with one run; and a password only
  ever goes to ``rabbitmqctl`` on its standard input, never on a command
  line (``rabbitmq_user`` passes it as an argument, seen in ``ps``).

CLI examples run on a cluster member.
"""

import ipaddress
import json
import logging

import salt.utils.path
from salt.exceptions import CommandExecutionError, SaltInvocationError

log = logging.getLogger(__name__)

__virtualname__ = "rabbitmq_cluster"

RABBITMQCTL = "rabbitmqctl"


def __virtual__():
    # Always loads: ``erlang_address`` is needed to render the configuration
    # before the package (and rabbitmqctl) is installed.
    return __virtualname__


# --- pure helpers -------------------------------------------------------------


def erlang_address(address):
    """
    Return ``address`` as an Erlang IP tuple, e.g. ``{10,77,0,11}``.

    IPv6 addresses give the 8-tuple of 16-bit words. No spaces, so the value
    survives the word splitting of ``CTL_ERL_ARGS`` in rabbitmq-env.conf.

    CLI Example:

    .. code-block:: bash

        salt-call rabbitmq_cluster.erlang_address 10.77.0.11
    """
    try:
        ip = ipaddress.ip_address(str(address).strip())
    except ValueError as exc:
        raise SaltInvocationError(f"'{address}' is not an IP address") from exc
    if ip.version == 4:
        parts = ip.packed
    else:
        packed = ip.packed
        parts = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, 16, 2)]
    return "{" + ",".join(str(part) for part in parts) + "}"


def _definition(value):
    """A policy definition as a dict, from a dict or its JSON text."""
    if isinstance(value, dict):
        return value
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise SaltInvocationError(f"policy definition is not JSON: {value!r}") from exc
        if isinstance(parsed, dict):
            return parsed
    raise SaltInvocationError(f"policy definition must be a JSON object, got {value!r}")


def parse_policies(text):
    """
    Parse ``rabbitmqctl list_policies --formatter json`` into
    ``{name: {vhost, pattern, apply_to, definition, priority}}``.
    """
    rows = _json(text, "list_policies")
    out = {}
    for row in rows or []:
        out[row["name"]] = {
            "vhost": row.get("vhost", "/"),
            "pattern": row.get("pattern", ""),
            "apply_to": row.get("apply-to", "all"),
            "definition": _definition(row.get("definition")),
            "priority": int(row.get("priority", 0)),
        }
    return out


def parse_cluster_status(text):
    """
    Parse ``rabbitmqctl cluster_status --formatter json`` into the fields
    that tell whether the cluster is whole: ``disk_nodes``, ``ram_nodes``,
    ``running_nodes`` (sorted lists), ``partitions`` (node -> nodes it cannot
    see), ``alarms`` and ``cluster_name``.
    """
    data = _json(text, "cluster_status")
    if not isinstance(data, dict):
        raise CommandExecutionError(f"rabbitmqctl cluster_status: unexpected answer {data!r}")
    partitions = data.get("partitions") or {}
    if isinstance(partitions, list):  # older formatters: [[node, [nodes]], ...]
        partitions = {str(item[0]): list(item[1]) for item in partitions if len(item) == 2}
    return {
        "cluster_name": data.get("cluster_name"),
        "disk_nodes": sorted(data.get("disk_nodes") or []),
        "ram_nodes": sorted(data.get("ram_nodes") or []),
        "running_nodes": sorted(data.get("running_nodes") or []),
        "partitions": partitions,
        "alarms": data.get("alarms") or [],
    }


def _json(text, what):
    # rabbitmqctl may print warnings before the document; it starts at the
    # first line opening a JSON array or object.
    lines = (text or "").splitlines()
    for index, line in enumerate(lines):
        if line.lstrip().startswith(("[", "{")):
            try:
                return json.loads("\n".join(lines[index:]))
            except ValueError:
                break
    raise CommandExecutionError(f"rabbitmqctl {what}: no JSON in its output: {text!r}")


# --- rabbitmqctl --------------------------------------------------------------


def _run(*args, node=None, password=None):
    """Run ``rabbitmqctl <args>`` (JSON output) and return cmd.run_all's
    result; ``password`` goes on its standard input (where add_user,
    change_password and authenticate_user read it when the argument is left
    out) and the output is then never logged."""
    binary = salt.utils.path.which(RABBITMQCTL)
    if not binary:
        raise CommandExecutionError("rabbitmqctl not found: rabbitmq-server is not installed")
    cmd = [binary]
    if node:
        cmd += ["-n", node]
    cmd += [*args, "--formatter", "json", "-q"]
    extra = {} if password is None else {"stdin": f"{password}\n", "output_loglevel": "quiet"}
    return __salt__["cmd.run_all"](cmd, python_shell=False, ignore_retcode=True, **extra)


def _ctl(*args, node=None, password=None):
    """``_run``'s output; a failed run raises with rabbitmqctl's message."""
    res = _run(*args, node=node, password=password)
    if res["retcode"] != 0:
        message = (res.get("stderr") or res.get("stdout") or "").strip()
        raise CommandExecutionError(
            f"rabbitmqctl {' '.join(args)} failed ({res['retcode']}): {message}"
        )
    return res["stdout"]


def status(node=None):
    """
    Return the cluster as seen from ``node`` (default: this node).

    CLI Example:

    .. code-block:: bash

        salt ctl1 rabbitmq_cluster.status
        salt ctl1 rabbitmq_cluster.status node=rabbit@nas
    """
    return parse_cluster_status(_ctl("cluster_status", node=node))


def running_members(node=None):
    """
    Return the sorted names of the running cluster members (``[]`` when this
    node's RabbitMQ is not answering).

    CLI Example:

    .. code-block:: bash

        salt '*' rabbitmq_cluster.running_members
    """
    try:
        return status(node=node)["running_nodes"]
    except CommandExecutionError as exc:
        log.debug("rabbitmq_cluster.running_members: %s", exc)
        return []


def policies(vhost="/"):
    """
    Return the policies of ``vhost`` as ``{name: {vhost, pattern, apply_to,
    definition, priority}}``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 rabbitmq_cluster.policies
        salt ctl1 rabbitmq_cluster.policies vhost=/
    """
    return parse_policies(_ctl("list_policies", "-p", vhost))


def policy_matches(name, pattern, definition, apply_to="all", priority=0, vhost="/"):
    """
    Return True when policy ``name`` exists in ``vhost`` exactly as given
    (pattern, apply-to, definition compared as data, priority).

    Never raises: False (with the reason logged) when RabbitMQ cannot be
    asked, so a state guarded by it runs and reports the real error.

    CLI Example:

    .. code-block:: bash

        salt ctl1 rabbitmq_cluster.policy_matches ha-openstack '^(?!amq\\.).*' \\
            '{"delivery-limit": 10}' apply_to=queues
    """
    try:
        wanted = {
            "vhost": vhost,
            "pattern": pattern,
            "apply_to": apply_to,
            "definition": _definition(definition),
            "priority": int(priority),
        }
        current = policies(vhost).get(name)
    except (CommandExecutionError, SaltInvocationError) as exc:
        log.info("rabbitmq_cluster.policy_matches %s: %s", name, exc)
        return False
    if current != wanted:
        log.debug("rabbitmq policy %s: have %s, want %s", name, current, wanted)
        return False
    return True


# --- accounts -----------------------------------------------------------------


def parse_users(text):
    """
    Parse ``rabbitmqctl list_users --formatter json`` into ``{user: [tags]}``
    (tags sorted).
    """
    return {row["user"]: sorted(row.get("tags") or []) for row in _json(text, "list_users")}


def parse_permissions(text):
    """
    Parse ``rabbitmqctl list_permissions --formatter json`` into
    ``{user: [configure, write, read]}``.
    """
    return {row["user"]: [row["configure"], row["write"], row["read"]]
            for row in _json(text, "list_permissions")}


def _cached(key, read):
    """One read per state run (``__context__``), dropped by ``_forget``."""
    if key not in __context__:
        __context__[key] = read()
    return __context__[key]


def _forget():
    for key in [k for k in __context__ if k.startswith("rabbitmq_cluster.")]:
        __context__.pop(key)


def users():
    """
    Return the accounts as ``{user: [tags]}``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 rabbitmq_cluster.users
    """
    return _cached("rabbitmq_cluster.users", lambda: parse_users(_ctl("list_users")))


def permissions(vhost="/"):
    """
    Return the permissions in ``vhost`` as ``{user: [configure, write, read]}``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 rabbitmq_cluster.permissions
        salt ctl1 rabbitmq_cluster.permissions vhost=/
    """
    return _cached(f"rabbitmq_cluster.permissions.{vhost}",
                   lambda: parse_permissions(_ctl("list_permissions", "-p", vhost)))


def authenticates(name, password):
    """
    True when RabbitMQ accepts ``password`` for user ``name`` (the password
    goes on rabbitmqctl's standard input; it is never logged).

    CLI Example:

    .. code-block:: bash

        salt ctl1 rabbitmq_cluster.authenticates nova "$PASSWORD"
    """
    res = _run("authenticate_user", name, password=password)
    if res["retcode"] == 0:
        return True
    text = f"{res.get('stdout') or ''} {res.get('stderr') or ''}"
    if "invalid credentials" in text or "failed to authenticate" in text:
        return False
    raise CommandExecutionError(
        f"rabbitmqctl authenticate_user {name} failed ({res['retcode']}): {text.strip()}")


def ensure_user(name, password, vhost="/", perms=(".*", ".*", ".*"), tags=(), test=False):
    """
    Keep RabbitMQ user ``name``: present, ``password`` accepted, ``perms``
    (configure, write, read) on ``vhost``, exactly ``tags``. Returns
    ``{changes: [what changed], comment}``; ``test=True`` changes nothing.
    The password is never returned or logged.

    CLI Example:

    .. code-block:: bash

        salt ctl1 rabbitmq_cluster.ensure_user nova "$PASSWORD" test=True
    """
    if not password:
        raise SaltInvocationError(f"RabbitMQ user {name}: no password given")
    perms, tags = [str(p) for p in perms], sorted(tags or [])
    if len(perms) != 3:
        raise SaltInvocationError(
            f"RabbitMQ user {name}: perms must be three patterns (configure, write, read), "
            f"not {perms}")
    have = users()
    changes = []
    if name not in have:
        changes.append(f"create user {name}")
        if not test:
            _ctl("add_user", name, password=password)
    elif not authenticates(name, password):
        changes.append(f"set the password of user {name}")
        if not test:
            _ctl("change_password", name, password=password)
    if have.get(name, []) != tags:
        changes.append(f"set the tags of {name} to {tags or 'none'}")
        if not test:
            _ctl("set_user_tags", name, *tags)
    if permissions(vhost).get(name) != perms:
        changes.append(f"grant {name} {'/'.join(perms)} on vhost {vhost}")
        if not test:
            _ctl("set_permissions", "-p", vhost, name, *perms)
    if changes and not test:
        _forget()
    comment = "; ".join(changes) if changes else f"RabbitMQ user {name} is as wanted"
    return {"changes": changes, "comment": comment}
