"""What the master serves to minions or runs as root (the state tree, the
extension modules, the reactor, the pillar with its secrets, its own config)
must not be writable by anyone but its owner: whoever can write there owns
every node."""

import os
import pathlib
import stat

from .errors import AdminError

SHOWN = 10  # offending paths named in the error (and how many more)


def _writable_by_others(mode):
    return bool(mode & (stat.S_IWGRP | stat.S_IWOTH))


def _ancestors(path):
    """The directories above ``path``, up to /; a sticky one (/tmp) stops
    nobody from writing but keeps them from replacing what is not theirs."""
    for parent in pathlib.Path(path).parents:
        mode = os.stat(parent).st_mode
        if _writable_by_others(mode) and not mode & stat.S_ISVTX:
            yield parent, mode


def writable_by_others(roots):
    """Every path (``(path, mode)``) in or above ``roots`` that group or other
    may write: the roots, what is under them (links not followed), their
    parent directories (sticky ones excepted)."""
    found = {}
    for root in roots:
        root = pathlib.Path(root)
        found.update(_ancestors(root))
        if not root.exists():
            continue
        for directory, dirs, files in os.walk(root):
            for name in [None, *dirs, *files]:
                path = pathlib.Path(directory) if name is None else pathlib.Path(directory, name)
                mode = os.lstat(path).st_mode
                if not stat.S_ISLNK(mode) and _writable_by_others(mode):
                    found[path] = mode
    return sorted(found.items())


def check_not_writable(roots):
    """Raise ``AdminError`` naming each path of ``roots`` (or above them) that
    group or other may write, with the ``chmod`` that fixes it."""
    found = writable_by_others(roots)
    if not found:
        return
    lines = [f"{path} (mode {stat.S_IMODE(mode):04o}): fix with chmod go-w {path}"
             for path, mode in found[:SHOWN]]
    if len(found) > SHOWN:
        lines.append(f"... and {len(found) - SHOWN} more (chmod -R go-w on the roots below)")
    roots_list = " ".join(str(r) for r in roots)
    raise AdminError(
        "the salt-master would serve, or run as root, files that others may change; "
        "only their owner may write them:\n  " + "\n  ".join(lines)
        + f"\n(the roots checked: {roots_list})")


def check_private(path):
    """Raise ``AdminError`` when file ``path`` (the secrets) is readable or
    writable by group or other, with the ``chmod`` that fixes it."""
    mode = os.stat(path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AdminError(f"{path} (mode {stat.S_IMODE(mode):04o}) holds the site's secrets and "
                         f"group or other may read it: fix with chmod 600 {path}")
