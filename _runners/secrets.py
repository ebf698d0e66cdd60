"""
The site's secrets pillar, GPG-encrypted for this master.

The file is ``secrets.sls`` in the directory of master option
``twin_cloud_generated_pillar`` (a directory of ``pillar_roots``;
``pillar/top.sls`` gives it to the inventory's minion ids only). Its first
line ``#!yaml|gpg`` has Salt's gpg renderer decrypt every value with the
keyring of master option ``gpg_keydir`` when the master compiles a pillar.
The work is ``_utils/secrets_file.py``, which the lab uses too.

- ``init``: for a new site, and whenever the inventory or the OpenStack
  catalog names a new secret: the master's key (made once, no passphrase,
  ``gpg_keydir`` mode 0700) and the file (mode 0600), values kept, missing
  ones generated, plain ones encrypted;
- ``rotate``: a new value for one OpenStack service password, then
  ``orch.secret_rotate`` applies what uses it;
- ``status``: the names, what is missing, what is still in clear.

Nothing here returns, prints or logs a value.
"""

import os
import re

from salt.exceptions import SaltInvocationError

UTILS = "secrets_file"
PILLAR_FILE = "secrets"  # secrets.sls in the generated pillar directory
ORCHESTRATION = "orch.secret_rotate"
RUNBOOK = "docs/runbooks/password-rotation.md"
# the passwords the OpenStack service pattern updates where they are used
# (database account, RabbitMQ user, Keystone user) and renders into configs
ROTATABLE = re.compile(r"^[a-z][a-z0-9]*_(db|rabbit|keystone)_password$")


def __virtual__():
    if f"{UTILS}.ensure" not in __utils__ or "generated_pillar.path" not in __utils__:
        return (False, "secrets: the project's utils are not synced to the master "
                       "(salt-run saltutil.sync_all)")
    return True


def _keydir():
    """``gpg_keydir``, or where Salt's gpg renderer looks without it."""
    keydir = __opts__.get("gpg_keydir")
    if keydir:
        return keydir
    config_dir = __opts__.get("config_dir") or os.path.dirname(__opts__["conf_file"])
    return os.path.join(config_dir, "gpgkeys")


def _path():
    return __utils__["generated_pillar.path"](__opts__, PILLAR_FILE)


def _pillar():
    return __salt__["pillar.show_pillar"](__opts__["id"]) or {}


def _site_and_names():
    """The inventory and every secret name it and the catalog need."""
    pillar = _pillar()
    site = pillar.get("site") or {}
    if not site.get("nodes"):
        raise SaltInvocationError(
            "site:nodes: the master sees no site inventory in its pillar; put the site's "
            "site.sls in a directory of pillar_roots (pillar/top.sls reads it), then run "
            "this again"
        )
    roots = (__opts__.get("file_roots") or {}).get("base") or []
    openstack = __utils__[f"{UTILS}.openstack_names"](roots, pillar.get("openstack") or {})
    return site, __utils__[f"{UTILS}.wanted_names"](site, openstack), openstack


def init():
    """
    Make the site's secrets pillar complete and encrypted: the master's GPG
    key in ``gpg_keydir`` if there is none (mode 0700, no passphrase), and
    ``secrets.sls`` (mode 0600, first line ``#!yaml|gpg``) with every value
    an ASCII-armored message to that key: the values already there kept,
    every secret the inventory and the catalog name and the file lacks
    generated (letters and digits), a value found in clear encrypted.
    Returns the names only.

    CLI Example:

    .. code-block:: bash

        salt-run secrets.init
    """
    site, names, _ = _site_and_names()
    return __utils__[f"{UTILS}.ensure"](_path(), _keydir(), site, names)


def status():
    """
    The secrets file without decrypting it: its names, the secrets the site
    needs that it lacks, the names it holds in clear, and the master's key.

    CLI Example:

    .. code-block:: bash

        salt-run secrets.status
    """
    _, names, _ = _site_and_names()
    current = __utils__[f"{UTILS}.parse"](_path())
    keydir = _keydir()
    return {
        "path": _path(),
        "keydir": keydir,
        "fingerprint": __utils__[f"{UTILS}.fingerprint"](keydir),
        "names": sorted(current),
        "missing": sorted(set(names) - set(current)),
        "in_clear": sorted(n for n, text in current.items()
                           if not __utils__[f"{UTILS}.armored"](text)),
    }


def _summary(result):
    """What an orchestration did, step by step, without its states' data."""
    data = (result or {}).get("data") or {}
    steps = next(iter(data.values()), {}) if isinstance(data, dict) else {}
    if not isinstance(steps, dict):  # a render error: a list of messages
        return {"error": steps}
    return {sid: {"result": step.get("result"), "comment": step.get("comment")}
            for sid, step in steps.items() if isinstance(step, dict)}


def rotate(name, apply=True):
    """
    Give OpenStack service password ``name`` (``<service>_db_password``,
    ``<service>_rabbit_password`` or ``<service>_keystone_password``) a new
    random value in the encrypted secrets file, then run
    ``orch.secret_rotate``: ``openstack`` on the first controller (the
    database account, RabbitMQ user and Keystone user take the new
    password) and then on every OpenStack node (config files re-rendered,
    their units restarted). ``apply=False`` only changes the file: run the
    orchestration yourself (``salt-run state.orchestrate orch.secret_rotate``).
    The other secrets: see docs/runbooks/password-rotation.md.

    CLI Example:

    .. code-block:: bash

        salt-run secrets.rotate name=glance_keystone_password
        salt-run secrets.rotate name=nova_db_password apply=False
    """
    site, _, openstack = _site_and_names()
    rotatable = sorted(n for n in openstack if ROTATABLE.match(n))
    if name not in rotatable:
        raise SaltInvocationError(
            f"secrets:{name}: secrets.rotate changes the OpenStack services' passwords only "
            f"({', '.join(rotatable)}); for any other secret follow {RUNBOOK}"
        )
    util = __utils__
    util[f"{UTILS}.replace"](
        _path(), _keydir(), name,
        util[f"{UTILS}.random_value"](util[f"{UTILS}.value_length"](name, site)))
    ret = {"rotated": name, "path": _path()}
    if not apply:
        ret["next"] = f"salt-run state.orchestrate {ORCHESTRATION}"
        return ret
    result = __salt__["state.orchestrate"](ORCHESTRATION) or {}
    retcode = result.get("retcode", 1) if isinstance(result, dict) else 1
    ret.update(orchestration=ORCHESTRATION, result=retcode == 0, steps=_summary(result))
    if retcode:
        ret["next"] = (f"the file holds the new value already: fix what failed, then "
                       f"salt-run state.orchestrate {ORCHESTRATION}")
        __context__["retcode"] = 1
    return ret
