"""A real site's pillar directory (``site.sls``, ``secrets.sls``, optionally
``settings.sls``, like ``pillar/examples``), read and validated with the
state tree's own validator (``_modules/inventory.py``) before anything is
written."""

import importlib.util
import pathlib

import yaml

from .errors import AdminError

REPO = pathlib.Path(__file__).resolve().parent.parent


def ext_module(name, repo=REPO, folder="_modules"):
    """``<repo>/<folder>/<name>.py`` (``_modules``, ``_utils``...), imported by
    path (no Salt loader)."""
    path = pathlib.Path(repo) / folder / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"twin_cloud{folder}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _yaml_file(path, key):
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise AdminError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or key not in doc:
        raise AdminError(f"{path}: needs a top-level {key}: mapping (see pillar/examples/{path.name})")
    return doc


def load(directory, repo=REPO):
    """
    Read and validate the site pillar in ``directory``; return
    ``(site, settings)``: the ``site`` mapping and the whole settings.sls (or {}).

    Refuses (``AdminError``, every problem on its own line) a missing file, a
    pillar the inventory refuses, a site without ``site:admin:address``. No
    secret value is ever shown.
    """
    directory = pathlib.Path(directory)
    site_file, secrets_file = directory / "site.sls", directory / "secrets.sls"
    if not site_file.is_file():
        raise AdminError(f"{site_file}: missing; make it: copy pillar/examples/site.sls and "
                         f"edit it")
    if secrets_file.exists():
        # the pillar directory comes first in pillar_roots: this file would
        # hide the encrypted one the master generates
        raise AdminError(
            f"{secrets_file}: the secrets do not live in the site's pillar directory; they "
            f"are kept encrypted to the master's key in the master's generated pillar "
            f"(twin_cloud_generated_pillar), made by `salt-run secrets.init` once this "
            f"setup is done. Move this file there (it encrypts the values it finds in clear): "
            f"mv {secrets_file} <generated pillar>/secrets.sls, then run bin/admin-setup again")
    secrets = None
    inventory = ext_module("inventory", repo)
    problems = inventory.validate_site_text(site_file.read_text(), secrets)
    site = (yaml.safe_load(site_file.read_text()) or {}).get("site") if not problems else None
    if site is not None and "admin" not in site:
        problems.append("site:admin:address: not set; set it to the admin box's address on the "
                        "management network (the salt-master listens there), e.g. "
                        "admin: {address: 192.0.2.5} under site: (see pillar/examples/site.sls)")
    if problems:
        raise AdminError(f"{site_file} is not a valid site pillar:\n" + "\n".join(problems))
    settings_file = directory / "settings.sls"
    settings = yaml.safe_load(settings_file.read_text()) or {} if settings_file.is_file() else {}
    return site, settings
