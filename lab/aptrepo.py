"""The lab's local apt repository: every Debian package the state tree
installs, downloaded once with apt and indexed, as an air-gapped site would
keep it. Nodes see it read-only at ``config.APT_MOUNT``.

The package list is read from the state tree itself: every ``pkgs`` list in
``salt/**/defaults.yaml``. When that list (or the base image) changes, the
repository is brought up to date; packages already downloaded are kept.
"""

import pathlib
import shutil
import subprocess

import yaml

from . import config
from .image import chroot_mounts
from .util import LabError, run, say

SECURITY_MIRROR = "http://deb.debian.org/debian-security"


def _collect(data, found, under_pkgs=False):
    """Add every string listed under a ``pkgs`` key (at any depth) to ``found``."""
    if isinstance(data, dict):
        for key, value in data.items():
            _collect(value, found, under_pkgs or key == "pkgs")
    elif isinstance(data, list):
        for item in data:
            _collect(item, found, under_pkgs)
    elif under_pkgs and isinstance(data, str):
        found.add(data)


def state_tree_packages(salt_dir=config.REPO / "salt"):
    """Every package named by a ``pkgs`` list in the state tree's defaults."""
    found = set()
    for path in sorted(pathlib.Path(salt_dir).rglob("defaults.yaml")):
        _collect(yaml.safe_load(path.read_text()) or {}, found)
    return sorted(found)


# What the lab itself installs on its nodes, beside what the states install:
# bindfs gives the controllers' NFS stand-in the NAS's all_squash (lab/nodes.py);
# openssh-server lets a node booted without Salt (`up --no-minion`, `bare up`)
# be reached by salt-ssh for its first contact, as a real site's servers are.
CONTROLLER_PACKAGES = ("bindfs",)
SSH_PACKAGES = ("openssh-server",)
LAB_PACKAGES = CONTROLLER_PACKAGES + SSH_PACKAGES


def repo_dir():
    return config.CACHE / "apt" / "repo"


def ensure_repo(image, packages=None):
    """Bring the local repository up to date for ``packages``; return its path."""
    if packages is None:
        packages = state_tree_packages() + list(LAB_PACKAGES)
    packages = sorted(set(packages))
    repo = repo_dir()
    stamp = repo / ".stamp"
    key = config.digest(image.name, packages)
    if stamp.exists() and stamp.read_text().strip() == key:
        say(f"apt repository cached: {repo} ({len(packages)} packages named)")
        return repo, False
    repo.mkdir(parents=True, exist_ok=True)
    say(f"downloading {len(packages)} packages and their dependencies into {repo}")
    download(image, packages, repo)
    index(repo)
    stamp.write_text(key + "\n")
    return repo, True


def download(image, packages, repo):
    """Resolve ``packages`` against the base image and download the .debs."""
    work = config.CACHE / "apt" / "work"
    shutil.rmtree(work, ignore_errors=True)
    for sub in ("upper", "work", "root"):
        (work / sub).mkdir(parents=True)
    root = work / "root"
    run(["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={image},upperdir={work / 'upper'},workdir={work / 'work'}", root])
    try:
        (root / "etc" / "apt" / "sources.list").write_text(
            f"deb {config.DEBIAN_MIRROR} {config.DEBIAN_SUITE} main\n"
            f"deb {config.DEBIAN_MIRROR} {config.DEBIAN_SUITE}-updates main\n"
            f"deb {SECURITY_MIRROR} {config.DEBIAN_SUITE}-security main\n")
        shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
        pool = root / "var" / "cache" / "lab-pool"
        pool.mkdir(parents=True)
        with chroot_mounts(root):
            run(["mount", "--bind", repo, pool])
            try:
                run(["chroot", root, "apt-get", "-q", "update"], quiet=True)
                run(["chroot", root, "apt-get", "install", "-y", "-q", "--download-only",
                     "-o", "Dir::Cache::archives=/var/cache/lab-pool", *packages], quiet=True)
            finally:
                run(["umount", pool], check=False)
    finally:
        run(["umount", root], check=False)
        shutil.rmtree(work, ignore_errors=True)
    partial = repo / "partial"
    shutil.rmtree(partial, ignore_errors=True)
    (repo / "lock").unlink(missing_ok=True)


def index(repo):
    """Write ``Packages`` and ``Packages.gz`` for a flat repository."""
    result = subprocess.run(["dpkg-scanpackages", "--multiversion", "."], cwd=repo,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise LabError(f"dpkg-scanpackages failed in {repo}: {result.stderr.strip()}")
    (repo / "Packages").write_text(result.stdout)
    run(["gzip", "-9kf", repo / "Packages"])
