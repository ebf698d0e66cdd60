"""`salt-run site.status` on a real master: the table through its outputter,
the same data with --out=json, and the exit status. Only ctl1 has a minion
here, and it runs none of the services: the site is degraded."""

import json
import pathlib
import subprocess
import sys

import pytest

SALT_RUN = pathlib.Path(sys.executable).parent / "salt-run"

pytestmark = pytest.mark.usefixtures("minion")


def salt_run(master, *args):
    return subprocess.run([str(SALT_RUN), "-c", master.config_dir, "site.status", "timeout=3",
                           *args], capture_output=True, text=True, timeout=180, check=False)


def test_table_json_and_exit_status(master):
    table = salt_run(master)
    assert table.returncode == 1, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "site it: DEGRADED"
    assert lines[2].split() == ["COMPONENT", "ITEM", "STATE", "DETAIL"]
    assert any(line.split()[:3] == ["node", "ctl2", "DEGRADED"] for line in lines)

    out = salt_run(master, "--out=json")
    assert out.returncode == 1
    data = json.loads(out.stdout)
    assert data["status"] == "degraded" and data["retcode"] == 1
    rows = {(r["component"], r["item"]): r for r in data["rows"]}
    assert rows[("node", "ctl1")]["state"] == "ok"
    assert rows[("node", "ctl1")]["detail"].endswith("minion up")
    assert rows[("node", "ctl2")]["detail"].endswith("minion DOWN")
    assert rows[("galera", "ctl1")]["state"] == "DEGRADED"  # no MariaDB on this machine
    assert rows[("api", "-")]["state"] == "info"
    assert "node ctl2: " in " ".join(data["problems"])
