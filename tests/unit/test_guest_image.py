"""The guest image's pure parts: no network, no qemu, no root."""

import gzip
import stat
import subprocess

import pytest

from lab import guest_image

DEBS = [("linux-image-6.1.0-56-cloud-amd64_6.1.192-2_amd64.deb", "e7d0"),
        ("busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb", "3d3f")]


def read_newc(archive):
    """{name: (mode, data, (rdevmajor, rdevminor))} of a newc cpio archive."""
    entries, pos = {}, 0
    while True:
        assert archive[pos:pos + 6] == b"070701"
        fields = [int(archive[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rdev, namesize = fields[1], fields[6], (fields[9], fields[10]), fields[11]
        name = archive[pos + 110:pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += -pos % 4
        data = archive[pos:pos + size]
        pos += size
        pos += -pos % 4
        if name == "TRAILER!!!":
            return entries
        entries[name] = (mode, data, rdev)


def test_kernel_command_line_ends_on_the_serial_console():
    assert guest_image.CMDLINE == "console=tty0 console=ttyS0,115200"
    cfg = guest_image.syslinux_cfg()
    assert "APPEND console=tty0 console=ttyS0,115200\n" in cfg
    assert "SERIAL 0 115200" in cfg and "TIMEOUT 0" in cfg
    assert "LINUX /vmlinuz" in cfg and "INITRD /initrd.gz" in cfg


def test_init_announces_the_boot_on_the_serial_console_and_never_exits():
    init = guest_image.init_script()
    lines = init.splitlines()
    assert lines[0] == "#!/bin/sh"
    assert guest_image.MARKER == "TWIN-CLOUD-GUEST-BOOTED"
    for fs in ("proc", "sysfs", "devtmpfs"):
        assert f"mount -t {fs} " in init
    marker = next(i for i, line in enumerate(lines) if guest_image.MARKER in line)
    assert "/dev/ttyS0" in lines[marker]
    assert max(i for i, line in enumerate(lines) if line.startswith("mount")) < marker
    assert lines[-1] == "while :; do sleep 3600; done"
    assert "insmod /lib/modules/$m" in init and "button.ko evdev.ko" in init
    assert "if=/dev/input/" in init and "poweroff -f" in init


def test_init_is_valid_shell():
    subprocess.run(["sh", "-n"], input=guest_image.init_script(), text=True, check=True)


def test_cache_key_follows_every_input():
    key = guest_image.cache_key(DEBS, "3:6.04")
    assert key == guest_image.cache_key(list(reversed(DEBS)), "3:6.04")
    assert len(key) == 12
    other_deb = [(DEBS[0][0], "ffff"), DEBS[1]]
    assert guest_image.cache_key(other_deb, "3:6.04") != key
    assert guest_image.cache_key(DEBS, "3:6.05") != key


@pytest.mark.parametrize("name, value", [("MARKER", "SOMETHING-ELSE"),
                                         ("CMDLINE", "console=ttyS0"),
                                         ("MODULES", ("kernel/x.ko",))])
def test_cache_key_follows_the_guest_contents(monkeypatch, name, value):
    key = guest_image.cache_key(DEBS, "3:6.04")
    monkeypatch.setattr(guest_image, name, value)
    assert guest_image.cache_key(DEBS, "3:6.04") != key


def test_image_lives_in_the_cache_never_the_repo(tmp_path):
    path = guest_image.image_path(tmp_path, "abc123")
    assert path == tmp_path / "guest" / "twin-guest-abc123.raw"


def test_initramfs_holds_busybox_init_modules_and_a_console():
    blob = guest_image.initramfs(b"BUSYBOX", {"evdev.ko": b"EV", "button.ko": b"BT"})
    assert blob == guest_image.initramfs(b"BUSYBOX", {"evdev.ko": b"EV", "button.ko": b"BT"})
    entries = read_newc(gzip.decompress(blob))
    mode, data, _ = entries["init"]
    assert stat.S_ISREG(mode) and mode & 0o111 and data == guest_image.init_script().encode()
    assert entries["bin/busybox"][1] == b"BUSYBOX"
    assert stat.S_ISLNK(entries["bin/sh"][0]) and entries["bin/sh"][1] == b"busybox"
    mode, _, rdev = entries["dev/console"]
    assert stat.S_ISCHR(mode) and rdev == (5, 1)
    assert entries["lib/modules/evdev.ko"][1] == b"EV"
    for d in ("proc", "sys", "dev", "bin"):
        assert stat.S_ISDIR(entries[d][0])


def test_mbr_has_one_active_partition_at_one_mib():
    boot = b"\xfa" * 440
    sector = guest_image.mbr(boot, 2048, 32768)
    assert len(sector) == 512 and sector[:440] == boot and sector[510:] == b"\x55\xaa"
    entry = sector[446:462]
    assert entry[0] == 0x80 and entry[4] == guest_image.PART_TYPE
    assert int.from_bytes(entry[8:12], "little") == 2048
    assert int.from_bytes(entry[12:16], "little") == 32768
    assert entry[1:4] == bytes((32, 33, 0))  # CHS of LBA 2048 (255 heads, 63 sectors)
    assert sector[462:510] == b"\0" * 48
    with pytest.raises(ValueError):
        guest_image.mbr(b"\0" * 441, 2048, 32768)


def test_partition_is_whole_mib_with_room_to_spare():
    mib = 1 << 20
    assert guest_image.partition_sectors(1000) * 512 == 16 * mib
    sectors = guest_image.partition_sectors(15 * mib + 123)
    assert sectors * 512 % mib == 0 and sectors * 512 >= 15 * mib + 123 + 2 * mib


class FakeRun:
    def __init__(self, outputs):
        self.outputs, self.calls = outputs, []

    def __call__(self, cmd, **kwargs):
        self.calls.append([str(c) for c in cmd])
        out = next((v for k, v in self.outputs.items() if k in " ".join(map(str, cmd))), "")
        return subprocess.CompletedProcess(cmd, 0, stdout=out, stderr="")


def test_kernel_package_is_what_the_metapackage_depends_on(monkeypatch):
    monkeypatch.setattr(guest_image, "run", FakeRun({"apt-cache show": (
        "Package: linux-image-cloud-amd64\nVersion: 6.1.192-2\n"
        "Depends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)\n")}))
    assert guest_image.kernel_package() == "linux-image-6.1.0-56-cloud-amd64"


def test_package_debs_reads_apt_print_uris(monkeypatch):
    monkeypatch.setattr(guest_image, "run", FakeRun({"--print-uris": (
        "'http://deb.debian.org/debian/pool/main/b/busybox/x.deb' "
        "busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb 928188 SHA256:3d3f\n")}))
    assert guest_image.package_debs(["busybox-static"]) == [
        ("busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb", "3d3f")]
    with pytest.raises(SystemExit, match="cannot download"):
        guest_image.package_debs(["busybox-static", "nope"])


def test_a_cached_image_is_returned_without_downloading(monkeypatch, tmp_path):
    fake = FakeRun({"dpkg-query": "3:6.04"})
    monkeypatch.setattr(guest_image, "run", fake)
    monkeypatch.setattr(guest_image, "_check_host_tools", lambda: None)
    monkeypatch.setattr(guest_image, "kernel_package", lambda: "linux-image-x")
    monkeypatch.setattr(guest_image, "package_debs", lambda packages: DEBS)
    image = guest_image.image_path(tmp_path, guest_image.cache_key(DEBS, "3:6.04"))
    image.parent.mkdir(parents=True)
    image.write_bytes(b"disk")
    assert guest_image.build(tmp_path) == image
    assert not any("download" in " ".join(c) for c in fake.calls)
