"""Runs last: `down` leaves nothing of the lab behind."""

import os
import pathlib
import subprocess

import pytest

from .test_foundation import NODES, nspawn_running

pytestmark = pytest.mark.lab


def test_zz_down_leaves_nothing_behind(lab):
    lab.cli("down")
    links = os.listdir("/sys/class/net")
    assert not [l for l in links if l.startswith(("halab", "vb-", "vp-"))], links
    mounts = pathlib.Path("/proc/self/mounts").read_text()
    assert "/var/lib/halab" not in mounts and "halab/apt/work" not in mounts
    assert not any(nspawn_running(n) for n in NODES)
    assert not pathlib.Path("/var/lib/halab").exists()
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert "halab" not in tables, tables
    status = lab.cli("status", check=False)  # works, and says down, with no lab
    assert status.returncode == 1 and "salt-master: down" in status.stdout
    # a second down is harmless
    lab.cli("down")
