"""Neutron's SLS (salt/openstack/neutron.sls over services/neutron.yaml),
rendered by Salt's real loader (masterless, no daemon) for the lab's nodes
and the example site's: the files the pattern's placeholders cannot fill
(ML2's flat physnet from the site's provider network, the Linux bridge
agent's interface mapping and VXLAN address from each node's inventory
entry), what they restart and what reads them first; and the settings the
service's own files carry (HA routers, two DHCP agents, Linux bridge,
metadata through the VIP with the shared secret)."""

import configparser
import copy
import functools

import pytest

from .sls import (served_roots, load as _load, minion_loaders, minion_opts, secret_value,
                  secrets_of, state_args)

ML2 = "/etc/neutron/plugins/ml2/ml2_conf.ini"
LINUXBRIDGE = "/etc/neutron/plugins/ml2/linuxbridge_agent.ini"
AGENTS = ["neutron-linuxbridge-agent", "neutron-dhcp-agent", "neutron-l3-agent",
          "neutron-metadata-agent"]


def _site(name):
    if name == "lab":
        return _load("lab/pillar/site.sls")
    if name == "example":
        return _load("pillar/examples/site.sls")
    # the lab with a network node that has no provider interface and
    # another physnet name
    doc = copy.deepcopy(_load("lab/pillar/site.sls"))
    doc["site"]["networks"]["provider"]["physnet"] = "extnet"
    del doc["site"]["nodes"]["ctl2"]["interfaces"]["provider"]
    return doc


def _opts(tmp_path, site, minion_id):
    doc = _site(site)
    return minion_opts(tmp_path / site / minion_id, minion_id,
                       {**doc, "secrets": secrets_of(doc, minion_id)}, file_roots=served_roots())


@pytest.fixture(scope="module")
def minion(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("neutron-minions")
    with minion_loaders() as loaders:

        def get(site, minion_id):
            return loaders((site, minion_id), lambda: _opts(tmp, site, minion_id))

        yield get


@pytest.fixture(scope="module")
def rendered(minion):
    @functools.cache
    def get(site, minion_id):
        high = minion(site, minion_id).modules.state.show_sls("openstack.neutron")
        assert isinstance(high, dict), "\n".join(map(str, high))
        return high

    return get


def ini(text):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def node_file(high, path):
    """(the file's sections, the state's arguments) of one of the SLS's own files."""
    state = high[f"openstack-neutron-node-config-{path}"]
    args = state_args(state, "file")
    return ini(args["contents"]), args


def service_file(minion, site, minion_id, path):
    return ini(minion(site, minion_id).modules.openstack.ini("neutron", path))


@pytest.mark.parametrize("site, minion_id, interface, address", [
    ("lab", "ctl1", "host1", "10.77.0.11"),
    ("lab", "ctl2", "host1", "10.77.0.12"),
    ("example", "r430-a", "eno2", "192.0.2.11"),
    ("example", "r430-b", "eno2", "192.0.2.12"),
])
def test_the_linux_bridge_agent_maps_the_provider_interface_and_tunnels_from_the_node(
        rendered, site, minion_id, interface, address):
    conf, args = node_file(rendered(site, minion_id), LINUXBRIDGE)
    assert conf["linux_bridge"]["physical_interface_mappings"] == f"provider:{interface}"
    assert conf["vxlan"]["local_ip"] == address
    assert conf["vxlan"]["enable_vxlan"] == "true"
    assert conf["vxlan"]["l2_population"] == "true"
    assert conf["securitygroup"]["firewall_driver"] == "iptables"
    assert (args["user"], args["group"], args["mode"]) == ("root", "neutron", "0640")


def test_a_node_without_a_provider_interface_maps_nothing(rendered):
    conf, _ = node_file(rendered("variant", "ctl2"), LINUXBRIDGE)
    assert conf["linux_bridge"]["physical_interface_mappings"] == ""
    conf, _ = node_file(rendered("variant", "ctl1"), LINUXBRIDGE)
    assert conf["linux_bridge"]["physical_interface_mappings"] == "extnet:host1"


@pytest.mark.parametrize("site, physnet", [("lab", "provider"), ("variant", "extnet")])
def test_ml2_allows_the_sites_physnet_flat_and_vxlan_self_service(rendered, site, physnet):
    conf, _ = node_file(rendered(site, "ctl1"), ML2)
    assert conf["ml2_type_flat"]["flat_networks"] == physnet
    assert conf["ml2"]["type_drivers"] == "flat,vxlan"
    assert conf["ml2"]["tenant_network_types"] == "vxlan"
    assert conf["ml2"]["mechanism_drivers"] == "linuxbridge,l2population"
    assert conf["ml2_type_vxlan"]["vni_ranges"] == "1:1000"


@pytest.mark.parametrize("path", [ML2, LINUXBRIDGE])
def test_the_node_files_restart_the_units_and_come_before_the_db_sync(rendered, path):
    first = state_args(rendered("lab", "ctl1")[f"openstack-neutron-node-config-{path}"])
    second = state_args(rendered("lab", "ctl2")[f"openstack-neutron-node-config-{path}"])
    for args in (first, second):
        watched = {item["service"] for item in args["watch_in"]}
        assert watched == {f"openstack-neutron-unit-{u}-running"
                           for u in ["neutron-api", "neutron-rpc-server", *AGENTS]}
    assert first["require_in"] == [{"openstack": "openstack-neutron-db-synced"}]
    assert "require_in" not in second  # the db sync runs on the first controller only


def test_every_unit_runs_on_a_controller_with_the_network_role(rendered):
    high = rendered("lab", "ctl2")
    units = {args["name"] for sid, state in high.items()
             if sid.startswith("openstack-neutron-unit-")
             for args in [state_args(state, "service")]}
    assert units == {"neutron-api", "neutron-rpc-server", *AGENTS}


def test_the_api_listens_on_the_management_address(rendered):
    args = state_args(rendered("lab", "ctl2")["openstack-neutron-uwsgi-neutron-api-options"])
    assert args["name"] == "/etc/neutron/neutron-api-uwsgi.ini"
    assert args["sections"]["uwsgi"]["http-socket"] == "10.77.0.12:9696"


def test_neutron_conf_asks_for_ha_routers_two_dhcp_agents_and_few_workers(minion):
    conf = service_file(minion, "lab", "ctl1", "/etc/neutron/neutron.conf")
    default = conf["DEFAULT"]
    assert default["core_plugin"] == "ml2"
    assert default["service_plugins"] == "router"
    assert default["l3_ha"] == "true"
    assert default["max_l3_agents_per_router"] == "2"
    assert default["l3_ha_network_type"] == "vxlan"
    assert default["dhcp_agents_per_network"] == "2"
    assert (default["api_workers"], default["rpc_workers"]) == ("1", "1")
    # Zed refuses the linuxbridge mechanism driver without it
    assert conf["experimental"]["linuxbridge"] == "true"
    # the implied sections: the database at the VIP, RabbitMQ, Keystone
    assert conf["database"]["connection"].startswith("mysql+pymysql://neutron:")
    assert "@10.77.0.10/neutron" in conf["database"]["connection"]
    assert conf["DEFAULT"]["transport_url"].startswith("rabbit://neutron:")
    assert conf["keystone_authtoken"]["username"] == "neutron"
    # nova is told about ports with neutron's own credentials
    assert conf["nova"]["username"] == "neutron"
    assert conf["nova"]["password"] == secret_value("neutron_keystone_password")
    assert conf["nova"]["auth_url"] == "https://10.77.0.10:5000"


@pytest.mark.parametrize("path", ["/etc/neutron/l3_agent.ini", "/etc/neutron/dhcp_agent.ini"])
def test_the_agents_plug_into_linux_bridges(minion, path):
    conf = service_file(minion, "lab", "ctl1", path)
    assert conf["DEFAULT"]["interface_driver"] == "linuxbridge"
    assert "database" not in conf and "keystone_authtoken" not in conf


def test_the_metadata_agent_proxies_to_nova_at_the_vip_with_the_shared_secret(minion):
    conf = service_file(minion, "lab", "ctl2", "/etc/neutron/metadata_agent.ini")
    assert conf["DEFAULT"]["nova_metadata_host"] == "10.77.0.10"
    assert conf["DEFAULT"]["nova_metadata_port"] == "8775"
    assert conf["DEFAULT"]["metadata_proxy_shared_secret"] == secret_value("metadata_secret")
    assert conf["DEFAULT"]["metadata_workers"] == "1"


def test_the_api_reads_its_own_file_last_for_native_rabbitmq_heartbeats(rendered, minion):
    """neutron-api runs eventlet-patched under uWSGI: an idle worker runs no
    green thread, so its heartbeats go through a native thread, set in a file
    only it reads (given to it through uWSGI's pyargv)."""
    args = state_args(rendered("lab", "ctl1")["openstack-neutron-uwsgi-neutron-api-config-files"],
                      "ini")
    assert args["name"] == "/etc/neutron/neutron-api-uwsgi.ini"
    assert args["sections"]["uwsgi"]["pyargv"] == (
        "--config-file=/etc/neutron/neutron.conf "
        "--config-file=/etc/neutron/plugins/ml2/ml2_conf.ini "
        "--config-file=/etc/neutron/neutron-api.conf")
    assert {"service": "openstack-neutron-unit-neutron-api-running"} in args["watch_in"]
    api = service_file(minion, "lab", "ctl1", "/etc/neutron/neutron-api.conf")
    assert api["oslo_messaging_rabbit"]["heartbeat_in_pthread"] == "true"
    assert "database" not in api and "keystone_authtoken" not in api
    # the eventlet services keep green heartbeats (the pattern's default)
    main = service_file(minion, "lab", "ctl1", "/etc/neutron/neutron.conf")
    assert main["oslo_messaging_rabbit"]["heartbeat_in_pthread"] == "false"
