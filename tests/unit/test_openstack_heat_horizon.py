"""Heat and Horizon: the stack-domain script (salt/openstack/files/heat-domain.py)
against a fake Keystone, and the two SLS rendered by Salt's real loader
(masterless) with the lab's site pillar and fake secrets: heat.conf's stack
domain and trustee, the domain kept from the first controller only with its
credentials in the environment, Horizon's local_settings.py (valid Python:
memcached sessions, one SECRET_KEY, the VIP), Debian's cache snippet
neutralised and Apache on the management address only."""

import functools
import importlib.util
import io
import sys
import types
from contextlib import redirect_stdout
from unittest.mock import patch

import pytest

from .sls import (SALT, minion_loaders, minion_opts, secret_value, secrets_of, site_pillar,
                  state_args, state_function)

SCRIPT = SALT / "openstack" / "files" / "heat-domain.py"
ADDRESSES = {"ctl1": "10.77.0.11", "ctl2": "10.77.0.12"}
VIP = "10.77.0.10"


def _heat_domain():
    spec = importlib.util.spec_from_file_location("heat_domain", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


heat_domain = _heat_domain()


# --- the stack-domain script against a fake Keystone ----------------------------------------


class Obj(types.SimpleNamespace):
    pass


class FakeIdentity:
    """The few calls of openstacksdk's identity proxy the script makes."""

    def __init__(self, domains=(), users=(), roles=("admin",), assignments=()):
        self.domains = {d.name: d for d in domains}
        self.users = {(u.domain_id, u.name): u for u in users}
        self.roles = {name: Obj(id=f"role-{name}", name=name) for name in roles}
        self.assignments = set(assignments)  # (user id, domain id, role id)
        self.calls = []

    def find_domain(self, name):
        return self.domains.get(name)

    def create_domain(self, **attrs):
        self.calls.append(("create_domain", attrs))
        domain = Obj(id=f"dom-{attrs['name']}", **attrs)
        self.domains[attrs["name"]] = domain
        return domain

    def update_domain(self, domain, **attrs):
        self.calls.append(("update_domain", domain.name, attrs))
        domain.is_enabled = attrs.get("is_enabled", domain.is_enabled)

    def find_user(self, name, domain_id=None):
        return self.users.get((domain_id, name))

    def create_user(self, **attrs):
        self.calls.append(("create_user", attrs))
        user = Obj(id=f"user-{attrs['name']}", **attrs)
        self.users[attrs["domain_id"], attrs["name"]] = user
        return user

    def update_user(self, user, **attrs):
        self.calls.append(("update_user", user.name, attrs))

    def find_role(self, name):
        return self.roles.get(name)

    def create_role(self, **attrs):
        self.calls.append(("create_role", attrs))
        self.roles[attrs["name"]] = Obj(id=f"role-{attrs['name']}", **attrs)

    def role_assignments(self, user_id, scope_domain_id, role_id):
        return [1] if (user_id, scope_domain_id, role_id) in self.assignments else []

    def assign_domain_role_to_user(self, domain, user, role):
        self.calls.append(("assign", domain.id, user.id, role.id))
        self.assignments.add((user.id, domain.id, role.id))


ENV = {
    "HEAT_DOMAIN": "heat",
    "HEAT_DOMAIN_ADMIN": "heat_domain_admin",
    "HEAT_DOMAIN_ADMIN_PASSWORD": "domain-admin-S3cret",
    "HEAT_ROLES": "heat_stack_owner,heat_stack_user",
    "OS_AUTH_URL": "https://10.77.0.10:5000/v3",
}


def settings():
    return heat_domain.Settings(ENV)


def complete_keystone():
    domain = Obj(id="dom-heat", name="heat", is_enabled=True)
    user = Obj(id="user-hda", name="heat_domain_admin", domain_id="dom-heat", is_enabled=True)
    identity = FakeIdentity(domains=[domain], users=[user],
                            roles=("admin", "heat_stack_owner", "heat_stack_user"),
                            assignments=[("user-hda", "dom-heat", "role-admin")])
    return identity


def test_an_empty_keystone_gets_the_domain_its_admin_the_grant_and_the_roles():
    identity = FakeIdentity()
    changes = heat_domain.ensure(Obj(identity=identity), settings(), True, lambda _: True)
    assert changes == [
        "create domain heat",
        "create user heat_domain_admin in domain heat",
        "grant heat_domain_admin admin on domain heat",
        "create role heat_stack_owner",
        "create role heat_stack_user",
    ]
    user = identity.users["dom-heat", "heat_domain_admin"]
    assert user.password == ENV["HEAT_DOMAIN_ADMIN_PASSWORD"] and user.is_enabled
    assert ("user-heat_domain_admin", "dom-heat", "role-admin") in identity.assignments
    # a second run finds everything in place
    again = heat_domain.ensure(Obj(identity=identity), settings(), True, lambda _: True)
    assert again == []


def test_check_mode_reports_and_changes_nothing():
    identity = FakeIdentity()
    changes = heat_domain.ensure(Obj(identity=identity), settings(), False, lambda _: True)
    assert "create domain heat" in changes and "create role heat_stack_user" in changes
    assert identity.calls == []


def test_nothing_to_do_when_everything_is_in_place():
    identity = complete_keystone()
    assert heat_domain.ensure(Obj(identity=identity), settings(), True, lambda _: True) == []
    assert identity.calls == []


def test_a_refused_password_is_set_again():
    identity = complete_keystone()
    asked = []
    changes = heat_domain.ensure(Obj(identity=identity), settings(), True,
                                 lambda domain_id: asked.append(domain_id) or False)
    assert asked == ["dom-heat"]
    assert changes == ["set the password of user heat_domain_admin"]
    assert identity.calls == [("update_user", "heat_domain_admin",
                               {"password": ENV["HEAT_DOMAIN_ADMIN_PASSWORD"]})]


def test_a_disabled_domain_or_user_is_enabled():
    identity = complete_keystone()
    identity.domains["heat"].is_enabled = False
    identity.users["dom-heat", "heat_domain_admin"].is_enabled = False
    changes = heat_domain.ensure(Obj(identity=identity), settings(), True, lambda _: True)
    assert changes == ["enable domain heat", "enable user heat_domain_admin"]


def test_a_keystone_without_the_admin_role_is_an_error():
    identity = FakeIdentity(roles=())
    with pytest.raises(SystemExit, match="no role admin"):
        heat_domain.ensure(Obj(identity=identity), settings(), False, lambda _: True)


def test_a_missing_variable_is_named():
    env = dict(ENV)
    del env["HEAT_DOMAIN_ADMIN_PASSWORD"]
    with pytest.raises(SystemExit, match="HEAT_DOMAIN_ADMIN_PASSWORD is not set"):
        heat_domain.Settings(env)


def test_main_wants_check_or_apply():
    assert heat_domain.main(["heat-domain"], ENV) == 2
    assert heat_domain.main(["heat-domain", "delete"], ENV) == 2


def _fake_sdk(identity, accepted=True):
    """openstack and keystoneauth1 modules standing in for the real ones."""
    unauthorized = type("Unauthorized", (Exception,), {})
    exceptions = types.ModuleType("keystoneauth1.exceptions")
    exceptions.http = Obj(Unauthorized=unauthorized)
    exceptions.ClientException = Exception

    class Session:
        def __init__(self, auth, timeout):
            self.auth = auth

        def get_token(self):
            if not accepted:
                raise unauthorized()
            return "token"

    session = types.ModuleType("keystoneauth1.session")
    session.Session = Session
    v3 = types.ModuleType("keystoneauth1.identity.v3")
    v3.Password = lambda **kwargs: kwargs
    identity_pkg = types.ModuleType("keystoneauth1.identity")
    identity_pkg.v3 = v3
    keystoneauth1 = types.ModuleType("keystoneauth1")
    keystoneauth1.exceptions, keystoneauth1.session = exceptions, session
    keystoneauth1.identity = identity_pkg
    openstack = types.ModuleType("openstack")
    openstack.connect = lambda: Obj(identity=identity)
    return {"openstack": openstack, "keystoneauth1": keystoneauth1,
            "keystoneauth1.exceptions": exceptions, "keystoneauth1.session": session,
            "keystoneauth1.identity": identity_pkg, "keystoneauth1.identity.v3": v3}


@pytest.mark.parametrize("accepted", [True, False])
def test_main_exit_codes_and_output_never_show_the_password(accepted):
    identity = complete_keystone()
    out = io.StringIO()
    with patch.dict(sys.modules, _fake_sdk(identity, accepted)), redirect_stdout(out):
        check = heat_domain.main(["heat-domain", "check"], ENV)
        applied = heat_domain.main(["heat-domain", "apply"], ENV)
    assert check == (0 if accepted else 1)
    assert applied == 0
    assert ENV["HEAT_DOMAIN_ADMIN_PASSWORD"] not in out.getvalue()
    if not accepted:
        assert "set the password of user heat_domain_admin" in out.getvalue()


# --- the SLS, rendered -------------------------------------------------------------------------


def _opts(tmp_path, minion_id):
    pillar = site_pillar("lab")
    return minion_opts(tmp_path / minion_id, minion_id, {**pillar, "secrets": secrets_of(pillar, minion_id)})


def _grains(opts):
    return {"fqdn": f"{opts['id']}.lab.example", "host": opts["id"]}


@pytest.fixture(scope="module")
def minions(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("heat-horizon-minions")
    with minion_loaders(grains=_grains) as loaders:

        def get(minion_id):
            return loaders(minion_id, lambda: _opts(tmp, minion_id))

        yield get


@pytest.fixture(scope="module")
def rendered(minions):
    @functools.cache
    def get(minion_id, sls):
        high = minions(minion_id).modules.state.show_sls(sls)
        assert isinstance(high, dict), high
        return high

    return get


def test_heat_conf_names_the_stack_domain_the_trustee_and_keystone(minions):
    conf = minions("ctl1").modules.openstack.config("heat", "/etc/heat/heat.conf")
    default = conf["DEFAULT"]
    assert default["stack_user_domain_name"] == "heat"
    assert default["stack_domain_admin"] == "heat_domain_admin"
    assert default["stack_domain_admin_password"] == secret_value("heat_domain_admin_password")
    assert default["num_engine_workers"] in (1, 2)
    assert conf["trustee"] == {
        "auth_type": "password", "auth_url": f"https://{VIP}:5000", "username": "heat",
        "password": secret_value("heat_keystone_password"), "user_domain_name": "Default"}
    assert conf["clients_keystone"]["auth_uri"] == f"https://{VIP}:5000"
    assert conf["database"]["connection"].startswith("mysql+pymysql://heat:")
    assert conf["keystone_authtoken"]["username"] == "heat"
    assert "transport_url" in default


def test_heat_has_two_keystone_services_and_two_apis(minions):
    svc = minions("ctl1").modules.openstack.service("heat")
    assert svc["identity"]["type"] == "orchestration"
    assert [(a["name"], a["type"], a["api"]) for a in svc["identity"]["also"]] == [
        ("heat-cfn", "cloudformation", "heat-cfn")]
    apis = minions("ctl1").modules.openstack.apis()
    assert apis["heat"]["port"] == 8004 and apis["heat-cfn"]["port"] == 8000
    assert apis["horizon"] == {"port": 443, "backend_port": 80, "redirect_from": 80,
                               "check": "GET /horizon/auth/login/", "service": "horizon",
                               "tls": True}


def test_the_stack_domain_is_kept_from_the_first_controller_only(rendered):
    high = rendered("ctl1", "openstack.heat")
    state = high["openstack-heat-domain-present"]
    assert state_function(state) == "cmd.run"
    args = state_args(state)
    script = state_args(high["openstack-heat-domain-script"])["name"]
    assert args["name"].endswith(f"{script} apply")
    assert args["unless"].endswith(f"{script} check")
    assert args["output_loglevel"] == "quiet"
    env = args["env"]
    assert env["HEAT_DOMAIN"] == "heat" and env["HEAT_DOMAIN_ADMIN"] == "heat_domain_admin"
    assert env["HEAT_DOMAIN_ADMIN_PASSWORD"] == secret_value("heat_domain_admin_password")
    assert env["OS_PASSWORD"] == secret_value("keystone_admin_password")
    assert env["OS_AUTH_URL"] == f"https://{VIP}:5000/v3"
    assert env["HEAT_ROLES"].split(",") == ["heat_stack_owner", "heat_stack_user"]
    # the passwords go through the environment, never the command line
    assert "S3cret" not in args["name"] + args["unless"]
    assert {"openstack": "openstack-heat-identity-registered"} in args["require"]
    assert "openstack-heat-domain-present" not in rendered("ctl2", "openstack.heat")


@pytest.mark.parametrize("node", ["ctl1", "ctl2"])
def test_heat_units_run_on_every_controller(rendered, node):
    high = rendered(node, "openstack.heat")
    for unit in ("heat-api", "heat-api-cfn", "heat-engine"):
        assert state_function(high[f"openstack-heat-unit-{unit}-running"]) == "service.running"


def _local_settings(minions, high):
    state = high["openstack-horizon-local-settings"]
    args = state_args(state, "file")
    source = SALT / args["source"].removeprefix("salt://")
    text = minions("ctl1").modules.file.apply_template_on_contents(
        source.read_text(), template="jinja", context=args["context"], defaults={},
        saltenv="base")
    namespace = {"__file__": "/etc/openstack-dashboard/local_settings.py"}
    exec(compile(text, "local_settings.py", "exec"), namespace)  # pylint: disable=exec-used
    return args, namespace


@pytest.mark.parametrize("node", ["ctl1", "ctl2"])
def test_local_settings_is_python_with_shared_sessions_and_key(minions, rendered, node):
    high = rendered(node, "openstack.horizon")
    args, settings_ = _local_settings(minions, high)
    assert (args["user"], args["group"], args["mode"]) == ("root", "www-data", "0640")
    assert args["show_changes"] is False
    assert settings_["SECRET_KEY"] == secret_value("horizon_secret_key")
    assert settings_["SESSION_ENGINE"] == "django.contrib.sessions.backends.cache"
    cache = settings_["CACHES"]["default"]
    assert cache["BACKEND"].endswith("PyMemcacheCache")
    assert cache["LOCATION"] == [f"{a}:11211" for a in ADDRESSES.values()]
    assert settings_["OPENSTACK_KEYSTONE_URL"] == f"https://{VIP}:5000/v3"
    assert {VIP, ADDRESSES[node], f"{node}.lab.example"} <= set(settings_["ALLOWED_HOSTS"])
    assert "*" not in settings_["ALLOWED_HOSTS"]


@pytest.mark.parametrize("node", ["ctl1", "ctl2"])
def test_apache_listens_on_the_management_address_and_reloads(rendered, node):
    high = rendered(node, "openstack.horizon")
    ports = state_args(high["openstack-horizon-apache-listen"], "file")
    assert ports["name"] == "/etc/apache2/ports.conf"
    listens = [line.split()[1] for line in ports["contents"].splitlines()
               if line.startswith("Listen")]
    assert listens == [f"{ADDRESSES[node]}:80"]
    snippet = state_args(high["openstack-horizon-debian-cache-snippet"], "file")
    assert snippet["name"].endswith("local_settings.d/_0006_debian_cache.py")
    assert "CACHES" not in "".join(
        line for line in snippet["contents"].splitlines() if not line.startswith("#"))
    assert state_function(high["openstack-horizon-apache-default-ssl-disabled"]) == "file.absent"
    unit = high["openstack-horizon-unit-apache2-running"]
    assert state_function(unit) == "service.running"
    args = state_args(unit)
    assert args["name"] == "apache2" and args["reload"] is True
    watched = {sid for sid, state in high.items()
               if {"service": "openstack-horizon-unit-apache2-running"}
               in state_args(state).get("watch_in", [])}
    assert {"openstack-horizon-local-settings", "openstack-horizon-debian-cache-snippet",
            "openstack-horizon-apache-listen"} <= watched


def test_the_catalog_declares_the_new_secrets(minions):
    module = minions("ctl1").modules.openstack
    names = module.secret_names(module.catalog())
    assert {"heat_domain_admin_password", "horizon_secret_key"} <= set(names)
