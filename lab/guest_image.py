"""A tiny guest disk image for Nova to boot: proof that an instance runs.

A raw, whole-disk BIOS image (no kernel_id/ramdisk_id): an MBR (syslinux's
``mbr.bin``) and one active FAT16 partition holding SYSLINUX, Debian's cloud
kernel and a gzipped cpio initramfs with busybox-static. Its ``/init`` mounts
proc, sys and dev, writes :data:`MARKER` to the serial console ttyS0 (what
Nova's console log shows) and to tty0, then idles forever. Power-button
presses (Nova's clean shutdown) power it off at once.

Only Debian packages are downloaded (``apt-get download`` with the host's apt
sources); nothing is mounted. The image is built once per set of inputs (the
packages' hashes, the host's syslinux, the init script, the boot config) and
kept under ``config.CACHE / "guest"``.
"""

import gzip
import os
import pathlib
import shutil
import stat
import tempfile

from . import config
from .util import LabError, run, say

MARKER = "TWIN-CLOUD-GUEST-BOOTED"
CMDLINE = "console=tty0 console=ttyS0,115200"
KERNEL_META = "linux-image-cloud-amd64"  # depends on the real, versioned kernel package
BUSYBOX = "busybox-static"
# Loaded so the ACPI power button reaches /init (then `openstack server stop`
# does not wait out Nova's shutdown_timeout); neither has module dependencies.
MODULES = ("kernel/drivers/acpi/button.ko", "kernel/drivers/input/evdev.ko")
MBR_BIN = pathlib.Path("/usr/lib/syslinux/mbr/mbr.bin")  # from syslinux-common
HOST_TOOLS = ("syslinux", "syslinux-common", "mtools", "dosfstools")
FORMAT = 1  # bump when the layout changes in a way the inputs do not show

SECTOR = 512
PART_START = 2048  # sectors: the partition starts at 1 MiB
PART_TYPE = 0x06  # FAT16
LABEL = "TWINGUEST"


def init_script(marker=None, modules=None):
    """The initramfs ``/init`` (busybox sh, PID 1): it must never exit."""
    marker = marker or MARKER
    names = " ".join(pathlib.PurePosixPath(m).name for m in modules or MODULES)
    return f"""#!/bin/sh
# PID 1 of the twin-cloud test guest: announce the boot, then idle.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for tty in /dev/ttyS0 /dev/tty0; do echo {marker} > $tty 2>/dev/null; done
for m in {names}; do insmod /lib/modules/$m 2>/dev/null; done
for ev in /sys/class/input/event*; do
    if [ "$(cat $ev/device/name 2>/dev/null)" = "Power Button" ]; then
        (dd if=/dev/input/${{ev##*/}} bs=24 count=1 >/dev/null 2>&1 && poweroff -f) &
    fi
done
while :; do sleep 3600; done
"""


def syslinux_cfg(cmdline=None):
    """SYSLINUX's config: boot the kernel at once, on the serial line too."""
    cmdline = cmdline or CMDLINE
    return f"""SERIAL 0 115200
PROMPT 0
TIMEOUT 0
DEFAULT guest
LABEL guest
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND {cmdline}
"""


def cache_key(debs, syslinux_version):
    """Key of an image built from ``debs`` ((file name, sha256) pairs) with the
    host's syslinux ``syslinux_version``."""
    return config.digest(FORMAT, sorted(debs), syslinux_version, init_script(),
                         syslinux_cfg(), MODULES)


def image_path(cache_dir, key):
    return pathlib.Path(cache_dir) / "guest" / f"twin-guest-{key}.raw"


# --- pure builders ---------------------------------------------------------

def cpio_newc(entries):
    """A newc cpio archive of ``entries``: (path, mode, data, rdev) with ``data``
    bytes (a symlink's target for a link) and ``rdev`` (major, minor) or None.
    Owners are root and times zero, so equal entries give equal bytes."""
    out = bytearray()

    def add(ino, name, mode, data=b"", rdev=(0, 0)):
        encoded = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data),
                  0, 0, rdev[0], rdev[1], len(encoded), 0)
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields) + encoded)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, mode, data, rdev) in enumerate(entries, start=1):
        add(ino, name, mode, data, rdev or (0, 0))
    add(0, "TRAILER!!!", 0)
    return bytes(out)


def _chs(lba):
    """CHS bytes of ``lba`` for the usual 255-head, 63-sector geometry."""
    cyl, rest = divmod(lba, 255 * 63)
    head, sector = divmod(rest, 63)
    if cyl > 1023:
        cyl, head, sector = 1023, 254, 62
    return bytes((head, ((cyl >> 2) & 0xC0) | (sector + 1), cyl & 0xFF))


def mbr(boot_code, start, sectors, signature=b"TWIN"):
    """A 512-byte MBR: ``boot_code`` (at most 440 bytes) and one active
    partition of type FAT16 from sector ``start``, ``sectors`` long."""
    if len(boot_code) > 440:
        raise ValueError(f"MBR boot code is {len(boot_code)} bytes; 440 fit")
    entry = (b"\x80" + _chs(start) + bytes((PART_TYPE,)) + _chs(start + sectors - 1)
             + start.to_bytes(4, "little") + sectors.to_bytes(4, "little"))
    table = entry + b"\0" * 48
    return boot_code.ljust(440, b"\0") + signature + b"\0\0" + table + b"\x55\xaa"


def initramfs(busybox, modules, init=None):
    """The gzipped initramfs: busybox as /bin/busybox (and /bin/sh), ``modules``
    ({name: bytes}) under /lib/modules, /init, and a /dev/console node."""
    entries = [(d, stat.S_IFDIR | 0o755, b"", None)
               for d in ("bin", "dev", "lib", "lib/modules", "proc", "sys", "tmp")]
    entries += [
        ("bin/busybox", stat.S_IFREG | 0o755, busybox, None),
        ("bin/sh", stat.S_IFLNK | 0o777, b"busybox", None),
        ("dev/console", stat.S_IFCHR | 0o600, b"", (5, 1)),
        ("init", stat.S_IFREG | 0o755, (init or init_script()).encode(), None),
    ]
    entries += [(f"lib/modules/{name}", stat.S_IFREG | 0o644, data, None)
                for name, data in sorted(modules.items())]
    return gzip.compress(cpio_newc(entries), compresslevel=9, mtime=0)


def partition_sectors(payload_bytes):
    """Partition size for ``payload_bytes`` of files: whole MiB, room to spare,
    and at least 16 MiB so FAT16 has enough clusters."""
    mib = 1 << 20
    need = payload_bytes + payload_bytes // 10 + 2 * mib
    return max(16 * mib, -(-need // mib) * mib) // SECTOR


# --- the build -------------------------------------------------------------

def kernel_package():
    """The versioned kernel package the cloud kernel metapackage points at."""
    out = run(["apt-cache", "show", "--no-all-versions", KERNEL_META], capture=True).stdout
    for line in out.splitlines():
        if line.startswith("Depends:"):
            for dep in line.split(":", 1)[1].split(","):
                name = dep.split()[0]
                if name.startswith("linux-image-"):
                    return name
    raise LabError(f"{KERNEL_META} names no linux-image package (apt-get update?)")


def package_debs(packages):
    """(file name, sha256) of the .debs ``apt-get download`` would fetch."""
    out = run(["apt-get", "download", "--print-uris", *packages], capture=True).stdout
    debs = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[3].startswith("SHA256:"):
            debs.append((fields[1], fields[3].split(":", 1)[1]))
    if len(debs) != len(packages):
        raise LabError(f"apt-get cannot download all of {packages}: {out.strip()}")
    return debs


def _check_host_tools():
    missing = [t for t in ("mkfs.fat", "mcopy", "syslinux") if not shutil.which(t)]
    if missing or not MBR_BIN.exists():
        raise LabError(f"missing {' '.join(missing) or MBR_BIN}: run bin/bootstrap "
                       f"(it installs {' '.join(HOST_TOOLS)})")


def build(cache_dir=config.CACHE):
    """Build the guest image (once per set of inputs); return its path (raw)."""
    _check_host_tools()
    packages = [kernel_package(), BUSYBOX]
    debs = package_debs(packages)
    syslinux_version = run(["dpkg-query", "-W", "-f=${Version}", "syslinux"],
                           capture=True).stdout.strip()
    image = image_path(cache_dir, cache_key(debs, syslinux_version))
    if image.exists():
        say(f"guest image cached: {image}")
        return image
    image.parent.mkdir(parents=True, exist_ok=True)
    say(f"building guest image {image.name} from {', '.join(n for n, _ in debs)}")
    with tempfile.TemporaryDirectory(prefix="guest-", dir=image.parent) as tmp:
        tmp = pathlib.Path(tmp)
        run(["env", "-C", tmp, "apt-get", "download", "-o", "APT::Sandbox::User=root",
             *packages], quiet=True)
        for name, _ in debs:
            run(["dpkg-deb", "-x", tmp / name, tmp / "root"])
        _assemble(tmp, tmp / "root", image)
    say(f"guest image built: {image} ({image.stat().st_size >> 20} MiB)")
    return image


def _assemble(tmp, root, image):
    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    if len(kernels) != 1:
        raise LabError(f"expected one kernel in the packages, found {kernels}")
    version = kernels[0].name.removeprefix("vmlinuz-")
    moddir = root / "lib" / "modules" / version
    modules = {pathlib.PurePosixPath(m).name: (moddir / m).read_bytes() for m in MODULES}
    (tmp / "initrd.gz").write_bytes(initramfs((root / "bin" / "busybox").read_bytes(), modules))
    (tmp / "syslinux.cfg").write_text(syslinux_cfg())
    files = {"vmlinuz": kernels[0], "initrd.gz": tmp / "initrd.gz",
             "syslinux.cfg": tmp / "syslinux.cfg"}
    sectors = partition_sectors(sum(p.stat().st_size for p in files.values()))
    part = tmp / "part.img"
    run(["mkfs.fat", "-C", "-F", "16", "-h", PART_START, "-n", LABEL, "-i", "7417c10d",
         part, sectors * SECTOR // 1024], quiet=True)
    for name, path in files.items():
        run(["mcopy", "-i", part, path, f"::/{name}"], env={"MTOOLS_SKIP_CHECK": "1"})
    run(["syslinux", "--install", part])
    partial = tmp / "disk.raw"
    with open(partial, "wb") as out:
        out.write(mbr(MBR_BIN.read_bytes(), PART_START, sectors))
        out.seek(PART_START * SECTOR)
        with open(part, "rb") as src:
            shutil.copyfileobj(src, out)
    os.replace(partial, image)
