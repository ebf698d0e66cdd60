"""The admin box's pieces that run without a lab: the master's local
config, the roster, keys and fingerprints, permission checks, the site
pillar directory, and bin/admin-setup from end to end on temporary paths."""

import os
import pathlib
import shutil
import subprocess

import pytest
import salt.utils.crypt
import yaml

from adminbox import keys, master_conf, permissions, pillar_dir, roster, setup
from adminbox.errors import AdminError
from tests.conftest import REPO

EXAMPLE_SITE = REPO / "pillar" / "examples" / "site.sls"
EXAMPLE_SECRETS = REPO / "pillar" / "examples" / "secrets.sls"


# --- the master's local config ----------------------------------------------------------------


def test_a_site_keeps_keys_cache_and_logs_where_salt_does():
    layout = master_conf.Layout.site()
    assert str(layout.pki_dir) == "/etc/salt/pki/master"
    assert str(layout.cachedir) == "/var/cache/salt/master"
    assert str(layout.log_file) == "/var/log/salt/master"
    assert str(layout.roster_file) == "/etc/salt/roster"
    assert layout.ssh_priv.parent == layout.pki_dir / "ssh"
    assert str(layout.generated_pillar) == "/var/lib/twin-cloud/pillar"


def test_local_conf_binds_the_address_and_serves_this_checkout(tmp_path):
    layout = master_conf.Layout.site(tmp_path)
    conf = master_conf.local_conf(REPO, "192.0.2.5", [tmp_path / "site", layout.generated_pillar],
                                  layout, extra={"gpg_keydir": "/x"})
    assert conf["interface"] == "192.0.2.5"
    assert conf["file_roots"]["base"] == [str(REPO / "salt"), str(layout.fileserver_dir)]
    assert conf["pillar_roots"]["base"] == [str(tmp_path / "site"), str(layout.generated_pillar),
                                            str(REPO / "pillar")]
    assert conf["twin_cloud_generated_pillar"] == str(layout.generated_pillar)
    assert conf["roster_file"] == str(layout.roster_file)
    assert conf["ssh_priv"] == str(layout.ssh_priv)
    assert conf["known_hosts_file"] == str(layout.known_hosts_file)
    assert conf["gpg_keydir"] == "/x"
    boot = next(entry for entry in conf["reactor"] if "salt/minion/*/start" in entry)
    assert boot["salt/minion/*/start"] == [str(REPO / "reactor" / "boot.sls")]


def test_the_served_links_follow_the_checkout_and_the_wheelhouse(tmp_path):
    wheels = tmp_path / "wheels"
    served = tmp_path / "served"
    first = master_conf.fileserver_root(served, REPO, wheels)
    assert len(first) == len(master_conf.EXTENSION_DIRS) + 1
    assert (served / "salt-wheels").resolve() == wheels.resolve()
    assert (served / "_modules").resolve() == REPO / "_modules"
    assert master_conf.fileserver_root(served, REPO, wheels) == []  # idempotent
    os.unlink(served / "_states")
    (served / "_states").symlink_to("/elsewhere")  # another checkout's link
    assert master_conf.fileserver_root(served, REPO, None) == [
        str(served / "_states"), str(served / "salt-wheels")]
    assert not (served / "salt-wheels").exists()


# --- roster and keys ------------------------------------------------------------------------------


def test_the_roster_lists_every_node_by_its_management_address():
    site = yaml.safe_load(EXAMPLE_SITE.read_text())["site"]
    entries = roster.entries(roster.addresses(site), "/etc/salt/pki/master/ssh/id_ed25519")
    assert list(entries) == ["nas", "r430-a", "r430-b"]
    assert entries["r430-a"] == {"host": "192.0.2.11", "user": "root",
                                 "priv": "/etc/salt/pki/master/ssh/id_ed25519"}
    assert yaml.safe_load(roster.render(entries)) == entries


def test_known_hosts_lines():
    assert roster.known_hosts({"10.0.0.2": "ssh-ed25519 BBB", "10.0.0.1": "ssh-ed25519 AAA"}) == (
        "10.0.0.1 ssh-ed25519 AAA\n10.0.0.2 ssh-ed25519 BBB\n")


def _pem(tmp_path):
    import salt.crypt  # noqa: PLC0415

    tmp_path.mkdir(parents=True, exist_ok=True)
    salt.crypt.write_keys(str(tmp_path), "minion", 2048)
    return tmp_path / "minion.pub"


def test_fingerprints_from_text_and_file_agree_with_salt(tmp_path):
    pub = _pem(tmp_path)
    want = salt.utils.crypt.pem_finger(str(pub), sum_type="sha256")
    assert keys.fingerprint(pub) == want
    assert keys.fingerprint_text(pub.read_text() + "\n\n") == want
    with pytest.raises(AdminError, match="not a PEM public key"):
        keys.fingerprint_text("nothing")


def _fake_salt_key(tmp_path, pki):
    """A salt-key stand-in: -a moves the pending key, -d deletes it."""
    script = tmp_path / "salt-key"
    script.write_text(f"""#!/bin/sh
for last; do :; done
case "$*" in
  *-a*) mv {pki}/minions_pre/"$last" {pki}/minions/"$last" ;;
  *-d*) rm -f {pki}/minions/"$last" ;;
esac
""")
    script.chmod(0o755)
    return [str(script)]


def _pki(tmp_path):
    pki = tmp_path / "pki"
    for sub in ("minions", "minions_pre"):
        (pki / sub).mkdir(parents=True)
    return pki


def test_a_key_is_accepted_only_with_the_nodes_fingerprint(tmp_path):
    pki = _pki(tmp_path)
    pub = _pem(tmp_path / "node")
    shutil.copy(pub, pki / "minions_pre" / "n1")
    salt_key = _fake_salt_key(tmp_path, pki)
    with pytest.raises(AdminError, match="n1: the pending key .* is not the node's own key"):
        keys.accept("n1", "aa:bb", pki, salt_key, timeout=1)
    assert (pki / "minions_pre" / "n1").exists()  # refused: left pending
    finger = keys.fingerprint(pub)
    assert keys.accept("n1", finger, pki, salt_key, timeout=1) is True
    assert keys.accept("n1", finger, pki, salt_key, timeout=1) is False  # already
    with pytest.raises(AdminError, match=r"n1: the accepted key .* \(salt-key -d n1\)"):
        keys.accept("n1", "aa:bb", pki, salt_key, timeout=1)


def test_no_pending_key_is_a_clear_timeout(tmp_path):
    with pytest.raises(AdminError, match="timed out .* n2's key to reach the master"):
        keys.accept("n2", "aa", _pki(tmp_path), ["true"], timeout=0.1)


def test_the_ssh_key_is_made_once(tmp_path):
    path = tmp_path / "ssh" / "id_ed25519"
    made, pub = keys.ensure_ssh_key(path)
    assert made and pub.startswith("ssh-ed25519 ")
    assert (path.stat().st_mode & 0o077) == 0 and (path.parent.stat().st_mode & 0o777) == 0o700
    assert keys.ensure_ssh_key(path) == (False, pub)


# --- permissions ----------------------------------------------------------------------------------


def test_group_or_other_writable_paths_are_named_with_their_fix(tmp_path):
    root = tmp_path / "salt"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.sls").write_text("x")
    permissions.check_not_writable([root])  # 0755 / 0644: fine
    os.chmod(root / "sub" / "a.sls", 0o664)
    os.chmod(root / "sub", 0o777)
    with pytest.raises(AdminError) as refused:
        permissions.check_not_writable([root])
    text = str(refused.value)
    assert f"{root / 'sub'} (mode 0777): fix with chmod go-w {root / 'sub'}" in text
    assert f"{root / 'sub' / 'a.sls'} (mode 0664): fix with chmod go-w" in text


def test_a_writable_parent_is_refused_a_sticky_one_is_not(tmp_path):
    parent = tmp_path / "shared"
    (parent / "salt").mkdir(parents=True)
    os.chmod(parent, 0o777)
    with pytest.raises(AdminError, match=f"{parent} \\(mode 0777\\)"):
        permissions.check_not_writable([parent / "salt"])
    os.chmod(parent, 0o1777)
    permissions.check_not_writable([parent / "salt"])


def test_secrets_readable_by_others_are_refused(tmp_path):
    secrets = tmp_path / "secrets.sls"
    secrets.write_text("secrets: {}\n")
    os.chmod(secrets, 0o600)
    permissions.check_private(secrets)
    os.chmod(secrets, 0o640)
    with pytest.raises(AdminError, match=f"fix with chmod 600 {secrets}"):
        permissions.check_private(secrets)


# --- the site pillar directory and admin-setup ----------------------------------------------------


def site_dir(tmp_path, site_text=None):
    directory = tmp_path / "pillar"
    directory.mkdir()
    os.chmod(directory, 0o755)
    (directory / "site.sls").write_text(site_text or EXAMPLE_SITE.read_text())
    return directory


def test_the_example_pillar_loads(tmp_path):
    site, settings = pillar_dir.load(site_dir(tmp_path))
    assert site["admin"]["address"] == "192.0.2.5" and settings == {}


def test_a_site_without_the_admin_box_is_refused_with_the_key_and_fix(tmp_path):
    doc = yaml.safe_load(EXAMPLE_SITE.read_text())
    del doc["site"]["admin"]
    with pytest.raises(AdminError, match="site:admin:address: not set; set it to the admin box"):
        pillar_dir.load(site_dir(tmp_path, yaml.safe_dump(doc)))


def test_a_missing_site_file_says_how_to_make_it(tmp_path):
    directory = site_dir(tmp_path)
    (directory / "site.sls").unlink()
    with pytest.raises(AdminError, match="site.sls: missing; make it: copy pillar/examples"):
        pillar_dir.load(directory)


def test_secrets_in_the_site_directory_are_refused_with_where_they_go(tmp_path):
    directory = site_dir(tmp_path)
    shutil.copy(EXAMPLE_SECRETS, directory / "secrets.sls")
    with pytest.raises(AdminError, match="salt-run secrets.init"):
        pillar_dir.load(directory)


def _setup(tmp_path, directory, **kwargs):
    wheels = tmp_path / "wheels"
    wheels.mkdir(exist_ok=True)
    (wheels / ".complete").touch()  # built already (pip wheel needs an index)
    said = []
    changed = setup.setup(directory, layout=master_conf.Layout.site(tmp_path / "root"),
                          conf_path=tmp_path / "local.conf", wheels=wheels, say=said.append,
                          **kwargs)
    return changed, said


def test_admin_setup_refuses_a_bad_pillar_before_writing_anything(tmp_path):
    doc = yaml.safe_load(EXAMPLE_SITE.read_text())
    doc["site"]["nodes"]["r430-b"]["address"] = "192.0.2.11"
    directory = site_dir(tmp_path, yaml.safe_dump(doc))
    with pytest.raises(AdminError, match="site:nodes:r430-b:address: 192.0.2.11 is already used"):
        _setup(tmp_path, directory)
    assert not (tmp_path / "local.conf").exists() and not (tmp_path / "root").exists()


def test_admin_setup_refuses_secrets_in_the_site_directory_before_writing_anything(tmp_path):
    directory = site_dir(tmp_path)
    shutil.copy(EXAMPLE_SECRETS, directory / "secrets.sls")
    with pytest.raises(AdminError, match="mv .*secrets.sls <generated pillar>/secrets.sls"):
        _setup(tmp_path, directory)
    assert not (tmp_path / "root").exists() and not (tmp_path / "local.conf").exists()


def test_admin_setup_refuses_a_writable_pillar_directory(tmp_path):
    directory = site_dir(tmp_path)
    os.chmod(directory, 0o775)
    with pytest.raises(AdminError, match=f"chmod go-w {directory}"):
        _setup(tmp_path, directory)
    assert not (tmp_path / "local.conf").exists()


def test_admin_setup_writes_the_master_config_and_roster_once(tmp_path):
    directory = site_dir(tmp_path)
    changed, said = _setup(tmp_path, directory)
    root = tmp_path / "root"
    conf = yaml.safe_load((tmp_path / "local.conf").read_text())
    assert conf["interface"] == "192.0.2.5"
    assert conf["pki_dir"] == str(root / "etc/salt/pki/master")
    assert conf["pillar_roots"]["base"][0] == str(directory)
    assert conf["twin_cloud_generated_pillar"] == str(root / "var/lib/twin-cloud/pillar")
    rost = yaml.safe_load((root / "etc/salt/roster").read_text())
    assert rost["nas"]["host"] == "192.0.2.13" and rost["nas"]["user"] == "root"
    assert rost["nas"]["priv"] == conf["ssh_priv"]
    assert (root / "var/lib/twin-cloud/fileserver/salt-wheels").resolve() == tmp_path / "wheels"
    assert (root / "etc/salt/pki/master").stat().st_mode & 0o777 == 0o700
    assert str(tmp_path / "local.conf") in changed
    assert any(line.startswith("the admin box's ssh public key") for line in said)
    unit = (root / "etc/systemd/system/salt-master.service").read_text()
    assert f"ExecStart={setup.REPO}/.venv/bin/salt-master -c {setup.REPO}/etc/salt\n" in unit
    assert "WantedBy=multi-user.target" in unit
    assert "then: systemctl daemon-reload && systemctl enable --now salt-master.service" in said
    again, said = _setup(tmp_path, directory)
    assert again == [] and "nothing to change" in said[0]
    # no secret in what it says
    secrets = yaml.safe_load(EXAMPLE_SECRETS.read_text())["secrets"]
    assert not any(str(value) in line for value in secrets.values() if value for line in said)


def test_a_site_with_a_package_index_needs_no_wheelhouse(tmp_path):
    directory = site_dir(tmp_path)
    (directory / "settings.sls").write_text(
        "minion:\n  source: https://pypi.example.org/simple\n")
    _setup(tmp_path, directory)
    assert not (tmp_path / "root/var/lib/twin-cloud/fileserver/salt-wheels").exists()


def test_the_command_line_says_what_is_wrong(tmp_path):
    result = subprocess.run(
        [str(pathlib.Path(os.sys.executable)), "-m", "adminbox", "setup", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert f"admin: {tmp_path / 'site.sls'}: missing" in result.stderr


# --- node-bootstrap's reading of salt-ssh answers -----------------------------------------------


def test_failed_states_are_named_and_a_render_error_is_shown_whole():
    from adminbox.bootstrap import failures  # noqa: PLC0415

    ok = {"cmd_|-salt-minion-venv-created_|-x_|-run": {"result": True, "comment": "done"}}
    bad = {"service_|-salt-minion-service-running_|-salt-minion_|-running":
           {"result": False, "comment": "failed to start"}}
    assert failures(ok) == {}
    assert failures({**ok, **bad}) == {"salt-minion-service-running": "failed to start"}
    assert failures({"return": bad, "retcode": 2}) == {
        "salt-minion-service-running": "failed to start"}
    assert failures(["Rendering SLS 'base:minion' failed: minion:master_finger: not set"]) == {
        "minion": ["Rendering SLS 'base:minion' failed: minion:master_finger: not set"]}
    assert failures({"retcode": 255, "stderr": "Permission denied (publickey)."})["minion"]
