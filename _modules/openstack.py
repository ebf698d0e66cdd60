"""
The OpenStack services of the site, as data: the catalog and what it implies.

``salt/openstack/catalog.yaml`` describes every service once (packages,
config files, database, messaging, Keystone identity, APIs behind HAProxy,
units, db sync); pillar ``openstack:`` overrides any key of it (deep merge).
This module turns an entry into what the one service pattern
(``salt/openstack/service.jinja``) needs, so the SLS stays thin:

- ``catalog``/``service``: the merged data, checked;
- ``apis``: the HAProxy frontends of every service;
- ``config``/``ini``: a config file's sections, with the common sections a
  service's features imply (database URL, transport URL and quorum queues,
  ``keystone_authtoken``) and the ``{placeholders}`` filled;
- ``secret_names``: the secrets the catalog needs (the lab generates them;
  the inventory checks them).

The pure helpers need no loader (the lab imports this file by path).
"""

import copy
import io
import urllib.parse

import yaml
from salt.exceptions import SaltInvocationError

__virtualname__ = "openstack"

# roles whose nodes run a RabbitMQ member (salt/roles.yaml: rabbitmq)
RABBITMQ_ROLES = ("controller", "witness")
SERVICE_KEYS = {
    "group", "pkgs", "database", "messaging", "identity", "apis", "config",
    "units", "db_sync", "uwsgi", "notifications", "roles", "settings", "secrets",
    "start_after_identity",
}
# the roles whose nodes run a service unless its entry says `roles`
DEFAULT_ROLES = ("controller",)


def __virtual__():
    return __virtualname__


# --- pure helpers ----------------------------------------------------------------


def merge(base, override):
    """Deep-merge ``override`` into a copy of ``base`` (mappings merge, the rest replaces)."""
    result = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def build_catalog(read, pillar_override=None):
    """
    The merged catalog from the state tree: ``read(path)`` returns the text
    of a file under ``salt/`` (``openstack/defaults.yaml``,
    ``openstack/catalog.yaml``, ``openstack/services/<name>.yaml`` for each
    name of ``order``), then pillar ``openstack:`` over it. ``services`` keeps
    the order of ``order`` (plus any service only the pillar adds).

    CLI Example:

    .. code-block:: bash

        salt-call openstack.catalog
    """
    data = merge(yaml.safe_load(read("openstack/defaults.yaml")) or {},
                 yaml.safe_load(read("openstack/catalog.yaml")) or {})
    services = {}
    for name in data.get("order") or []:
        services[name] = yaml.safe_load(read(f"openstack/services/{name}.yaml")) or {}
    data["services"] = services
    return merge(data, pillar_override or {})


def check_catalog(catalog):
    """
    The problems of a merged catalog, one line each naming the pillar key.

    CLI Example:

    .. code-block:: bash

        salt-call openstack.check_catalog "$(cat catalog.json)"
    """
    problems = []
    services = catalog.get("services")
    if not isinstance(services, dict):
        return ["openstack:services: expected a mapping of service names to their data"]
    ports = {}
    for name, svc in sorted(services.items()):
        where = f"openstack:services:{name}"
        if not isinstance(svc, dict):
            problems.append(f"{where}: expected a mapping, got {type(svc).__name__}")
            continue
        unknown = sorted(set(svc) - SERVICE_KEYS)
        if unknown:
            problems.append(
                f"{where}: unknown key(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(SERVICE_KEYS))}"
            )
        if not svc.get("group"):
            problems.append(f"{where}:group: missing; the system group owning its config files")
        for api, spec in sorted((svc.get("apis") or {}).items()):
            port = (spec or {}).get("port")
            if not isinstance(port, int) or not 0 < port < 65536:
                problems.append(f"{where}:apis:{api}:port: expected a TCP port, got {port!r}")
            elif port in ports:
                problems.append(
                    f"{where}:apis:{api}:port: {port} is already the port of {ports[port]}"
                )
            else:
                ports[port] = f"openstack:services:{name}:apis:{api}"
        for key in svc.get("pkgs") or []:
            if key not in (catalog.get("pkgs") or {}):
                problems.append(f"{where}:pkgs: '{key}' is not a key of openstack:pkgs")
    return problems


def secret_names(catalog):
    """
    The ``secrets`` pillar keys the catalog needs, sorted.

    ``<service>_db_password`` per database, ``<service>_rabbit_password`` per
    messaging user, ``<service>_keystone_password`` per Keystone user, plus
    ``keystone_admin_password`` and ``galera_admin_password`` (the account
    creating the databases through the VIP), and what a service's
    ``secrets`` list names (e.g. a shared metadata secret).

    CLI Example:

    .. code-block:: bash

        salt-call openstack.secret_names "$(salt-call --out=json openstack.catalog)"
    """
    names = {"keystone_admin_password", "galera_admin_password"}
    for name, svc in (catalog.get("services") or {}).items():
        svc = svc or {}
        if databases(svc):
            names.add(f"{name}_db_password")
        if svc.get("messaging") or svc.get("notifications") is True:
            names.add(f"{name}_rabbit_password")
        if svc.get("identity") is not None and name != "keystone":
            names.add(f"{name}_keystone_password")
        names.update(svc.get("secrets") or [])
    return sorted(names)


def database_url(user, password, host, database):
    """
    The SQLAlchemy URL of ``database`` at ``host`` (PyMySQL, utf8).

    CLI Example:

    .. code-block:: bash

        salt-call openstack.database_url nova secret 10.0.0.10 nova
    """
    return (
        f"mysql+pymysql://{user}:{urllib.parse.quote(str(password), safe='')}"
        f"@{host}/{database}?charset=utf8"
    )


def transport_url(user, password, hosts, port=5672, vhost="/"):
    """
    The oslo.messaging URL listing every RabbitMQ member.

    CLI Example:

    .. code-block:: bash

        salt-call openstack.transport_url nova secret '[ctl1, ctl2, nas]'
    """
    secret = urllib.parse.quote(str(password), safe="")
    members = ",".join(f"{user}:{secret}@{host}:{port}" for host in hosts)
    path = "" if vhost == "/" else urllib.parse.quote(vhost.lstrip("/"), safe="")
    return f"rabbit://{members}/{path}"


def render_ini(sections):
    """
    INI text of ``{section: {option: value}}``; booleans as true/false,
    lists joined with commas, DEFAULT first, options sorted.

    CLI Example:

    .. code-block:: bash

        salt-call openstack.render_ini '{DEFAULT: {debug: false}}'
    """
    out = io.StringIO()
    out.write("# Managed by Salt (openstack): local changes are overwritten.\n")
    order = sorted(sections, key=lambda s: (s != "DEFAULT", s))
    for section in order:
        out.write(f"\n[{section}]\n")
        for option, value in sorted((sections[section] or {}).items()):
            out.write(f"{option} = {_ini_value(value)}\n")
    return out.getvalue()


def _ini_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_ini_value(v) for v in value)
    return "" if value is None else str(value)


class _Secrets(dict):
    """A mapping that names the missing secret and how to add it."""

    def __missing__(self, key):
        raise SaltInvocationError(
            f"secrets:{key}: missing; add `{key}: <random value>` to the secrets pillar "
            f"(on the master, `salt-run secrets.init` adds every missing secret, encrypted)"
        )


def fill(value, context):
    """
    ``value`` with its ``{placeholders}`` filled from ``context``
    (recursively in mappings and lists); ``{{``/``}}`` are literal braces.

    CLI Example:

    .. code-block:: bash

        salt-call openstack.fill '{vip}:5000' '{vip: 10.0.0.10}'
    """
    if isinstance(value, str):
        try:
            return value.format_map(context)
        except KeyError as exc:
            raise SaltInvocationError(
                f"unknown placeholder {{{exc.args[0]}}} in {value!r}; known: "
                f"{', '.join(sorted(context))}"
            ) from None
    if isinstance(value, dict):
        return {k: fill(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, context) for v in value]
    return value


def databases(svc):
    """
    The databases of a service entry: ``database`` is one mapping or a list
    of them (``{name, section, option, file}``); all share the service's user
    and password.

    CLI Example:

    .. code-block:: bash

        salt-call openstack.databases '{database: [{name: nova}, {name: nova_api}]}'
    """
    db = svc.get("database")
    if not db:
        return []
    return list(db) if isinstance(db, list) else [db]


def units_of(svc, roles):
    """
    The units a service runs on a node with ``roles``: ``units`` is a list
    (every node running the service) or a mapping role -> list.

    CLI Example:

    .. code-block:: bash

        salt-call openstack.units_of '{units: {compute: [nova-compute]}}' '[compute]'
    """
    units = svc.get("units") or []
    if isinstance(units, dict):
        found = []
        for role, names in units.items():
            if role in roles:
                found.extend(u for u in names or [] if u not in found)
        return found
    return list(units)


def implied_sections(name, svc, context):
    """
    The sections a service's features imply for its main config file.

    CLI Example:

    .. code-block:: bash

        salt-call openstack.implied_sections glance '{database: {name: glance}}' '{...}'
    """
    sections = {}
    for db in databases(svc):
        if db.get("file"):
            continue  # a database URL for another file: its config names {database_urls[...]}
        section = sections.setdefault(db.get("section", "database"), {})
        section[db.get("option", "connection")] = context["database_urls"][db["name"]]
        if db.get("section", "database") == "database":
            # below HAProxy's idle timeout (10 min): no connection it cut is reused
            section["connection_recycle_time"] = 300
    if svc.get("messaging") or svc.get("notifications"):
        # quorum queues: declared by oslo.messaging (a policy cannot); a
        # notifier declares its queues too, and a classic declaration of a
        # queue that exists as a quorum one is refused
        sections["oslo_messaging_rabbit"] = {
            "rabbit_quorum_queue": True,
            "amqp_durable_queues": True,
            "heartbeat_in_pthread": False,
        }
    if svc.get("messaging"):
        sections.setdefault("DEFAULT", {})["transport_url"] = context["transport_url"]
    if svc.get("notifications"):
        sections["oslo_messaging_notifications"] = {
            "driver": "messagingv2",
            "transport_url": context["transport_url"],
        }
    if svc.get("identity") is not None and name != "keystone":
        sections["keystone_authtoken"] = {
            "www_authenticate_uri": context["auth_url"],
            "auth_url": context["auth_url"],
            "memcached_servers": context["memcached"],
            "auth_type": "password",
            "project_domain_name": "Default",
            "user_domain_name": "Default",
            "project_name": "service",
            "username": name,
            "password": context["password"],
            "region_name": context["region"],
            "service_token_roles_required": True,
        }
    if svc.get("apis"):
        # behind HAProxy, which ends TLS: the URLs an API writes in its answers
        # (version documents, links) take the client's scheme from
        # X-Forwarded-Proto (oslo.middleware's http_proxy_to_wsgi)
        sections.setdefault("oslo_middleware", {})["enable_proxy_headers_parsing"] = True
    return sections


# --- through the loader ------------------------------------------------------------


def _read(path):
    text = __salt__["cp.get_file_str"](f"salt://{path}")
    if not text:
        raise SaltInvocationError(f"salt://{path} is not on the salt fileserver")
    return text


def catalog():
    """
    The service catalog: ``openstack/catalog.yaml`` with the package lists of
    ``openstack/defaults.yaml``, merged with pillar ``openstack:``. Raises
    naming the key when the result is not valid.

    CLI Example:

    .. code-block:: bash

        salt-call openstack.catalog
    """
    if "openstack.catalog" not in __context__:
        data = build_catalog(_read, __pillar__.get("openstack") or {})
        problems = check_catalog(data)
        if problems:
            raise SaltInvocationError("\n".join(problems))
        __context__["openstack.catalog"] = data
    return copy.deepcopy(__context__["openstack.catalog"])


def service(name):
    """
    One service of the catalog.

    CLI Example:

    .. code-block:: bash

        salt-call openstack.service keystone
    """
    services = catalog()["services"]
    if name not in services:
        raise SaltInvocationError(
            f"openstack:services:{name}: no such service; known: {', '.join(sorted(services))}"
        )
    return services[name]


def packages(name):
    """
    The Debian packages of service ``name`` (with the common ones).

    CLI Example:

    .. code-block:: bash

        salt-call openstack.packages nova
    """
    data = catalog()
    pkgs = list(data["pkgs"].get("common") or [])
    for key in data["services"][name].get("pkgs") or []:
        pkgs.extend(p for p in data["pkgs"][key] if p not in pkgs)
    return pkgs


def main_package(name):
    """
    The package whose version stands for service ``name`` (its first one).

    CLI Example:

    .. code-block:: bash

        salt-call openstack.main_package nova
    """
    data = catalog()
    keys = data["services"][name].get("pkgs") or []
    if not keys or not data["pkgs"].get(keys[0]):
        raise SaltInvocationError(f"openstack:services:{name}:pkgs: names no package list")
    return data["pkgs"][keys[0]][0]


def units(name):
    """
    The units of service ``name`` on this node (by its roles).

    CLI Example:

    .. code-block:: bash

        salt-call openstack.units nova
    """
    return units_of(service(name), __salt__["inventory.roles"]())


def services(roles=None):
    """
    The services this node runs (those whose ``roles``, default controller,
    meet this node's roles in the inventory), in catalog order; with
    ``roles``, for those roles instead.

    CLI Example:

    .. code-block:: bash

        salt-call openstack.services
    """
    mine = set(roles if roles is not None else __salt__["inventory.roles"]())
    return [name for name, svc in catalog()["services"].items()
            if mine & set(svc.get("roles") or DEFAULT_ROLES)]


def all_packages(roles=None):
    """
    Every package of the services this node runs (see ``services``).

    CLI Example:

    .. code-block:: bash

        salt-call openstack.all_packages
    """
    pkgs = []
    for name in services(roles):
        pkgs.extend(p for p in packages(name) if p not in pkgs)
    return pkgs


def endpoint_scheme(data):
    """
    The scheme of every API frontend of catalog ``data``: https (the
    default: TLS on the VIP) or http; anything else raises, naming the key.

    CLI Example:

    .. code-block:: bash

        salt-call openstack.endpoint_scheme '{"endpoint_scheme": "https"}'
    """
    scheme = data.get("endpoint_scheme", "https")
    if scheme not in ("https", "http"):
        raise SaltInvocationError(
            f"openstack:endpoint_scheme: {scheme!r} is not https (TLS on the VIP, the default) "
            "or http"
        )
    return scheme


def apis():
    """
    Every API frontend of the catalog (``frontends``; HAProxy reads it).

    CLI Example:

    .. code-block:: bash

        salt-call openstack.apis
    """
    return frontends(catalog())


def frontends(data):
    """
    Every API frontend of catalog ``data``: ``{api: {port, backend_port,
    check, service, tls, redirect_from}}``: ``tls`` when the catalog's
    ``endpoint_scheme`` is https; ``redirect_from``: a port answering with a
    redirect to it (Horizon's 80), or None. Pure (the master's runners call
    it through ``_utils/catalog.py``).

    CLI Example:

    .. code-block:: bash

        salt-call openstack.frontends "$(salt-call --out=json openstack.catalog | jq .local)"
    """
    tls = endpoint_scheme(data) == "https"
    found = {}
    for name, svc in data["services"].items():
        for api, spec in (svc.get("apis") or {}).items():
            found[api] = {"port": spec["port"], "check": spec.get("check", "GET /"),
                          "service": name, "tls": tls,
                          "backend_port": spec.get("backend_port", spec["port"]),
                          "redirect_from": spec.get("redirect_from")}
    return found


def _pillar_secrets():
    return _Secrets(__pillar__.get("secrets") or {})


def context(name):
    """
    The values a service's config may name as ``{placeholders}``.

    CLI Example:

    .. code-block:: bash

        salt-call openstack.context glance
    """
    data = catalog()
    svc = data["services"][name]
    site = __pillar__.get("site") or {}
    nodes = site.get("nodes") or {}
    vip = __salt__["inventory.vip"]("api")
    me = __salt__["inventory.node"]()
    secrets = _pillar_secrets()
    endpoint_host = fill(data.get("endpoint_host", "{vip}"), {"vip": vip["address"],
                                                               "fqdn": vip["fqdn"]})
    scheme = endpoint_scheme(data)
    memcached_port = data.get("memcached_port", 11211)
    memcached = ",".join(
        f"{nodes[n]['address']}:{memcached_port}" for n in __salt__["inventory.controllers"]()
    )
    ctx = {
        "vip": vip["address"],
        "fqdn": vip["fqdn"],
        "endpoint_host": endpoint_host,
        "me": me.get("address", ""),
        "id": __opts__["id"],
        "region": data.get("region", "RegionOne"),
        "memcached": memcached,
        "endpoint_scheme": scheme,
        "endpoint": f"{scheme}://{endpoint_host}",
        "auth_url": f"{scheme}://{endpoint_host}:5000",
        "secrets": secrets,
        "name": name,
    }
    ctx["database_urls"] = {
        db["name"]: database_url(name, secrets[f"{name}_db_password"], vip["address"], db["name"])
        for db in databases(svc)
    }
    if ctx["database_urls"]:
        ctx["database_url"] = next(iter(ctx["database_urls"].values()))
    if svc.get("messaging") or svc.get("notifications"):
        user = name if svc.get("messaging") or svc["notifications"] is True else svc["notifications"]
        hosts = __salt__["inventory.nodes_with_any_role"](list(RABBITMQ_ROLES))
        ctx["transport_url"] = transport_url(user, secrets[f"{user}_rabbit_password"], hosts)
    if svc.get("identity") is not None and name != "keystone":
        ctx["password"] = secrets[f"{name}_keystone_password"]
    return ctx


def config(name, path):
    """
    The sections of config file ``path`` of service ``name``: the catalog's,
    over what its features imply (the main file: the first one listed).

    CLI Example:

    .. code-block:: bash

        salt-call openstack.config keystone /etc/keystone/keystone.conf
    """
    svc = service(name)
    files = svc.get("config") or {}
    if path not in files:
        raise SaltInvocationError(
            f"openstack:services:{name}:config: has no file {path}; it has {', '.join(files)}"
        )
    ctx = context(name)
    sections = implied_sections(name, svc, ctx) if path == next(iter(files)) else {}
    return merge(sections, fill(files[path] or {}, ctx))


def ini(name, path):
    """
    The text of config file ``path`` of service ``name`` (INI).

    CLI Example:

    .. code-block:: bash

        salt-call openstack.ini keystone /etc/keystone/keystone.conf
    """
    return render_ini(config(name, path))
