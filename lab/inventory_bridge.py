"""The lab validates its pillar with the state tree's own validator
(``_modules/inventory.py``), imported by path: one implementation for both."""

import importlib.util

from . import config
from .util import LabError


def _inventory():
    path = config.REPO / "_modules" / "inventory.py"
    spec = importlib.util.spec_from_file_location("twin_cloud_inventory", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def validate_site_file(path):
    """Raise :class:`LabError` with every problem of the site pillar at ``path``."""
    problems = _inventory().validate_site_text(path.read_text())
    if problems:
        raise LabError(f"{path} is not a valid site pillar:\n" + "\n".join(problems))
