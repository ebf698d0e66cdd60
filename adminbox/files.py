"""Writing files idempotently: only when the content or mode differs."""

import os
import pathlib


def write_if_changed(path, text, mode=0o644):
    """Write ``text`` to ``path`` (parents made, 0755) with ``mode``; return
    True when something changed (content or mode), False when it was already so."""
    path = pathlib.Path(path)
    same = path.is_file() and path.read_text() == text
    if same and (path.stat().st_mode & 0o7777) == mode:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    if not same:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.unlink(missing_ok=True)
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "w") as out:
            out.write(text)
        os.chmod(tmp, mode)  # the umask may have taken bits off
        tmp.replace(path)
    else:
        os.chmod(path, mode)
    return True


def ensure_dir(path, mode):
    """Make directory ``path`` (and its parents) with ``mode``; return True if changed."""
    path = pathlib.Path(path)
    changed = not path.is_dir()
    path.mkdir(parents=True, exist_ok=True)
    if (path.stat().st_mode & 0o7777) != mode:
        os.chmod(path, mode)
        changed = True
    return changed


def ensure_symlink(link, target):
    """Make ``link`` point at ``target``; return True if it changed."""
    link = pathlib.Path(link)
    if link.is_symlink() and os.readlink(link) == str(target):
        return False
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)
    return True
