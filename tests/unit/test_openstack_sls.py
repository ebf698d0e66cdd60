"""Every SLS under salt/openstack/, rendered by Salt's real loader (masterless,
no daemon) for each node of the lab (lab/pillar/site.sls) and of the example
site (pillar/examples/site.sls), with a secrets pillar holding every name the
site needs (``lab.secrets.names``), each with a value of its own.

The services are filled in over time: nothing here names a service's
contents. What holds for all of them: each SLS renders on each node, its
state ids are namespaced, and no file a state writes with a secret in it
(its contents, its template's rendered text, or the pillar it copies) is
readable by everyone, nor shows its changes."""

import configparser
import functools
import json
import re

import pytest
import salt.config
import salt.utils.data
import yaml
from saltfactories.utils.functional import Loaders

from lab import secrets as lab_secrets
from tests.conftest import load_ext

from .sls import (REPO, SALT, load as _load, minion_loaders, minion_opts, secret_value,
                  secrets_of, site_pillar, state_args, state_fun, state_function)

SITES = {name: site_pillar(name) for name in ("lab", "example")}
EXAMPLE_SECRETS = _load("pillar/examples/secrets.sls")["secrets"]
NODES = [(site, node) for site, doc in SITES.items() for node in doc["site"]["nodes"]]
# the nodes that apply salt/openstack (salt/roles.yaml): the others (the NAS)
# never render it, and their pillar lacks its secrets (pillar/top.sls)
ROLE_SLS = _load("salt/roles.yaml")
OPENSTACK_NODES = [(site, node) for site, node in NODES
                   if any("openstack" in (ROLE_SLS.get(role) or [])
                          for role in SITES[site]["site"]["nodes"][node]["roles"])]
SLS = sorted(
    "openstack" if path.stem == "init" else f"openstack.{path.stem}"
    for path in (SALT / "openstack").glob("*.sls")
)
# states that write a file (their mode decides who reads it)
FILE_FUNCTIONS = {"managed", "serialize", "append", "prepend", "blockreplace", "line",
                  "replace", "keyvalue", "copy", "symlink", "comment", "uncomment"}


def keystone_keys():
    return {repo: {str(i): f"{repo}-key-{i}-S3cret-value-AAAAAAAAAAAAAAAAAAAAAA=" for i in (0, 1)}
            for repo in ("fernet", "credential")}


def pillar_of(site, node_id):
    """What pillar/top.sls gives ``node_id``: site, settings, secrets, and the
    Keystone keys to the controllers."""
    pillar = dict(SITES[site])
    pillar["secrets"] = secrets_of(pillar, node_id)
    if "controller" in pillar["site"]["nodes"][node_id].get("roles", []):
        pillar["keystone_keys"] = keystone_keys()
    return pillar


class Minion:
    def __init__(self, opts, loaders):
        self.opts = opts
        self.pillar = opts["pillar"]
        self.loaders = loaders

    def show_sls(self, sls):
        return self.loaders.modules.state.show_sls(sls)

    def written_text(self, state):
        """Everything a file state puts in its file: its arguments, its
        template's rendered text (or the file it copies), the pillar it copies."""
        args = state_args(state)
        texts = [json.dumps(args, default=str, sort_keys=True)]
        if args.get("contents_pillar"):
            texts.append(json.dumps(salt.utils.data.traverse_dict_and_list(
                self.pillar, args["contents_pillar"], default=None, delimiter=":"), default=str))
        sources = args.get("source") or []
        for source in [sources] if isinstance(sources, str) else sources:
            if not isinstance(source, str) or not source.startswith("salt://"):
                continue
            text = (SALT / source.removeprefix("salt://").split("?")[0]).read_text()
            if args.get("template") == "jinja":
                text = self.loaders.modules.file.apply_template_on_contents(
                    text, template="jinja", context=args.get("context") or {},
                    defaults=args.get("defaults") or {}, saltenv="base")
            texts.append(text)
        return "\n".join(texts)

    def secrets(self):
        values = dict(self.pillar["secrets"])
        for repo, keys in (self.pillar.get("keystone_keys") or {}).items():
            values.update({f"keystone_keys:{repo}:{i}": key for i, key in keys.items()})
        return values


@pytest.fixture(scope="module")
def minions(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("openstack-minions")
    with minion_loaders() as loaders:

        @functools.cache
        def get(site, minion_id):
            # file_roots: the state tree alone (the repo root holds the virtualenv: slow to list)
            opts = minion_opts(tmp / site / minion_id, minion_id, pillar_of(site, minion_id))
            return Minion(opts, loaders((site, minion_id), lambda: opts))

        yield get


@pytest.fixture(scope="module")
def rendered(minions):
    @functools.cache
    def get(site, minion_id, sls):
        return minions(site, minion_id).show_sls(sls)

    return get


def _own(high):
    return {sid: state for sid, state in high.items()
            if str(state.get("__sls__", "")).startswith("openstack")}


def _ids(value):
    return "-".join(value) if isinstance(value, tuple) else value


# --- secrets ------------------------------------------------------------------------------------


def test_the_example_secrets_name_every_secret_the_example_site_needs():
    """pillar/examples/secrets.sls names every secret the example site needs."""
    needed = set(lab_secrets.names(SITES["example"]["site"]))
    missing = sorted(needed - set(EXAMPLE_SECRETS))
    assert not missing, (
        "pillar/examples/secrets.sls lacks "
        + ", ".join(missing) + ": add each as `<name>: CHANGE-ME`")


def test_every_secret_value_of_the_tests_is_its_own():
    for site, node_id in NODES:
        values = list(pillar_of(site, node_id)["secrets"].values())
        assert len(values) == len(set(values))


# --- rendering ------------------------------------------------------------------------------------


def test_the_rendered_nodes_are_the_controllers_of_both_sites():
    assert OPENSTACK_NODES == [("lab", "ctl1"), ("lab", "ctl2"),
                               ("example", "r430-a"), ("example", "r430-b")]


@pytest.mark.parametrize("sls", SLS)
@pytest.mark.parametrize("site, minion_id", OPENSTACK_NODES, ids=_ids)
def test_renders(rendered, site, minion_id, sls):
    high = rendered(site, minion_id, sls)
    assert isinstance(high, dict), "\n".join(map(str, high))


@pytest.mark.parametrize("sls", SLS)
@pytest.mark.parametrize("site, minion_id", OPENSTACK_NODES, ids=_ids)
def test_state_ids_are_namespaced(rendered, site, minion_id, sls):
    high = rendered(site, minion_id, sls)
    assert isinstance(high, dict), f"{sls} does not render for {minion_id}: {high}"
    bad = sorted(sid for sid in _own(high) if not sid.startswith("openstack-"))
    assert not bad, f"state ids of salt/openstack/ start with openstack-: {bad}"


def _mode_is_private(mode):
    if mode is None:
        return False
    return int(str(mode), 8) & 0o007 == 0


@pytest.mark.parametrize("sls", SLS)
@pytest.mark.parametrize("site, minion_id", OPENSTACK_NODES, ids=_ids)
def test_no_file_with_a_secret_is_world_readable(rendered, minions, site, minion_id, sls):
    high = rendered(site, minion_id, sls)
    assert isinstance(high, dict), f"{sls} does not render for {minion_id}: {high}"
    minion = minions(site, minion_id)
    secrets = minion.secrets()
    problems, checked = [], 0
    for sid, state in sorted(_own(high).items()):
        module, _ = state_fun(state)
        function = next(item for item in state[module] if isinstance(item, str))
        if not (module == "file" and function in FILE_FUNCTIONS or module == "ini"):
            continue
        text = minion.written_text(state)
        found = sorted(name for name, value in secrets.items() if value in text)
        if not found:
            continue
        checked += 1
        args = state_args(state)
        if not _mode_is_private(args.get("mode")):
            problems.append(f"{sid}: holds {', '.join(found)} with mode {args.get('mode')!r} "
                            f"(0640, 0600 or stricter: no access for others)")
        if module == "file" and args.get("show_changes", True) is not False:
            problems.append(f"{sid}: holds {', '.join(found)} and shows its changes "
                            f"(show_changes: False)")
    assert not problems, "\n".join(problems)


def test_the_secret_check_sees_the_keystone_and_service_configs(rendered, minions):
    """The check above is not vacuous: Keystone's config and key files hold secrets."""
    minion = minions("lab", "ctl1")
    high = rendered("lab", "ctl1", "openstack.keystone")
    secrets = minion.secrets()
    holding = {
        sid for sid, state in _own(high).items()
        if state_fun(state)[0] == "file"
        and any(value in minion.written_text(state) for value in secrets.values())
    }
    assert "openstack-keystone-config-/etc/keystone/keystone.conf" in holding
    assert {f"openstack-keystone-fernet-key-{i}" for i in (0, 1)} <= holding
    conf = minion.written_text(high["openstack-keystone-config-/etc/keystone/keystone.conf"])
    assert re.search(r"^connection = mysql\+pymysql://keystone:S3cret-keystone-db-password-value@",
                     conf, re.MULTILINE)


def test_a_world_readable_secret_file_is_caught(minions):
    minion = minions("lab", "ctl1")
    state = {"__sls__": "openstack.x", "file": [
        "managed", {"name": "/etc/x.conf"}, {"contents": secret_value("galera_admin_password")},
        {"mode": "0644"}]}
    text = minion.written_text(state)
    assert secret_value("galera_admin_password") in text
    assert not _mode_is_private("0644") and not _mode_is_private(None)
    assert _mode_is_private("0640") and _mode_is_private("0600") and _mode_is_private(600)


# --- the service pattern (salt/openstack/service.jinja), on every service -------------------------


def _requisite_ids(args, kind):
    return {next(iter(item.items())) for item in args.get(kind) or []}


def _services_rendered(rendered, site, minion_id):
    """{service name: its states} of every openstack SLS on one node."""
    out = {}
    for sls in SLS:
        high = rendered(site, minion_id, sls)
        assert isinstance(high, dict), "\n".join(map(str, high))
        for sid, state in _own(high).items():
            match = re.match(r"openstack-([a-z]+)-pkgs-installed$", sid)
            if match:
                out[match.group(1)] = high
    return out


@pytest.mark.parametrize("site, minion_id", [("lab", "ctl1"), ("example", "r430-b")], ids=_ids)
def test_every_unit_dropin_is_followed_by_a_daemon_reload(rendered, site, minion_id):
    """uWSGI's and the identity wait's drop-ins: systemd ignores a new drop-in
    of a loaded unit until a daemon-reload, and the unit restarts on both."""
    dropins = 0
    for name, high in _services_rendered(rendered, site, minion_id).items():
        for sid, state in high.items():
            if "file" not in state:
                continue
            path = state_args(state, "file").get("name", "")
            match = re.match(r"/etc/systemd/system/(.+)\.service\.d/.+\.conf$", path)
            if not match:
                continue
            dropins += 1
            unit = match.group(1)
            reload_id = f"{sid}-reloaded"
            args = state_args(high[reload_id], "cmd")
            assert args["name"] == "systemctl daemon-reload"
            assert args["onchanges"] == [{"file": sid}]
            running = f"openstack-{name}-unit-{unit}-running"
            if running in high:
                watch = _requisite_ids(state_args(high[running], "service"), "watch")
                assert {("file", sid), ("cmd", reload_id)} <= watch
    assert dropins >= 5  # keystone, glance, placement, nova (2), neutron, ceilometer...


@pytest.mark.parametrize("site, minion_id", [("lab", "ctl1"), ("example", "r430-a")], ids=_ids)
def test_units_restart_on_a_package_upgrade_and_db_sync_follows_the_packages(
        rendered, site, minion_id):
    units = synced = 0
    for name, high in _services_rendered(rendered, site, minion_id).items():
        if name == "horizon":
            continue  # apache2 is horizon.sls's own state (reloaded), not the pattern's
        pkg = ("pkg", f"openstack-{name}-pkgs-installed")
        for sid, state in high.items():
            if sid.startswith(f"openstack-{name}-unit-") and sid.endswith("-running"):
                units += 1
                assert pkg in _requisite_ids(state_args(state, "service"), "watch"), sid
        if f"openstack-{name}-db-synced" in high:
            synced += 1
            args = state_args(high[f"openstack-{name}-db-synced"], "openstack")
            assert pkg in _requisite_ids(args, "require")
    assert units and synced


def test_a_service_that_notifies_as_itself_gets_its_own_rabbitmq_user(rendered):
    catalog = {path.stem: yaml.safe_load(path.read_text()) or {}
               for path in (SALT / "openstack" / "services").glob("*.yaml")}
    notifiers = sorted(name for name, svc in catalog.items()
                       if svc.get("notifications") is True and not svc.get("messaging"))
    assert "glance" in notifiers
    for name in notifiers:
        high = rendered("lab", "ctl1", f"openstack.{name}")
        args = state_args(high[f"openstack-{name}-rabbitmq-user-present"], "rabbitmq_account")
        assert args["name"] == name
        # the password is read from pillar by the state: never in the rendered SLS
        assert args["password_secret"] == f"{name}_rabbit_password"
        assert secret_value(f"{name}_rabbit_password") not in json.dumps(high)
        # the user is made once, by the first controller
        assert f"openstack-{name}-rabbitmq-user-present" not in rendered(
            "lab", "ctl2", f"openstack.{name}")


def test_fixed_id_system_users_are_created_only_when_absent(rendered):
    high = rendered("lab", "ctl1", "openstack.packages")
    args = state_args(high["openstack-packages-gnocchi-system-user"], "cmd")
    assert args["unless"] == "getent passwd gnocchi"
    assert "groupadd --system --gid 64080 gnocchi" in args["name"]
    assert "useradd --system --uid 64080 --gid gnocchi" in args["name"]
    assert args["require_in"] == [{"pkg": "openstack-packages-installed"}]
    # the ids of the NAS export gnocchi's store lives on
    nfs = _load("salt/nfs/defaults.yaml")["exports"]["metrics"]
    assert (nfs["uid"], nfs["gid"]) == (64080, 64080)


def test_the_install_is_retried_and_package_scripts_may_start_units_again_whatever_its_result(
        rendered):
    high = rendered("lab", "ctl1", "openstack.packages")
    install = state_args(high["openstack-packages-installed"], "pkg")
    # a half-configured package (a postinst that failed once) is configured
    # again by the next attempt
    assert install["retry"]["attempts"] >= 2
    # Debian's Recommends (compilers, ffmpeg, scipy...) are not installed
    assert install["install_recommends"] is False
    allowed = state_args(high["openstack-packages-start-allowed"], "file")
    assert allowed["name"] == "/usr/sbin/policy-rc.d"
    assert not {"onchanges", "require", "onfail"} & set(allowed)
    # it comes after the install in the file (Salt runs it in that order)
    order = list(high)
    assert order.index("openstack-packages-installed") < order.index(
        "openstack-packages-start-allowed")


@pytest.mark.parametrize("site, minion_id", [("lab", "ctl1"), ("example", "r430-b")])
def test_every_unit_yields_the_cpu_and_with_a_database_starts_once_it_greets(
        rendered, site, minion_id):
    """After a site power loss the units started before Galera was
    bootstrapped and restarted in a loop (lab: load 50-100, heal starved)."""
    vip = SITES[site]["site"]["vips"]["api"]["address"]
    script = state_args(rendered(site, minion_id, "openstack.packages")[
        "openstack-packages-database-wait"], "file")
    assert script["source"] == "salt://openstack/files/database-wait"
    assert script["mode"] == "0755"
    for sls, with_database in (("openstack.nova", True), ("openstack.keystone", True),
                               ("openstack.swift", False), ("openstack.ceilometer", False)):
        high = rendered(site, minion_id, sls)
        service_name = sls.split(".")[1]
        units = [state_args(state, "service")["name"] for sid, state in high.items()
                 if sid.startswith(f"openstack-{service_name}-unit-")
                 and state_function(state) == "service.running"]
        assert units, sls
        for unit in units:
            sid = next(sid for sid in high if sid.endswith(f"-start-{unit}"))
            dropin = state_args(high[sid], "file")
            assert dropin["name"] == f"/etc/systemd/system/{unit}.service.d/twin-cloud-start.conf"
            conf = configparser.ConfigParser(interpolation=None, strict=False)
            conf.read_string(dropin["contents"])
            running = next(state_args(state, "service") for state in high.values()
                           if state_function(state) == "service.running"
                           and state_args(state, "service")["name"] == unit)
            assert {"file": sid} in running["watch"], (sls, unit)
            # the control plane first under contention
            assert conf["Service"]["Nice"] == "10"
            if not with_database:
                assert "ExecStartPre" not in conf["Service"], (sls, unit)
                continue
            assert conf["Service"]["ExecStartPre"] == f"{script['name']} {vip} 3306 600"
            assert conf["Unit"]["StartLimitIntervalSec"] == "0"


# --- pillar/top.sls -------------------------------------------------------------------------------


def test_the_pillar_top_gives_generated_files_to_each_node_by_id(tmp_path):
    """Keystone's keys to the controllers, Swift's rings to controllers and
    object nodes, secrets to every node named (the witness only its own,
    as inventory.holds_every_secret says): each matched by minion id."""
    (tmp_path / "pillar").mkdir()
    (tmp_path / "pillar" / "top.sls").write_text((REPO / "pillar" / "top.sls").read_text())
    doc = _load("lab/pillar/site.sls")
    doc["site"]["nodes"]["obj3"] = {"roles": ["object"]}
    (tmp_path / "pillar" / "site.sls").write_text(yaml.safe_dump(doc))
    opts = salt.config.minion_config(None)
    opts.update({"id": "ctl1", "file_client": "local", "cachedir": str(tmp_path / "cache"),
                 "pki_dir": str(tmp_path / "pki"), "log_file": str(tmp_path / "log"),
                 "file_roots": {"base": [str(tmp_path / "pillar")]},
                 "pillar_roots": {"base": []}, "grains_cache": False})
    loaders = Loaders(opts)
    try:
        top = json.loads(json.dumps(loaders.modules.slsutil.renderer("salt://top.sls")))
    finally:
        loaders.reset_state()
    assert top == {"base": {
        "*": ["site", "settings", {"ignore_missing": True}],
        "ctl1,ctl2,obj3": [{"match": "list"}, "secrets", "site_ca"],
        "nas": [{"match": "list"}, "secrets_witness", "site_ca"],
        "ctl1": [{"match": "list"}, "keystone_keys", "swift_rings", {"ignore_missing": True}],
        "ctl2": [{"match": "list"}, "keystone_keys", "swift_rings", {"ignore_missing": True}],
        "obj3": [{"match": "list"}, "swift_rings", {"ignore_missing": True}],
    }}
    # the top's rule is the inventory's, which inventory.validate follows
    inventory = load_ext("modules", "inventory")
    assert [n for n, node in sorted(doc["site"]["nodes"].items())
            if not inventory.holds_every_secret(node)] == ["nas"]
