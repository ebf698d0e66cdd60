"""The base image every lab node boots from: Debian 12 minbase with systemd
and the pinned Salt minion, built once and cached under ``CACHE/images``.

Nodes never write to it: each mounts an overlay on top (``lab.nodes``).
"""

import contextlib
import shutil
import subprocess

from adminbox import wheelhouse

from . import config
from .util import LabError, run, say

# Enough to boot systemd, reach the network and run the Salt minion; every
# other package comes from the local apt repository through Salt states.
INCLUDE = (
    "systemd", "systemd-sysv", "dbus", "iproute2", "netbase", "procps", "less",
    "python3", "python3-venv", "python3-apt", "iputils-ping", "kmod",
)
RECIPE_VERSION = 4  # bump when the customisation below changes

MINION_UNIT = """\
[Unit]
Description=Salt minion (pinned {version}, lab image)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/opt/salt/bin/salt-minion
KillMode=process
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
"""


# A lab node is a throwaway container: dpkg need not fsync every file it
# unpacks (the deploy installs some 130 000 files per controller onto an
# overlay) and the nodes need no documentation. The licences stay.
DPKG_CONFIG = """\
# lab image (lab/image.py): a throwaway node, as container images do
force-unsafe-io
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
"""


def wheels_path():
    """Where the wheels of the pinned Salt (and its dependencies) live."""
    return config.CACHE / f"wheels-salt-{config.SALT_VERSION}"


def wheels_dir():
    """Wheels of the pinned Salt, built on this host (once)."""
    path = wheels_path()
    wheelhouse.ensure(path, config.SALT_VERSION, say=say, error=LabError)
    return path


def image_key():
    return config.digest(config.DEBIAN_SUITE, INCLUDE, config.SALT_VERSION, RECIPE_VERSION)


def image_dir():
    return config.CACHE / "images" / f"base-{image_key()}"


@contextlib.contextmanager
def chroot_mounts(root):
    """/proc, /dev and /sys inside ``root`` for the duration of a chroot build."""
    mounted = []
    try:
        for fstype, target in (("proc", "proc"), ("sysfs", "sys")):
            run(["mount", "-t", fstype, fstype, root / target])
            mounted.append(root / target)
        run(["mount", "--bind", "/dev", root / "dev"])
        mounted.append(root / "dev")
        yield
    finally:
        for target in reversed(mounted):
            run(["umount", "-l", target], check=False)


def ensure_image():
    """Return the cached base image, building it first if needed."""
    final = image_dir()
    if (final / ".complete").exists():
        say(f"base image cached: {final}")
        return final, False
    wheels = wheels_dir()
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    say(f"debootstrap {config.DEBIAN_SUITE} (minbase + systemd) into {tmp}")
    run(["debootstrap", "--variant=minbase", f"--include={','.join(INCLUDE)}",
         config.DEBIAN_SUITE, tmp, config.DEBIAN_MIRROR], quiet=True)
    customise(tmp, wheels)
    (tmp / ".complete").touch()
    tmp.rename(final)
    return final, True


def customise(root, wheels):
    """Install the pinned Salt minion and make the image lab-ready."""
    say("installing the pinned salt-minion into the image")
    stage = root / "tmp" / "wheels"
    shutil.copytree(wheels, stage)
    with chroot_mounts(root):
        run(["chroot", root, "python3", "-m", "venv", "--system-site-packages", "/opt/salt"])
        run(["chroot", root, "/opt/salt/bin/pip", "install", "-q", "--no-index",
             "--find-links", "/tmp/wheels", f"salt=={config.SALT_VERSION}"], quiet=True)
    shutil.rmtree(stage)
    for name in ("salt-minion", "salt-call"):
        link = root / "usr" / "bin" / name
        link.unlink(missing_ok=True)
        link.symlink_to(f"/opt/salt/bin/{name}")
    unit = root / "etc" / "systemd" / "system" / "salt-minion.service"
    unit.write_text(MINION_UNIT.format(version=config.SALT_VERSION))
    (root / "etc" / "salt" / "minion.d").mkdir(parents=True, exist_ok=True)
    # Packages come only from the lab's local repository (bind-mounted).
    (root / "etc" / "apt" / "sources.list").write_text(
        f"deb [trusted=yes] file:{config.APT_MOUNT} ./\n")
    for unit_name in ("salt-minion.service", "systemd-networkd.service"):
        run(["chroot", root, "systemctl", "enable", unit_name], quiet=True)
    for unit_name in ("console-getty.service", "systemd-networkd-wait-online.service"):
        run(["chroot", root, "systemctl", "mask", unit_name], quiet=True)
    (root / "etc" / "dpkg" / "dpkg.cfg.d" / "lab-node").write_text(DPKG_CONFIG)
    (root / "etc" / "machine-id").write_text("")
    run(["chroot", root, "apt-get", "clean"], quiet=True)


def prune(keep):
    """Remove cached images other than ``keep`` (old recipes)."""
    images = config.CACHE / "images"
    if not images.is_dir():
        return
    for entry in images.iterdir():
        if entry != keep and entry.name.startswith("base-"):
            say(f"removing old image {entry}")
            subprocess.run(["rm", "-rf", "--one-file-system", str(entry)], check=False)

