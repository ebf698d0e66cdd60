"""Shared test helpers.

`_modules/x.py` and `_states/x.py` share a file name, so they are loaded by
path under distinct module names (``ext_modules_x``, ``ext_states_x``).
"""

import importlib.util
import inspect
import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


def load_ext(kind, name):
    """Import ``<repo>/_<kind>/<name>.py`` as module ``ext_<kind>_<name>``."""
    path = REPO / f"_{kind}" / f"{name}.py"
    modname = f"ext_{kind}_{name}"
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    return module


def load_utils(*names):
    """``__utils__`` as Salt's loader packs it into runners and modules: each
    public function of ``<repo>/_utils/<name>.py`` as ``"<name>.<function>"``
    (the functions take the options they need as an argument)."""
    utils = {}
    for name in names:
        module = load_ext("utils", name)
        utils.update({
            f"{name}.{attr}": value for attr, value in vars(module).items()
            if inspect.isfunction(value) and not attr.startswith("_")
            and value.__module__ == module.__name__
        })
    return utils


def message_to_another_key(tmp_path_factory, value):
    """``value`` as a GPG message to a key of a keyring made for it (not the
    master's), with ``_utils/secrets_file.py``."""
    secrets_file = load_ext("utils", "secrets_file")
    keydir = tmp_path_factory.mktemp("o") / "gpgkeys"
    try:
        key, _ = secrets_file.ensure_keyring(keydir)
        return secrets_file.encrypt(keydir, key, value)
    finally:
        secrets_file.stop_agent(keydir)


@pytest.fixture(scope="session")
def repo_root():
    return REPO
