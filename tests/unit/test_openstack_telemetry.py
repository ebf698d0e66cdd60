"""Telemetry's SLS (salt/openstack/{gnocchi,ceilometer,aodh}.sls over their
services/*.yaml), rendered by Salt's real loader (masterless, no daemon) for
the lab's nodes and the example site's: Gnocchi's indexer in Galera, its
file store on the NAS's mount point (made a local directory only where the
site mounts nothing), initialised before its units start, and its metricd
coordinated through the indexer's database at the VIP; Ceilometer's agents
by role, its pipelines to Gnocchi, its central agents (only) coordinated
through the first controller's memcached, ceilometer-upgrade after its
Keystone user; Aodh's evaluators coordinated the same way; and the YAML
files Ceilometer's agents read."""

import configparser
import json
import multiprocessing
import traceback

import pytest
import yaml

from .sls import (SALT, minion_loaders, minion_opts, secret_value, secrets_of, site_pillar,
                  state_args, state_fun)

FILES = SALT / "openstack" / "files"
GNOCCHI_CONF = "/etc/gnocchi/gnocchi.conf"
CEILOMETER_CONF = "/etc/ceilometer/ceilometer.conf"
AODH_CONF = "/etc/aodh/aodh.conf"
STORE = "/var/lib/gnocchi/storage"
# (site, first controller, second controller, their addresses, the VIP)
SITES = {
    "lab": ("ctl1", "ctl2", ("10.77.0.11", "10.77.0.12"), "10.77.0.10"),
    "example": ("r430-a", "r430-b", ("192.0.2.11", "192.0.2.12"), "192.0.2.10"),
}
CONTROLLERS = [(site, node) for site, spec in SITES.items() for node in spec[:2]]


def _opts(tmp_path, site, minion_id):
    doc = site_pillar(site)
    return minion_opts(tmp_path / site / minion_id, minion_id,
                       {**doc, "secrets": secrets_of(doc, minion_id)})


SLS = ("gnocchi", "ceilometer", "aodh")
CONFIGS = (("gnocchi", GNOCCHI_CONF), ("ceilometer", CEILOMETER_CONF), ("aodh", AODH_CONF))


def _render_node(tmp, site, minion_id, conn):
    """In a child process: one minion's loader renders the three SLS and
    the services' main config files, and sends them back as JSON."""
    try:
        with minion_loaders() as minions:
            loaders = minions(minion_id, lambda: _opts(tmp, site, minion_id))
            out = {"sls": {sls: loaders.modules.state.show_sls(f"openstack.{sls}")
                           for sls in SLS},
                   "ini": {f"{service} {path}": loaders.modules.openstack.ini(service, path)
                           for service, path in CONFIGS}}
        conn.send(json.dumps(out, default=str))
    except BaseException:  # pylint: disable=broad-except
        conn.send(json.dumps({"error": traceback.format_exc()}))
    finally:
        conn.close()


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    """{(site, minion id): {sls: {high data}, ini: {"<service> <path>": text}}},
    each node rendered in a process of its own: Salt's loaders of several
    minions in one process let one minion's render see another's pillar."""
    tmp = tmp_path_factory.mktemp("telemetry-minions")
    context = multiprocessing.get_context("fork")
    done = {}
    for site, minion_id in CONTROLLERS:
        parent, child = context.Pipe(duplex=False)
        process = context.Process(target=_render_node, args=(tmp, site, minion_id, child))
        process.start()
        child.close()
        data = json.loads(parent.recv())
        process.join(120)
        assert "error" not in data, data.get("error")
        done[site, minion_id] = data
    return done


@pytest.fixture(scope="module")
def rendered(nodes):
    def get(site, minion_id, sls):
        high = nodes[site, minion_id]["sls"][sls]
        assert isinstance(high, dict), "\n".join(map(str, high))
        return high

    return get


@pytest.fixture(scope="module")
def minion(nodes):
    """The text of a service's main config file on a node."""
    def get(site, minion_id, service, path):
        return nodes[site, minion_id]["ini"][f"{service} {path}"]

    return get


def ini(text):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def service_file(minion, site, minion_id, service, path):
    return ini(minion(site, minion_id, service, path))


def requisites(args, kind):
    """{(module, state id)} of a state's ``kind`` (require, watch_in, ...)."""
    return {next(iter(item.items())) for item in args.get(kind) or []}


# --- Gnocchi ------------------------------------------------------------------------------------


@pytest.mark.parametrize("site, minion_id", CONTROLLERS)
def test_gnocchi_indexes_in_galera_and_stores_in_the_shared_directory(minion, site, minion_id):
    vip = SITES[site][3]
    conf = service_file(minion, site, minion_id, "gnocchi", GNOCCHI_CONF)
    password = secret_value("gnocchi_db_password")
    assert conf["indexer"]["url"] == (
        f"mysql+pymysql://gnocchi:{password}@{vip}/gnocchi?charset=utf8")
    assert conf["storage"]["driver"] == "file"
    assert conf["storage"]["file_basepath"] == STORE
    assert conf["api"]["auth_mode"] == "keystone"
    assert conf["metricd"]["workers"] == "1"
    assert conf["keystone_authtoken"]["username"] == "gnocchi"
    assert conf["keystone_authtoken"]["password"] == secret_value("gnocchi_keystone_password")
    # metricd coordinates through the indexer's database at the VIP (Gnocchi's
    # default when coordination_url is unset): no node-bound backend
    assert not conf.has_option("DEFAULT", "coordination_url")


def test_the_gnocchi_api_listens_on_the_management_address(rendered):
    for minion_id, address in (("ctl1", "10.77.0.11"), ("ctl2", "10.77.0.12")):
        args = state_args(rendered("lab", minion_id, "gnocchi")[
            "openstack-gnocchi-uwsgi-gnocchi-api-options"])
        assert args["name"] == "/etc/gnocchi/gnocchi-api-uwsgi.ini"
        assert args["sections"]["uwsgi"]["http-socket"] == f"{address}:8041"


@pytest.mark.parametrize("site, minion_id", CONTROLLERS)
def test_the_gnocchi_units_start_on_a_writable_initialised_store(rendered, site, minion_id):
    high = rendered(site, minion_id, "gnocchi")
    init = state_args(high["openstack-gnocchi-store-initialised"], "cmd")
    assert init["name"] == (
        "gnocchi-upgrade --skip-index --skip-archive-policies-creation --sacks-number 32")
    assert init["runas"] == "gnocchi"
    assert init["unless"] == f"test -f {STORE}/tmp/gnocchi-config"
    assert ("cmd", "openstack-gnocchi-store-writable") in requisites(init, "require")
    assert requisites(init, "require_in") == {
        ("service", "openstack-gnocchi-unit-gnocchi-api-running"),
        ("service", "openstack-gnocchi-unit-gnocchi-metricd-running"),
    }
    writable = state_args(high["openstack-gnocchi-store-writable"], "cmd")
    assert writable["unless"] == (
        f"su -s /bin/sh -c 'test -d {STORE} && test -w {STORE} && test -x {STORE}' gnocchi")


def test_only_a_site_that_mounts_nothing_makes_the_store_a_local_directory(rendered):
    lab = rendered("lab", "ctl2", "gnocchi")
    args = state_args(lab["openstack-gnocchi-store-directory"], "file")
    assert (args["name"], args["user"], args["group"]) == (STORE, "gnocchi", "gnocchi")
    assert args["unless"] == f"mountpoint -q {STORE}"
    assert "openstack-gnocchi-store-directory" not in rendered("example", "r430-b", "gnocchi")


def test_the_gnocchi_indexer_is_synced_once_per_cluster(rendered):
    first = rendered("lab", "ctl1", "gnocchi")
    assert state_fun(first["openstack-gnocchi-db-synced"])[0] == "openstack"
    assert "openstack-gnocchi-db-synced" not in rendered("lab", "ctl2", "gnocchi")
    catalog = yaml.safe_load((SALT / "openstack" / "services" / "gnocchi.yaml").read_text())
    assert catalog["db_sync"] == ["gnocchi-upgrade --skip-storage --skip-incoming"]
    assert catalog["identity"]["type"] == "metric"
    assert catalog["apis"] == {"gnocchi": {"port": 8041, "check": "GET /"}}


# --- Ceilometer ---------------------------------------------------------------------------------


@pytest.mark.parametrize("site, minion_id", CONTROLLERS)
def test_ceilometer_reaches_keystone_gnocchi_and_rabbitmq_as_itself(minion, site, minion_id):
    vip = SITES[site][3]
    conf = service_file(minion, site, minion_id, "ceilometer", CEILOMETER_CONF)
    creds = conf["service_credentials"]
    assert creds["auth_url"] == f"https://{vip}:5000"
    assert creds["username"] == "ceilometer"
    assert creds["password"] == secret_value("ceilometer_keystone_password")
    assert creds["project_name"] == "service"
    assert creds["interface"] == "internalURL"
    transport = conf["DEFAULT"]["transport_url"]
    assert transport.startswith(
        f"rabbit://ceilometer:{secret_value('ceilometer_rabbit_password')}@")
    assert conf["oslo_messaging_rabbit"]["rabbit_quorum_queue"] == "true"
    assert conf["notification"]["workers"] == "1"
    assert conf["compute"]["instance_discovery_method"] == "libvirt_metadata"
    # the central agents' coordination lives in their own file
    assert not conf.has_section("coordination")


@pytest.mark.parametrize("site, minion_id", CONTROLLERS)
def test_the_agents_run_by_role(rendered, site, minion_id):
    high = rendered(site, minion_id, "ceilometer")
    units = {state_args(state, "service")["name"] for sid, state in high.items()
             if sid.startswith("openstack-ceilometer-unit-")}
    assert units == {"ceilometer-agent-notification", "ceilometer-agent-central",
                     "ceilometer-agent-compute"}


@pytest.mark.parametrize("site, minion_id", CONTROLLERS)
def test_the_notification_agent_starts_only_once_keystone_answers(rendered, site, minion_id):
    """It loads its gnocchi:// publisher once, at start: after a site power
    loss it came up before Keystone and sent Gnocchi nothing until restarted."""
    high = rendered(site, minion_id, "ceilometer")
    unit = "ceilometer-agent-notification"
    dropin = state_args(high[f"openstack-ceilometer-identity-wait-{unit}"], "file")
    assert dropin["name"] == f"/etc/systemd/system/{unit}.service.d/twin-cloud-identity.conf"
    service = ini(dropin["contents"])["Service"]
    script = state_args(high["openstack-packages-keystone-token-wait"], "file")
    assert service["ExecStartPre"] == (
        f"{script['name']} /etc/ceilometer/ceilometer.conf service_credentials 300")
    assert script["source"] == "salt://openstack/files/keystone-token-wait"
    assert service["Restart"] == "on-failure"
    running = state_args(high[f"openstack-ceilometer-unit-{unit}-running"], "service")
    assert {("file", f"openstack-ceilometer-identity-wait-{unit}"),
            ("file", "openstack-packages-keystone-token-wait")} <= set(requisites(
        running, "watch"))
    # the others publish to the bus: no wait
    assert sorted(sid for sid in high if "-identity-wait-" in sid) == [
        f"openstack-ceilometer-identity-wait-{unit}",
        f"openstack-ceilometer-identity-wait-{unit}-reloaded"]


@pytest.mark.parametrize("site, minion_id", CONTROLLERS)
def test_only_the_central_agent_coordinates_through_the_first_controllers_memcached(
        rendered, site, minion_id):
    high = rendered(site, minion_id, "ceilometer")
    first_address = SITES[site][2][0]
    coordination = state_args(high["openstack-ceilometer-central-coordination"], "file")
    assert coordination["name"] == "/etc/ceilometer/ceilometer-central.conf"
    assert ini(coordination["contents"])["coordination"]["backend_url"] == (
        f"memcached://{first_address}:11211")
    arguments = state_args(high["openstack-ceilometer-central-arguments"], "file")
    assert arguments["name"] == "/etc/default/ceilometer-agent-central"
    assert ('DAEMON_ARGS="${DAEMON_ARGS} --config-file=/etc/ceilometer/ceilometer-central.conf"'
            in arguments["contents"])
    for args in (coordination, arguments):
        assert requisites(args, "watch_in") == {
            ("service", "openstack-ceilometer-unit-ceilometer-agent-central-running")}


@pytest.mark.parametrize("site, minion_id", CONTROLLERS)
def test_every_agent_reads_the_yaml_files_and_restarts_on_their_change(
        rendered, site, minion_id):
    high = rendered(site, minion_id, "ceilometer")
    for name in ("polling.yaml", "pipeline.yaml", "event_pipeline.yaml"):
        args = state_args(high[f"openstack-ceilometer-file-{name}"], "file")
        assert args["name"] == f"/etc/ceilometer/{name}"
        assert args["source"] == f"salt://openstack/files/ceilometer-{name}"
        assert (args["user"], args["group"], args["mode"]) == ("root", "ceilometer", "0640")
        assert requisites(args, "watch_in") == {
            ("service", f"openstack-ceilometer-unit-{unit}-running")
            for unit in ("ceilometer-agent-notification", "ceilometer-agent-central",
                         "ceilometer-agent-compute")}


def test_ceilometer_upgrade_runs_once_after_its_keystone_user_exists(rendered):
    first = rendered("lab", "ctl1", "ceilometer")
    order = state_args(first["openstack-ceilometer-upgrade-after-identity"], "test")
    assert requisites(order, "require") == {
        ("openstack", "openstack-ceilometer-identity-registered")}
    assert requisites(order, "require_in") == {("openstack", "openstack-ceilometer-db-synced")}
    second = rendered("lab", "ctl2", "ceilometer")
    assert "openstack-ceilometer-upgrade-after-identity" not in second
    assert "openstack-ceilometer-db-synced" not in second


def _yaml(name):
    return yaml.safe_load((FILES / f"ceilometer-{name}").read_text())


def test_samples_and_events_go_to_gnocchi_and_nowhere_else():
    for name, kind in (("pipeline.yaml", "meters"), ("event_pipeline.yaml", "events")):
        doc = _yaml(name)
        assert [source[kind] for source in doc["sources"]] == [["*"]]
        assert [sink["publishers"] for sink in doc["sinks"]] == [["gnocchi://"]]
        assert {s for source in doc["sources"] for s in source["sinks"]} == {
            sink["name"] for sink in doc["sinks"]}


def test_the_polling_sources_name_meters_once_each():
    sources = _yaml("polling.yaml")["sources"]
    meters = [meter for source in sources for meter in source["meters"]]
    assert len(meters) == len(set(meters))
    assert {"cpu", "image.size", "volume.size"} <= set(meters)
    assert all(isinstance(source["interval"], int) and source["interval"] > 0
               for source in sources)


# --- Aodh ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("site, minion_id", CONTROLLERS)
def test_aodh_keeps_alarms_in_galera_and_coordinates_its_evaluators(
        minion, rendered, site, minion_id):
    first_address, vip = SITES[site][2][0], SITES[site][3]
    conf = service_file(minion, site, minion_id, "aodh", AODH_CONF)
    password = secret_value("aodh_db_password")
    assert conf["database"]["connection"] == (
        f"mysql+pymysql://aodh:{password}@{vip}/aodh?charset=utf8")
    assert conf["service_credentials"]["username"] == "aodh"
    assert conf["service_credentials"]["password"] == secret_value("aodh_keystone_password")
    assert conf["evaluator"]["workers"] == "1"
    high = rendered(site, minion_id, "aodh")
    coordination = state_args(high["openstack-aodh-evaluator-coordination"], "file")
    assert ini(coordination["contents"])["coordination"]["backend_url"] == (
        f"memcached://{first_address}:11211")
    arguments = state_args(high["openstack-aodh-evaluator-arguments"], "file")
    assert "--config-file=/etc/aodh/aodh-evaluator.conf" in arguments["contents"]
    assert requisites(arguments, "watch_in") == {
        ("service", "openstack-aodh-unit-aodh-evaluator-running")}
    args = state_args(high["openstack-aodh-uwsgi-aodh-api-options"])
    address = SITES[site][2][[SITES[site][0], SITES[site][1]].index(minion_id)]
    assert args["sections"]["uwsgi"]["http-socket"] == f"{address}:8042"
