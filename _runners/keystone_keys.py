"""
Keystone's fernet and credential keys, kept on the master and handed to the
controllers through pillar, so both hold the same repository at all times.

The keys live in one pillar file the master writes (``keystone_keys.sls`` in
the directory of master option ``twin_cloud_generated_pillar``, mode 0600);
``pillar/top.sls`` gives it to the controllers only, and the
``openstack.keystone`` state writes ``/etc/keystone/{fernet,credential}-keys``
from it (removing any other key file).

- ``ensure``: create what is missing (first deploy; a step of orch.deploy);
- ``rotate``: Keystone's rotation on the master: the staged key (0) becomes
  the new primary (highest index), a new staged key is made, the oldest
  secondary keys beyond ``max_active`` go. Then ``orch.keystone_rotate``
  applies the keys to the controllers. Every node always validates tokens
  of every other: the staged key was on all of them before it became
  primary.

Nothing here prints a key.
"""

import base64
import os

from salt.exceptions import SaltInvocationError

# the pillar (and its file keystone_keys.sls) the generated_pillar utils keep
PILLAR_KEY = "keystone_keys"
HEADER = "written by the keystone_keys runner; never commit, never edit"
REPOSITORIES = ("fernet", "credential")
DEFAULT_MAX_ACTIVE = 3


def new_key():
    """A fernet key: 32 random bytes, URL-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def rotated(keys, max_active=DEFAULT_MAX_ACTIVE, make_key=new_key):
    """
    The repository ``keys`` (``{"0": staged, "1": ..., "n": primary}``) after
    one rotation; pure but for ``make_key``.
    """
    if max_active < 3:
        raise SaltInvocationError("max_active: at least 3 (staged, primary, one secondary)")
    indexes = sorted(int(i) for i in keys)
    if not indexes or indexes[0] != 0:
        raise SaltInvocationError("the repository has no staged key 0: run keystone_keys.ensure")
    result = {str(i): keys[str(i)] for i in indexes}
    result[str(indexes[-1] + 1)] = result["0"]
    result["0"] = make_key()
    secondaries = sorted(int(i) for i in result if i != "0")
    while len(secondaries) + 1 > max_active:
        del result[str(secondaries.pop(0))]
    return result


def __virtual__():
    if "generated_pillar.write" not in __utils__:
        return (False, "keystone_keys: the generated_pillar utils are not synced to the master "
                       "(salt-run saltutil.sync_all)")
    return True


def _summary(keys):
    return {repo: sorted(int(i) for i in keys.get(repo, {})) for repo in REPOSITORIES}


def ensure():
    """
    Create the key repositories that are missing (staged 0 and primary 1).

    CLI Example:

    .. code-block:: bash

        salt-run keystone_keys.ensure
    """
    keys = __utils__["generated_pillar.read"](__opts__, PILLAR_KEY)
    changed = False
    for repo in REPOSITORIES:
        if not keys.get(repo):
            keys[repo] = {"0": new_key(), "1": new_key()}
            changed = True
    if changed:
        __utils__["generated_pillar.write"](__opts__, PILLAR_KEY, keys, HEADER)
    return {"changed": changed, "keys": _summary(keys)}


def rotate(max_active=DEFAULT_MAX_ACTIVE):
    """
    Rotate the fernet keys once (the credential keys are not rotated: that
    needs ``keystone-manage credential_migrate``). Apply them with
    ``salt-run state.orchestrate orch.keystone_rotate``, which calls this.

    CLI Example:

    .. code-block:: bash

        salt-run keystone_keys.rotate
    """
    keys = __utils__["generated_pillar.read"](__opts__, PILLAR_KEY)
    if not keys.get("fernet"):
        raise SaltInvocationError("no fernet keys yet: run keystone_keys.ensure first")
    keys["fernet"] = rotated(keys["fernet"], int(max_active))
    __utils__["generated_pillar.write"](__opts__, PILLAR_KEY, keys, HEADER)
    return {"changed": True, "keys": _summary(keys)}
