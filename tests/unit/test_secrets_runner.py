"""Unit tests of _runners/secrets.py and _utils/secrets_file.py: the site's
secrets pillar, GPG-encrypted for the master with the real ``gpg`` (a
keyring per test, made in a fraction of a second: ed25519), read back by
Salt's own gpg renderer; the rotation orchestration rendered by Salt's
loader. No value is ever in a return."""

import logging
import os
import re
import pathlib
import stat

import pytest
import salt.config
import salt.loader
import salt.template
import yaml
from salt.exceptions import SaltInvocationError

from lab import secrets as lab_secrets
from tests.conftest import load_ext, load_utils, message_to_another_key

from .sls import served_roots, SALT, minion_loaders, minion_opts, site_pillar, state_args

runner = load_ext("runners", "secrets")
secrets_file = load_ext("utils", "secrets_file")

REPO = pathlib.Path(__file__).resolve().parents[2]
SITE = yaml.safe_load((REPO / "lab" / "pillar" / "site.sls").read_text())["site"]
NAMES = lab_secrets.names(SITE)


@pytest.fixture
def keydir(tmp_path_factory):
    """A keyring directory with a short path (gpg-agent's socket lives there)."""
    path = tmp_path_factory.mktemp("k") / "gpgkeys"
    yield path
    secrets_file.stop_agent(path)


@pytest.fixture
def generated(tmp_path):
    return tmp_path / "pillar-generated"


@pytest.fixture
def path(generated):
    return generated / "secrets.sls"


class Orchestrate:
    """state.orchestrate as the runner calls it: records, answers ``result``."""

    def __init__(self):
        self.calls = []
        self.result = {"data": {"admin_master": {
            "salt_|-secret-rotate-openstack_|-secret-rotate-openstack_|-state": {
                "result": True, "comment": "States ran successfully. Updating ctl1, ctl2.",
                "changes": {"ret": {"ctl1": {"x": {"result": True}}}}}}},
            "outputter": "highstate", "retcode": 0}

    def __call__(self, sls, **kwargs):
        self.calls.append((sls, kwargs))
        return self.result


@pytest.fixture
def orchestrate():
    return Orchestrate()


@pytest.fixture
def pillar():
    return {"site": SITE}


@pytest.fixture
def configure_loader_modules(keydir, generated, orchestrate, pillar):
    return {
        runner: {
            "__opts__": {"id": "admin_master", "gpg_keydir": str(keydir),
                         "twin_cloud_generated_pillar": str(generated),
                         "file_roots": {"base": [str(REPO / "salt"), str(REPO)]},
                         "conf_file": "/etc/salt/master"},
            "__utils__": load_utils("secrets_file", "generated_pillar"),
            "__salt__": {"pillar.show_pillar": lambda minion="*", **kw: pillar,
                         "state.orchestrate": orchestrate},
            "__context__": {},
        },
    }


def _mode(p):
    return stat.S_IMODE(pathlib.Path(p).stat().st_mode)


def _raw(p):
    return yaml.safe_load(pathlib.Path(p).read_text())["secrets"]


def _no_value_in(ret, values):
    text = repr(ret)
    return [name for name, value in values.items() if value in text]


# --- init ---------------------------------------------------------------------------------------


def test_init_makes_the_keyring_and_an_encrypted_file(keydir, path):
    ret = runner.init()
    assert ret["keyring_created"] is True and ret["changed"] is True
    assert ret["added"] == NAMES and ret["kept"] == [] and ret["encrypted"] == []
    assert ret["path"] == str(path) and ret["keydir"] == str(keydir)
    assert _mode(keydir) == 0o700 and _mode(path) == 0o600
    text = path.read_text()
    assert text.splitlines()[0] == "#!yaml|gpg"
    assert all(v.startswith("-----BEGIN PGP MESSAGE-----\n") and
               v.rstrip().endswith("-----END PGP MESSAGE-----") for v in _raw(path).values())
    values = secrets_file.read(path, keydir)
    assert sorted(values) == NAMES
    # letters and digits; a BMC's fits IPMI (at most 20 bytes); the CA's key a PEM
    assert all(v.isalnum() and v.isascii() for n, v in values.items() if n != "tls_ca_key")
    assert values["tls_ca_key"].startswith("-----BEGIN PRIVATE KEY-----\n")
    # and the CA's certificate for it beside the file, public
    ca = yaml.safe_load((path.parent / "site_ca.sls").read_text())["site_ca"]["cert"]
    assert ca.startswith("-----BEGIN CERTIFICATE-----") and ret["ca_certificate"] == "written"
    assert _mode(path.parent / "site_ca.sls") == 0o644
    assert all(len(values[n]) == 16 for n in secrets_file.bmc_names(SITE))
    assert len(values["nova_db_password"]) == 32
    assert not _no_value_in(ret, values)
    for value in values.values():
        assert value not in text


def test_init_writes_the_witness_only_rabbitmqs_secrets(keydir, path):
    """least privilege: secrets_witness.sls (the NAS's, pillar/top.sls) holds
    RabbitMQ's messages as secrets.sls has them, nothing else; 0600 too."""
    runner.init()
    witness = path.parent / "secrets_witness.sls"
    assert _mode(witness) == 0o600 and witness.read_text().startswith("#!yaml|gpg\n")
    assert _raw(witness) == {name: _raw(path)[name] for name in
                             ("rabbitmq_admin_password", "rabbitmq_erlang_cookie")}
    # written again only when it differs; rewritten when it went missing
    assert runner.init()["changed"] is False
    witness.unlink()
    assert runner.init()["changed"] is True and witness.exists()


def test_init_keeps_every_value_and_encrypts_the_ones_in_clear(keydir, path):
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({"secrets": {"bmc_ctl1": "keptBmc1", "extra": "alsoKept"}}))
    path.chmod(0o644)
    ret = runner.init()
    assert ret["encrypted"] == ["bmc_ctl1", "extra"]
    assert ret["added"] == sorted(set(NAMES) - {"bmc_ctl1"})
    assert _mode(path) == 0o600
    values = secrets_file.read(path, keydir)
    assert values["bmc_ctl1"] == "keptBmc1" and values["extra"] == "alsoKept"
    assert "keptBmc1" not in path.read_text()
    # again: nothing to do, the file (its messages too) as it was
    before = path.read_text()
    again = runner.init()
    assert again["changed"] is False and again["added"] == [] and again["encrypted"] == []
    assert again["keyring_created"] is False
    assert sorted(again["kept"]) == sorted(values)
    assert path.read_text() == before and secrets_file.read(path, keydir) == values


def test_init_adds_a_name_the_inventory_gains_and_keeps_the_rest(keydir, path, pillar):
    runner.init()
    before = _raw(path)
    site = yaml.safe_load(yaml.safe_dump(SITE))
    site["nodes"]["ctl1"]["bmc"]["password_secret"] = "bmc_ctl1_new"
    pillar["site"] = site
    ret = runner.init()
    assert ret["added"] == ["bmc_ctl1_new"]
    after = _raw(path)
    assert {n: after[n] for n in before} == before  # the same messages, not re-encrypted
    assert len(secrets_file.read(path, keydir)["bmc_ctl1_new"]) == 16


@pytest.mark.parametrize("name", ["Bad-Name", "1st", "with space"])
def test_init_refuses_a_bad_name_saying_where(path, name):
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({"secrets": {name: "someValue1"}}))
    with pytest.raises(SaltInvocationError, match=rf"secrets:{name}: not a secret name.*"
                       rf"rename or remove it in {re.escape(str(path))}"):
        runner.init()
    assert "someValue1" in path.read_text()  # untouched


def test_init_refuses_a_value_starting_with_a_dash_without_showing_it(path):
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({"secrets": {"nova_db_password": "-oops-Value"}}))
    with pytest.raises(SaltInvocationError, match="secrets:nova_db_password: starts with '-'") \
            as caught:
        runner.init()
    assert "oops" not in str(caught.value)


@pytest.mark.parametrize("doc, match", [
    ({"secrets": {"nova_db_password": 12345}}, "secrets:nova_db_password: expected a text"),
    ({"secrets": ["a"]}, "secrets: expected a mapping"),
    ({"secrets": {}, "site": {}}, "expected one mapping `secrets:`"),
])
def test_init_refuses_a_file_of_another_shape(path, doc, match):
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(SaltInvocationError, match=match):
        runner.init()


def test_a_value_encrypted_to_another_key_is_named_with_the_fix(keydir, path, tmp_path_factory):
    message = message_to_another_key(tmp_path_factory, "fromAnotherKey")
    path.parent.mkdir(parents=True)
    secrets_file.write(path, secrets_file.render({"nova_db_password": message}))
    with pytest.raises(SaltInvocationError, match=r"secrets:nova_db_password: cannot be "
                       r"decrypted with the keyring .*restore the master's keyring"):
        runner.init()


def test_init_without_a_site_says_where_it_goes(pillar):
    pillar.clear()
    with pytest.raises(SaltInvocationError, match="site:nodes: .*pillar_roots"):
        runner.init()


def test_without_gpg_keydir_the_renderers_default(tmp_path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(runner.__opts__, "gpg_keydir", None)
        mp.setitem(runner.__opts__, "conf_file", str(tmp_path / "etc" / "master"))
        assert runner._keydir() == str(tmp_path / "etc" / "gpgkeys")


def test_a_keyring_with_two_keys_is_refused(keydir):
    secrets_file.ensure_keyring(keydir)
    params = "%no-protection\nKey-Type: eddsa\nKey-Curve: ed25519\nSubkey-Type: ecdh\n" \
             "Subkey-Curve: cv25519\nName-Real: second\nExpire-Date: 0\n%commit\n"
    secrets_file._gpg(keydir, ["--gen-key"], params)  # pylint: disable=protected-access
    with pytest.raises(SaltInvocationError, match="holds 2 secret keys.*keep only"):
        runner.init()


def test_salts_gpg_renderer_reads_the_file(keydir, path, tmp_path):
    """The master's pillar: the file through Salt's own renderers (its
    shebang picks yaml then gpg), decrypted with gpg_keydir."""
    runner.init()
    opts = salt.config.master_config(None)
    opts.update(gpg_keydir=str(keydir), cachedir=str(tmp_path / "cache"),
                extension_modules=str(tmp_path / "ext"))
    renderers = salt.loader.render(opts, {})
    salt_log = logging.getLogger("salt")
    level = salt_log.level
    salt_log.setLevel(logging.WARNING)
    try:
        data = salt.template.compile_template(str(path), renderers, "jinja|yaml",
                                              opts["renderer_blacklist"],
                                              opts["renderer_whitelist"])
    finally:
        salt_log.setLevel(level)
    assert data["secrets"] == secrets_file.read(path, keydir)


# --- rotate -------------------------------------------------------------------------------------


def test_rotate_changes_one_value_then_runs_the_orchestration(keydir, path, orchestrate):
    runner.init()
    before_raw, before = _raw(path), secrets_file.read(path, keydir)
    ret = runner.rotate("glance_keystone_password")
    after_raw, after = _raw(path), secrets_file.read(path, keydir)
    assert after["glance_keystone_password"] != before["glance_keystone_password"]
    assert len(after["glance_keystone_password"]) == 32
    assert after["glance_keystone_password"].isalnum()
    del after_raw["glance_keystone_password"], before_raw["glance_keystone_password"]
    assert after_raw == before_raw  # the other messages as they were
    assert _mode(path) == 0o600
    # the witness's file is written with it, RabbitMQ's messages unchanged
    assert _raw(path.parent / "secrets_witness.sls")["rabbitmq_erlang_cookie"] == \
        before_raw["rabbitmq_erlang_cookie"]
    assert orchestrate.calls == [("orch.secret_rotate", {})]
    assert ret["rotated"] == "glance_keystone_password" and ret["result"] is True
    assert list(ret["steps"].values()) == [{
        "result": True, "comment": "States ran successfully. Updating ctl1, ctl2."}]
    assert not _no_value_in(ret, {**after, "old": before["glance_keystone_password"]})
    assert "retcode" not in runner.__context__


def test_rotate_without_apply_names_the_orchestration(keydir, path, orchestrate):
    runner.init()
    ret = runner.rotate("nova_db_password", apply=False)
    assert orchestrate.calls == []
    assert ret == {"rotated": "nova_db_password", "path": str(path),
                   "next": "salt-run state.orchestrate orch.secret_rotate"}


def test_a_failed_orchestration_fails_the_runner_and_says_what_next(path, orchestrate):
    runner.init()
    orchestrate.result = {"data": {"admin_master": {"sid": {"result": False,
                                                            "comment": "ctl2 failed"}}},
                          "retcode": 1}
    ret = runner.rotate("nova_rabbit_password")
    assert ret["result"] is False and ret["steps"] == {
        "sid": {"result": False, "comment": "ctl2 failed"}}
    assert "salt-run state.orchestrate orch.secret_rotate" in ret["next"]
    assert runner.__context__["retcode"] == 1


@pytest.mark.parametrize("name", ["swift_hash_path_prefix", "corosync_authkey", "bmc_ctl1",
                                  "keystone_admin_password", "nope_db_password"])
def test_rotate_refuses_what_it_does_not_rotate(path, orchestrate, name):
    runner.init()
    before = path.read_text()
    with pytest.raises(SaltInvocationError, match=rf"secrets:{name}: .*OpenStack services' "
                       r"passwords only \(aodh_db_password, .*password-rotation.md"):
        runner.rotate(name)
    assert path.read_text() == before and orchestrate.calls == []


def test_rotate_needs_the_file_and_every_value_encrypted(path):
    with pytest.raises(SaltInvocationError, match="secrets:nova_db_password: not in .*"
                       "secrets.init"):
        runner.rotate("nova_db_password")
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({"secrets": {"nova_db_password": "inClear1"}}))
    with pytest.raises(SaltInvocationError, match=r"values in clear \(nova_db_password\).*"
                       "secrets.init"):
        runner.rotate("nova_db_password")


# --- status -------------------------------------------------------------------------------------


def test_status_names_what_is_missing_and_in_clear_without_values(keydir, path):
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({"secrets": {"bmc_ctl1": "inClear1"}}))
    ret = runner.status()
    assert ret["names"] == ["bmc_ctl1"] and ret["in_clear"] == ["bmc_ctl1"]
    assert ret["missing"] == sorted(set(NAMES) - {"bmc_ctl1"})
    assert ret["fingerprint"] is None and "inClear1" not in repr(ret)
    runner.init()
    ret = runner.status()
    assert ret["missing"] == [] and ret["in_clear"] == [] and len(ret["fingerprint"]) == 40


def test_virtual_needs_the_utils():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "__utils__", {}, raising=False)
        ok, why = runner.__virtual__()
    assert ok is False and "saltutil.sync_all" in why


# --- the orchestration --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def render(tmp_path_factory):
    with minion_loaders() as loaders:
        minion = loaders("admin", lambda: minion_opts(
            tmp_path_factory.mktemp("admin"), "admin_master", site_pillar("lab"),
            file_roots=served_roots()))
        yield minion.modules.state.show_sls


def _steps(high):
    return {sid: (state_args(state).get("tgt"), state_args(state).get("sls"),
                  [next(iter(r.values())) for r in state_args(state).get("require", [])])
            for sid, state in high.items()}


def test_the_rotation_applies_openstack_on_the_first_controller_then_the_others(render):
    high = render("orch.secret_rotate")
    assert isinstance(high, dict), high
    assert _steps(high) == {
        "secret-rotate-site-pillar-valid": ("*", None, []),
        "secret-rotate-openstack-first": ("ctl1", "openstack",
                                          ["secret-rotate-site-pillar-valid"]),
        "secret-rotate-openstack": ("ctl2", "openstack", ["secret-rotate-openstack-first"]),
    }
    assert state_args(high["secret-rotate-openstack"])["queue"] is True


def test_the_deploy_has_the_same_openstack_steps(render):
    steps = _steps(render("orch.deploy"))
    assert steps["deploy-openstack-first"][:2] == ("ctl1", "openstack")
    assert steps["deploy-openstack"] == ("ctl2", "openstack", ["deploy-openstack-first"])
    # the first controller's second pass changed nothing (its own step did it)
    assert steps["deploy-rabbitmq"][:2] == ("ctl2,nas", "rabbitmq")
    assert steps["deploy-base"][2] == ["deploy-site-pillar-valid"]
    # five SLS in one run on the controllers, in order, after the NAS's exports
    assert steps["deploy-controller-services"] == (
        "ctl1,ctl2", ["memcached", "nfs.client", "galera.backup", "haproxy", "pacemaker"],
        ["deploy-nfs-server"])
    assert len(steps) == 2 + len(yaml.safe_load((SALT / "orch" / "deploy.yaml").read_text())[
        "steps"])


def test_the_runbook_is_linked_and_names_the_commands():
    text = (REPO / "docs" / "runbooks" / "password-rotation.md").read_text()
    for command in ("salt-run secrets.rotate name=", "salt-run state.orchestrate "
                    "orch.secret_rotate", "salt-run secrets.init"):
        assert command in text, command
    assert "password-rotation.md" in (REPO / "docs" / "runbooks" / "README.md").read_text()


def test_files_written_are_private_even_with_a_loose_umask(keydir, path):
    old = os.umask(0)
    try:
        runner.init()
    finally:
        os.umask(old)
    assert _mode(path) == 0o600 and _mode(keydir) == 0o700


def test_the_examples_placeholder_is_refused(path):
    path.parent.mkdir(parents=True)
    path.write_text((REPO / "pillar" / "examples" / "secrets.sls").read_text())
    with pytest.raises(SaltInvocationError, match="secrets:[a-z_0-9]+: still CHANGE-ME.*delete "
                       "the line"):
        runner.init()
