"""Unit tests of _modules/openstack_identity.py against a fake Keystone.

openstacksdk and keystoneauth1 are not in the test environment: small
stand-ins of the parts the module uses (``openstack.connect``, the identity
proxy, the exceptions, and openstacksdk wrapping keystoneauth's 401 in an
``SDKException`` as ``Connection.authorize`` does) are put in ``sys.modules``
while the module is imported."""

import importlib.util
import itertools
import pathlib
import sys
import types
from unittest.mock import patch

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

REPO = pathlib.Path(__file__).resolve().parents[2]
VIP = "10.77.0.10"
AUTH_URL = f"http://{VIP}:5000"
ADMIN_PASSWORD = "keystone-admin-secret"
GLANCE_PASSWORD = "glance-keystone-secret"
GLANCE_URL = f"http://{VIP}:9292"
REGION = "RegionOne"


# --- the stand-ins of openstacksdk and keystoneauth1 ----------------------------------------


class ClientException(Exception):
    """keystoneauth1.exceptions.ClientException"""


class Unauthorized(ClientException):
    """keystoneauth1.exceptions.http.Unauthorized (HTTP 401)"""


class ConnectFailure(ClientException):
    """keystoneauth1.exceptions.connection.ConnectFailure"""


class SDKException(Exception):
    """openstack.exceptions.SDKException"""


def _fake_modules():
    ks = types.ModuleType("keystoneauth1")
    ks_exc = types.ModuleType("keystoneauth1.exceptions")
    ks_http = types.ModuleType("keystoneauth1.exceptions.http")
    ks_exc.ClientException = ClientException
    ks_exc.ConnectFailure = ConnectFailure
    ks_exc.Unauthorized = Unauthorized
    ks_http.Unauthorized = Unauthorized
    ks_exc.http = ks_http
    ks.exceptions = ks_exc
    sdk = types.ModuleType("openstack")
    sdk_exc = types.ModuleType("openstack.exceptions")
    sdk_exc.SDKException = SDKException
    sdk.exceptions = sdk_exc
    sdk.connect = None  # set by each test's Keystone
    return {"keystoneauth1": ks, "keystoneauth1.exceptions": ks_exc,
            "keystoneauth1.exceptions.http": ks_http, "openstack": sdk,
            "openstack.exceptions": sdk_exc}


def _load():
    name = "ext_modules_openstack_identity_with_fake_sdk"
    spec = importlib.util.spec_from_file_location(
        name, REPO / "_modules" / "openstack_identity.py")
    module = importlib.util.module_from_spec(spec)
    with patch.dict(sys.modules, _fake_modules()):
        spec.loader.exec_module(module)
    return module


identity = _load()


class Obj(types.SimpleNamespace):
    pass


class FakeKeystone:
    """Keystone's identity API as openstacksdk shows it, and every write made to it."""

    def __init__(self):
        self.ids = (f"id{n}" for n in itertools.count(1))
        self.projects = {"admin": self._obj(name="admin")}
        # Zed's `keystone-manage bootstrap` makes role admin (and member, reader), not service
        self.roles = {"admin": self._obj(name="admin")}
        self.users = {"admin": self._obj(name="admin", password=ADMIN_PASSWORD)}
        self.assignments = set()
        self.services = []
        self.endpoints = []
        self.writes = []
        self.connects = []
        self.down = False
        self.fail_on = None  # the name of an identity call that raises SDKException

    def _obj(self, **attrs):
        return Obj(id=next(self.ids), **attrs)

    def connect(self, **kwargs):
        self.connects.append(kwargs)
        return FakeConnection(self, kwargs)

    # a complete registration of glance, as register leaves it
    def registered(self, name="glance", password=GLANCE_PASSWORD, url=GLANCE_URL):
        project = self.projects.setdefault("service", self._obj(name="service"))
        self.roles.setdefault("service", self._obj(name="service"))
        user = self.users[name] = self._obj(name=name, password=password)
        for role in ("admin", "service"):
            self.assignments.add((user.id, project.id, self.roles[role].id))
        service = self._obj(name=name, type="image")
        self.services.append(service)
        for interface in ("public", "internal", "admin"):
            self.add_endpoint(service, interface, url)
        return service

    def add_endpoint(self, service, interface, url, region=REGION):
        endpoint = self._obj(service_id=service.id, interface=interface, url=url,
                             region_id=region)
        self.endpoints.append(endpoint)
        return endpoint


class FakeConnection:
    def __init__(self, keystone, kwargs):
        self.keystone, self.kwargs = keystone, kwargs
        self.identity = FakeIdentity(keystone)

    def authorize(self):
        # openstacksdk's Connection.authorize: keystoneauth errors become SDKException
        try:
            if self.keystone.down:
                raise ConnectFailure(f"Unable to establish connection to {AUTH_URL}/v3/auth")
            user = self.keystone.users.get(self.kwargs["username"])
            if user is None or user.password != self.kwargs["password"]:
                raise Unauthorized("The request you have made requires authentication. (HTTP 401)")
        except ClientException as exc:
            raise SDKException(exc)  # pylint: disable=raise-missing-from
        return "token"


class FakeIdentity:
    """``conn.identity``: the proxy calls the module makes."""

    def __init__(self, keystone):
        self.ks = keystone

    def __getattribute__(self, name):
        keystone = object.__getattribute__(self, "ks")
        if keystone.fail_on == name:
            raise SDKException(f"{name}: HttpException: 500")
        return object.__getattribute__(self, name)

    def _write(self, *what):
        self.ks.writes.append(what)

    def find_project(self, name, domain_id=None):
        assert domain_id == "default"
        return self.ks.projects.get(name)

    def create_project(self, name, domain_id, description):
        self._write("create_project", name)
        project = self.ks.projects[name] = self.ks._obj(name=name)
        return project

    def find_user(self, name, domain_id=None):
        assert domain_id == "default"
        return self.ks.users.get(name)

    def create_user(self, name, password, domain_id, enabled):
        self._write("create_user", name)
        user = self.ks.users[name] = self.ks._obj(name=name, password=password)
        return user

    def update_user(self, user, password):
        self._write("update_user", user.name)
        user.password = password

    def find_role(self, name):
        return self.ks.roles.get(name)

    def create_role(self, name):
        self._write("create_role", name)
        role = self.ks.roles[name] = self.ks._obj(name=name)
        return role

    def role_assignments(self, user_id, scope_project_id, role_id):
        if (user_id, scope_project_id, role_id) in self.ks.assignments:
            yield Obj(user_id=user_id)

    def assign_project_role_to_user(self, project, user, role):
        self._write("assign", user.name, project.name, role.name)
        self.ks.assignments.add((user.id, project.id, role.id))

    def services(self):
        return iter(list(self.ks.services))

    def create_service(self, name, type, description, is_enabled):  # noqa: A002
        self._write("create_service", name, type)
        service = self.ks._obj(name=name, type=type)
        self.ks.services.append(service)
        return service

    def update_service(self, service, type):  # noqa: A002
        self._write("update_service", service.name, type)
        service.type = type

    def endpoints(self, service_id):
        return iter([e for e in self.ks.endpoints if e.service_id == service_id])

    def create_endpoint(self, service_id, interface, url, region_id):
        self._write("create_endpoint", interface, url, region_id)
        self.ks.endpoints.append(self.ks._obj(service_id=service_id, interface=interface,
                                              url=url, region_id=region_id))

    def update_endpoint(self, endpoint, url, region_id):
        self._write("update_endpoint", endpoint.interface, url, region_id)
        endpoint.url, endpoint.region_id = url, region_id

    def delete_endpoint(self, endpoint):
        self._write("delete_endpoint", endpoint.interface)
        self.ks.endpoints.remove(endpoint)


@pytest.fixture
def keystone():
    fake = FakeKeystone()
    with patch.object(identity.openstack, "connect", fake.connect):
        yield fake


@pytest.fixture
def configure_loader_modules():
    return {
        identity: {
            "__salt__": {
                "openstack.context": lambda name: {"auth_url": AUTH_URL},
                "openstack.catalog": lambda: {"region": REGION},
            },
            "__pillar__": {"secrets": {"keystone_admin_password": ADMIN_PASSWORD}},
            "__opts__": {"test": False},
            "__context__": {},
        }
    }


def _register(**kwargs):
    args = {"service_type": "image", "url": GLANCE_URL, "password": GLANCE_PASSWORD,
            "description": "OpenStack Image"}
    args.update(kwargs)
    ret = identity.register("glance", **args)
    assert set(ret) == {"changed", "changes", "comment"}
    assert GLANCE_PASSWORD not in repr(ret) and ADMIN_PASSWORD not in repr(ret)
    return ret


FRESH_CHANGES = [
    "create project service",
    "create user glance",
    "grant glance admin on project service",
    "create role service",
    "grant glance service on project service",
    "create service glance (image)",
    f"create the public endpoint of glance: {GLANCE_URL}",
    f"create the internal endpoint of glance: {GLANCE_URL}",
    f"create the admin endpoint of glance: {GLANCE_URL}",
]


# --- __virtual__, authenticates ---------------------------------------------------------------


def test_virtual_needs_openstacksdk():
    assert identity.__virtual__() == "openstack_identity"
    with patch.object(identity, "HAS_SDK", False):
        loaded, reason = identity.__virtual__()
    assert loaded is False and "python3-openstacksdk" in reason


def test_auth_url():
    assert identity.auth_url() == f"{AUTH_URL}/v3"


def test_authenticates_the_administrator(keystone):
    assert identity.authenticates() is True
    kwargs = keystone.connects[-1]
    assert kwargs["auth_url"] == f"{AUTH_URL}/v3"
    assert (kwargs["username"], kwargs["password"]) == ("admin", ADMIN_PASSWORD)
    assert kwargs["project_name"] == "admin" and kwargs["project_domain_id"] == "default"
    assert kwargs["user_domain_id"] == "default" and kwargs["region_name"] == REGION


def test_authenticates_a_wrapped_401_is_false(keystone):
    keystone.users["admin"].password = "another"
    assert identity.authenticates() is False
    assert identity.authenticates("nobody", "pw") is False


def test_authenticates_an_unwrapped_401_is_false(keystone, monkeypatch):
    def authorize(self):
        raise Unauthorized("HTTP 401")

    monkeypatch.setattr(FakeConnection, "authorize", authorize)
    assert identity.authenticates() is False


def test_authenticates_unscoped_checks_the_password_only(keystone):
    keystone.users["glance"] = keystone._obj(name="glance", password=GLANCE_PASSWORD)
    assert identity.authenticates("glance", GLANCE_PASSWORD, project=None) is True
    assert "project_name" not in keystone.connects[-1]


def test_authenticates_keystone_down_is_an_error(keystone):
    keystone.down = True
    with pytest.raises(CommandExecutionError, match=f"Keystone at {AUTH_URL}/v3 does not answer"):
        identity.authenticates()


def test_authenticates_without_the_admin_secret(keystone):
    with (
        patch.dict(identity.__pillar__, {"secrets": {}}),
        pytest.raises(SaltInvocationError, match="secrets:keystone_admin_password: missing"),
    ):
        identity.authenticates()


# --- register -------------------------------------------------------------------------------------


def test_register_creates_everything_that_is_absent(keystone):
    ret = _register()
    assert ret["changed"] is True and ret["changes"] == FRESH_CHANGES
    assert ret["comment"] == "; ".join(FRESH_CHANGES)
    assert keystone.writes == [
        ("create_project", "service"),
        ("create_user", "glance"),
        ("assign", "glance", "service", "admin"),
        ("create_role", "service"),
        ("assign", "glance", "service", "service"),
        ("create_service", "glance", "image"),
        ("create_endpoint", "public", GLANCE_URL, REGION),
        ("create_endpoint", "internal", GLANCE_URL, REGION),
        ("create_endpoint", "admin", GLANCE_URL, REGION),
    ]
    assert keystone.users["glance"].password == GLANCE_PASSWORD
    assert {kw["username"] for kw in keystone.connects} == {"admin"}, "the user is new"


def test_register_twice_changes_nothing_the_second_time(keystone):
    _register()
    keystone.writes.clear()
    ret = _register()
    assert ret == {"changed": False, "changes": [],
                   "comment": "glance is registered in Keystone"}
    assert keystone.writes == []


def test_register_nothing_when_all_present(keystone):
    keystone.registered()
    ret = _register()
    assert ret["changes"] == [] and ret["changed"] is False
    assert keystone.writes == []
    assert any(kw["username"] == "glance" and "project_name" not in kw
               for kw in keystone.connects), "the user's password is checked by logging in"


def test_registrations_of_one_run_share_the_admin_login_and_lookups(keystone):
    keystone.registered()
    keystone.registered(name="nova")
    lookups = []

    def counted(name):
        real = getattr(FakeIdentity, name)
        return lambda self, *args, **kwargs: lookups.append(name) or real(self, *args, **kwargs)

    with patch.object(FakeIdentity, "find_project", counted("find_project")), \
            patch.object(FakeIdentity, "find_role", counted("find_role")):
        assert _register()["changes"] == []
        assert identity.register("nova", password=GLANCE_PASSWORD)["changes"] == []
    assert [kw["username"] for kw in keystone.connects].count("admin") == 1
    # the service project and the two roles, looked up once for both services
    assert sorted(lookups) == ["find_project", "find_role", "find_role"]


def test_register_test_mode_changes_nothing(keystone):
    ret = _register(test=True)
    # the user does not exist yet: the grant names "the new user"
    expected = [c.replace("grant glance", "grant the new user") for c in FRESH_CHANGES]
    assert ret["changed"] is False and ret["changes"] == expected
    assert ret["comment"] == "would " + "; ".join(expected)
    assert keystone.writes == []
    assert "glance" not in keystone.users and not keystone.services


def test_register_updates_a_wrong_endpoint_url(keystone):
    keystone.registered(url="http://10.0.0.99:9292")
    ret = _register()
    assert ret["changes"] == [f"set the {i} endpoint of glance to {GLANCE_URL}"
                              for i in ("public", "internal", "admin")]
    assert keystone.writes == [("update_endpoint", i, GLANCE_URL, REGION)
                               for i in ("public", "internal", "admin")]
    assert {e.url for e in keystone.endpoints} == {GLANCE_URL}


def test_register_updates_a_wrong_region(keystone):
    service = keystone.registered()
    keystone.endpoints[1].region_id = "RegionX"
    ret = _register()
    assert ret["changes"] == [f"set the internal endpoint of glance to {GLANCE_URL}"]
    assert [e.region_id for e in keystone.endpoints if e.service_id == service.id] == [REGION] * 3


def test_register_deletes_duplicate_endpoints(keystone):
    service = keystone.registered()
    keystone.add_endpoint(service, "public", "http://old:9292")
    keystone.add_endpoint(service, "admin", GLANCE_URL)
    keystone.add_endpoint(service, "admin", GLANCE_URL)
    ret = _register()
    assert ret["changes"] == ["delete a duplicate public endpoint of glance",
                              "delete a duplicate admin endpoint of glance",
                              "delete a duplicate admin endpoint of glance"]
    assert sorted(e.interface for e in keystone.endpoints) == ["admin", "internal", "public"]
    assert {e.url for e in keystone.endpoints} == {GLANCE_URL}


def test_register_duplicates_in_test_mode_stay(keystone):
    service = keystone.registered()
    keystone.add_endpoint(service, "public", GLANCE_URL)
    ret = _register(test=True)
    assert ret["changes"] == ["delete a duplicate public endpoint of glance"]
    assert len(keystone.endpoints) == 4 and keystone.writes == []


def test_register_creates_a_missing_interface_only(keystone):
    keystone.registered()
    keystone.endpoints = [e for e in keystone.endpoints if e.interface != "admin"]
    ret = _register()
    assert ret["changes"] == [f"create the admin endpoint of glance: {GLANCE_URL}"]


def test_register_sets_a_changed_password(keystone):
    keystone.registered(password="old")
    ret = _register()
    assert ret["changes"] == ["set the password of user glance"]
    assert keystone.writes == [("update_user", "glance")]
    assert keystone.users["glance"].password == GLANCE_PASSWORD


def test_register_changed_password_in_test_mode(keystone):
    keystone.registered(password="old")
    ret = _register(test=True)
    assert ret["changes"] == ["set the password of user glance"] and keystone.writes == []


def test_register_grants_missing_roles(keystone):
    keystone.registered()
    keystone.assignments.clear()
    ret = _register()
    assert ret["changes"] == ["grant glance admin on project service",
                              "grant glance service on project service"]
    assert keystone.writes == [("assign", "glance", "service", "admin"),
                               ("assign", "glance", "service", "service")]


def test_register_grants_the_service_role_to_a_user_registered_before_it(keystone):
    # a user registered when only admin was granted: Keystone has no role service yet
    keystone.registered()
    service_role = keystone.roles.pop("service")
    keystone.assignments = {a for a in keystone.assignments if a[2] != service_role.id}
    ret = _register()
    assert ret["changes"] == ["create role service", "grant glance service on project service"]
    assert keystone.writes == [("create_role", "service"),
                               ("assign", "glance", "service", "service")]
    ret = _register()
    assert ret["changes"] == []


def test_register_missing_service_role_in_test_mode(keystone):
    keystone.registered()
    service_role = keystone.roles.pop("service")
    keystone.assignments = {a for a in keystone.assignments if a[2] != service_role.id}
    ret = _register(test=True)
    assert ret["changes"] == ["create role service", "grant glance service on project service"]
    assert keystone.writes == [] and "service" not in keystone.roles


def test_register_reuses_an_existing_service_role(keystone):
    keystone.roles["service"] = keystone._obj(name="service")
    ret = _register()
    assert "create role service" not in ret["changes"]
    assert ("create_role", "service") not in keystone.writes
    assert ("assign", "glance", "service", "service") in keystone.writes


def test_register_fixes_a_service_type(keystone):
    service = keystone.registered()
    service.type = "images"
    ret = _register()
    assert ret["changes"] == ["set the type of service glance to image"]
    assert service.type == "image"


def test_register_without_a_user(keystone):
    ret = identity.register("heat-cfn", service_type="cloudformation",
                            url=f"http://{VIP}:8000/v1", user=False)
    assert "create user heat-cfn" not in ret["changes"]
    assert not [w for w in keystone.writes if w[0] in ("create_user", "assign")]
    assert ("create_service", "heat-cfn", "cloudformation") in keystone.writes


def test_register_a_user_without_a_service(keystone):
    ret = identity.register("glance", password=GLANCE_PASSWORD)
    assert ret["changes"] == FRESH_CHANGES[:5]
    assert not keystone.services


def test_register_refuses_two_services_of_one_name(keystone):
    keystone.registered()
    keystone.services.append(keystone._obj(name="glance", type="image"))
    with pytest.raises(CommandExecutionError, match="Keystone has 2 services named glance"):
        _register()


def test_register_needs_the_admin_role(keystone):
    del keystone.roles["admin"]
    with pytest.raises(CommandExecutionError, match="no role admin: was it bootstrapped"):
        _register()


def test_register_keystone_failure_is_an_error_without_secrets(keystone):
    keystone.fail_on = "create_service"
    with pytest.raises(CommandExecutionError) as error:
        _register()
    message = str(error.value)
    assert message.startswith(f"Keystone at {AUTH_URL}/v3 refused or failed while registering "
                              "glance: create_service")
    assert GLANCE_PASSWORD not in message and ADMIN_PASSWORD not in message


@pytest.mark.parametrize(
    "kwargs, says",
    [({"password": None}, "no password given"), ({"url": None}, "needs a url")],
    ids=["user-without-password", "type-without-url"],
)
def test_register_refuses_incomplete_arguments(keystone, kwargs, says):
    with pytest.raises(SaltInvocationError, match=says):
        _register(**kwargs)
    assert keystone.connects == []
