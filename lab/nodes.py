"""Lab machines: an overlay on the base image, booted with systemd under
``systemd-nspawn`` in its own network namespace on the lab bridge.

"Power" is the nspawn process: on while it runs. Pulling the plug kills the
node's init with SIGKILL, which takes every process of the machine with it.
"""

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time

import yaml

from . import config
from .aptrepo import CONTROLLER_PACKAGES, SSH_PACKAGES
from .image import chroot_mounts
from .util import LabError, pid_alive, read_pid, run, say, wait_for

NETWORK_FILE = """\
[Match]
Name={ifname}

[Network]
Address={address}/{prefixlen}
LinkLocalAddressing=no
IPv6AcceptRA=no
"""


# Machines this process started: reaped when powered off, so a long-lived
# process (the BMC daemon) does not collect zombies.
_children = {}


def is_mounted(path):
    target = str(path)
    with open("/proc/self/mounts") as mounts:
        return any(line.split()[1] == target for line in mounts)


def prepare(node, image, repo, master_address, master_finger, minion=True, admin_key=None):
    """Create the node's overlay (once) and write its identity into it.

    ``minion`` False: the node starts with no Salt at all (the image's is
    removed from its overlay) but with sshd and ``admin_key`` (the admin box's
    public key) in root's authorized_keys, as a real site's server before
    its first contact through salt-ssh (salt/minion)."""
    for sub in ("upper", "work", "root"):
        (node.dir / sub).mkdir(parents=True, exist_ok=True)
    if not is_mounted(node.root):
        run(["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={image},upperdir={node.dir / 'upper'},workdir={node.dir / 'work'}",
             node.root])
    root = node.root
    (root / "etc" / "hostname").write_text(node.name + "\n")
    network = root / "etc" / "systemd" / "network"
    network.mkdir(parents=True, exist_ok=True)
    (network / "10-management.network").write_text(
        NETWORK_FILE.format(ifname="host0", address=node.address, prefixlen=node.prefixlen))
    if node.provider_address:
        lab = config.load()
        (network / "20-provider.network").write_text(NETWORK_FILE.format(
            ifname="host1", address=node.provider_address, prefixlen=lab.provider_prefixlen))
    if "controller" in node.roles:
        install_lab_packages(root, repo, CONTROLLER_PACKAGES)
        install_nfs_mount_shim(root)
    if minion:
        (root / "etc" / "salt" / "minion_id").write_text(node.name)
        (root / "etc" / "salt" / "minion.d" / "lab.conf").write_text(
            f"# written by the lab: the master on the lab bridge, pinned by fingerprint\n"
            f"id: {node.name}\nmaster: {master_address}\nmaster_finger: '{master_finger}'\n"
            f"log_level_logfile: info\n"
            f"# retry auth quickly once the lab has accepted the key by fingerprint\n"
            f"acceptance_wait_time: 2\nacceptance_wait_time_max: 5\n")
    else:
        remove_salt(root)
        install_lab_packages(root, repo, SSH_PACKAGES)
        authorize(root, admin_key)
    # A lab node runs the host's kernel: no kernel package inside it (nova's
    # recommended libguestfs would pull one in, and build an initramfs, for
    # nothing); apt then leaves that optional branch out.
    prefs = root / "etc" / "apt" / "preferences.d"
    prefs.mkdir(parents=True, exist_ok=True)
    (prefs / "lab-no-kernel").write_text(
        "# written by the lab: nodes boot the host's kernel\n"
        "Package: linux-image-*\nPin: release *\nPin-Priority: -1\n")
    (node.dir / "repo").write_text(str(repo))


def nspawn_command(node, repo):
    cmd = [
        "systemd-nspawn", "--quiet", "-D", node.root, "--register=no", "--keep-unit",
        "-M", node.name, "-b", f"--network-bridge={config.BRIDGE}",
        f"--bind-ro={repo}:{config.APT_MOUNT}",
        "--capability=CAP_NET_ADMIN,CAP_SYS_ADMIN,CAP_IPC_LOCK,CAP_SYS_NICE",
        "--resolv-conf=off", "--timezone=off", "--link-journal=no",
    ]
    if node.provider_address:
        cmd.append(f"--network-veth-extra=vp-{node.name}:host1")
    if "storage" in node.roles:
        # The NAS's data disk: a host directory (ext4), since NFS-Ganesha's
        # VFS backend needs file handles, which an overlay root lacks; and
        # the one system call it needs that nspawn's seccomp filter denies.
        (node.dir / "nfs").mkdir(parents=True, exist_ok=True)
        cmd += [f"--bind={node.dir / 'nfs'}:/srv/nfs", "--system-call-filter=open_by_handle_at"]
    cmd += [f"--bind={source}:{target}" for source, target in shared_export_binds(node)]
    for dev in ("/dev/kvm", "/dev/net/tun", "/dev/fuse"):
        if os.path.exists(dev):
            cmd.append(f"--bind={dev}")
    return cmd


NAS_DATA_DIR = "/srv/nfs"  # where the NAS node sees its data disk (a host directory)
NAS_BIND = "/srv/lab-nas"  # where a controller sees that same directory (lab only)
NFS_HELPER = "/sbin/mount.nfs"  # what mount(8) runs for `mount -t nfs`
NFS_SHIM = "/usr/local/sbin/lab-mount-nfs"
NFS_SHIM_TEXT = f"""\
#!/bin/sh
# Written by the lab (lab/nodes.py), in place of nfs-common's {NFS_HELPER}
# (diverted to {NFS_HELPER}.distrib). This kernel has no NFS client: a mount
# of an export of the lab's NAS (<host>:{NAS_DATA_DIR}/<dir>), such as the one
# Cinder's NFS driver and Nova's volume driver make, binds the NAS's export
# directory instead: the same files, bound into this node at {NAS_BIND}.
# The NAS squashes every client user to the export's owner (all_squash):
# bindfs does the same here, every user of this node acting as that owner
# (--mirror) and every file created as it (qemu, as libvirt-qemu, reads the
# cinder-owned 0660 volume in its 0770 directory, as it does over NFS).
# Any other NFS mount goes to the real helper.
spec="$1"; dir="$2"
case "$spec" in
  *:{NAS_DATA_DIR}/*)
    sub="${{spec#*:{NAS_DATA_DIR}/}}"
    case "/$sub/" in */../*) echo "lab-mount-nfs: refusing $spec" >&2; exit 32 ;; esac
    src="{NAS_BIND}/$sub"
    uid=$(stat -c %u "$src") && gid=$(stat -c %g "$src") || exit 32
    users=$(getent passwd | cut -d: -f1 | paste -sd, -)
    echo "lab-mount-nfs: $spec is $src squashed to $uid:$gid (the lab has no NFS client)" >&2
    # its own scope: a restart of the service that mounted it (cinder-volume,
    # nova-compute) must not take the mount's daemon with it
    exec systemd-run --scope --quiet --collect bindfs -o allow_other --force-user="$uid" --force-group="$gid" \\
      --create-for-user="$uid" --create-for-group="$gid" --mirror="$users" "$src" "$dir" ;;
esac
exec {NFS_HELPER}.distrib "$@"
"""


# What the image's Salt is made of (lab/image.py customise): a node booted
# without a minion has none of it.
IMAGE_SALT = ("opt/salt", "usr/bin/salt-minion", "usr/bin/salt-call", "etc/salt",
              "etc/systemd/system/salt-minion.service",
              "etc/systemd/system/multi-user.target.wants/salt-minion.service")


def remove_salt(root):
    """Remove the image's Salt from a node's root (its overlay: the image
    keeps it); return what was removed."""
    removed = []
    for rel in IMAGE_SALT:
        path = root / rel
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        else:
            continue
        removed.append(rel)
    return removed


def authorize(root, public_key):
    """Put the admin box's ssh ``public_key`` in root's authorized_keys."""
    if not public_key:
        raise LabError("a node without a minion needs the admin box's ssh key (master.ssh_key())")
    ssh_dir = root / "root" / ".ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    ssh_dir.chmod(0o700)
    keys = ssh_dir / "authorized_keys"
    keys.write_text(f"{public_key.strip()}\n")
    keys.chmod(0o600)


def installed(root, package):
    """Whether dpkg has ``package`` installed in ``root``."""
    info = root / "var" / "lib" / "dpkg" / "info"
    return (info / f"{package}.list").exists() or any(info.glob(f"{package}:*.list"))


def install_lab_packages(root, repo, packages):
    """Install the lab's own helpers (not the states' business) into a node's
    root from the local repository, once, before it first boots."""
    if all(installed(root, name) for name in packages):
        return
    target = root / config.APT_MOUNT.lstrip("/")
    target.mkdir(parents=True, exist_ok=True)
    # no package script may start a service from the chroot: it would run in
    # the host's network namespace (openssh-server's sshd on the host's port 22)
    policy = root / "usr" / "sbin" / "policy-rc.d"
    ours = not policy.exists()
    if ours:
        policy.write_text("#!/bin/sh\n# written by the lab while it installs packages\nexit 101\n")
        policy.chmod(0o755)
    try:
        run(["mount", "--bind", repo, target])
        with chroot_mounts(root):
            env = {"DEBIAN_FRONTEND": "noninteractive"}
            run(["chroot", root, "apt-get", "-q", "update"], quiet=True, env=env)
            run(["chroot", root, "apt-get", "-q", "-y", "--no-install-recommends",
                 "install", *packages], quiet=True, env=env)
            run(["chroot", root, "apt-get", "clean"], quiet=True)
    finally:
        run(["umount", target], check=False)
        if ours:
            policy.unlink(missing_ok=True)


def install_nfs_mount_shim(root):
    """Make ``mount -t nfs <nas>:/srv/nfs/<dir>`` work on a controller of this
    kernel-without-NFS-client lab: nfs-common's helper is diverted (dpkg keeps
    the diversion when Salt installs the package) and ours mounts the NAS's
    export directory (see ``shared_export_binds``) with bindfs, squashing
    every user to the export's owner as the NAS's all_squash does. What runs
    above it (the Cinder NFS driver, Nova's volume attachment, libvirt,
    qemu) is real."""
    shim = root / NFS_SHIM.lstrip("/")
    shim.parent.mkdir(parents=True, exist_ok=True)
    shim.write_text(NFS_SHIM_TEXT)
    shim.chmod(0o755)
    run(["dpkg-divert", f"--root={root}", "--local", "--rename",
         "--divert", NFS_HELPER + ".distrib", "--add", NFS_HELPER], quiet=True)
    helper = root / "usr" / NFS_HELPER.lstrip("/")  # /sbin is /usr/sbin (merged /usr)
    if not helper.is_symlink():
        helper.unlink(missing_ok=True)
        helper.symlink_to(NFS_SHIM)


def shared_export_binds(node, lab=None):
    """
    What stands in for the NFS mounts on a controller: this kernel has no
    NFS client, so the lab binds the NAS's export directory (a host
    directory, served by the NAS with NFS-Ganesha) at the mount point the
    nfs.client state would mount it on (salt/nfs/defaults.yaml
    ``exports.<name>.mount``). Same files, shared by both controllers, as the
    NFS mount gives a real site; the NFS protocol itself is tested by the
    controllers' nfs-ls checks.
    """
    if "controller" not in node.roles:
        return []
    lab = lab or config.load()
    nas = (lab.site.get("nas") or {})
    if not nas.get("node"):
        return []
    defaults = yaml.safe_load((config.REPO / "salt" / "nfs" / "defaults.yaml").read_text())
    nas_dir = config.STATE / "nodes" / nas["node"] / "nfs"
    binds = []
    for name, export in sorted((nas.get("exports") or {}).items()):
        mount = ((defaults.get("exports") or {}).get(name) or {}).get("mount")
        path = export.get("path", "")
        if not mount or not path.startswith(NAS_DATA_DIR + "/"):
            continue
        source = nas_dir / path[len(NAS_DATA_DIR) + 1:]
        source.mkdir(parents=True, exist_ok=True)
        binds.append((source, mount))
    # the whole data disk, for the mounts services make themselves (Cinder's
    # NFS driver, Nova's volume attachments): see install_nfs_mount_shim
    nas_dir.mkdir(parents=True, exist_ok=True)
    binds.append((nas_dir, NAS_BIND))
    return binds


def nspawn_pid(node):
    child = _children.get(node.name)
    if child is not None and child.poll() is not None:  # exited: reap it
        _children.pop(node.name, None)
    return read_pid(node.dir / "nspawn.pid")


def init_pid(node):
    """PID (on the host) of the node's systemd, or None when it is off."""
    parent = nspawn_pid(node)
    if not parent:
        return None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            return int(entry)
    return None


def is_on(node):
    return nspawn_pid(node) is not None


def _normal_priority():
    """A node runs at the host's normal priority, whoever powers it on: the
    BMC daemon runs at nice -10 (lab/cli.py), and a node inheriting that
    starved the master and the tests (load 100 after both servers' power-on,
    the site not green within 15 minutes)."""
    os.setpriority(os.PRIO_PROCESS, 0, 0)


CGROUP_PARENT = "halab"  # each node's cgroups: <hierarchy>/halab/<node>


def systemd_hierarchies(mounts="/proc/self/mounts"):
    """The mount points of the cgroup hierarchies a node's systemd tracks its
    units in: the cgroup v2 one and, on a hybrid host, the v1 ``name=systemd``."""
    found = []
    with open(mounts) as f:
        for line in f:
            _, target, fstype, options = line.split()[:4]
            if fstype == "cgroup2" or (fstype == "cgroup" and "name=systemd" in options.split(",")):
                found.append(target)
    return found


def node_cgroups(node, mounts="/proc/self/mounts"):
    """The node's own cgroup in each hierarchy of ``systemd_hierarchies``.

    nspawn (``--keep-unit --register=no``) puts the machine's systemd in
    ``payload`` under its own cgroup: started from one cgroup, every node
    shared one ``payload`` tree, so ctl1's systemd and ctl2's managed one
    ``system.slice/mariadb.service`` cgroup, and a start on one raced the
    other's stop (``status=219/CGROUP``, "Failed to kill control group")."""
    return [os.path.join(root, CGROUP_PARENT, node.name) for root in systemd_hierarchies(mounts)]


def _remove_cgroup_tree(path):
    """rmdir an empty cgroup tree, deepest first (a cgroup's files go with it)."""
    if not os.path.isdir(path):
        return
    for dirpath, _, _ in sorted(os.walk(path), key=lambda entry: -entry[0].count(os.sep)):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


def _prepare_cgroups(node):
    """Fresh, empty cgroups for the node's next boot (the last boot's tree
    is gone when its processes are)."""
    paths = node_cgroups(node)
    for path in paths:
        _remove_cgroup_tree(path)
        os.makedirs(path, exist_ok=True)
    return paths


def _boot_process_setup(cgroups):
    """What the nspawn process does before exec: its own cgroups, normal priority."""
    def setup():
        for path in cgroups:
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write("0")
        _normal_priority()
    return setup


@contextlib.contextmanager
def _power_switch(node):
    """One power action on ``node`` at a time, across processes: the BMC
    daemon's delayed power-on and the lab CLI's may meet (two nspawns of one
    machine would leave the second's dead pid as the node's)."""
    with open(node.dir / "power.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def power_on(node):
    """Boot the node (no-op when already on)."""
    with _power_switch(node):
        return _power_on(node)


def _power_on(node):
    if is_on(node):
        return False
    repo = (node.dir / "repo").read_text().strip()
    if not is_mounted(node.root):
        raise LabError(f"{node.name}: its disk is not prepared; run `python -m lab up` first")
    attach_bridge_port_later = node.provider_address is not None
    cgroups = _prepare_cgroups(node)
    console = open(node.dir / "console.log", "ab")
    proc = subprocess.Popen(nspawn_command(node, repo), stdin=subprocess.DEVNULL,
                            stdout=console, stderr=console, start_new_session=True,
                            preexec_fn=_boot_process_setup(cgroups))
    console.close()
    _children[node.name] = proc
    (node.dir / "nspawn.pid").write_text(str(proc.pid))
    wait_for(f"{node.name} to start its init", lambda: init_pid(node) or not pid_alive(proc.pid), 20)
    if not pid_alive(proc.pid):
        raise LabError(f"{node.name}: systemd-nspawn exited at once; see {node.dir / 'console.log'}")
    if attach_bridge_port_later:
        wait_for(f"{node.name}'s provider link", lambda: _link_exists(f"vp-{node.name}"), 10)
        run(["ip", "link", "set", f"vp-{node.name}", "master", config.PROVIDER_BRIDGE, "up"])
    return True


def _link_exists(name):
    return os.path.exists(f"/sys/class/net/{name}")


def power_off(node, timeout=15):
    """Pull the plug: SIGKILL the node's init, then make sure nspawn is gone."""
    parent = nspawn_pid(node)
    if parent is None:
        return False
    init = init_pid(node)
    if init:
        os.kill(init, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while pid_alive(parent) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(parent):
        os.kill(parent, signal.SIGKILL)
        wait_for(f"{node.name}'s nspawn to exit", lambda: not pid_alive(parent), 5)
    child = _children.pop(node.name, None)
    if child is not None:
        child.wait(timeout=5)
    (node.dir / "nspawn.pid").unlink(missing_ok=True)
    return True


def shutdown(node, timeout=60):
    """A clean ACPI-like shutdown: ask systemd to power off, wait for it."""
    init = init_pid(node)
    if not init:
        return False
    os.kill(init, signal.SIGRTMIN + 4)
    try:
        wait_for(f"{node.name} to shut down", lambda: not is_on(node), timeout)
    except LabError:
        say(f"{node.name} did not shut down within {timeout}s; pulling the plug")
        power_off(node)
    return True


def enter(node):
    """The nsenter prefix that runs a command inside the node."""
    init = init_pid(node)
    if not init:
        raise LabError(f"{node.name} is powered off")
    return ["nsenter", "-t", str(init), "-m", "-u", "-i", "-n", "-p", "--"]


def exec_in(node, cmd, check=True, capture=True):
    return run(enter(node) + list(cmd), check=check, capture=capture)


def destroy(node):
    """Power off, unmount and delete everything of one node."""
    power_off(node)
    for path in node_cgroups(node):
        _remove_cgroup_tree(path)
    for target in (node.root,):
        if is_mounted(target):
            run(["umount", "-l", target], check=False)
    run(["rm", "-rf", "--one-file-system", node.dir], check=False)
