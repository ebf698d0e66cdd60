"""
The pillar files the master's runners generate: pillar ``<key>`` (e.g.
``keystone_keys``, ``swift_rings``) in its own file ``<key>.sls``, one YAML
document ``{<key>: <data>}``, in the directory of master option
``twin_cloud_generated_pillar`` (a directory of the master's
``pillar_roots``), mode 0600, replaced atomically so the pillar never sees
half a file.

A Salt utils module: ``salt-run saltutil.sync_all`` brings it to the
master's extension modules, and the runners call it with their options, as
``__utils__["generated_pillar.read"](__opts__, "keystone_keys")``.
"""

import os

import salt.utils.files
import yaml
from salt.exceptions import SaltInvocationError

OPTION = "twin_cloud_generated_pillar"


def path(opts, key):
    """The file of pillar ``key`` (``<key>.sls``) in the generated pillar
    directory of the master's ``opts``."""
    directory = opts.get(OPTION)
    if not directory:
        raise SaltInvocationError(
            f"master option {OPTION} is not set: name a directory of "
            "pillar_roots the master may write (etc/salt/master)"
        )
    return os.path.join(directory, f"{key}.sls")


def read(opts, key):
    """Pillar ``key`` as its file holds it; ``{}`` when there is no file yet."""
    file_path = path(opts, key)
    if not os.path.exists(file_path):
        return {}
    with salt.utils.files.fopen(file_path, "r") as handle:
        return (yaml.safe_load(handle) or {}).get(key) or {}


def write(opts, key, data, header):
    """
    Replace the file of pillar ``key`` with ``{key: data}``, after a comment
    line ``header``: written to ``<key>.sls.new`` (mode 0600 before anything
    is written to it), then renamed over the file.
    """
    file_path = path(opts, key)
    os.makedirs(os.path.dirname(file_path), exist_ok=True)
    tmp = file_path + ".new"
    with salt.utils.files.fopen(tmp, "w") as handle:
        os.chmod(tmp, 0o600)
        handle.write(f"# {header}\n")
        # a wide line: long values (base64 rings) stay on one line each
        yaml.safe_dump({key: data}, handle, default_flow_style=False, width=1000)
    os.replace(tmp, file_path)
