"""
The operator's side of the cloud, on the admin box (the salt-master).

``cloud.clouds_yaml`` writes the ``clouds.yaml`` the ``openstack`` CLI reads
(master option ``twin_cloud_clouds_yaml``, default
``/etc/openstack/clouds.yaml``; mode 0600): one cloud named after the site,
the administrator's credentials from pillar, Keystone at the VIP, and the
site CA's certificate (``site-ca.pem`` beside it) as the CA the CLI trusts.
The deploy orchestration runs it after Keystone; nothing of it is printed.
"""

import os

import salt.utils.files
import yaml
from salt.exceptions import SaltInvocationError

DEFAULT_PATH = "/etc/openstack/clouds.yaml"
CA_FILE = "site-ca.pem"  # beside the clouds.yaml


def document(site, secrets, catalog, cacert=None):
    """The clouds.yaml mapping for ``site`` from the merged ``catalog``
    (``_utils/catalog.py``'s: region, endpoint host and scheme; ``cacert``:
    the CA file the client trusts, with https endpoints); pure."""
    vip = ((site.get("vips") or {}).get("api") or {})
    if not vip.get("address"):
        raise SaltInvocationError("site:vips:api:address: missing; the cloud's API address")
    password = (secrets or {}).get("keystone_admin_password")
    if not password:
        raise SaltInvocationError("secrets:keystone_admin_password: missing from the secrets pillar")
    host = str(catalog.get("endpoint_host", "{vip}")).format(vip=vip["address"],
                                                            fqdn=vip.get("fqdn", ""))
    scheme = catalog["endpoint_scheme"]
    cloud = {
        "auth": {
            "auth_url": f"{scheme}://{host}:5000/v3",
            "username": "admin",
            "password": password,
            "project_name": "admin",
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
        "region_name": catalog.get("region", "RegionOne"),
        "interface": "public",
        "identity_api_version": 3,
    }
    if scheme == "https":
        if not cacert:
            raise SaltInvocationError(
                "site_ca:cert: missing from the pillar; run `salt-run secrets.init`, which "
                "writes the site CA's certificate with the secrets")
        cloud["cacert"] = cacert
    return {"clouds": {site.get("name") or "site": cloud}}


def clouds_yaml(minion=None):
    """
    Write the operator's clouds.yaml from the pillar of ``minion`` (default:
    the first controller of the inventory). Returns the path and the cloud's
    name, never the password.

    CLI Example:

    .. code-block:: bash

        salt-run cloud.clouds_yaml
    """
    if minion is None:
        any_pillar = __salt__["pillar.show_pillar"]()
        nodes = ((any_pillar.get("site") or {}).get("nodes")) or {}
        controllers = sorted(
            (n for n, spec in nodes.items() if "controller" in (spec.get("roles") or [])),
            key=lambda n: (nodes[n].get("cluster_id", 0), n),
        )
        if not controllers:
            raise SaltInvocationError("site:nodes: no node has the controller role")
        minion = controllers[0]
    pillar = __salt__["pillar.show_pillar"](minion)
    # the catalog as the services see it: pillar `openstack:` over the files
    # (region, endpoint_host, endpoint_scheme), like openstack.catalog on the minions
    settings = __utils__["catalog.load"](__utils__["catalog.roots"](__opts__),
                                         pillar.get("openstack"))
    path = __opts__.get("twin_cloud_clouds_yaml") or DEFAULT_PATH
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ca_pem = (pillar.get("site_ca") or {}).get("cert")
    cacert = None
    if ca_pem:
        cacert = os.path.join(os.path.dirname(path), CA_FILE)
        with salt.utils.files.fopen(cacert + ".new", "w") as handle:
            handle.write(ca_pem)
        os.chmod(cacert + ".new", 0o644)
        os.replace(cacert + ".new", cacert)
    doc = document(pillar.get("site") or {}, pillar.get("secrets") or {}, settings, cacert)
    tmp = path + ".new"
    with salt.utils.files.fopen(tmp, "w") as handle:
        os.chmod(tmp, 0o600)
        handle.write("# written by `salt-run cloud.clouds_yaml`: the site's administrator\n")
        yaml.safe_dump(doc, handle, default_flow_style=False)
    os.replace(tmp, path)
    return {"path": path, "cloud": next(iter(doc["clouds"]))}
