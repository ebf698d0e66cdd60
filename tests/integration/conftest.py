"""Integration fixtures: a real salt-master and salt-minion on loopback
(pytest-salt-factories), serving this repo with a test pillar and the
reactor map of ``reactor/map.yaml``, as ``lab/master.py`` writes it.

The heal runner runs in dry run (``heal:dry_run``): it fires its events and
acts on nothing. Its state lives under the master's cachedir.
"""

import contextlib
import pathlib
import shutil
import time

import pytest
import salt._logging.impl
import salt.utils.event
import yaml

from adminbox.master_conf import reactor_map

REPO = pathlib.Path(__file__).resolve().parents[2]
MINION_ID = "ctl1"
SITE = {
    "name": "it",
    "domain": "it.test",
    "quorum": {"mode": "witness", "witness": "nas"},
    "fencing": {"enabled": False},
    "networks": {"management": {"cidr": "127.0.0.0/8"}},
    "vips": {"api": {"address": "127.0.0.10", "fqdn": "cloud.it.test"}},
    "nodes": {
        "ctl1": {"roles": ["controller", "compute"], "address": "127.0.0.11", "cluster_id": 1,
                 "interfaces": {"management": "lo"}},
        "ctl2": {"roles": ["controller", "compute"], "address": "127.0.0.12", "cluster_id": 2,
                 "interfaces": {"management": "lo"}},
        "nas": {"roles": ["storage", "witness"], "address": "127.0.0.13",
                "interfaces": {"management": "lo"}},
    },
}
HEAL = {"dry_run": True, "settle": 1, "cooldown": 60, "budget": 3, "window": 3600,
        "flap_limit": 100, "flap_window": 300}


@pytest.fixture(scope="package", autouse=True)
def salt_temp_log_handler():
    """The daemons' log records reach this process; Salt's deferred handler
    would keep them and print them at exit into pytest's closed streams.
    Hand them to the real handlers and close it when the package ends."""
    yield
    salt._logging.impl.shutdown_temp_handler()  # pylint: disable=protected-access


@pytest.fixture(scope="package")
def pillar_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("pillar")
    (root / "top.sls").write_text("base:\n  '*':\n    - site\n")
    (root / "site.sls").write_text(yaml.safe_dump({"site": SITE}))
    return root


@pytest.fixture(scope="package")
def repo_root(tmp_path_factory):
    """The repo root as the admin box's master serves it: its ``_*`` extension
    directories (everything else there is hidden by file_ignore_regex). A
    view made of symlinks, because the fileserver walks a root file by file,
    and the checkout's .venv alone makes every sync take 15 s."""
    root = tmp_path_factory.mktemp("repo-root")
    for path in REPO.glob("_*"):
        if path.is_dir():
            (root / path.name).symlink_to(path)
    return root


@contextlib.contextmanager
def repo_master(salt_factories, name, repo_root, pillar_roots, runner, **overrides):
    """Master ``name`` serving this repo (its roots and file_ignore_regex)
    with ``pillar_roots`` and ``overrides``, started and synced: yields it
    once its runners include ``runner``."""
    master_conf = yaml.safe_load((REPO / "etc" / "salt" / "master").read_text())
    overrides = {
        "file_roots": {"base": [str(REPO / "salt"), str(repo_root)]},
        "file_ignore_regex": master_conf["file_ignore_regex"],
        # as a site's master: decrypted values cached in memory (the
        # rotation test then shows a rotated value is never served stale)
        "gpg_cache": master_conf["gpg_cache"],
        "gpg_cache_backend": master_conf["gpg_cache_backend"],
        "pillar_roots": {"base": [str(p) for p in pillar_roots]},
        **overrides,
    }
    factory = salt_factories.salt_master_daemon(name, overrides=overrides)
    with factory.started():
        ret = factory.salt_run_cli().run("saltutil.sync_all")
        assert ret.returncode == 0, ret
        assert f"runners.{runner}" in ret.data["runners"], ret.data
        yield factory


@pytest.fixture(scope="package")
def master(salt_factories, pillar_tree, repo_root):
    # synced before any reaction: the reactor's runner client then knows heal.*
    with repo_master(salt_factories, "heal-master", repo_root, [pillar_tree], "heal",
                     reactor=reactor_map(REPO), heal=HEAL) as factory:
        yield factory


@pytest.fixture(scope="package")
def minion(master):
    factory = master.salt_minion_daemon(MINION_ID)
    started = time.time()
    with factory.started():
        # saltenv given: finding the environments would render top.sls, which
        # needs the inventory module this very call brings
        ret = factory.salt_call_cli().run("saltutil.sync_all", saltenv="base")
        assert ret.returncode == 0, ret
        factory.started_at = started
        yield factory


@pytest.fixture
def heal_state(master):
    """The heal runner's state directory, emptied before the test."""
    path = pathlib.Path(master.config["cachedir"]) / "twin-cloud-heal"
    shutil.rmtree(path, ignore_errors=True)
    return path


@pytest.fixture
def fire(master):
    """Fire an event on the master's bus, shaped as the master fires it."""

    def fire_event(tag, data):
        with salt.utils.event.get_master_event(
            master.config, master.config["sock_dir"], listen=False
        ) as bus:
            assert bus.fire_event(data, tag)

    return fire_event
