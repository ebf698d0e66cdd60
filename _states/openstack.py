"""
States of the one OpenStack service pattern (``salt/openstack/service.jinja``).

- ``openstack.identity_registered``: the service's Keystone user, service and
  endpoints, from the catalog (``openstack_identity.register``);
- ``openstack.db_synced``: the service's ``db_sync`` commands, once per
  cluster and package version (a marker under ``/var/lib/twin-cloud``);
- ``openstack.keystone_bootstrapped``: ``keystone-manage bootstrap`` unless the
  administrator already gets a token.

They run on the first controller only (the pattern says so): Keystone and
the databases are cluster-wide.
"""

import os

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "openstack"

MARKER_DIR = "/var/lib/twin-cloud/db-sync"


def __virtual__():
    return __virtualname__


def _ret(name):
    return {"name": name, "result": False, "changes": {}, "comment": ""}


def _test():
    return bool(__opts__.get("test"))


def endpoint_url(name, identity=None):
    """The URL of service ``name``'s endpoints (at the VIP) from the catalog
    (``identity``: one of its ``identity.also`` entries instead)."""
    svc = __salt__["openstack.service"](name)
    identity = identity if identity is not None else (svc.get("identity") or {})
    api = identity.get("api") or next(iter(svc.get("apis") or {}), None)
    if api is None:
        raise SaltInvocationError(
            f"openstack:services:{name}:identity: has a type but the service has no apis"
        )
    if api not in (svc.get("apis") or {}):
        raise SaltInvocationError(
            f"openstack:services:{name}:identity:api: {api!r} is not one of its apis "
            f"({', '.join(svc.get('apis') or {}) or 'none'})"
        )
    port = svc["apis"][api]["port"]
    ctx = __salt__["openstack.context"](name)
    return f"{ctx['endpoint']}:{port}{__salt__['openstack.fill'](identity.get('path', ''), ctx)}"


def identity_registered(name):
    """
    Keep service ``name``'s Keystone objects as its catalog entry says.

    .. code-block:: yaml

        glance-identity:
          openstack.identity_registered:
            - name: glance
    """
    ret = _ret(name)
    try:
        svc = __salt__["openstack.service"](name)
        identity = svc.get("identity")
        if identity is None:
            ret.update(result=True, comment=f"{name} has no Keystone identity")
            return ret
        service_type = identity.get("type")
        user = name != "keystone" and identity.get("user", True)
        password = (__pillar__.get("secrets") or {}).get(f"{name}_keystone_password")
        outcome = __salt__["openstack_identity.register"](
            name,
            service_type=service_type,
            url=endpoint_url(name) if service_type else None,
            password=password,
            description=identity.get("description"),
            user=user,
            test=_test(),
        )
        changes = list(outcome["changes"])
        # more Keystone services of the same service (heat-cfn beside heat)
        for extra in identity.get("also") or []:
            more = __salt__["openstack_identity.register"](
                extra["name"], service_type=extra["type"], url=endpoint_url(name, extra),
                description=extra.get("description"), user=False, test=_test(),
            )
            changes.extend(more["changes"])
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["comment"] = str(exc)
        return ret
    ret["comment"] = "; ".join(changes) if changes else outcome["comment"]
    ret["result"] = True
    if changes:
        ret["changes"] = {"keystone": changes}
        if _test():
            ret["result"] = None
    return ret


def marker(name):
    """Where the db sync of service ``name`` at its installed version is recorded."""
    main = __salt__["openstack.main_package"](name)
    version = __salt__["pkg.version"](main) or "none"
    return os.path.join(MARKER_DIR, f"{name}-{version.replace(':', '_')}")


def db_synced(name):
    """
    Run service ``name``'s ``db_sync`` commands (as its group's user), once
    per package version: a marker records the version synced.

    .. code-block:: yaml

        glance-db-synced:
          openstack.db_synced:
            - name: glance
    """
    ret = _ret(name)
    try:
        svc = __salt__["openstack.service"](name)
        commands = svc.get("db_sync") or []
        done = marker(name)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["comment"] = f"{name}: cannot tell its db sync marker: {exc}"
        return ret
    if not commands or os.path.exists(done):
        ret.update(result=True, comment=f"{name}: database schema is current ({done})")
        return ret
    if _test():
        ret.update(result=None, changes={"db_sync": commands}, comment=f"would run {commands}")
        return ret
    for command in commands:
        result = __salt__["cmd.run_all"](command, runas=svc["group"], python_shell=False,
                                         cwd="/tmp", output_loglevel="quiet")
        if result["retcode"] != 0:
            tail = "\n".join((result.get("stderr") or result.get("stdout") or "").splitlines()[-5:])
            ret["comment"] = f"{command} failed (exit {result['retcode']}): {tail}"
            return ret
    os.makedirs(MARKER_DIR, exist_ok=True)
    with open(done, "w", encoding="utf-8") as handle:
        handle.write("\n".join(commands) + "\n")
    ret.update(result=True, changes={"db_sync": commands}, comment=f"ran {len(commands)} command(s)")
    return ret


def keystone_bootstrapped(name):
    """
    ``keystone-manage bootstrap`` (admin user, project, role, region and
    Keystone's own endpoints at the VIP) unless the administrator already
    gets a token. The password goes through the environment.

    .. code-block:: yaml

        keystone-bootstrapped:
          openstack.keystone_bootstrapped:
            - name: admin
    """
    ret = _ret(name)
    try:
        if __salt__["openstack_identity.authenticates"]():
            ret.update(result=True, comment="the administrator gets a token")
            return ret
        url = endpoint_url("keystone")
        region = __salt__["openstack.catalog"]().get("region", "RegionOne")
        password = __pillar__["secrets"]["keystone_admin_password"]
    except (CommandExecutionError, SaltInvocationError, KeyError) as exc:
        ret["comment"] = f"cannot bootstrap Keystone: {exc}"
        return ret
    if _test():
        ret.update(result=None, changes={"bootstrap": url}, comment="would bootstrap Keystone")
        return ret
    command = [
        "keystone-manage", "bootstrap", "--bootstrap-username", name,
        "--bootstrap-project-name", "admin", "--bootstrap-role-name", "admin",
        "--bootstrap-service-name", "keystone", "--bootstrap-region-id", region,
        "--bootstrap-admin-url", url, "--bootstrap-internal-url", url,
        "--bootstrap-public-url", url,
    ]
    result = __salt__["cmd.run_all"](command, runas="keystone", python_shell=False, cwd="/tmp",
                                     env={"OS_BOOTSTRAP_PASSWORD": password},
                                     output_loglevel="quiet")
    if result["retcode"] != 0:
        ret["comment"] = f"keystone-manage bootstrap failed: {(result.get('stderr') or '')[-400:]}"
        return ret
    ret.update(result=True, changes={"bootstrap": url}, comment="Keystone bootstrapped")
    return ret
