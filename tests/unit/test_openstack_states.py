"""Unit tests of _states/galera_db.py and _states/openstack.py: the execution
modules they call are faked through ``__salt__``."""

from unittest.mock import MagicMock, patch

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.conftest import load_ext

galera_db = load_ext("states", "galera_db")
openstack_state = load_ext("states", "openstack")
openstack_module = load_ext("modules", "openstack")

RET_KEYS = {"name", "result", "changes", "comment"}
VIP = "10.77.0.10"
DB_PASSWORD = "nova-db-secret"
GLANCE_PASSWORD = "glance-keystone-secret"
HEAT_PASSWORD = "heat-keystone-secret"
ADMIN_PASSWORD = "keystone-admin-secret"
SECRETS = {
    "nova_db_password": DB_PASSWORD,
    "glance_keystone_password": GLANCE_PASSWORD,
    "heat_keystone_password": HEAT_PASSWORD,
    "keystone_admin_password": ADMIN_PASSWORD,
}
SERVICES = {
    "keystone": {
        "group": "keystone",
        "pkgs": ["keystone"],
        "apis": {"keystone": {"port": 5000}},
        "identity": {"type": "identity", "path": "/v3", "description": "OpenStack Identity"},
        "db_sync": ["keystone-manage db_sync"],
    },
    "glance": {
        "group": "glance",
        "apis": {"glance": {"port": 9292}},
        "identity": {"type": "image", "description": "OpenStack Image"},
        "db_sync": ["glance-manage db_sync", "glance-manage db load_metadefs"],
    },
    "heat": {
        "group": "heat",
        "apis": {"heat": {"port": 8004}, "heat-cfn": {"port": 8000}},
        "identity": {
            "type": "orchestration",
            "api": "heat",
            "path": "/v1/%(tenant_id)s",
            "also": [{"name": "heat-cfn", "type": "cloudformation", "api": "heat-cfn",
                      "path": "/v1", "description": "OpenStack CloudFormation"}],
        },
    },
    "placement": {"group": "placement", "apis": {"placement": {"port": 8778}},
                  "identity": {"type": "placement", "path": "{missing}"}},
    "horizon": {"group": "horizon"},
    "swift": {"group": "swift", "apis": {"swift": {"port": 8080}},
              "identity": {"type": "object-store", "api": "swift-proxy"}},
    "memcache": {"group": "memcache", "identity": {"type": "cache"}},
}


def _returns(ret):
    assert set(ret) == RET_KEYS, ret
    assert isinstance(ret["changes"], dict) and isinstance(ret["comment"], str)
    return ret


def _service(name):
    if name not in SERVICES:
        raise SaltInvocationError(f"openstack:services:{name}: no such service")
    return SERVICES[name]


@pytest.fixture
def configure_loader_modules():
    salt_funcs = {
        "openstack.service": _service,
        "openstack.context": lambda name: {"endpoint_host": VIP, "endpoint": f"https://{VIP}",
                                           "vip": VIP, "name": name},
        "openstack.fill": openstack_module.fill,
        "openstack.catalog": lambda: {"region": "RegionTwin"},
    }
    return {
        galera_db: {"__salt__": {}, "__opts__": {"test": False},
                    "__pillar__": {"secrets": dict(SECRETS)}},
        openstack_state: {"__salt__": dict(salt_funcs), "__opts__": {"test": False},
                          "__pillar__": {"secrets": dict(SECRETS)}},
    }


@pytest.fixture
def test_mode():
    with patch.dict(galera_db.__opts__, {"test": True}), \
            patch.dict(openstack_state.__opts__, {"test": True}):
        yield


# --- galera_db.present ---------------------------------------------------------------------


def _ensure(changes, comment="done"):
    return MagicMock(return_value={"changed": bool(changes), "changes": changes,
                                   "comment": comment})


def test_galera_db_present_creates():
    ensure = _ensure(["create the database nova"], "create the database nova")
    with patch.dict(galera_db.__salt__, {"galera.ensure_database": ensure}):
        ret = _returns(galera_db.present("nova"))
    ensure.assert_called_once_with("nova", user=None, password=DB_PASSWORD, test=False)
    assert ret == {"name": "nova", "result": True, "comment": "create the database nova",
                   "changes": {"database": "nova", "done": ["create the database nova"]}}


def test_galera_db_present_as_wanted():
    ensure = _ensure([], "database nova is as wanted")
    with patch.dict(galera_db.__salt__, {"galera.ensure_database": ensure}):
        ret = _returns(galera_db.present("nova", user="nova"))
    assert (ret["result"], ret["changes"]) == (True, {})


def test_galera_db_present_test_mode(test_mode):
    ensure = _ensure(["create the database nova"], "would create the database nova")
    with patch.dict(galera_db.__salt__, {"galera.ensure_database": ensure}):
        ret = _returns(galera_db.present("nova"))
    assert ensure.call_args.kwargs["test"] is True
    assert ret["result"] is None and ret["changes"]["done"] == ["create the database nova"]


def test_galera_db_present_named_secret_and_user():
    ensure = _ensure([])
    with (
        patch.dict(galera_db.__salt__, {"galera.ensure_database": ensure}),
        patch.dict(galera_db.__pillar__, {"secrets": {"shared": "pw"}}),
    ):
        _returns(galera_db.present("nova_api", user="nova", password_secret="shared"))
    ensure.assert_called_once_with("nova_api", user="nova", password="pw", test=False)


def test_galera_db_present_missing_secret_names_it():
    ensure = _ensure([])
    with patch.dict(galera_db.__salt__, {"galera.ensure_database": ensure}):
        ret = _returns(galera_db.present("glance"))
    assert ret["result"] is False
    assert ret["comment"].startswith("secrets:glance_db_password: missing")
    ensure.assert_not_called()


@pytest.mark.parametrize("error", [CommandExecutionError, SaltInvocationError])
def test_galera_db_present_failure_is_a_comment(error):
    ensure = MagicMock(side_effect=error("through the Galera VIP failed"))
    with patch.dict(galera_db.__salt__, {"galera.ensure_database": ensure}):
        ret = _returns(galera_db.present("nova"))
    assert ret["result"] is False and ret["comment"] == "through the Galera VIP failed"
    assert DB_PASSWORD not in repr(ret)


# --- openstack.identity_registered ---------------------------------------------------------


class FakeRegister:
    """``openstack_identity.register``: what it was asked, with canned changes per name."""

    def __init__(self, changes=None):
        self.changes = changes or {}
        self.calls = []

    def __call__(self, name, **kwargs):
        self.calls.append((name, kwargs))
        changes = self.changes.get(name, [])
        if isinstance(changes, Exception):
            raise changes
        return {"changed": bool(changes) and not kwargs["test"], "changes": list(changes),
                "comment": f"{name} is registered in Keystone" if not changes else "x"}


@pytest.fixture
def register():
    fake = FakeRegister()
    with patch.dict(openstack_state.__salt__, {"openstack_identity.register": fake}):
        yield fake


def test_identity_registered_as_wanted(register):
    ret = _returns(openstack_state.identity_registered("glance"))
    assert ret == {"name": "glance", "result": True, "changes": {},
                   "comment": "glance is registered in Keystone"}
    assert register.calls == [("glance", {
        "service_type": "image", "url": f"https://{VIP}:9292", "password": GLANCE_PASSWORD,
        "description": "OpenStack Image", "user": True, "test": False})]


def test_identity_registered_reports_the_changes(register):
    register.changes["glance"] = ["create user glance", "create service glance (image)"]
    ret = _returns(openstack_state.identity_registered("glance"))
    assert ret["result"] is True
    assert ret["changes"] == {"keystone": ["create user glance", "create service glance (image)"]}
    assert ret["comment"] == "create user glance; create service glance (image)"
    assert GLANCE_PASSWORD not in repr(ret)


def test_identity_registered_test_mode(register, test_mode):
    register.changes["glance"] = ["create user glance"]
    ret = _returns(openstack_state.identity_registered("glance"))
    assert ret["result"] is None and ret["changes"] == {"keystone": ["create user glance"]}
    assert register.calls[0][1]["test"] is True


def test_identity_registered_also_registers_the_extra_services(register):
    register.changes["heat-cfn"] = ["create service heat-cfn (cloudformation)"]
    ret = _returns(openstack_state.identity_registered("heat"))
    assert [name for name, _ in register.calls] == ["heat", "heat-cfn"]
    heat, cfn = register.calls[0][1], register.calls[1][1]
    assert heat["url"] == f"https://{VIP}:8004/v1/%(tenant_id)s"
    assert heat["user"] is True and heat["password"] == HEAT_PASSWORD
    assert cfn == {"service_type": "cloudformation", "url": f"https://{VIP}:8000/v1",
                   "description": "OpenStack CloudFormation", "user": False, "test": False}
    assert ret["changes"] == {"keystone": ["create service heat-cfn (cloudformation)"]}
    assert ret["result"] is True


def test_identity_registered_keystone_has_no_user(register):
    _returns(openstack_state.identity_registered("keystone"))
    name, kwargs = register.calls[0]
    assert name == "keystone" and kwargs["user"] is False
    assert kwargs["url"] == f"https://{VIP}:5000/v3"


def test_identity_registered_without_identity(register):
    ret = _returns(openstack_state.identity_registered("horizon"))
    assert ret["result"] is True and "no Keystone identity" in ret["comment"]
    assert register.calls == []


@pytest.mark.parametrize(
    "name, says",
    [
        ("nope", "openstack:services:nope: no such service"),
        ("memcache", "openstack:services:memcache:identity: has a type but the service has no"),
        ("placement", "unknown placeholder {missing}"),
        ("swift", "openstack:services:swift:identity:api: 'swift-proxy' is not one of its apis"),
    ],
    ids=["unknown-service", "type-without-api", "bad-path", "unknown-api"],
)
def test_identity_registered_catalog_errors_fail_with_the_key(register, name, says):
    ret = _returns(openstack_state.identity_registered(name))
    assert ret["result"] is False and says in ret["comment"]
    assert register.calls == []


def test_identity_registered_keystone_failure_is_a_comment(register):
    register.changes["glance"] = CommandExecutionError("Keystone at http://x refused")
    ret = _returns(openstack_state.identity_registered("glance"))
    assert ret["result"] is False and ret["comment"] == "Keystone at http://x refused"


# --- openstack.db_synced -------------------------------------------------------------------


@pytest.fixture
def markers(tmp_path, monkeypatch):
    directory = tmp_path / "db-sync"
    monkeypatch.setattr(openstack_state, "MARKER_DIR", str(directory))
    return directory


@pytest.fixture
def commands():
    run = MagicMock(return_value={"retcode": 0, "stdout": "", "stderr": ""})
    with patch.dict(openstack_state.__salt__, {
        "cmd.run_all": run,
        "openstack.main_package": lambda name: f"{name}-api",
        "pkg.version": lambda pkg: "2:25.0.0-0+deb12u1",
    }):
        yield run


def test_db_synced_runs_the_commands_in_order_as_the_group_and_leaves_a_marker(markers, commands):
    ret = _returns(openstack_state.db_synced("glance"))
    assert ret["result"] is True
    assert ret["changes"] == {
        "db_sync": ["glance-manage db_sync", "glance-manage db load_metadefs"]}
    assert [c.args[0] for c in commands.call_args_list] == [
        "glance-manage db_sync", "glance-manage db load_metadefs"]
    for call in commands.call_args_list:
        assert call.kwargs["runas"] == "glance" and call.kwargs["python_shell"] is False
    marker = markers / "glance-2_25.0.0-0+deb12u1"
    assert marker.read_text() == "glance-manage db_sync\nglance-manage db load_metadefs\n"
    assert openstack_state.marker("glance") == str(marker)


def test_db_synced_once_per_version(markers, commands):
    _returns(openstack_state.db_synced("glance"))
    commands.reset_mock()
    ret = _returns(openstack_state.db_synced("glance"))
    assert ret["result"] is True and ret["changes"] == {}
    assert "schema is current" in ret["comment"]
    commands.assert_not_called()
    with patch.dict(openstack_state.__salt__, {"pkg.version": lambda pkg: "2:25.1.0-1"}):
        ret = _returns(openstack_state.db_synced("glance"))
    assert ret["changes"] and commands.call_count == 2, "an upgrade syncs again"


def test_db_synced_test_mode_runs_nothing(markers, commands, test_mode):
    ret = _returns(openstack_state.db_synced("glance"))
    assert ret["result"] is None and ret["changes"]["db_sync"]
    commands.assert_not_called()
    assert not markers.exists()


def test_db_synced_without_commands(markers, commands):
    ret = _returns(openstack_state.db_synced("heat"))
    assert ret["result"] is True and ret["changes"] == {}
    commands.assert_not_called()


def test_db_synced_failure_keeps_no_marker_and_stops(markers, commands):
    commands.return_value = {"retcode": 1, "stdout": "",
                             "stderr": "\n".join(f"line {i}" for i in range(10))}
    ret = _returns(openstack_state.db_synced("glance"))
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"].startswith("glance-manage db_sync failed (exit 1): line 5")
    assert ret["comment"].endswith("line 9")
    assert commands.call_count == 1
    assert not markers.exists() or not list(markers.iterdir())


def test_db_synced_without_a_package_version(markers, commands):
    with patch.dict(openstack_state.__salt__, {"pkg.version": lambda pkg: ""}):
        assert openstack_state.marker("glance").endswith("/glance-none")


def test_db_synced_unknown_service(markers, commands):
    ret = _returns(openstack_state.db_synced("nope"))
    assert ret["result"] is False and "openstack:services:nope" in ret["comment"]


# --- openstack.keystone_bootstrapped -------------------------------------------------------


@pytest.fixture
def bootstrap():
    run = MagicMock(return_value={"retcode": 0, "stdout": "", "stderr": ""})
    authenticates = MagicMock(return_value=False)
    with patch.dict(openstack_state.__salt__, {
        "cmd.run_all": run, "openstack_identity.authenticates": authenticates,
    }):
        yield run, authenticates


def test_keystone_bootstrapped_when_the_administrator_gets_a_token(bootstrap):
    run, authenticates = bootstrap
    authenticates.return_value = True
    ret = _returns(openstack_state.keystone_bootstrapped("admin"))
    assert ret["result"] is True and ret["changes"] == {}
    run.assert_not_called()


def test_keystone_bootstrap(bootstrap):
    run, _ = bootstrap
    ret = _returns(openstack_state.keystone_bootstrapped("admin"))
    url = f"https://{VIP}:5000/v3"
    assert ret == {"name": "admin", "result": True, "changes": {"bootstrap": url},
                   "comment": "Keystone bootstrapped"}
    command = run.call_args.args[0]
    assert command[:2] == ["keystone-manage", "bootstrap"]
    options = dict(zip(command[2::2], command[3::2]))
    assert options == {
        "--bootstrap-username": "admin", "--bootstrap-project-name": "admin",
        "--bootstrap-role-name": "admin", "--bootstrap-service-name": "keystone",
        "--bootstrap-region-id": "RegionTwin", "--bootstrap-admin-url": url,
        "--bootstrap-internal-url": url, "--bootstrap-public-url": url,
    }
    kwargs = run.call_args.kwargs
    assert kwargs["env"] == {"OS_BOOTSTRAP_PASSWORD": ADMIN_PASSWORD}
    assert kwargs["runas"] == "keystone" and kwargs["output_loglevel"] == "quiet"
    assert kwargs["python_shell"] is False
    assert ADMIN_PASSWORD not in " ".join(command) and ADMIN_PASSWORD not in repr(ret)


def test_keystone_bootstrap_test_mode(bootstrap, test_mode):
    run, _ = bootstrap
    ret = _returns(openstack_state.keystone_bootstrapped("admin"))
    assert ret["result"] is None and ret["changes"] == {"bootstrap": f"https://{VIP}:5000/v3"}
    run.assert_not_called()


def test_keystone_bootstrap_failure(bootstrap):
    run, _ = bootstrap
    run.return_value = {"retcode": 1, "stdout": "", "stderr": "x" * 1000 + "the error"}
    ret = _returns(openstack_state.keystone_bootstrapped("admin"))
    assert ret["result"] is False and ret["comment"].endswith("the error")
    assert len(ret["comment"]) < 500


def test_keystone_bootstrap_without_the_secret(bootstrap):
    run, _ = bootstrap
    with patch.dict(openstack_state.__pillar__, {"secrets": {}}):
        ret = _returns(openstack_state.keystone_bootstrapped("admin"))
    assert ret["result"] is False and "keystone_admin_password" in ret["comment"]
    run.assert_not_called()


def test_keystone_bootstrap_when_keystone_does_not_answer(bootstrap):
    run, authenticates = bootstrap
    authenticates.side_effect = CommandExecutionError("Keystone at x does not answer")
    ret = _returns(openstack_state.keystone_bootstrapped("admin"))
    assert ret["result"] is False and "does not answer" in ret["comment"]
    run.assert_not_called()
