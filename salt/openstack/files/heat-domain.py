#!/usr/bin/python3
"""Heat's stack domain in Keystone, kept by Salt (openstack/heat.sls).

    heat-domain check   exit 0 when everything is in place, 1 (and what is
                        missing, one line each) otherwise
    heat-domain apply   make it so; print what changed, one line each

Keeps: the domain HEAT_DOMAIN (enabled), its administrator HEAT_DOMAIN_ADMIN
with the password HEAT_DOMAIN_ADMIN_PASSWORD and role `admin` on the domain,
and the roles HEAT_ROLES (comma-separated) Heat's stacks use. The cloud
administrator's credentials come from the usual OS_* environment variables
(openstacksdk reads them); no password is ever printed.

Salt managed file: local changes are overwritten.
"""

import os
import sys

ADMIN_ROLE = "admin"
DESCRIPTION = "Heat stack projects and users"


class Settings:
    """What the domain must look like (from the environment)."""

    def __init__(self, environ):
        try:
            self.domain = environ["HEAT_DOMAIN"]
            self.admin = environ["HEAT_DOMAIN_ADMIN"]
            self.password = environ["HEAT_DOMAIN_ADMIN_PASSWORD"]
        except KeyError as exc:
            raise SystemExit(f"heat-domain: {exc.args[0]} is not set") from None
        self.roles = [r for r in environ.get("HEAT_ROLES", "").split(",") if r]


def ensure(conn, settings, apply, authenticates):
    """The changes needed (``apply``: made) for ``settings``; ``authenticates(domain_id)``
    tells whether the domain administrator's password is accepted."""
    changes = []
    domain = conn.identity.find_domain(settings.domain)
    if domain is None:
        changes.append(f"create domain {settings.domain}")
        if apply:
            domain = conn.identity.create_domain(
                name=settings.domain, description=DESCRIPTION, is_enabled=True)
    elif not domain.is_enabled:
        changes.append(f"enable domain {settings.domain}")
        if apply:
            conn.identity.update_domain(domain, is_enabled=True)

    user = None
    if domain is not None:
        user = conn.identity.find_user(settings.admin, domain_id=domain.id)
    if user is None:
        changes.append(f"create user {settings.admin} in domain {settings.domain}")
        if apply:
            user = conn.identity.create_user(
                name=settings.admin, domain_id=domain.id, password=settings.password,
                is_enabled=True, description="Heat stack domain administrator")
    else:
        if not user.is_enabled:
            changes.append(f"enable user {settings.admin}")
            if apply:
                conn.identity.update_user(user, is_enabled=True)
        if not authenticates(domain.id):
            changes.append(f"set the password of user {settings.admin}")
            if apply:
                conn.identity.update_user(user, password=settings.password)

    admin_role = conn.identity.find_role(ADMIN_ROLE)
    if admin_role is None:
        raise SystemExit(f"heat-domain: Keystone has no role {ADMIN_ROLE}: was it bootstrapped?")
    assigned = bool(user is not None and domain is not None and list(
        conn.identity.role_assignments(
            user_id=user.id, scope_domain_id=domain.id, role_id=admin_role.id)))
    if not assigned:
        changes.append(f"grant {settings.admin} {ADMIN_ROLE} on domain {settings.domain}")
        if apply:
            conn.identity.assign_domain_role_to_user(domain, user, admin_role)

    for name in settings.roles:
        if conn.identity.find_role(name) is None:
            changes.append(f"create role {name}")
            if apply:
                conn.identity.create_role(name=name)
    return changes


def main(argv, environ):
    if len(argv) != 2 or argv[1] not in ("check", "apply"):
        print(__doc__, file=sys.stderr)
        return 2
    settings = Settings(environ)
    import openstack  # pylint: disable=import-outside-toplevel,import-error
    from keystoneauth1 import exceptions as ks_exc  # pylint: disable=import-outside-toplevel,import-error
    from keystoneauth1 import session  # pylint: disable=import-outside-toplevel,import-error
    from keystoneauth1.identity import v3  # pylint: disable=import-outside-toplevel,import-error

    conn = openstack.connect()  # the cloud administrator, from OS_* variables

    def authenticates(domain_id):
        """True when Keystone gives the domain administrator an unscoped token
        (keystoneauth alone: the OS_* variables must not scope it)."""
        auth = v3.Password(auth_url=environ["OS_AUTH_URL"], username=settings.admin,
                           password=settings.password, user_domain_id=domain_id)
        try:
            session.Session(auth=auth, timeout=30).get_token()
        except ks_exc.http.Unauthorized:
            return False
        return True

    apply = argv[1] == "apply"
    changes = ensure(conn, settings, apply, authenticates)
    for line in changes:
        print(line)
    if not apply:
        return 1 if changes else 0
    if not changes:
        print(f"domain {settings.domain} and user {settings.admin} are in place")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv, os.environ))
