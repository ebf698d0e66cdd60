"""The lab uses the state tree's own code, imported by path: the validator
(``_modules/inventory.py``) and the secrets file (``_utils/secrets_file.py``,
which ``salt-run secrets.init`` uses too): one implementation for both."""

from adminbox.pillar_dir import ext_module

from . import config
from .util import LabError


def project_module(folder, name):
    """``<repo>/<folder>/<name>.py`` (e.g. ``_modules``, ``inventory``), imported by path."""
    return ext_module(name, config.REPO, folder)


def _inventory():
    return project_module("_modules", "inventory")


def validate_site_file(path):
    """Raise :class:`LabError` with every problem of the site pillar at ``path``."""
    problems = _inventory().validate_site_text(path.read_text())
    if problems:
        raise LabError(f"{path} is not a valid site pillar:\n" + "\n".join(problems))
