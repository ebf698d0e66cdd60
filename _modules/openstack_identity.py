"""
Keystone objects of the services, kept with openstacksdk through the VIP.

A service's Keystone side is its user (in the ``service`` project, roles
``admin`` and ``service``: the latter makes its service tokens acceptable
where ``service_token_roles_required`` is on), its service entry and its public/internal/admin endpoints.
``register`` brings all of them to what the catalog says and reports what it
changed; ``authenticates`` tells whether a user's password is accepted. The
administrator's credentials are the pillar's (``secrets:keystone_admin_password``);
no password is ever returned or logged.

Debian's python3-openstacksdk (Zed) is on every controller (pulled in by
python3-openstackclient); the minion's Python sees it.
"""

import logging

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    import openstack  # pylint: disable=import-error
    import openstack.exceptions  # pylint: disable=import-error
    import keystoneauth1.exceptions  # pylint: disable=import-error

    HAS_SDK = True
except ImportError:
    HAS_SDK = False

__virtualname__ = "openstack_identity"
log = logging.getLogger(__name__)

INTERFACES = ("public", "internal", "admin")
SERVICE_PROJECT = "service"
SERVICE_ROLE = "admin"
# granted to every service user in project service (admin first)
SERVICE_ROLES = (SERVICE_ROLE, "service")
DOMAIN = "default"


def __virtual__():
    if not HAS_SDK:
        return (False, "openstacksdk is not installed (Debian: python3-openstacksdk)")
    return __virtualname__


def _admin_password():
    password = (__pillar__.get("secrets") or {}).get("keystone_admin_password")
    if not password:
        raise SaltInvocationError("secrets:keystone_admin_password: missing from the secrets pillar")
    return password


def auth_url():
    """
    Keystone's URL at the VIP.

    CLI Example:

    .. code-block:: bash

        salt-call openstack_identity.auth_url
    """
    return __salt__["openstack.context"]("keystone")["auth_url"] + "/v3"


def _connect(username="admin", password=None, project="admin"):
    catalog = __salt__["openstack.catalog"]()
    region = catalog.get("region", "RegionOne")
    scope = {"project_name": project, "project_domain_id": DOMAIN} if project else {}
    return openstack.connect(
        auth_url=auth_url(),
        username=username,
        password=password if password is not None else _admin_password(),
        user_domain_id=DOMAIN,
        **scope,
        region_name=region,
        interface="internal",
        identity_api_version="3",
        api_timeout=30,
        # the system bundle (with the site CA), not the minion venv's certifi
        cacert=catalog.get("ca_bundle"),
    )


def _admin_connection():
    """The administrator's connection, one per state run (``__context__``):
    its token, the service project and the roles serve every service the run
    registers (ten on the lab's first controller: each asked for a token and
    looked them up again, ~0.5 s of the 1.3 s of a registration)."""
    if "openstack_identity.admin" not in __context__:
        __context__["openstack_identity.admin"] = {"conn": _connect(), "lookups": {}}
    return __context__["openstack_identity.admin"]


def _looked_up(admin, key, find):
    """``find()``, remembered for the run once found (a project or a role
    exists for good once made; absent is asked again)."""
    found = admin["lookups"].get(key)
    if found is None:
        found = find()
        if found is not None:
            admin["lookups"][key] = found
    return found


def authenticates(username="admin", password=None, project="admin"):
    """
    True when Keystone (through the VIP) issues a token to ``username``
    (default: the administrator, password from pillar), scoped to
    ``project`` (None: unscoped, which only checks the password).

    CLI Example:

    .. code-block:: bash

        salt ctl1 openstack_identity.authenticates
    """
    try:
        _connect(username, password, project).authorize()
    except (openstack.exceptions.SDKException, keystoneauth1.exceptions.ClientException) as exc:
        # openstacksdk wraps keystoneauth's error: look at what it wraps
        cause = exc.__cause__ or exc.__context__ or exc
        if isinstance(cause, keystoneauth1.exceptions.http.Unauthorized) or isinstance(
            exc, keystoneauth1.exceptions.http.Unauthorized
        ):
            return False
        raise CommandExecutionError(f"Keystone at {auth_url()} does not answer: {exc}") from exc
    return True


def _ensure_project(admin, changes, test):
    conn = admin["conn"]
    project = _looked_up(admin, ("project", SERVICE_PROJECT),
                         lambda: conn.identity.find_project(SERVICE_PROJECT, domain_id=DOMAIN))
    if project is None:
        changes.append(f"create project {SERVICE_PROJECT}")
        if not test:
            project = conn.identity.create_project(
                name=SERVICE_PROJECT, domain_id=DOMAIN, description="OpenStack services"
            )
    return project


def _ensure_user(conn, name, password, project, changes, test):
    user = conn.identity.find_user(name, domain_id=DOMAIN)
    if user is None:
        changes.append(f"create user {name}")
        if test:
            return None
        return conn.identity.create_user(
            name=name, password=password, domain_id=DOMAIN, enabled=True
        )
    if not authenticates(name, password, project=None):
        changes.append(f"set the password of user {name}")
        if not test:
            conn.identity.update_user(user, password=password)
    return user


def _ensure_role(admin, user, project, changes, test):
    """Roles ``admin`` and ``service`` for ``user`` in project service: with
    ``service_token_roles_required`` a service token (X-Service-Token, sent
    by nova to neutron, cinder, glance...) must carry the role ``service``."""
    conn = admin["conn"]
    name = user.name if user is not None else "the new user"
    for role_name in SERVICE_ROLES:
        role = _looked_up(admin, ("role", role_name),
                          lambda name=role_name: conn.identity.find_role(name))
        if role is None:
            if role_name == SERVICE_ROLE:
                raise CommandExecutionError(
                    f"Keystone has no role {role_name}: was it bootstrapped?")
            changes.append(f"create role {role_name}")
            if test:  # a new role is held by no one: the grant is made too
                changes.append(f"grant {name} {role_name} on project {SERVICE_PROJECT}")
                continue
            role = conn.identity.create_role(name=role_name)
        if user is None or project is None:
            changes.append(f"grant {name} {role_name} on project {SERVICE_PROJECT}")
            continue
        assigned = list(conn.identity.role_assignments(
            user_id=user.id, scope_project_id=project.id, role_id=role.id
        ))
        if not assigned:
            changes.append(f"grant {name} {role_name} on project {SERVICE_PROJECT}")
            if not test:
                conn.identity.assign_project_role_to_user(project, user, role)


def _ensure_service(conn, name, service_type, description, changes, test):
    found = [s for s in conn.identity.services() if s.name == name]
    if len(found) > 1:
        raise CommandExecutionError(
            f"Keystone has {len(found)} services named {name}: delete the extra ones "
            f"(`openstack service list`), then apply again"
        )
    if found:
        service = found[0]
        if service.type != service_type:
            changes.append(f"set the type of service {name} to {service_type}")
            if not test:
                conn.identity.update_service(service, type=service_type)
        return service
    changes.append(f"create service {name} ({service_type})")
    if test:
        return None
    return conn.identity.create_service(
        name=name, type=service_type, description=description, is_enabled=True
    )


def _ensure_endpoints(conn, service, name, url, region, changes, test):
    current = {}
    if service is not None:
        for endpoint in conn.identity.endpoints(service_id=service.id):
            current.setdefault(endpoint.interface, []).append(endpoint)
    for interface in INTERFACES:
        have = current.get(interface, [])
        for extra in have[1:]:
            changes.append(f"delete a duplicate {interface} endpoint of {name}")
            if not test:
                conn.identity.delete_endpoint(extra)
        if not have:
            changes.append(f"create the {interface} endpoint of {name}: {url}")
            if not test:
                conn.identity.create_endpoint(
                    service_id=service.id, interface=interface, url=url, region_id=region
                )
        elif have[0].url != url or have[0].region_id != region:
            changes.append(f"set the {interface} endpoint of {name} to {url}")
            if not test:
                conn.identity.update_endpoint(have[0], url=url, region_id=region)


def register(name, service_type=None, url=None, password=None, description=None,
             user=True, test=False):
    """
    Keep service ``name``'s Keystone objects: user ``name`` with ``password``
    and roles admin and service in project service (``user=False``: no user), and with
    ``service_type``, the service and its three endpoints at ``url``.
    Returns ``{changed, changes, comment}``; ``test=True`` changes nothing.

    CLI Example:

    .. code-block:: bash

        salt ctl1 openstack_identity.register glance image http://10.0.0.10:9292 password=... test=True
    """
    if user and not password:
        raise SaltInvocationError(f"register {name}: no password given for its user")
    if service_type and not url:
        raise SaltInvocationError(f"register {name}: service type {service_type} needs a url")
    region = __salt__["openstack.catalog"]().get("region", "RegionOne")
    changes = []
    try:
        admin = _admin_connection()
        conn = admin["conn"]
        project = _ensure_project(admin, changes, test)
        if user:
            account = _ensure_user(conn, name, password, project, changes, test)
            _ensure_role(admin, account, project, changes, test)
        if service_type:
            service = _ensure_service(
                conn, name, service_type, description or f"OpenStack {name}", changes, test
            )
            _ensure_endpoints(conn, service, name, url, region, changes, test)
    except (openstack.exceptions.SDKException, keystoneauth1.exceptions.ClientException) as exc:
        raise CommandExecutionError(
            f"Keystone at {auth_url()} refused or failed while registering {name}: {exc}"
        ) from exc
    if not changes:
        return {"changed": False, "changes": [], "comment": f"{name} is registered in Keystone"}
    if test:
        return {"changed": False, "changes": changes, "comment": "would " + "; ".join(changes)}
    return {"changed": True, "changes": changes, "comment": "; ".join(changes)}
