"""Unit tests of _modules/ha_objects.py: corosync.conf values, the authkey and
the CIB objects built from the site pillar; the objects are fed to the real
pacemaker module (wanted_cib) to prove they form a valid, stable CIB; the
corosync.conf template is rendered from the built values."""

import base64
import copy
import hashlib
import pathlib
import re

import jinja2
import pytest
import yaml
from salt.exceptions import SaltInvocationError

from tests.conftest import REPO, load_ext

ha_objects = load_ext("modules", "ha_objects")
pacemaker_mod = load_ext("modules", "pacemaker")

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "cib"
SETTINGS = yaml.safe_load((REPO / "salt" / "pacemaker" / "defaults.yaml").read_text())

SITE_YAML = """
name: lab
quorum: {mode: witness, witness: nas}
fencing: {enabled: true, delay_node: ctl1, delay_seconds: 10}
networks:
  management: {cidr: 10.77.0.0/24}
vips:
  api: {address: 10.77.0.10}
nodes:
  ctl2:
    roles: [controller, compute]
    address: 10.77.0.12
    cluster_id: 2
    interfaces: {management: host0}
    bmc: {address: 10.77.0.22, port: 623, username: admin, password_secret: bmc_ctl2}
  ctl1:
    roles: [controller, compute]
    address: 10.77.0.11
    cluster_id: 1
    interfaces: {management: host0}
    bmc: {address: 10.77.0.21, username: admin, password_secret: bmc_ctl1}
  nas:
    roles: [storage, witness]
    address: 10.77.0.13
    interfaces: {management: host0}
"""
SECRETS = {"bmc_ctl1": "pw-ctl1-s3cret", "bmc_ctl2": "pw-ctl2-s3cret",
           "corosync_authkey": "corosync-secret-0123456789abcdef"}


@pytest.fixture
def site():
    return yaml.safe_load(SITE_YAML)


@pytest.fixture
def configure_loader_modules(site):
    return {
        ha_objects: {"__pillar__": {"site": site, "secrets": dict(SECRETS)},
                     "__salt__": {"service.available": lambda unit: unit == "cinder-volume"}},
        pacemaker_mod: {"__salt__": {}, "__opts__": {}},
    }


# --- corosync.conf ------------------------------------------------------------------


def test_corosync_witness_mode(site):
    config = ha_objects.build_corosync(site, SETTINGS)
    assert config["cluster_name"] == "lab"
    assert config["nodes"] == [
        {"name": "ctl1", "nodeid": 1, "ring0_addr": "10.77.0.11"},
        {"name": "ctl2", "nodeid": 2, "ring0_addr": "10.77.0.12"},
    ]
    assert config["quorum"] == {
        "mode": "witness",
        "two_node": False,
        "device": {"host": "10.77.0.13", "port": 5403, "algorithm": "ffsplit",
                   "tie_breaker": 1, "tls": "on"},
    }
    assert config["totem"] == {"crypto_cipher": "aes256", "crypto_hash": "sha256",
                               "token": 3000}


def test_corosync_tie_breaker_is_the_delay_node(site):
    site["fencing"]["delay_node"] = "ctl2"
    assert ha_objects.build_corosync(site)["quorum"]["device"]["tie_breaker"] == 2
    del site["fencing"]["delay_node"]
    assert ha_objects.build_corosync(site)["quorum"]["device"]["tie_breaker"] == "lowest"


def test_corosync_two_node_mode(site):
    site["quorum"] = {"mode": "two_node"}
    quorum = ha_objects.build_corosync(site)["quorum"]
    assert quorum == {"mode": "two_node", "two_node": True, "device": None}


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s["nodes"]["ctl2"].pop("cluster_id"), "site:nodes:ctl2:cluster_id"),
        (lambda s: s["nodes"]["ctl1"].pop("address"), "site:nodes:ctl1:address"),
        (lambda s: s.pop("name"), "site:name"),
        (lambda s: s["quorum"].update(witness="nobody"), "site:quorum:witness"),
        (lambda s: s["quorum"].update(mode="three_node"), "site:quorum:mode"),
        (lambda s: [n["roles"].remove("controller") for k, n in s["nodes"].items()
                    if k != "nas"], "no node has the controller role"),
    ],
)
def test_corosync_refuses_incomplete_sites(site, change, message):
    change(site)
    with pytest.raises(SaltInvocationError, match=re.escape(message)):
        ha_objects.build_corosync(site)


def render_conf(config):
    source = (REPO / "salt" / "pacemaker" / "files" / "corosync.conf.jinja").read_text()
    return jinja2.Template(source).render(c=config)


def parse_conf(text):
    """corosync.conf -> nested dicts; repeated sections become lists."""
    root, stack = {}, []
    current = root
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.endswith("{"):
            section = {}
            name = line[:-1].strip()
            if name in current:
                existing = current[name]
                current[name] = existing if isinstance(existing, list) else [existing]
                current[name].append(section)
            else:
                current[name] = section
            stack.append(current)
            current = section
        elif line == "}":
            current = stack.pop()
        else:
            key, _, value = line.partition(":")
            current[key.strip()] = value.strip()
    assert not stack, "unbalanced braces"
    return root


def test_template_witness(site):
    conf = parse_conf(render_conf(ha_objects.build_corosync(site, SETTINGS)))
    assert conf["totem"] == {"version": "2", "cluster_name": "lab", "transport": "knet",
                             "crypto_cipher": "aes256", "crypto_hash": "sha256",
                             "token": "3000"}
    assert conf["nodelist"]["node"] == [
        {"name": "ctl1", "nodeid": "1", "ring0_addr": "10.77.0.11"},
        {"name": "ctl2", "nodeid": "2", "ring0_addr": "10.77.0.12"},
    ]
    assert conf["quorum"] == {
        "provider": "corosync_votequorum",
        "device": {"votes": "1", "model": "net",
                   "net": {"host": "10.77.0.13", "port": "5403", "algorithm": "ffsplit",
                           "tie_breaker": "1", "tls": "on"}},
    }


def test_template_two_node(site):
    site["quorum"] = {"mode": "two_node"}
    conf = parse_conf(render_conf(ha_objects.build_corosync(site, SETTINGS)))
    assert conf["quorum"] == {"provider": "corosync_votequorum", "two_node": "1"}


def test_corosync_config_reads_the_pillar():
    assert ha_objects.corosync_config(SETTINGS)["cluster_name"] == "lab"


# --- authkey ------------------------------------------------------------------------


def test_authkey_is_derived_and_stable():
    key = ha_objects.derive_authkey(SECRETS["corosync_authkey"], 256)
    assert len(key) == 256
    assert key == ha_objects.derive_authkey(SECRETS["corosync_authkey"], 256)
    assert key != ha_objects.derive_authkey(SECRETS["corosync_authkey"] + "x", 256)
    expected = hashlib.shake_256(
        ha_objects.AUTHKEY_LABEL + SECRETS["corosync_authkey"].encode()
    ).digest(256)
    assert key == expected
    assert base64.b64decode(ha_objects.corosync_authkey(256)) == key


@pytest.mark.parametrize("secret, size", [(None, 256), ("short", 256),
                                          ("long-enough-secret", 64),
                                          ("long-enough-secret", 8192)])
def test_authkey_refusals(secret, size):
    with pytest.raises(SaltInvocationError):
        ha_objects.derive_authkey(secret, size)


# --- CIB objects --------------------------------------------------------------------


def test_objects(site):
    objects = ha_objects.build_objects(site, SECRETS, SETTINGS)
    assert objects["properties"] == {"no-quorum-policy": "stop", "stonith-enabled": True}
    assert objects["rsc_defaults"] == {"resource-stickiness": 100}
    fence = {device["id"]: device for device in objects["stonith"]}
    assert list(fence) == ["fence-ctl1", "fence-ctl2"]
    assert fence["fence-ctl1"]["params"] == {
        "ip": "10.77.0.21", "ipport": 623, "username": "admin", "password": "pw-ctl1-s3cret",
        "lanplus": 1, "method": "onoff", "pcmk_host_list": "ctl1",
    }
    # a slow BMC answer does not stop a device for good: longer timeouts,
    # and a failed device is tried again by itself
    for device in fence.values():
        assert {(op["name"], op["timeout"]) for op in device["ops"]} == {
            ("monitor", "60s"), ("start", "60s")}
        assert device["meta"] == {"failure-timeout": "120s"}
    # with a witness nothing races, so no device waits
    assert "delay" not in fence["fence-ctl2"]["params"]
    assert fence["fence-ctl2"]["params"]["password"] == "pw-ctl2-s3cret"
    assert objects["locations"] == [
        {"id": "salt-loc-fence-ctl1-avoid-ctl1", "rsc": "fence-ctl1", "node": "ctl1",
         "score": "-INFINITY"},
        {"id": "salt-loc-fence-ctl2-avoid-ctl2", "rsc": "fence-ctl2", "node": "ctl2",
         "score": "-INFINITY"},
    ]
    vip, cinder_volume = objects["primitives"]
    assert (cinder_volume["id"], cinder_volume["class"], cinder_volume["type"]) == (
        "cinder-volume", "systemd", "cinder-volume")  # a singleton of the defaults
    assert cinder_volume["meta"] == {"failure-timeout": "120s"}
    assert (vip["id"], vip["class"], vip["provider"], vip["type"]) == (
        "vip", "ocf", "heartbeat", "IPaddr2")
    assert vip["params"] == {"ip": "10.77.0.10", "cidr_netmask": 24, "nic": "host0"}
    (clone,) = objects["clones"]
    assert clone["id"] == "haproxy-clone"
    assert clone["meta"] == {"interleave": True}
    assert (clone["primitive"]["class"], clone["primitive"]["type"]) == ("systemd", "haproxy")
    assert objects["colocations"] == [{"id": "salt-col-vip-with-haproxy-clone", "rsc": "vip",
                                       "with-rsc": "haproxy-clone", "score": "INFINITY"}]
    assert objects["orders"] == [{"id": "salt-ord-haproxy-clone-then-vip",
                                  "first": "haproxy-clone", "then": "vip",
                                  "kind": "Mandatory"}]


def test_two_node_mode_delays_only_the_delay_nodes_device(site):
    site["quorum"] = {"mode": "two_node"}
    fence = {d["id"]: d["params"] for d in ha_objects.build_objects(site, SECRETS)["stonith"]}
    assert fence["fence-ctl1"]["delay"] == 10
    assert "delay" not in fence["fence-ctl2"]


def test_delay_follows_the_delay_node(site):
    site["quorum"] = {"mode": "two_node"}
    site["fencing"]["delay_node"] = "ctl2"
    fence = {d["id"]: d["params"] for d in ha_objects.build_objects(site, SECRETS)["stonith"]}
    assert fence["fence-ctl2"]["delay"] == 10
    assert "delay" not in fence["fence-ctl1"]


def test_fencing_disabled_declares_no_device(site):
    site["fencing"] = {"enabled": False}
    objects = ha_objects.build_objects(site, SECRETS)
    assert objects["properties"]["stonith-enabled"] is False
    # declared empty: devices and constraints Salt made earlier are removed
    assert objects["stonith"] == [] and objects["locations"] == []


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s, sec: sec.pop("bmc_ctl2"), "secrets:bmc_ctl2"),
        (lambda s, sec: s["nodes"]["ctl1"]["bmc"].pop("address"), "site:nodes:ctl1:bmc:address"),
        (lambda s, sec: s["nodes"]["ctl1"].pop("bmc"), "site:nodes:ctl1:bmc:address"),
        (lambda s, sec: s["vips"].pop("api"), "site:vips:api:address"),
        (lambda s, sec: s["networks"]["management"].pop("cidr"),
         "site:networks:management:cidr"),
        (lambda s, sec: s["nodes"]["ctl2"]["interfaces"].update(management="eno1"),
         "differently"),
        (lambda s, sec: s["nodes"]["ctl2"].pop("interfaces"),
         "site:nodes:ctl2:interfaces:management"),
    ],
)
def test_objects_refuse_incomplete_sites(site, change, message):
    secrets = dict(SECRETS)
    change(site, secrets)
    with pytest.raises(SaltInvocationError, match=re.escape(message)):
        ha_objects.build_objects(site, secrets)


def test_settings_override_one_key_only(site):
    settings = copy.deepcopy(SETTINGS)
    settings["cib"] = {"rsc_defaults": {"resource-stickiness": 200},
                       "haproxy": {"monitor": "3s"}}
    objects = ha_objects.build_objects(site, SECRETS, settings)
    assert objects["rsc_defaults"] == {"resource-stickiness": 200}
    ops = objects["clones"][0]["primitive"]["ops"]
    assert ops[0] == {"name": "monitor", "interval": "3s", "timeout": "20s"}
    assert objects["clones"][0]["id"] == "haproxy-clone"


def test_objects_make_a_stable_cib(site):
    """The built objects go through the real module: valid, then nothing to do."""
    objects = ha_objects.build_objects(site, SECRETS, SETTINGS)
    empty = (FIXTURES / "empty-2node.xml").read_text(encoding="utf-8")
    wanted = pacemaker_mod.wanted_cib(empty, objects)
    assert pacemaker_mod.cib_differs(empty, wanted)
    assert not pacemaker_mod.cib_differs(wanted, pacemaker_mod.wanted_cib(wanted, objects))
    for device in ("fence-ctl1", "fence-ctl2", "vip", "haproxy-clone"):
        assert f'id="{device}"' in wanted


def test_singletons_are_declared_once_installed(site):
    assert [p["id"] for p in ha_objects.build_objects(site, SECRETS, SETTINGS, [])[
        "primitives"]] == ["vip"]
    assert [p["id"] for p in ha_objects.build_objects(site, SECRETS, SETTINGS, ["cinder-volume"])[
        "primitives"]] == ["vip", "cinder-volume"]


def test_cib_objects_reads_the_pillar():
    objects = ha_objects.cib_objects(SETTINGS)
    assert "cinder-volume" in [p["id"] for p in objects["primitives"]]
    assert [d["id"] for d in objects["stonith"]] == ["fence-ctl1", "fence-ctl2"]
