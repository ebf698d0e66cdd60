"""
The OpenStack catalog as the admin box reads it (the master's runners,
``secrets.init``, the lab): the state tree's ``openstack/`` files found in
the fileserver's roots (``file_roots:base``), merged by the minions' own
pure functions (``_modules/openstack.py``, imported by path), pillar
``openstack:`` over them. One reader, so the master and the nodes agree on
the services, their APIs and the endpoint scheme.

A Salt utils module: the runners call ``__utils__["catalog.load"](roots,
override)``; the lab and ``secrets_file`` import it by path.
"""

import importlib.util
import os

from salt.exceptions import SaltInvocationError

OPENSTACK_MODULE = os.path.join("_modules", "openstack.py")


def roots(opts):
    """The fileserver's roots of ``opts`` (``file_roots:base``)."""
    return list((opts.get("file_roots") or {}).get("base") or [])


def find(search, relative):
    """The path of ``relative`` in the first of the roots ``search`` holding it."""
    for root in search:
        path = os.path.join(str(root), relative)
        if os.path.isfile(path):
            return path
    raise SaltInvocationError(
        f"{relative} is in none of the state tree's roots "
        f"({', '.join(map(str, search)) or 'none'}): check file_roots:base in the master's config"
    )


def openstack_module(search):
    """``_modules/openstack.py`` of the roots ``search``, imported by path
    (its pure helpers need no loader)."""
    spec = importlib.util.spec_from_file_location(
        "twin_cloud_openstack_catalog", find(search, OPENSTACK_MODULE))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(search, override=None):
    """
    The merged catalog (``openstack.build_catalog``: defaults, catalog,
    every service, pillar ``openstack:`` ``override`` over them) with
    ``endpoint_scheme`` checked, and its API frontends as ``frontends``.
    Raises naming the key when the catalog is not valid.
    """
    module = openstack_module(search)

    def read(relative):
        with open(find(search, relative), encoding="utf-8") as handle:
            return handle.read()

    data = module.build_catalog(read, override or {})
    problems = module.check_catalog(data)
    if problems:
        raise SaltInvocationError("\n".join(problems))
    data["endpoint_scheme"] = module.endpoint_scheme(data)
    data["frontends"] = module.frontends(data)
    data["secret_names"] = module.secret_names(data)
    return data
