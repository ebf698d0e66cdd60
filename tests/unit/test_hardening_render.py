"""Hardening, rendered by Salt's real loader (masterless, no daemon) for the
lab's and the example site's controllers: what the states write, checked
before any node sees it (tests/lab/test_hardening.py checks the nodes).

- Galera (salt/galera/files/60-galera.cnf.jinja) listens on the node's
  management address only: SQL (bind-address), group communication
  (gmcast.listen_addr), IST (ist.recv_addr) and the mariabackup SST stream
  (socat's bind, [sst] sockopt); nothing on every address.
- Keystone's config (salt/openstack/services/keystone.yaml) sets no
  admin_token and no insecure_debug.
"""

import configparser

import pytest

from .sls import SALT, site_minions, site_pillar, state_args

SITES = {name: site_pillar(name) for name in ("lab", "example")}
CONTROLLERS = [
    (site, node) for site, doc in SITES.items()
    for node, spec in doc["site"]["nodes"].items() if "controller" in spec.get("roles", [])
]
IDS = [f"{site}-{node}" for site, node in CONTROLLERS]
GALERA_CONFIG_STATE = "galera-config-managed"


@pytest.fixture(scope="module")
def minion(tmp_path_factory):
    """``minion(site, id, label="", **pillar)``: the loaders of one masterless
    node, with ``pillar`` over its site's (``label`` names that variant)."""
    with site_minions(tmp_path_factory.mktemp("hardening"), SITES) as get:
        yield get


def galera_config(loaders):
    """The text of 60-galera.cnf as the `galera` SLS writes it on that node."""
    high = loaders.modules.state.show_sls("galera")
    assert isinstance(high, dict), high
    args = state_args(high[GALERA_CONFIG_STATE], "file")
    template = (SALT / args["source"].removeprefix("salt://")).read_text()
    return loaders.modules.file.apply_template_on_contents(
        template, template="jinja", context=args.get("context") or {}, defaults=None,
        saltenv="base")


def parse(text):
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.read_string(text)
    return parser


def provider_options(parser):
    """``wsrep_provider_options`` as ``{key: value}`` (one line, ``;``-separated)."""
    line = parser.get("galera", "wsrep_provider_options").strip('"')
    return dict(item.strip().split("=", 1) for item in line.split(";"))


@pytest.mark.parametrize("site, minion_id", CONTROLLERS, ids=IDS)
def test_galera_listens_on_the_management_address_only(minion, site, minion_id):
    address = SITES[site]["site"]["nodes"][minion_id]["address"]
    text = galera_config(minion(site, minion_id))
    config = parse(text)
    assert config.get("mysqld", "bind-address") == address
    assert config.get("galera", "wsrep_node_address") == address
    options = provider_options(config)
    assert options["gmcast.listen_addr"] == f"tcp://{address}:4567"
    assert options["ist.recv_addr"] == f"{address}:4568"
    # the defaults' options are still there, on the same single line
    assert options["pc.recovery"] == "TRUE" and options["gcache.recover"] == "yes"
    assert text.count("wsrep_provider_options") == 1
    assert config.get("sst", "sockopt") == f"bind={address}"
    assert "0.0.0.0" not in text and "::" not in text


def test_a_site_may_still_choose_galeras_listen_address(minion):
    """pillar galera:provider_options comes last, as for garbd (galera.arbitrator)."""
    loaders = minion("lab", "ctl1", "listen-override", galera={"provider_options": {
        "gmcast.listen_addr": "tcp://10.77.0.11:14567", "gcache.size": "1G"}})
    options = provider_options(parse(galera_config(loaders)))
    assert options["gmcast.listen_addr"] == "tcp://10.77.0.11:14567"
    assert options["gcache.size"] == "1G"
    assert options["ist.recv_addr"] == "10.77.0.11:4568"


@pytest.mark.parametrize("site, minion_id", CONTROLLERS[:1], ids=IDS[:1])
def test_keystone_sets_no_admin_token_and_no_insecure_debug(minion, site, minion_id):
    text = minion(site, minion_id).modules.openstack.ini("keystone", "/etc/keystone/keystone.conf")
    config = parse(text)
    assert config.get("token", "provider") == "fernet"  # the file Keystone reads
    assert not config.has_option("DEFAULT", "admin_token")
    assert config.get("DEFAULT", "insecure_debug", fallback="false") == "false"
    assert "admin_token" not in text


def test_every_uwsgi_ini_is_root_group_0640(minion):
    """The package's uWSGI inis (0644 root:root) get the mode of the config
    files the pattern writes: root:<group> 0640."""
    keys = {repo: {"0": "key-0"} for repo in ("fernet", "credential")}
    loaders = minion("lab", "ctl1", "openstack", keystone_keys=keys)
    checked = 0
    for name in loaders.modules.openstack.services():
        svc = loaders.modules.openstack.service(name)
        uwsgi = svc.get("uwsgi") or {}
        high = loaders.modules.state.show_sls(f"openstack.{name}") if uwsgi else {}
        for unit, spec in uwsgi.items():
            args = state_args(high[f"openstack-{name}-uwsgi-{unit}-ini-mode"], "file")
            assert (args["name"], args["user"], args["group"], args["mode"]) == (
                spec["ini"], "root", svc["group"], "0640")
            assert args["replace"] is False  # the package's text stays; ini.options_present edits it
            checked += 1
    assert checked >= 10
