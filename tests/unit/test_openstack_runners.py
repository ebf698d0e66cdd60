"""Unit tests of _runners/keystone_keys.py and _runners/cloud.py: the files
they write on the master (mode 0600) and what they never return. The keys'
file is written through the generated_pillar utils (_utils/), handed to the
runner as ``__utils__`` the way Salt's loader does."""

import base64
import itertools
import pathlib
import stat

import pytest
import yaml
from salt.exceptions import SaltInvocationError

from tests.conftest import load_ext, load_utils

keystone_keys = load_ext("runners", "keystone_keys")
cloud = load_ext("runners", "cloud")

REPO = pathlib.Path(__file__).resolve().parents[2]
SITE = yaml.safe_load((REPO / "lab" / "pillar" / "site.sls").read_text())["site"]
ADMIN_PASSWORD = "keystone-admin-secret"


@pytest.fixture
def generated(tmp_path):
    return tmp_path / "pillar-generated"


@pytest.fixture
def clouds_path(tmp_path):
    return tmp_path / "openstack" / "clouds.yaml"


CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def pillar_of(minion="*", **kwargs):
    pillar = {"site": SITE}
    if minion != "*":
        pillar["secrets"] = {"keystone_admin_password": ADMIN_PASSWORD}
        pillar["site_ca"] = {"cert": CA_PEM}
        pillar["asked"] = minion
    return pillar


@pytest.fixture
def configure_loader_modules(generated, clouds_path):
    return {
        keystone_keys: {"__opts__": {"twin_cloud_generated_pillar": str(generated)},
                        "__utils__": load_utils("generated_pillar")},
        cloud: {
            "__opts__": {"file_roots": {"base": [str(REPO / "salt"), str(REPO)]},
                         "twin_cloud_clouds_yaml": str(clouds_path)},
            "__salt__": {"pillar.show_pillar": pillar_of},
            "__utils__": load_utils("catalog"),
        },
    }


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


# --- keystone_keys.rotated (pure) ------------------------------------------------------------


def _counter():
    numbers = itertools.count(1)
    return lambda: f"new{next(numbers)}"


def test_rotated_staged_becomes_primary_and_a_new_key_is_staged():
    keys = {"0": "staged", "1": "primary"}
    assert keystone_keys.rotated(keys, make_key=_counter()) == {
        "0": "new1", "1": "primary", "2": "staged"}
    assert keys == {"0": "staged", "1": "primary"}, "the input is not changed"


def test_rotated_prunes_the_oldest_secondaries_beyond_max_active():
    keys = {"0": "s", "1": "a", "2": "b"}
    assert keystone_keys.rotated(keys, make_key=_counter()) == {"0": "new1", "2": "b", "3": "s"}
    keys = {"0": "s", "1": "a", "2": "b", "3": "c", "4": "d"}
    assert keystone_keys.rotated(keys, max_active=4, make_key=_counter()) == {
        "0": "new1", "3": "c", "4": "d", "5": "s"}


def test_rotated_many_times_keeps_max_active_keys_and_every_primary_was_staged():
    keys = {"0": "k0", "1": "k1"}
    make = _counter()
    for _ in range(10):
        staged = keys["0"]
        keys = keystone_keys.rotated(keys, max_active=5, make_key=make)
        primary = keys[str(max(int(i) for i in keys))]
        assert primary == staged
        assert len(keys) <= 5
    assert sorted(int(i) for i in keys) == [0, 8, 9, 10, 11]


@pytest.mark.parametrize("max_active", [0, 1, 2])
def test_rotated_refuses_fewer_than_three(max_active):
    with pytest.raises(SaltInvocationError, match="max_active: at least 3"):
        keystone_keys.rotated({"0": "s", "1": "p"}, max_active=max_active)


@pytest.mark.parametrize("keys", [{}, {"1": "p", "2": "q"}])
def test_rotated_needs_a_staged_key(keys):
    with pytest.raises(SaltInvocationError, match="no staged key 0: run keystone_keys.ensure"):
        keystone_keys.rotated(keys)


def test_new_key_is_a_fernet_key():
    key = keystone_keys.new_key()
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert key != keystone_keys.new_key()


# --- keystone_keys.ensure / rotate (the master's pillar file) ---------------------------------


def _file(generated):
    return generated / "keystone_keys.sls"


def _keys(generated):
    return yaml.safe_load(_file(generated).read_text())["keystone_keys"]


def test_ensure_writes_both_repositories_0600_and_returns_no_key(generated):
    ret = keystone_keys.ensure()
    assert ret == {"changed": True, "keys": {"fernet": [0, 1], "credential": [0, 1]}}
    path = _file(generated)
    assert _mode(path) == 0o600
    assert path.read_text().startswith("# written by the keystone_keys runner")
    keys = _keys(generated)
    assert set(keys) == {"fernet", "credential"}
    for repo in keys.values():
        assert set(repo) == {"0", "1"}, "indexes as strings (file names)"
        for key in repo.values():
            assert len(base64.urlsafe_b64decode(key)) == 32
            assert key not in repr(ret)
    assert not list(generated.glob("*.new"))


def test_ensure_keeps_what_exists(generated):
    keystone_keys.ensure()
    before = _file(generated).read_text()
    assert keystone_keys.ensure() == {"changed": False,
                                      "keys": {"fernet": [0, 1], "credential": [0, 1]}}
    assert _file(generated).read_text() == before


def test_ensure_completes_a_missing_repository(generated):
    generated.mkdir()
    _file(generated).write_text(yaml.safe_dump(
        {"keystone_keys": {"fernet": {"0": "s", "1": "p", "2": "q"}}}))
    ret = keystone_keys.ensure()
    assert ret == {"changed": True, "keys": {"fernet": [0, 1, 2], "credential": [0, 1]}}
    assert _keys(generated)["fernet"] == {"0": "s", "1": "p", "2": "q"}
    assert _mode(_file(generated)) == 0o600


def test_rotate_rotates_fernet_only(generated):
    keystone_keys.ensure()
    before = _keys(generated)
    ret = keystone_keys.rotate()
    assert ret == {"changed": True, "keys": {"fernet": [0, 1, 2], "credential": [0, 1]}}
    after = _keys(generated)
    assert after["credential"] == before["credential"]
    assert after["fernet"]["2"] == before["fernet"]["0"]
    assert after["fernet"]["1"] == before["fernet"]["1"]
    assert after["fernet"]["0"] not in before["fernet"].values()
    assert _mode(_file(generated)) == 0o600
    for key in [*after["fernet"].values(), *after["credential"].values()]:
        assert key not in repr(ret)


def test_rotate_prunes_with_max_active_from_the_command_line(generated):
    keystone_keys.ensure()
    for _ in range(3):
        ret = keystone_keys.rotate(max_active="4")
    assert ret["keys"]["fernet"] == [0, 2, 3, 4]


def test_rotate_before_ensure(generated):
    with pytest.raises(SaltInvocationError, match="no fernet keys yet: run keystone_keys.ensure"):
        keystone_keys.rotate()
    assert not _file(generated).exists()


def test_rotate_refuses_a_small_max_active_and_leaves_the_file(generated):
    keystone_keys.ensure()
    before = _file(generated).read_text()
    with pytest.raises(SaltInvocationError, match="at least 3"):
        keystone_keys.rotate(max_active=2)
    assert _file(generated).read_text() == before


def test_without_the_master_option(monkeypatch):
    monkeypatch.delitem(keystone_keys.__opts__, "twin_cloud_generated_pillar")
    with pytest.raises(SaltInvocationError, match="twin_cloud_generated_pillar is not set"):
        keystone_keys.ensure()


def test_without_the_generated_pillar_utils_the_runner_says_to_sync(monkeypatch):
    assert keystone_keys.__virtual__() is True
    monkeypatch.setattr(keystone_keys, "__utils__", {})
    assert keystone_keys.__virtual__() == (
        False, "keystone_keys: the generated_pillar utils are not synced to the master "
               "(salt-run saltutil.sync_all)")


def test_the_master_config_names_the_option():
    master = yaml.safe_load((REPO / "etc" / "salt" / "master").read_text())
    assert master["twin_cloud_generated_pillar"]


# --- cloud.document / clouds_yaml -----------------------------------------------------------------


def test_document():
    doc = cloud.document(SITE, {"keystone_admin_password": ADMIN_PASSWORD},
                         {"region": "RegionTwin", "endpoint_scheme": "https"},
                         "/etc/openstack/site-ca.pem")
    assert doc == {"clouds": {"lab": {
        "auth": {"auth_url": "https://10.77.0.10:5000/v3", "username": "admin",
                 "password": ADMIN_PASSWORD, "project_name": "admin",
                 "user_domain_name": "Default", "project_domain_name": "Default"},
        "region_name": "RegionTwin",
        "interface": "public",
        "identity_api_version": 3,
        "cacert": "/etc/openstack/site-ca.pem",
    }}}


def test_document_over_http_names_no_ca():
    doc = cloud.document(SITE, {"keystone_admin_password": "x"}, {"endpoint_scheme": "http"})
    assert doc["clouds"]["lab"]["auth"]["auth_url"] == "http://10.77.0.10:5000/v3"
    assert "cacert" not in doc["clouds"]["lab"]


def test_document_endpoint_host_may_be_the_fqdn():
    doc = cloud.document(SITE, {"keystone_admin_password": "x"},
                         {"endpoint_host": "{fqdn}", "endpoint_scheme": "https"},
                         "/ca.pem")
    cloud_doc = doc["clouds"]["lab"]
    assert cloud_doc["auth"]["auth_url"] == "https://cloud.lab.twin-cloud.test:5000/v3"
    assert cloud_doc["region_name"] == "RegionOne"


@pytest.mark.parametrize(
    "site, secrets, says",
    [
        ({"name": "x"}, {"keystone_admin_password": "x"}, "site:vips:api:address: missing"),
        (SITE, {}, "secrets:keystone_admin_password: missing"),
        (SITE, None, "secrets:keystone_admin_password: missing"),
        (SITE, {"keystone_admin_password": "x"}, "site_ca:cert: missing"),
    ],
    ids=["no-vip", "no-secret", "no-secrets", "no-ca"],
)
def test_document_names_what_is_missing(site, secrets, says):
    with pytest.raises(SaltInvocationError, match=says):
        cloud.document(site, secrets, {"endpoint_scheme": "https"})


def test_clouds_yaml_writes_0600_and_returns_no_password(clouds_path):
    ret = cloud.clouds_yaml()
    assert ret == {"path": str(clouds_path), "cloud": "lab"}
    assert ADMIN_PASSWORD not in repr(ret)
    assert _mode(clouds_path) == 0o600
    doc = yaml.safe_load(clouds_path.read_text())
    auth = doc["clouds"]["lab"]["auth"]
    assert auth["password"] == ADMIN_PASSWORD
    assert auth["auth_url"] == "https://10.77.0.10:5000/v3"
    # the site CA beside it, public, named as the CA the CLI trusts
    ca = clouds_path.parent / "site-ca.pem"
    assert doc["clouds"]["lab"]["cacert"] == str(ca)
    assert ca.read_text() == CA_PEM and _mode(ca) == 0o644
    # the catalog's settings (salt/openstack/catalog.yaml), found through file_roots
    catalog = yaml.safe_load((REPO / "salt" / "openstack" / "catalog.yaml").read_text())
    assert doc["clouds"]["lab"]["region_name"] == catalog.get("region", "RegionOne")
    assert not list(clouds_path.parent.glob("*.new"))


def test_clouds_yaml_reads_the_first_controllers_pillar(clouds_path, monkeypatch):
    asked = []

    def show_pillar(minion="*", **kwargs):
        asked.append(minion)
        return pillar_of(minion)

    monkeypatch.setitem(cloud.__salt__, "pillar.show_pillar", show_pillar)
    cloud.clouds_yaml()
    assert asked == ["*", "ctl1"]
    cloud.clouds_yaml(minion="ctl2")
    assert asked[-1] == "ctl2"


def test_clouds_yaml_replaces_a_readable_file(clouds_path):
    clouds_path.parent.mkdir(parents=True)
    clouds_path.write_text("old: true\n")
    clouds_path.chmod(0o644)
    cloud.clouds_yaml()
    assert _mode(clouds_path) == 0o600
    assert "old" not in clouds_path.read_text()


def test_clouds_yaml_without_a_controller(monkeypatch):
    site = {**SITE, "nodes": {"nas": SITE["nodes"]["nas"]}}
    monkeypatch.setitem(cloud.__salt__, "pillar.show_pillar", lambda minion="*": {"site": site})
    with pytest.raises(SaltInvocationError, match="no node has the controller role"):
        cloud.clouds_yaml()


def test_clouds_yaml_follows_the_pillars_catalog_overrides(clouds_path, monkeypatch):
    """pillar `openstack:` overrides the catalog (region, endpoint_host) for the
    services: the operator's clouds.yaml says the same."""

    def show_pillar(minion="*", **kwargs):
        return {**pillar_of(minion),
                "openstack": {"region": "RegionTwin", "endpoint_host": "{fqdn}"}}

    monkeypatch.setitem(cloud.__salt__, "pillar.show_pillar", show_pillar)
    cloud.clouds_yaml()
    doc = yaml.safe_load(clouds_path.read_text())["clouds"]["lab"]
    assert doc["region_name"] == "RegionTwin"
    assert doc["auth"]["auth_url"] == "https://cloud.lab.twin-cloud.test:5000/v3"


def test_clouds_yaml_refuses_a_scheme_the_services_would_refuse(clouds_path, monkeypatch):
    """the catalog the services read (_utils/catalog.py, as openstack.catalog):
    an endpoint scheme they refuse is refused here too, naming the key."""
    monkeypatch.setitem(cloud.__salt__, "pillar.show_pillar", lambda minion="*", **kwargs: {
        **pillar_of(minion), "openstack": {"endpoint_scheme": "ftp"}})
    with pytest.raises(SaltInvocationError, match="openstack:endpoint_scheme: 'ftp'"):
        cloud.clouds_yaml()
    assert not clouds_path.exists()
