"""The lab validates its pillar with the state tree's own validator
(``_modules/inventory.py``), imported by path: one implementation for both."""

from adminbox.pillar_dir import ext_module

from . import config
from .util import LabError


def _module(name):
    return ext_module(name, config.REPO)


def _inventory():
    return _module("inventory")


def openstack_secret_names():
    """The secrets the OpenStack catalog needs (``_modules/openstack.py``)."""
    openstack = _module("openstack")
    catalog = openstack.build_catalog(lambda path: (config.REPO / "salt" / path).read_text())
    return openstack.secret_names(catalog)


def validate_site_file(path):
    """Raise :class:`LabError` with every problem of the site pillar at ``path``."""
    problems = _inventory().validate_site_text(path.read_text())
    if problems:
        raise LabError(f"{path} is not a valid site pillar:\n" + "\n".join(problems))
