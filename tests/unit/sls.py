"""Rendering the repo's SLS with Salt's real loader (masterless, no daemon)
and reading the highstate data it gives (``state.show_sls``), in tests."""

import atexit
import contextlib
import functools
import logging
import pathlib
import shutil
import tempfile
from unittest.mock import patch

import salt.config
import salt.loader
import yaml
from saltfactories.utils.functional import Loaders

from adminbox import master_conf
from lab import secrets as lab_secrets
from tests.conftest import load_ext

INVENTORY = load_ext("modules", "inventory")

REPO = pathlib.Path(__file__).resolve().parents[2]
SALT = REPO / "salt"
MASTER = yaml.safe_load((REPO / "etc" / "salt" / "master").read_text())
# the pillar files of the sites the tests render for
SITE_FILES = {
    "lab": ("lab/pillar/site.sls", "lab/pillar/settings.sls"),
    "example": ("pillar/examples/site.sls",),
}


# --- pillar -------------------------------------------------------------------------------------


def load(path):
    """A YAML file of the repo (``path`` relative to its root); ``{}`` when empty."""
    return yaml.safe_load((REPO / path).read_text()) or {}


def site_pillar(name):
    """The pillar site ``name`` (``lab``, ``example``) gives every node: its
    site, its component settings and the site CA's certificate."""
    pillar = {}
    for path in SITE_FILES[name]:
        pillar.update(load(path))
    pillar["site_ca"] = {"cert": sample_ca_cert()}
    return pillar


@functools.lru_cache(maxsize=None)
def sample_ca_cert():
    """A site CA certificate (PEM) made once per test session, as
    `salt-run secrets.init` makes a site's."""
    return lab_secrets.new_ca_cert({"name": "test"})


def secret_value(name):
    """The tests' value of secret ``name``: distinct, URL-safe (the same text
    inside a database or transport URL)."""
    return f"S3cret-{name.replace('_', '-')}-value"


def secrets_of(doc, node_id=None):
    """Pillar ``secrets`` of the site pillar ``doc``, each with its
    ``secret_value``: every secret the site needs (``lab.secrets.names``), or
    what pillar/top.sls gives node ``node_id`` when it holds fewer (a
    witness: ``secrets_witness.sls``)."""
    names = lab_secrets.names(doc["site"])
    node = doc["site"]["nodes"].get(node_id) if node_id else None
    if node is not None and not INVENTORY.holds_every_secret(node):
        names = [name for name in names if name in lab_secrets.WITNESS_SECRETS]
    return {name: secret_value(name) for name in names}


# --- the state tree served ---------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def served_roots():
    """The file roots the master serves (``salt/`` and a directory of links to
    the extension folders, ``adminbox.master_conf.fileserver_root``), made
    once per test session. Never the checkout itself: every ``show_sls``
    lists the roots, and the checkout's ``.venv`` and ``.git`` made that walk
    most of a render test's time."""
    links = pathlib.Path(tempfile.mkdtemp(prefix="twin-cloud-roots-"))
    atexit.register(shutil.rmtree, links, True)
    master_conf.fileserver_root(links, REPO)
    return (SALT, links)


# --- masterless minions ---------------------------------------------------------------------------


def minion_opts(base, minion_id, pillar, file_roots=(SALT,), **extra):
    """The options of masterless minion ``minion_id`` with ``pillar``: its
    cache, keys and log under ``base``, the state tree from ``file_roots``,
    the repo's modules and states from ``module_dirs`` and ``states_dirs``;
    ``extra`` options over them."""
    opts = salt.config.minion_config(None)
    opts.update({
        "id": minion_id,
        "file_client": "local",
        "cachedir": str(base / "cache"),
        "pki_dir": str(base / "pki"),
        "log_file": str(base / "log"),
        "file_roots": {"base": [str(root) for root in file_roots]},
        "pillar_roots": {"base": []},
        "module_dirs": [str(REPO / "_modules")],
        "states_dirs": [str(REPO / "_states")],
        "grains_cache": False,
        "file_ignore_regex": [*MASTER["file_ignore_regex"], r"^\.(venv|pytest_cache)(/|$)"],
        "pillar": pillar,
        **extra,
    })
    return opts


@contextlib.contextmanager
def minion_loaders(grains=None):
    """
    Yields ``get(key, make_opts)``: Salt's loaders (saltfactories'
    ``Loaders``) of a masterless minion, made from ``make_opts()`` the first
    time ``key`` is asked, then the same. Every minion gets this machine's
    grains (computed once), its own ``id`` and ``grains(opts)`` over them.
    Salt logs warnings only meanwhile; every loader is reset at the end.
    """
    made = {}
    real_grains = salt.loader.grains
    first = {}

    def minion_grains(opts, **kwargs):
        if not first:
            first.update(real_grains(opts, **kwargs))
        return {**first, "id": opts["id"], **(grains(opts) if grains else {})}

    def get(key, make_opts):
        if key not in made:
            with patch("salt.loader.grains", minion_grains):
                made[key] = Loaders(make_opts())
        return made[key]

    salt_log = logging.getLogger("salt")
    level = salt_log.level
    salt_log.setLevel(logging.WARNING)
    try:
        yield get
    finally:
        salt_log.setLevel(level)
        for loaders in made.values():
            loaders.reset_state()


@contextlib.contextmanager
def site_minions(base, sites):
    """
    Yields ``get(site, minion_id, label="", **pillar)``: the loaders of one
    masterless node of ``sites`` ({name: site pillar}, e.g. ``site_pillar``'s),
    with that site's pillar, every secret it needs (``secrets_of``) and
    ``pillar`` over them (``label`` names that variant); cache under ``base``.
    """
    with minion_loaders() as loaders:

        def get(site, minion_id, label="", **extra):
            key = (site, minion_id, label)

            def opts():
                pillar = dict(sites[site])
                pillar["secrets"] = secrets_of(pillar, minion_id)
                pillar.update(extra)
                return minion_opts(base / "-".join(filter(None, key)), minion_id, pillar)

            return loaders(key, opts)

        yield get


# --- highstate data -------------------------------------------------------------------------------


def state_fun(state):
    """(module, [args...]) of one rendered state."""
    for key, value in state.items():
        if not key.startswith("__"):
            return key, value
    raise AssertionError(state)


def state_function(state):
    """``module.function`` of one rendered state."""
    key, value = state_fun(state)
    return f"{key}.{next(item for item in value if isinstance(item, str))}"


def state_args(state, module=None):
    """The keyword arguments of one rendered state (checking its module)."""
    key, value = state_fun(state)
    if module:
        assert key == module, state
    args = {}
    for item in value:
        if isinstance(item, dict):
            args.update(item)
    return args


def render_file(loaders, state):
    """Render the template a file.managed ``state`` names (``salt://`` source
    in the repo's state tree), with its context, through ``loaders``."""
    args = state_args(state, "file")
    path = SALT / args["source"].removeprefix("salt://")
    return loaders.modules.file.apply_template_on_contents(
        path.read_text(), template="jinja", context=args.get("context") or {},
        defaults=None, saltenv="base")


@contextlib.contextmanager
def render_error_expected():
    """Silence Salt's logger while a test renders an SLS that must refuse:
    the render error comes back as the answer, it need not be logged too."""
    salt_log = logging.getLogger("salt")
    level = salt_log.level
    salt_log.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        salt_log.setLevel(level)
