"""The lab's pure helpers: no root, no machines."""

import os
import pathlib
import re
import subprocess
import sys
import types

import pytest
import yaml

from lab import aptrepo, config, master, network, nodes, secrets, util


def test_lab_pillar_loads_three_nodes_on_the_bridge():
    lab = config.load()
    assert [n.name for n in lab.nodes] == ["ctl1", "ctl2", "nas"]
    assert lab.host_address == "10.77.0.1"
    assert {n.bmc_address for n in lab.nodes} == {"10.77.0.21", "10.77.0.22", "10.77.0.23"}
    assert lab.node("ctl2").provider_address is not None
    assert lab.node("nas").provider_address is None


def test_unknown_node_is_a_clear_error():
    with pytest.raises(SystemExit, match="no node named 'ctl3'.*ctl1, ctl2, nas"):
        config.load().node("ctl3")


def test_packages_are_collected_from_every_pkgs_list(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "defaults.yaml").write_text(
        yaml.safe_dump({"pkgs": ["x", "y"], "other": {"pkgs": {"server": ["z"]}},
                        "not_pkgs": ["nope"]}))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "defaults.yaml").write_text(yaml.safe_dump({"pkgs": ["y", "w"]}))
    assert aptrepo.state_tree_packages(tmp_path) == ["w", "x", "y", "z"]


def test_state_tree_names_the_ha_packages():
    pkgs = aptrepo.state_tree_packages()
    for name in ("mariadb-server", "galera-4", "mariadb-backup", "fence-agents", "ipmitool",
                 "pacemaker", "corosync-qnetd", "rabbitmq-server", "haproxy"):
        assert name in pkgs


def test_secrets_fit_ipmi_and_keep_existing_values():
    site = config.load().site
    first = secrets.generate(site)["secrets"]
    assert set(first) >= {"bmc_ctl1", "bmc_ctl2", "bmc_nas"}
    assert all(len(first[n]) <= 20 for n in secrets.bmc_names(site))
    # letters and digits: safe on a command line, in a URL and an ini file
    assert all(value.isalnum() and value.isascii() for name, value in first.items()
               if name not in secrets.PEM_KEYS)
    assert "PRIVATE KEY" in first["tls_ca_key"]
    again = secrets.generate(site, {"secrets": {"bmc_ctl1": "kept", "extra": "also"}})["secrets"]
    assert again["bmc_ctl1"] == "kept" and again["extra"] == "also"


@pytest.fixture
def keydir(tmp_path_factory):
    path = tmp_path_factory.mktemp("k") / "gpgkeys"
    yield path
    secrets.stop_agent(path)


def test_secrets_file_is_private_encrypted_and_loaded_by_one_function(tmp_path, keydir):
    path = tmp_path / "pillar" / "secrets.sls"
    done = secrets.ensure_file(config.load().site, path, keydir)
    assert path.stat().st_mode & 0o077 == 0 and keydir.stat().st_mode & 0o077 == 0
    assert done["keyring_created"] and done["added"] == secrets.names(config.load().site)
    text = path.read_text()
    assert text.startswith("#!yaml|gpg\n")
    values = secrets.load(path, keydir)
    assert sorted(values) == done["added"]
    assert not [name for name, value in values.items() if value in text or value in repr(done)]
    again = secrets.ensure_file(config.load().site, path, keydir)
    assert again["changed"] is False and path.read_text() == text


def test_secrets_load_without_a_lab_says_so(tmp_path, keydir):
    with pytest.raises(SystemExit, match="the lab is not up"):
        secrets.load(tmp_path / "secrets.sls", keydir)


def test_the_secrets_command_prints_an_encrypted_file(keydir, capsys):
    from lab import cli

    assert cli.main(["secrets", "--keydir", str(keydir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("#!yaml|gpg\n")
    doc = yaml.safe_load(out)["secrets"]
    assert sorted(doc) == secrets.names(config.load().site)
    assert all(v.startswith("-----BEGIN PGP MESSAGE-----") for v in doc.values())


def test_master_config_binds_the_bridge_and_serves_the_repo(tmp_path):
    conf = master.local_conf("10.77.0.1", [tmp_path / "site"], tmp_path / "state")
    assert conf["interface"] == "10.77.0.1"
    assert conf["file_roots"]["base"] == [str(config.REPO / "salt"), str(tmp_path / "state" / "extensions")]
    assert (tmp_path / "state" / "extensions" / "_modules").resolve() == config.REPO / "_modules"
    assert conf["pillar_roots"]["base"][0] == str(tmp_path / "site")
    assert conf["pillar_roots"]["base"][-1] == str(config.REPO / "pillar")
    assert all(str(tmp_path / "state") in conf[k] for k in ("pki_dir", "cachedir", "sock_dir"))
    # Salt's gpg renderer decrypts the secrets pillar with the lab master's keyring
    assert conf["gpg_keydir"] == str(tmp_path / "state" / "gpgkeys")
    assert master.GPG_KEYDIR == master.MASTER_STATE / "gpgkeys"


def test_master_never_auto_accepts():
    base = yaml.safe_load((config.REPO / "etc" / "salt" / "master").read_text())
    assert base["auto_accept"] is False


def test_nspawn_command_boots_on_the_bridge_with_the_repo_read_only():
    node = config.load().node("ctl1")
    cmd = [str(c) for c in nodes.nspawn_command(node, "/var/cache/halab/apt/repo")]
    assert "-b" in cmd and f"--network-bridge={config.BRIDGE}" in cmd
    assert f"--bind-ro=/var/cache/halab/apt/repo:{config.APT_MOUNT}" in cmd
    assert "--register=no" in cmd and "-M" in cmd and "ctl1" in cmd


def _stub(directory, name, body):
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def test_the_nfs_stand_in_squashes_every_user_to_the_exports_owner(tmp_path):
    stubs = tmp_path / "bin"
    stubs.mkdir()
    _stub(stubs, "systemd-run", 'echo "$@"')
    _stub(stubs, "stat", "echo 64061")
    _stub(stubs, "getent", "printf 'root:x:0:0::/:/bin/sh\\ncinder:x:64061:64061::/:/bin/false\\n'")
    shim = tmp_path / "mount.nfs"
    shim.write_text(nodes.NFS_SHIM_TEXT)
    env = {"PATH": f"{stubs}:/usr/bin:/bin"}

    def mount(spec):
        return subprocess.run(["sh", shim, spec, "/var/lib/nova/mnt/x"], env=env,
                              capture_output=True, text=True, check=False)

    done = mount("10.77.0.13:/srv/nfs/volumes")
    assert done.returncode == 0, done.stderr
    args = done.stdout.split()
    assert args[:3] == ["--scope", "--quiet", "--collect"] and args[3] == "bindfs"
    for option in ("--force-user=64061", "--force-group=64061", "--create-for-user=64061",
                   "--create-for-group=64061", "--mirror=root,cinder"):
        assert option in args
    assert args[-2:] == [f"{nodes.NAS_BIND}/volumes", "/var/lib/nova/mnt/x"]
    assert mount("10.77.0.13:/srv/nfs/../etc").returncode == 32


def test_the_lab_adds_its_own_helpers_to_the_repository():
    assert "bindfs" in aptrepo.LAB_PACKAGES  # what the NFS stand-in runs
    cmd = [str(c) for c in nodes.nspawn_command(config.load().node("ctl1"), "/r")]
    assert "--bind=/dev/fuse" in cmd or not pathlib.Path("/dev/fuse").exists()


def test_partition_drops_both_directions_on_both_bridges(monkeypatch):
    calls = []
    monkeypatch.setattr(network, "run", lambda cmd, **kw: calls.append(cmd))
    network.partition("ctl1", "ctl2")
    rules = [" ".join(c) for c in calls if c[:2] == ["nft", "add"] and "rule" in c]
    assert len(rules) == 2
    assert '"vb-ctl1", "vp-ctl1"' in rules[0] and rules[0].endswith("drop")
    assert rules[0].index("ctl1") < rules[0].index("ctl2")
    assert rules[1].index("ctl2") < rules[1].index("ctl1")


def test_the_fileserver_hides_everything_but_states_and_extensions():
    import re

    base = yaml.safe_load((config.REPO / "etc" / "salt" / "master").read_text())
    hidden = [re.compile(r) for r in base["file_ignore_regex"]]

    def ignored(rel):
        return any(r.search(rel) for r in hidden)

    for rel in ("lab/cli.py", "adminbox/setup.py", "tests/conftest.py", "pillar/top.sls",
                "etc/salt/master",
                "README.md", "pyproject.toml", ".git/config"):
        assert ignored(rel), rel
    for rel in ("_modules/inventory.py", "_states/inventory.py", "base/init.sls", "top.sls"):
        assert not ignored(rel), rel


def test_validation_refuses_a_broken_lab_pillar(tmp_path):
    from lab.inventory_bridge import validate_site_file

    broken = yaml.safe_load(config.SITE_PILLAR.read_text())
    broken["site"]["nodes"]["ctl2"]["address"] = "10.77.0.11"
    path = tmp_path / "site.sls"
    path.write_text(yaml.safe_dump(broken))
    with pytest.raises(SystemExit, match="ctl2:address|address"):
        validate_site_file(path)
    validate_site_file(config.SITE_PILLAR)  # the real one passes


def test_changes_are_counted_across_every_orchestration_step():
    from lab.bench import changed_states, count_changes

    steps = {
        "salt_|-deploy-base_|-deploy-base_|-state": {"changes": {"ret": {
            "ctl1": {"a": {"changes": {"x": 1}}, "b": {"changes": {}}},
            "nas": {"c": {"changes": {"y": 2}}}}}},
        "galera_|-deploy-galera-cluster_|-x_|-converged": {"changes": {}},
        "salt_|-deploy-sync_|-x_|-function": {"changes": {"ret": "not a dict"}},
    }
    assert changed_states(steps) == [
        ("salt_|-deploy-base_|-deploy-base_|-state", "ctl1", "a"),
        ("salt_|-deploy-base_|-deploy-base_|-state", "nas", "c"),
    ]
    assert count_changes({"data": {"master_master": steps}}) == 2
    assert count_changes({"data": {}}) == 0


# --- first contact: nodes without Salt, the bare node, salt-ssh's files -------------------------


def test_a_node_without_a_minion_loses_the_images_salt_and_gets_the_admin_key(tmp_path):
    root = tmp_path / "root"
    for rel in ("opt/salt/bin/salt-minion", "etc/salt/minion.d/x.conf",
                "etc/systemd/system/salt-minion.service", "etc/hostname"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/salt-call").symlink_to("/opt/salt/bin/salt-call")  # dangling: still removed
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True)
    (wants / "salt-minion.service").symlink_to("/etc/systemd/system/salt-minion.service")
    removed = nodes.remove_salt(root)
    assert set(removed) == set(nodes.IMAGE_SALT) - {"usr/bin/salt-minion"}
    assert not any((root / rel).exists() or (root / rel).is_symlink() for rel in nodes.IMAGE_SALT)
    assert (root / "etc/hostname").exists()
    assert nodes.remove_salt(root) == []
    nodes.authorize(root, "ssh-ed25519 AAAA admin\n")
    keys_file = root / "root/.ssh/authorized_keys"
    assert keys_file.read_text() == "ssh-ed25519 AAAA admin\n"
    assert keys_file.stat().st_mode & 0o777 == 0o600
    assert (root / "root/.ssh").stat().st_mode & 0o777 == 0o700
    with pytest.raises(SystemExit, match="needs the admin box's ssh key"):
        nodes.authorize(root, None)


def test_lab_packages_count_as_installed_by_dpkg(tmp_path):
    info = tmp_path / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    (info / "openssh-server.list").write_text("")
    (info / "libfoo1:amd64.list").write_text("")
    assert nodes.installed(tmp_path, "openssh-server") and nodes.installed(tmp_path, "libfoo1")
    assert not nodes.installed(tmp_path, "bindfs")
    assert set(aptrepo.SSH_PACKAGES) <= set(aptrepo.LAB_PACKAGES)
    assert "openssh-server" in aptrepo.LAB_PACKAGES  # in the local repository


def test_the_bare_node_is_outside_the_inventory_on_a_free_address():
    lab = config.load()
    bare = config.bare_node(lab)
    assert bare.name == "bare" and bare.name not in lab.site["nodes"]
    used = {lab.host_address, *(n.address for n in lab.nodes), *(n.bmc_address for n in lab.nodes),
            *(v["address"] for v in lab.site["vips"].values())}
    assert bare.address == "10.77.0.14" and bare.address not in used
    assert bare.roles == () and not bare.bmc_address and bare.provider_address is None
    assert lab.node("bare") == bare  # `python -m lab exec bare ...`
    cmd = [str(c) for c in nodes.nspawn_command(bare, "/r")]
    assert "-M" in cmd and "bare" in cmd and not any("/srv/lab-nas" in c for c in cmd)


def test_the_admin_box_is_the_inventorys_admin_address():
    lab = config.load()
    assert lab.host_address == lab.site["admin"]["address"] == "10.77.0.1"


def test_the_labs_roster_and_known_hosts(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "STATE", tmp_path)
    monkeypatch.setattr(master, "MASTER_STATE", tmp_path / "master")
    lab = config.load()
    master.write_ssh_files(lab)
    roster = yaml.safe_load((tmp_path / "master/roster").read_text())
    assert set(roster) == {"ctl1", "ctl2", "nas"}
    assert roster["ctl2"] == {"host": "10.77.0.12", "user": "root",
                              "priv": str(tmp_path / "master/pki/ssh/id_ed25519")}
    assert (tmp_path / "master/pki/ssh/known_hosts").read_text() == ""
    key = tmp_path / "nodes/bare/root/etc/ssh/ssh_host_ed25519_key.pub"
    key.parent.mkdir(parents=True)
    key.write_text("ssh-ed25519 AAAAC3Nz root@bare\n")
    master.write_ssh_files(lab)
    roster = yaml.safe_load((tmp_path / "master/roster").read_text())
    assert roster["bare"]["host"] == "10.77.0.14"
    known = tmp_path / "master/pki/ssh/known_hosts"
    assert known.read_text() == "10.77.0.14 ssh-ed25519 AAAAC3Nz\n"
    assert known.stat().st_mode & 0o777 == 0o600


def test_the_labs_master_serves_the_wheelhouse_as_salt_wheels(tmp_path, monkeypatch):
    wheels = tmp_path / "cache" / f"wheels-salt-{config.SALT_VERSION}"
    wheels.mkdir(parents=True)
    monkeypatch.setattr(config, "CACHE", tmp_path / "cache")
    conf = master.local_conf("10.77.0.1", [tmp_path / "site"], tmp_path / "state")
    assert not (tmp_path / "state/extensions/salt-wheels").exists()  # not built yet
    (wheels / ".complete").touch()
    conf = master.local_conf("10.77.0.1", [tmp_path / "site"], tmp_path / "state")
    assert (tmp_path / "state/extensions/salt-wheels").resolve() == wheels
    assert conf["roster_file"] == str(tmp_path / "state/roster")
    assert conf["ssh_priv"] == str(tmp_path / "state/pki/ssh/id_ed25519")


def _session_in_a_child(lock, owner, env=None):
    return subprocess.run(
        [sys.executable, "-c", "from lab import util\n"
         f"with util.session({owner!r}, path={str(lock)!r}): print('inside')"],
        cwd=config.REPO, capture_output=True, text=True, timeout=60, env=env)


def _outside_any_session(monkeypatch):
    """These checks hold sessions of their own: in a run whose lab checks hold
    the real one (CI), this process is inside it (``HALAB_SESSION``), where a
    session is not taken again."""
    monkeypatch.delenv(util.SESSION_ENV, raising=False)


def test_a_second_lab_session_is_refused_naming_the_first(tmp_path, monkeypatch):
    _outside_any_session(monkeypatch)
    lock = tmp_path / "lock" / "halab.session"
    with util.session("a test run in /work/run13", path=lock):
        # an unrelated run (no session in its environment) is refused
        env = {k: v for k, v in os.environ.items() if k != util.SESSION_ENV}
        other = _session_in_a_child(lock, "lab bench deploy", env=env)
        assert lock.read_text().startswith("a test run in /work/run13 (pid ")
        assert other.returncode != 0
        assert re.search(r"in use by a test run in /work/run13 \(pid \d+\)", other.stderr)
    assert util.SESSION_ENV not in os.environ
    # released with the first session: the next one holds it
    with util.session("lab bench deploy", path=lock):
        assert "lab bench deploy" in lock.read_text()


def test_a_process_the_session_started_is_inside_it(tmp_path, monkeypatch):
    _outside_any_session(monkeypatch)
    lock = tmp_path / "halab.session"
    with util.session("lab bench heal", path=lock):
        # `lab bench heal` runs the healing checks, whose fixture asks again
        child = _session_in_a_child(lock, "a test run")
        assert child.stdout.strip() == "inside", child.stderr


def _bmc(monkeypatch, post_seconds):
    """A lab BMC without its UDP socket, over a fake machine."""
    from lab import bmc  # noqa: PLC0415 (pyghmi: only this test needs it)

    machine = {"on": False, "boots": 0}

    def power_on(node):
        machine["on"], machine["boots"] = True, machine["boots"] + 1

    monkeypatch.setattr(bmc.nodes, "is_on", lambda node: machine["on"])
    monkeypatch.setattr(bmc.nodes, "power_on", power_on)
    monkeypatch.setattr(bmc.nodes, "power_off", lambda node: machine.update(on=False))
    # pyghmi's part binds the IPMI port: not here
    monkeypatch.setattr(bmc.ipmi_bmc.Bmc, "__init__", lambda self, *args, **kwargs: None)
    board = bmc.NodeBmc(config.load().node("ctl1"), "admin", "secret", post_seconds=post_seconds)
    return board, machine


def test_a_bmc_power_on_boots_the_node_after_its_self_test(monkeypatch):
    board, machine = _bmc(monkeypatch, post_seconds=0.3)
    assert board.get_power_state() == "off"
    assert board.power_on() == 0
    # fence_ipmilan reads the power on at once, the node is not booted yet
    assert board.get_power_state() == "on" and machine["boots"] == 0
    assert board.power_on() == 0  # pressed again during the self-test: one boot
    board._post.join(5)
    assert machine == {"on": True, "boots": 1}
    assert board.get_power_state() == "on"


def test_a_bmc_power_off_during_the_self_test_cancels_the_boot(monkeypatch):
    board, machine = _bmc(monkeypatch, post_seconds=0.3)
    board.power_on()
    timer = board._post
    assert board.power_off() == 0
    timer.join(5)
    assert machine["boots"] == 0 and board.get_power_state() == "off"
    # a reboot (fence_ipmilan's off, then on) boots once, after the self-test
    assert board.power_cycle() == 0
    board._post.join(5)
    assert machine == {"on": True, "boots": 1}


HYBRID_MOUNTS = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
"""


def test_each_node_has_its_own_cgroup_in_every_hierarchy_systemd_tracks(tmp_path):
    # one shared nspawn `payload` tree let ctl2's systemd race ctl1's over one
    # system.slice/mariadb.service cgroup (CI: status=219/CGROUP at a start)
    mounts = tmp_path / "mounts"
    mounts.write_text(HYBRID_MOUNTS)
    assert nodes.systemd_hierarchies(mounts) == ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"]
    ctl1, ctl2 = (types.SimpleNamespace(name=name) for name in ("ctl1", "ctl2"))
    assert nodes.node_cgroups(ctl1, mounts) == ["/sys/fs/cgroup/systemd/halab/ctl1",
                                               "/sys/fs/cgroup/unified/halab/ctl1"]
    assert not set(nodes.node_cgroups(ctl1, mounts)) & set(nodes.node_cgroups(ctl2, mounts))
    mounts.write_text("cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n")  # a v2-only host
    assert nodes.node_cgroups(ctl2, mounts) == ["/sys/fs/cgroup/halab/ctl2"]


def test_a_nodes_old_cgroup_tree_is_removed_deepest_first(tmp_path):
    tree = tmp_path / "halab" / "ctl1"
    (tree / "payload" / "system.slice" / "mariadb.service").mkdir(parents=True)
    nodes._remove_cgroup_tree(str(tree))
    assert not tree.exists()
    nodes._remove_cgroup_tree(str(tree))  # gone already: nothing to do
