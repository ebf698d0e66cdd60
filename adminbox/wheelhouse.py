"""The pinned Salt's wheels (and its dependencies'), built once on the admin
box: the lab's image installs the minion from them, and salt/minion installs
it on a site's nodes from them (served as salt://salt-wheels)."""

import pathlib
import sys

from .errors import AdminError
from .proc import run

MARKER = ".complete"


def ready(path):
    """Whether ``path`` holds a complete wheelhouse."""
    return (pathlib.Path(path) / MARKER).exists()


def ensure(path, version, say=print, error=AdminError):
    """Build the wheels of ``salt==version`` into ``path`` with this Python's
    pip unless done already; return True when built now."""
    path = pathlib.Path(path)
    if ready(path):
        return False
    say(f"building wheels for salt=={version} into {path}")
    path.mkdir(parents=True, exist_ok=True)
    run([sys.executable, "-m", "pip", "wheel", "-q", "-w", path, f"salt=={version}"], error=error)
    (path / MARKER).touch()
    return True
