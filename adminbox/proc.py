"""Running commands and waiting for conditions, with errors that say what
failed (the lab's helpers are these, raising its own error class)."""

import os
import subprocess
import time

from .errors import AdminError


def run(cmd, check=True, capture=False, env=None, input=None, quiet=False, error=AdminError):
    """Run ``cmd`` (a list); raise ``error`` with its output on failure."""
    result = subprocess.run(
        [str(c) for c in cmd],
        check=False,
        text=True,
        input=input,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE if (capture or quiet) else None,
        stderr=subprocess.PIPE if (capture or quiet) else None,
    )
    if check and result.returncode != 0:
        detail = ((result.stdout or "") + (result.stderr or "")).strip()[-3000:]
        raise error(f"command failed ({result.returncode}): {' '.join(map(str, cmd))}\n{detail}")
    return result


def wait_for(what, predicate, timeout, interval=0.5, error=AdminError):
    """Poll ``predicate`` until it returns a true value; raise ``error`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise error(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
