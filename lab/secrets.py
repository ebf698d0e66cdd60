"""The lab's secrets pillar: encrypted for the lab's salt-master by the same
code as a site's `salt-run secrets.init` (``_utils/secrets_file.py``).

`up` writes ``pillar/secrets.sls`` under the lab's state directory (mode
0600, every value a GPG message to the key in the lab master's
``gpg_keydir``, made there once); every reader in the lab and its tests goes
through :func:`load`, which decrypts with that keyring.
`python -m lab secrets --site FILE` prints a new encrypted file for a site.
"""

import ssl
from pathlib import Path

import yaml

from . import config, master
from .inventory_bridge import project_module
from .util import LabError

FILE = config.STATE / "pillar" / "secrets.sls"
KEYDIR = master.GPG_KEYDIR

_impl = project_module("_utils", "secrets_file")
CA_FILE = Path(_impl.ca_pillar_path(FILE))  # pillar site_ca:cert (public)
SERVICE_SECRETS = _impl.SERVICE_SECRETS
PEM_KEYS = _impl.PEM_KEYS
WITNESS_SECRETS = _impl.WITNESS_SECRETS
BMC_PASSWORD_LENGTH = _impl.BMC_PASSWORD_LENGTH
bmc_names = _impl.bmc_names


def names(site):
    """Every secret ``site`` needs (its BMCs', the services', the catalog's)."""
    roots = [config.REPO / "salt", config.REPO]
    return _impl.wanted_names(site, _impl.openstack_names(roots))


def generate(site, existing=None):
    """``{'secrets': {...}}`` in clear, keeping every value of ``existing``."""
    return {"secrets": _impl.generate(site, names(site), (existing or {}).get("secrets"))}


def ensure_file(site, path=FILE, keydir=KEYDIR):
    """Create or complete the encrypted secrets file at ``path`` (mode 0600)
    and the keyring ``keydir`` (mode 0700); what was done, by name only."""
    return _impl.ensure(path, keydir, site, names(site))


def ca_cert(path=CA_FILE):
    """The site CA's certificate (PEM) that `up` wrote with the secrets."""
    if not path.exists():
        raise LabError(f"the lab is not up (no {path} yet): run `python -m lab up`")
    doc = yaml.safe_load(path.read_text()) or {}
    return doc[_impl.CA_PILLAR_FILE]["cert"]


def ca_file():
    """The site CA's certificate as the operator's clients get it: the
    ``cacert`` the lab's clouds.yaml names (``site-ca.pem`` beside it, which
    `salt-run cloud.clouds_yaml` writes in the deploy), for curl's --cacert,
    the openstack CLI's --os-cacert, the browser's trust store."""
    clouds = config.STATE / "clouds.yaml"
    if not clouds.exists():
        raise LabError(f"no {clouds} yet: the deploy writes it (salt-run cloud.clouds_yaml)")
    for cloud in (yaml.safe_load(clouds.read_text()).get("clouds") or {}).values():
        if cloud.get("cacert"):
            return Path(cloud["cacert"])
    raise LabError(f"{clouds} names no cacert: the endpoints are not https")


def ssl_context():
    """A client SSL context trusting the site CA only (the VIP's endpoints)."""
    return ssl.create_default_context(cadata=ca_cert())


def new_ca_cert(site):
    """A new CA certificate (PEM) for ``site`` with a new key, as a site's
    `salt-run secrets.init` makes one (tests' pillars)."""
    return _impl.ca_certificate(_impl.pem_private_key(), site)


def load(path=FILE, keydir=KEYDIR):
    """``{name: value}``: the secrets file decrypted, for the lab and its tests."""
    if not path.exists():
        raise LabError(f"the lab is not up (no {path} yet): run `python -m lab up`")
    return _impl.read(path, keydir)


def encrypted_text(site, keydir=KEYDIR):
    """A new secrets file for ``site`` (text), every value encrypted to the
    key of ``keydir`` (made if absent)."""
    key, _ = _impl.ensure_keyring(keydir)
    values = _impl.generate(site, names(site))
    return _impl.render({name: _impl.encrypt(keydir, key, value)
                         for name, value in values.items()})


def stop_agent(keydir=KEYDIR):
    """End the gpg-agent the lab's keyring started (before `down` removes it)."""
    _impl.stop_agent(keydir)
