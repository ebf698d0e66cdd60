"""Unit tests of _modules/openstack.py: the pure helpers on small catalogs, and
the loader functions on the real state tree (salt/openstack/*, read through a
fake ``cp.get_file_str``) with the lab's site pillar and fake secrets.

The services' own files (salt/openstack/services/*.yaml) are filled in over
time: the tests through the loader check properties of whatever they hold,
and only Keystone's entry by name."""

import copy
import pathlib
import urllib.parse

import pytest
import yaml
from salt.exceptions import SaltInvocationError

from lab import secrets as lab_secrets
from tests.conftest import load_ext

openstack = load_ext("modules", "openstack")
inventory = load_ext("modules", "inventory")

REPO = pathlib.Path(__file__).resolve().parents[2]
SALT = REPO / "salt"
SITE = yaml.safe_load((REPO / "lab" / "pillar" / "site.sls").read_text())
VIP = "10.77.0.10"


def _read_salt(path):
    return (SALT / path).read_text()


def fake_secrets(site=SITE["site"]):
    """A value for every secret the lab generates (URL-safe: found verbatim in URLs)."""
    return {name: f"{name.replace('_', '-')}-VALUE" for name in lab_secrets.names(site)}


SECRETS = fake_secrets()


def real_catalog():
    return openstack.build_catalog(_read_salt)


# --- merge / build_catalog / check_catalog ---------------------------------------------------


def test_merge_is_deep_and_copies():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    merged = openstack.merge(base, {"a": {"c": [3], "e": {"f": 1}}, "d": None})
    assert merged == {"a": {"b": 1, "c": [3], "e": {"f": 1}}, "d": None}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    merged["a"]["c"].append(4)
    assert base["a"]["c"] == [1, 2]
    assert openstack.merge(base, None) == base


def test_merge_a_mapping_replaces_a_scalar_and_back():
    assert openstack.merge({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
    assert openstack.merge({"a": {"b": 2}}, {"a": 1}) == {"a": 1}


FILES = {
    "openstack/defaults.yaml": "pkgs: {common: [c1], one: [p1, p2], two: [p3]}\n",
    "openstack/catalog.yaml": "region: R1\norder: [one, two]\npkgs: {two: [p4]}\n",
    "openstack/services/one.yaml": "group: one\npkgs: [one]\napis: {one: {port: 1111}}\n",
    "openstack/services/two.yaml": "# nothing yet\n",
}


def test_build_catalog_reads_every_service_of_the_order():
    read = []

    def reader(path):
        read.append(path)
        return FILES[path]

    data = openstack.build_catalog(reader)
    assert read == ["openstack/defaults.yaml", "openstack/catalog.yaml",
                    "openstack/services/one.yaml", "openstack/services/two.yaml"]
    assert list(data["services"]) == ["one", "two"]
    assert data["services"]["two"] == {}
    assert data["pkgs"] == {"common": ["c1"], "one": ["p1", "p2"], "two": ["p4"]}
    assert data["region"] == "R1"


def test_build_catalog_pillar_overrides_any_key_and_adds_services():
    data = openstack.build_catalog(FILES.__getitem__, {
        "region": "R2",
        "services": {"one": {"apis": {"one": {"port": 2222}}}, "three": {"group": "three"}},
    })
    assert data["region"] == "R2"
    assert data["services"]["one"] == {"group": "one", "pkgs": ["one"],
                                       "apis": {"one": {"port": 2222}}}
    assert list(data["services"]) == ["one", "two", "three"]


def test_the_real_catalog_is_valid_and_complete():
    data = real_catalog()
    assert openstack.check_catalog(data) == []
    order = yaml.safe_load(_read_salt("openstack/catalog.yaml"))["order"]
    assert list(data["services"]) == order
    assert order[0] == "keystone", "Keystone first: every other service registers there"
    assert {p.stem for p in (SALT / "openstack" / "services").glob("*.yaml")} == set(order)
    for name in order:
        assert (SALT / "openstack" / f"{name}.sls").is_file(), name


def _catalog(**services):
    return {"pkgs": {"common": ["c"], "nova": ["n"]}, "services": services}


@pytest.mark.parametrize(
    "catalog, problem",
    [
        ({"services": []}, "openstack:services: expected a mapping"),
        (_catalog(nova="x"), "openstack:services:nova: expected a mapping, got str"),
        (_catalog(nova={"group": "nova", "pkg": ["n"]}),
         "openstack:services:nova: unknown key(s) pkg; known: apis, "),
        (_catalog(nova={"pkgs": ["nova"]}), "openstack:services:nova:group: missing"),
        (_catalog(nova={"group": "nova", "apis": {"nova": {"port": "8774"}}}),
         "openstack:services:nova:apis:nova:port: expected a TCP port, got '8774'"),
        (_catalog(nova={"group": "nova", "apis": {"nova": {"port": 70000}}}),
         "openstack:services:nova:apis:nova:port: expected a TCP port, got 70000"),
        (_catalog(nova={"group": "nova", "apis": {"nova": None}}),
         "openstack:services:nova:apis:nova:port: expected a TCP port, got None"),
        (_catalog(a={"group": "a", "apis": {"a": {"port": 5000}}},
                  b={"group": "b", "apis": {"b": {"port": 5000}}}),
         "openstack:services:b:apis:b:port: 5000 is already the port of "
         "openstack:services:a:apis:a"),
        (_catalog(nova={"group": "nova", "pkgs": ["nova", "nova_compute"]}),
         "openstack:services:nova:pkgs: 'nova_compute' is not a key of openstack:pkgs"),
    ],
    ids=["services", "entry", "unknown-key", "group", "port-text", "port-range", "no-port",
         "port-twice", "pkgs"],
)
def test_check_catalog_names_the_key(catalog, problem):
    problems = openstack.check_catalog(catalog)
    assert len(problems) == 1, problems
    assert problems[0].startswith(problem), problems


def test_check_catalog_every_problem_on_its_line():
    problems = openstack.check_catalog(_catalog(a={"x": 1}, b={"group": "b", "pkgs": ["zz"]}))
    assert [p.split(":", 3)[2] for p in problems] == ["a", "a", "b"]


# --- secret_names -------------------------------------------------------------------------------


def test_secret_names():
    catalog = _catalog(
        keystone={"database": {"name": "keystone"}, "identity": {"type": "identity"}},
        nova={"database": [{"name": "nova"}, {"name": "nova_api"}], "messaging": True,
              "identity": {"type": "compute"}, "secrets": ["metadata_proxy_secret"]},
        horizon={"identity": {}},
        empty=None,
    )
    assert openstack.secret_names(catalog) == [
        "galera_admin_password", "horizon_keystone_password", "keystone_admin_password",
        "keystone_db_password", "metadata_proxy_secret", "nova_db_password",
        "nova_keystone_password", "nova_rabbit_password",
    ]
    assert openstack.secret_names({}) == ["galera_admin_password", "keystone_admin_password"]


def test_secret_names_a_notifier_as_itself_has_a_rabbitmq_password():
    catalog = _catalog(glance={"notifications": True}, extra={"notifications": "keystone"})
    assert openstack.secret_names(catalog) == [
        "galera_admin_password", "glance_rabbit_password", "keystone_admin_password"]


def test_the_lab_generates_every_secret_of_the_catalog():
    assert set(openstack.secret_names(real_catalog())) <= set(lab_secrets.names(SITE["site"]))


# --- URLs -----------------------------------------------------------------------------------------

NASTY = "p@ss:w/rd?#%&=+ $x'\"{}[]"


def test_database_url():
    assert openstack.database_url("nova", "pw", VIP, "nova_api") == (
        f"mysql+pymysql://nova:pw@{VIP}/nova_api?charset=utf8")


def test_database_url_quotes_every_special_character_of_the_password():
    url = openstack.database_url("nova", NASTY, VIP, "nova")
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname == VIP and parts.path == "/nova" and parts.username == "nova"
    assert urllib.parse.unquote(parts.password) == NASTY
    assert not set("@:/?#&=+ $'\"{}[]") & set(parts.password)
    assert "$" not in url, "oslo.config would read $ as a substitution"


def test_transport_url_lists_every_member():
    assert openstack.transport_url("nova", "pw", ["ctl1", "ctl2", "nas"]) == (
        "rabbit://nova:pw@ctl1:5672,nova:pw@ctl2:5672,nova:pw@nas:5672/")
    assert openstack.transport_url("n", "pw", ["h"], port=5671, vhost="/openstack") == (
        "rabbit://n:pw@h:5671/openstack")


def test_transport_url_quotes_the_password():
    url = openstack.transport_url("nova", NASTY, ["ctl1", "ctl2"])
    quoted = urllib.parse.quote(NASTY, safe="")
    assert url == f"rabbit://nova:{quoted}@ctl1:5672,nova:{quoted}@ctl2:5672/"
    assert not set("@:/?#&=+ $,'\"{}[]") & set(quoted)
    assert urllib.parse.unquote(quoted) == NASTY


# --- render_ini / fill ----------------------------------------------------------------------------


def test_render_ini():
    text = openstack.render_ini({
        "keystone_authtoken": {"password": "pw", "auth_type": "password"},
        "DEFAULT": {"debug": False, "use_stderr": True, "hosts": ["a", "b"], "none": None,
                    "workers": 2},
        "cache": {},
        "a_section": None,
    })
    assert text == (
        "# Managed by Salt (openstack): local changes are overwritten.\n"
        "\n[DEFAULT]\ndebug = false\nhosts = a,b\nnone = \nuse_stderr = true\nworkers = 2\n"
        "\n[a_section]\n"
        "\n[cache]\n"
        "\n[keystone_authtoken]\nauth_type = password\npassword = pw\n"
    )


def test_fill_recursively():
    ctx = {"vip": VIP, "secrets": openstack._Secrets({"x": "sx"}), "n": 3}
    value = {"a": "{vip}:5000", "b": ["{secrets[x]}", 5, True, None], "c": {"d": "{{literal}}"}}
    assert openstack.fill(value, ctx) == {"a": f"{VIP}:5000", "b": ["sx", 5, True, None],
                                         "c": {"d": "{literal}"}}


def test_fill_unknown_placeholder_names_it_and_the_known_ones():
    with pytest.raises(SaltInvocationError) as error:
        openstack.fill({"a": ["{vip}/{nope}"]}, {"vip": VIP, "fqdn": "f"})
    assert str(error.value) == "unknown placeholder {nope} in '{vip}/{nope}'; known: fqdn, vip"


def test_fill_missing_secret_names_the_pillar_key_and_the_fix():
    ctx = {"secrets": openstack._Secrets({"x": "sx"})}
    with pytest.raises(SaltInvocationError) as error:
        openstack.fill("{secrets[metadata_proxy_secret]}", ctx)
    message = str(error.value)
    assert message.startswith("secrets:metadata_proxy_secret: missing; add "
                              "`metadata_proxy_secret: <random value>` to the secrets pillar")
    assert "salt-run secrets.init" in message
    assert "sx" not in message


# --- databases / units_of / implied_sections ------------------------------------------------------


def test_databases():
    assert openstack.databases({}) == []
    assert openstack.databases({"database": None}) == []
    assert openstack.databases({"database": {"name": "a"}}) == [{"name": "a"}]
    assert openstack.databases({"database": [{"name": "a"}, {"name": "b"}]}) == [
        {"name": "a"}, {"name": "b"}]


def test_units_of():
    assert openstack.units_of({}, ["controller"]) == []
    assert openstack.units_of({"units": ["a", "b"]}, []) == ["a", "b"]
    svc = {"units": {"controller": ["api", "common"], "compute": ["compute", "common"],
                     "network": None}}
    assert openstack.units_of(svc, ["controller", "compute", "network"]) == [
        "api", "common", "compute"]
    assert openstack.units_of(svc, ["compute"]) == ["compute", "common"]
    assert openstack.units_of(svc, ["storage"]) == []


CTX = {
    "database_urls": {"nova": "mysql+pymysql://nova", "nova_api": "mysql+pymysql://nova_api",
                      "nova_cell0": "mysql+pymysql://nova_cell0"},
    "transport_url": "rabbit://x",
    "auth_url": f"http://{VIP}:5000",
    "memcached": "10.77.0.11:11211,10.77.0.12:11211",
    "password": "keystone-pw",
    "region": "RegionOne",
}


def test_implied_sections_of_nothing():
    assert openstack.implied_sections("horizon", {"group": "horizon"}, {}) == {}


def test_implied_sections_databases():
    svc = {"database": [{"name": "nova"}, {"name": "nova_api", "section": "api_database"},
                        {"name": "nova_cell0", "file": "/etc/nova/other.conf"}]}
    assert openstack.implied_sections("nova", svc, CTX) == {
        # below HAProxy's idle timeout: no connection it cut is reused
        "database": {"connection": "mysql+pymysql://nova", "connection_recycle_time": 300},
        "api_database": {"connection": "mysql+pymysql://nova_api"},
    }
    svc = {"database": {"name": "nova", "section": "db", "option": "url"}}
    assert openstack.implied_sections("nova", svc, CTX) == {"db": {"url": "mysql+pymysql://nova"}}


def test_implied_sections_messaging_and_notifications():
    sections = openstack.implied_sections("nova", {"messaging": True, "notifications": True}, CTX)
    assert sections == {
        "DEFAULT": {"transport_url": "rabbit://x"},
        "oslo_messaging_rabbit": {"rabbit_quorum_queue": True, "amqp_durable_queues": True,
                                  "heartbeat_in_pthread": False},
        "oslo_messaging_notifications": {"driver": "messagingv2", "transport_url": "rabbit://x"},
    }


def test_implied_sections_notifications_alone_still_declare_quorum_queues():
    sections = openstack.implied_sections("gnocchi", {"notifications": True}, CTX)
    assert sections == {
        "oslo_messaging_rabbit": {"rabbit_quorum_queue": True, "amqp_durable_queues": True,
                                  "heartbeat_in_pthread": False},
        "oslo_messaging_notifications": {"driver": "messagingv2", "transport_url": "rabbit://x"},
    }


def test_implied_sections_keystone_authtoken():
    sections = openstack.implied_sections("glance", {"identity": {"type": "image"}}, CTX)
    assert sections == {"keystone_authtoken": {
        "www_authenticate_uri": f"http://{VIP}:5000", "auth_url": f"http://{VIP}:5000",
        "memcached_servers": CTX["memcached"], "auth_type": "password",
        "project_domain_name": "Default", "user_domain_name": "Default",
        "project_name": "service", "username": "glance", "password": "keystone-pw",
        "region_name": "RegionOne", "service_token_roles_required": True,
    }}
    assert openstack.implied_sections("keystone", {"identity": {"type": "identity"}}, CTX) == {}
    # an API behind HAProxy (which ends TLS) takes the client's scheme from it
    assert openstack.implied_sections("keystone", {"apis": {"keystone": {"port": 5000}}}, CTX) == {
        "oslo_middleware": {"enable_proxy_headers_parsing": True}}


# --- through the loader: the real state tree, the lab's pillar ------------------------------------

# a service only the pillar adds: every feature of the pattern, independent of
# what the other services' files hold today
EXTRA = {
    "group": "extra",
    "pkgs": ["keystone"],
    "database": [{"name": "extra"}, {"name": "extra_api", "section": "api_database"}],
    "messaging": True,
    "notifications": True,
    "identity": {"type": "extra", "path": "/v1"},
    "apis": {"extra": {"port": 18999, "check": "GET /healthcheck"}},
    "config": {
        "/etc/extra/extra.conf": {"DEFAULT": {"my_ip": "{me}", "host": "{id}"},
                                  "api": {"secret": "{secrets[extra_metadata_secret]}"}},
        "/etc/extra/other.conf": {"x": {"url": "{database_urls[extra_api]}",
                                        "auth": "{auth_url}"}},
    },
    "units": {"controller": ["extra-api"], "compute": ["extra-agent"]},
    "roles": ["controller", "compute"],
    "secrets": ["extra_metadata_secret"],
}
EXTRA_SECRETS = {
    "extra_db_password": "extra-db-VALUE",
    "extra_rabbit_password": "extra-rabbit-VALUE",
    "extra_keystone_password": "extra-keystone-VALUE",
    "extra_metadata_secret": "extra-metadata-VALUE",
}


@pytest.fixture
def pillar():
    return {**copy.deepcopy(SITE), "secrets": {**SECRETS, **EXTRA_SECRETS},
            "openstack": {"services": {"extra": copy.deepcopy(EXTRA)}}}


@pytest.fixture
def minion_id():
    return "ctl1"


@pytest.fixture
def reads():
    return []


@pytest.fixture
def configure_loader_modules(pillar, minion_id, reads):
    def get_file_str(path, saltenv="base"):
        reads.append(path)
        file = SALT / path.removeprefix("salt://")
        return file.read_text() if file.is_file() else False

    salt_funcs = {
        "cp.get_file_str": get_file_str,
        "inventory.vip": inventory.vip,
        "inventory.node": inventory.node,
        "inventory.roles": inventory.roles,
        "inventory.controllers": inventory.controllers,
        "inventory.nodes_with_any_role": inventory.nodes_with_any_role,
    }
    return {
        inventory: {"__pillar__": pillar, "__opts__": {"id": minion_id}},
        openstack: {"__salt__": salt_funcs, "__pillar__": pillar, "__opts__": {"id": minion_id},
                    "__context__": {}},
    }


def test_catalog_through_the_fileserver_once(reads):
    data = openstack.catalog()
    order = yaml.safe_load(_read_salt("openstack/catalog.yaml"))["order"]
    assert list(data["services"]) == [*order, "extra"]
    assert reads[:2] == ["salt://openstack/defaults.yaml", "salt://openstack/catalog.yaml"]
    count = len(reads)
    data["services"].clear()
    assert list(openstack.catalog()["services"]) == [*order, "extra"], "a copy each time"
    assert len(reads) == count, "read once per run (__context__)"


def test_catalog_refuses_a_bad_pillar_override(pillar):
    pillar["openstack"]["services"]["extra"]["apis"]["extra"]["port"] = 5000
    pillar["openstack"]["services"]["extra"]["colour"] = "blue"
    with pytest.raises(SaltInvocationError) as error:
        openstack.catalog()
    unknown, port = str(error.value).splitlines()
    assert unknown == ("openstack:services:extra: unknown key(s) colour; known: "
                       + ", ".join(sorted(openstack.SERVICE_KEYS)))
    # the services are checked by name: whichever comes second is named
    assert port in (
        "openstack:services:extra:apis:extra:port: 5000 is already the port of "
        "openstack:services:keystone:apis:keystone",
        "openstack:services:keystone:apis:keystone:port: 5000 is already the port of "
        "openstack:services:extra:apis:extra",
    )


def test_catalog_missing_file_names_it(monkeypatch):
    monkeypatch.setitem(openstack.__salt__, "cp.get_file_str", lambda path, saltenv="base": False)
    with pytest.raises(SaltInvocationError, match="salt://openstack/defaults.yaml is not on the"):
        openstack.catalog()


def test_service_unknown():
    with pytest.raises(SaltInvocationError,
                       match="openstack:services:nope: no such service; known"):
        openstack.service("nope")


def test_packages_common_first_without_duplicates():
    data = real_catalog()
    for name in data["services"]:
        pkgs = openstack.packages(name)
        assert pkgs[:len(data["pkgs"]["common"])] == data["pkgs"]["common"]
        assert len(pkgs) == len(set(pkgs))
        for key in data["services"][name].get("pkgs") or []:
            assert set(data["pkgs"][key]) <= set(pkgs)
    assert "keystone" in openstack.packages("keystone")
    assert openstack.main_package("keystone") == "keystone"


def test_main_package_needs_a_package_list(pillar):
    pillar["openstack"]["services"]["extra"]["pkgs"] = []
    with pytest.raises(SaltInvocationError, match="openstack:services:extra:pkgs: names no"):
        openstack.main_package("extra")


def _expected_services(roles):
    data = real_catalog()
    names = [n for n, svc in data["services"].items()
             if set(roles) & set(svc.get("roles") or openstack.DEFAULT_ROLES)]
    return names + (["extra"] if {"controller", "compute"} & set(roles) else [])


@pytest.mark.parametrize("minion_id", ["ctl1", "ctl2", "nas"])
def test_services_by_the_nodes_roles(minion_id):
    roles = SITE["site"]["nodes"][minion_id]["roles"]
    assert openstack.services() == _expected_services(roles)
    if "controller" in roles:
        assert openstack.services()[0] == "keystone"
    else:
        assert "keystone" not in openstack.services()
    assert openstack.services(roles=["controller"]) == _expected_services(["controller"])


@pytest.mark.parametrize("minion_id", ["ctl1", "nas"])
def test_all_packages_of_the_nodes_services(minion_id):
    pkgs = openstack.all_packages()
    assert len(pkgs) == len(set(pkgs))
    expected = {p for name in openstack.services() for p in openstack.packages(name)}
    assert set(pkgs) == expected
    assert bool(pkgs) == bool(openstack.services())


def test_apis_over_http_when_the_catalog_says_so(pillar):
    pillar["openstack"]["endpoint_scheme"] = "http"
    assert not any(spec["tls"] for spec in openstack.apis().values())
    assert openstack.context("extra")["auth_url"].startswith("http://")


def test_an_unknown_endpoint_scheme_is_refused(pillar):
    pillar["openstack"]["endpoint_scheme"] = "ftp"
    with pytest.raises(SaltInvocationError, match="openstack:endpoint_scheme: 'ftp'"):
        openstack.apis()


def test_apis():
    apis = openstack.apis()
    assert apis["keystone"] == {"port": 5000, "backend_port": 5000, "check": "GET /v3",
                                "service": "keystone", "tls": True, "redirect_from": None}
    assert apis["extra"] == {"port": 18999, "backend_port": 18999, "check": "GET /healthcheck",
                             "service": "extra", "tls": True, "redirect_from": None}
    # Horizon: https on 443 in front of Apache's :80, and VIP:80 redirecting there
    assert (apis["horizon"]["port"], apis["horizon"]["backend_port"],
            apis["horizon"]["redirect_from"]) == (443, 80, 80)
    ports = [spec["port"] for spec in apis.values()]
    assert len(ports) == len(set(ports))
    services = openstack.catalog()["services"]
    for api, spec in apis.items():
        assert api in services[spec["service"]]["apis"]
        assert spec["check"].split(" ", 1)[0] in ("GET", "HEAD", "OPTIONS")


@pytest.mark.parametrize("minion_id", ["ctl1", "ctl2"])
def test_units(minion_id):
    assert openstack.units("keystone") == ["keystone"]
    assert openstack.units("extra") == ["extra-api", "extra-agent"]


def test_context(minion_id):
    ctx = openstack.context("extra")
    assert ctx["vip"] == VIP and ctx["fqdn"] == "cloud.lab.twin-cloud.test"
    assert ctx["endpoint_host"] == VIP and ctx["auth_url"] == f"https://{VIP}:5000"
    assert ctx["me"] == "10.77.0.11" and ctx["id"] == "ctl1"
    assert ctx["memcached"] == "10.77.0.11:11211,10.77.0.12:11211"
    assert ctx["database_urls"] == {
        db: openstack.database_url("extra", "extra-db-VALUE", VIP, db)
        for db in ("extra", "extra_api")}
    assert ctx["database_url"] == ctx["database_urls"]["extra"]
    assert ctx["transport_url"] == openstack.transport_url(
        "extra", "extra-rabbit-VALUE", ["ctl1", "ctl2", "nas"])
    assert ctx["password"] == "extra-keystone-VALUE"


def test_context_notifications_only_use_the_named_services_user(pillar):
    extra = pillar["openstack"]["services"]["extra"]
    extra["messaging"] = False
    extra["notifications"] = "keystone"
    pillar["secrets"]["keystone_rabbit_password"] = "keystone-rabbit-VALUE"
    assert openstack.context("extra")["transport_url"].startswith(
        "rabbit://keystone:keystone-rabbit-VALUE@ctl1:5672,")


def test_context_notifications_true_use_the_services_own_user(pillar):
    extra = pillar["openstack"]["services"]["extra"]
    extra["messaging"] = False
    assert extra["notifications"] is True
    assert openstack.context("extra")["transport_url"] == openstack.transport_url(
        "extra", "extra-rabbit-VALUE", ["ctl1", "ctl2", "nas"])


def test_endpoint_host_may_be_the_fqdn(pillar):
    pillar["openstack"]["endpoint_host"] = "{fqdn}"
    ctx = openstack.context("keystone")
    assert ctx["auth_url"] == "https://cloud.lab.twin-cloud.test:5000"


def test_config_of_the_main_file_has_the_implied_sections():
    sections = openstack.config("extra", "/etc/extra/extra.conf")
    assert sections["DEFAULT"] == {"my_ip": "10.77.0.11", "host": "ctl1",
                                   "transport_url": openstack.context("extra")["transport_url"]}
    assert sections["api"] == {"secret": "extra-metadata-VALUE"}
    assert sections["database"]["connection"].startswith("mysql+pymysql://extra:extra-db-VALUE@")
    assert sections["api_database"]["connection"].endswith("/extra_api?charset=utf8")
    assert sections["keystone_authtoken"]["password"] == "extra-keystone-VALUE"
    assert sections["oslo_messaging_rabbit"]["rabbit_quorum_queue"] is True


def test_config_of_another_file_has_its_own_sections_only():
    sections = openstack.config("extra", "/etc/extra/other.conf")
    assert sections == {"x": {"url": openstack.context("extra")["database_urls"]["extra_api"],
                              "auth": f"https://{VIP}:5000"}}


def test_config_the_catalog_overrides_what_is_implied(pillar):
    conf = pillar["openstack"]["services"]["extra"]["config"]["/etc/extra/extra.conf"]
    conf["keystone_authtoken"] = {"service_token_roles_required": False}
    sections = openstack.config("extra", "/etc/extra/extra.conf")
    assert sections["keystone_authtoken"]["service_token_roles_required"] is False
    assert sections["keystone_authtoken"]["username"] == "extra"


def test_config_of_an_unknown_file():
    with pytest.raises(SaltInvocationError,
                       match="openstack:services:extra:config: has no file /etc/x.conf; it has "
                             "/etc/extra/extra.conf, /etc/extra/other.conf"):
        openstack.config("extra", "/etc/x.conf")


def test_keystone_config():
    text = openstack.ini("keystone", "/etc/keystone/keystone.conf")
    sections = openstack.config("keystone", "/etc/keystone/keystone.conf")
    assert sections["database"]["connection"] == openstack.database_url(
        "keystone", SECRETS["keystone_db_password"], VIP, "keystone")
    assert sections["token"]["provider"] == "fernet"
    assert sections["cache"]["memcache_servers"] == "10.77.0.11:11211,10.77.0.12:11211"
    assert "keystone_authtoken" not in sections
    assert text == openstack.render_ini(sections)
    assert "{" not in text, "every placeholder is filled"


def test_every_config_file_of_every_service_renders(minion_id):
    for name, svc in openstack.catalog()["services"].items():
        for path in svc.get("config") or {}:
            text = openstack.ini(name, path)
            assert text.startswith("# Managed by Salt (openstack)"), (name, path)


def test_a_missing_secret_names_its_pillar_key(pillar):
    del pillar["secrets"]["keystone_db_password"]
    with pytest.raises(SaltInvocationError, match=r"^secrets:keystone_db_password: missing; add"):
        openstack.ini("keystone", "/etc/keystone/keystone.conf")
    del pillar["secrets"]["extra_metadata_secret"]
    with pytest.raises(SaltInvocationError, match=r"^secrets:extra_metadata_secret: missing"):
        openstack.config("extra", "/etc/extra/extra.conf")
