"""
The machine-specific part of the salt-master config
(``etc/salt/master.d/local.conf``): one function for the lab
(``lab/master.py``) and a real site's admin box (``bin/admin-setup``).

``etc/salt/master`` holds what every admin box shares; this part holds what
depends on the machine: the address to bind, where keys, cache, sockets and
logs live (a ``Layout``), the file and pillar roots of this checkout, the
reactor map with absolute paths, and salt-ssh's roster, key and known hosts.
"""

import dataclasses
import pathlib

import yaml

from .files import ensure_symlink

# The repo's extension folders: served through a directory of links so the
# fileserver does not walk the whole checkout (venv, git objects).
EXTENSION_DIRS = ("_modules", "_states", "_beacons", "_runners", "_output", "_utils")
# salt://salt-wheels: the pinned Salt's wheels, for salt/minion (first contact)
WHEELHOUSE_LINK = "salt-wheels"


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where the master keeps its keys, cache, sockets, logs, salt-ssh files,
    the directory of links it serves, the pillar it generates and the
    operator's clouds.yaml."""

    pki_dir: pathlib.Path
    cachedir: pathlib.Path
    sock_dir: pathlib.Path
    pidfile: pathlib.Path
    log_file: pathlib.Path
    key_logfile: pathlib.Path
    ssh_log_file: pathlib.Path
    roster_file: pathlib.Path
    ssh_priv: pathlib.Path
    known_hosts_file: pathlib.Path
    gpg_keydir: pathlib.Path
    fileserver_dir: pathlib.Path
    generated_pillar: pathlib.Path
    clouds_yaml: pathlib.Path

    @classmethod
    def under(cls, state_dir, generated_pillar, clouds_yaml):
        """Everything in one directory ``state_dir`` (the lab's)."""
        state = pathlib.Path(state_dir)
        return cls(
            pki_dir=state / "pki",
            cachedir=state / "cache",
            sock_dir=state / "sock",
            pidfile=state / "salt-master.pid",
            log_file=state / "master.log",
            key_logfile=state / "key.log",
            ssh_log_file=state / "ssh.log",
            roster_file=state / "roster",
            ssh_priv=state / "pki" / "ssh" / "id_ed25519",
            known_hosts_file=state / "pki" / "ssh" / "known_hosts",
            gpg_keydir=state / "gpgkeys",
            fileserver_dir=state / "extensions",
            generated_pillar=pathlib.Path(generated_pillar),
            clouds_yaml=pathlib.Path(clouds_yaml),
        )

    @classmethod
    def site(cls, root="/"):
        """A real site's admin box: Salt's usual places under /etc/salt and
        /var, the project's own under /var/lib/twin-cloud (``root``: for tests)."""
        root = pathlib.Path(root)
        pki = root / "etc" / "salt" / "pki" / "master"
        return cls(
            pki_dir=pki,
            cachedir=root / "var" / "cache" / "salt" / "master",
            sock_dir=root / "var" / "run" / "salt" / "master",
            pidfile=root / "var" / "run" / "salt-master.pid",
            log_file=root / "var" / "log" / "salt" / "master",
            key_logfile=root / "var" / "log" / "salt" / "key",
            ssh_log_file=root / "var" / "log" / "salt" / "ssh",
            roster_file=root / "etc" / "salt" / "roster",
            ssh_priv=pki / "ssh" / "id_ed25519",
            known_hosts_file=pki / "ssh" / "known_hosts",
            gpg_keydir=root / "etc" / "salt" / "gpgkeys",
            fileserver_dir=root / "var" / "lib" / "twin-cloud" / "fileserver",
            generated_pillar=root / "var" / "lib" / "twin-cloud" / "pillar",
            clouds_yaml=root / "etc" / "openstack" / "clouds.yaml",
        )


def reactor_map(repo):
    """``reactor/map.yaml`` (event tag -> reactor SLS files relative to
    ``reactor/``) as the master's ``reactor`` option, with absolute paths."""
    path = pathlib.Path(repo) / "reactor" / "map.yaml"
    if not path.exists():
        return []
    mapping = yaml.safe_load(path.read_text()) or {}
    return [{tag: [str(path.parent / sls) for sls in files]} for tag, files in mapping.items()]


def fileserver_root(directory, repo, wheelhouse=None):
    """
    Fill ``directory`` with links to the repo's extension folders (and to
    ``wheelhouse`` as ``salt-wheels`` when given); return the links changed.

    Served as a file root beside ``<repo>/salt``: minions get ``_modules`` &
    co. without the fileserver walking the whole checkout.
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    wanted = {name: pathlib.Path(repo) / name for name in EXTENSION_DIRS}
    if wheelhouse:
        wanted[WHEELHOUSE_LINK] = pathlib.Path(wheelhouse)
    changed = [str(directory / name) for name, target in wanted.items()
               if ensure_symlink(directory / name, target)]
    stale = directory / WHEELHOUSE_LINK
    if not wheelhouse and stale.is_symlink():
        stale.unlink()
        changed.append(str(stale))
    return changed


def local_conf(repo, interface, pillar_dirs, layout, extra=None):
    """
    The machine-specific master options for checkout ``repo``: bind
    ``interface``, pillar from ``pillar_dirs`` (then ``<repo>/pillar``, which
    holds top.sls), keys, cache and salt-ssh files where ``layout`` says;
    ``extra`` options over them.
    """
    repo = pathlib.Path(repo)
    conf = {
        "reactor": reactor_map(repo),
        "interface": interface,
        "pki_dir": str(layout.pki_dir),
        "cachedir": str(layout.cachedir),
        "sock_dir": str(layout.sock_dir),
        "pidfile": str(layout.pidfile),
        "log_file": str(layout.log_file),
        "key_logfile": str(layout.key_logfile),
        "file_roots": {"base": [str(repo / "salt"), str(layout.fileserver_dir)]},
        "pillar_roots": {"base": [str(p) for p in pillar_dirs] + [str(repo / "pillar")]},
        "twin_cloud_generated_pillar": str(layout.generated_pillar),
        "twin_cloud_clouds_yaml": str(layout.clouds_yaml),
        # salt-ssh (first contact with a node, salt/minion): the roster made
        # from the inventory, the admin box's key, the nodes' host keys
        "roster_file": str(layout.roster_file),
        "ssh_priv": str(layout.ssh_priv),
        "known_hosts_file": str(layout.known_hosts_file),
        "ssh_log_file": str(layout.ssh_log_file),
        # Salt's gpg renderer decrypts the secrets pillar with this keyring
        # (salt-run secrets.init makes it)
        "gpg_keydir": str(layout.gpg_keydir),
    }
    conf.update(extra or {})
    return conf


def render(conf, header):
    """The text of ``local.conf``: ``header`` (comment lines) and the options."""
    lines = "".join(f"# {line}\n" for line in header.splitlines())
    return lines + yaml.safe_dump(conf, default_flow_style=False)
