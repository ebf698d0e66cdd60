"""`salt-run site.status` on a real master: the table through its outputter,
the same data with --out=json, and the exit status. Only ctl1 has a minion
here, and it runs none of the services: the site is degraded."""

import json
import pathlib
import subprocess
import sys

import pytest
import yaml

SALT_RUN = pathlib.Path(sys.executable).parent / "salt-run"
OPENSTACK = pathlib.Path(__file__).resolve().parents[2] / "salt" / "openstack"

pytestmark = pytest.mark.usefixtures("minion")


def salt_run(master, *args):
    return subprocess.run([str(SALT_RUN), "-c", master.config_dir, "site.status", "timeout=3",
                           *args], capture_output=True, text=True, timeout=180, check=False)


def catalog_apis():
    """{api: {port, check}} of every service in the catalog's order."""
    order = yaml.safe_load((OPENSTACK / "catalog.yaml").read_text())["order"]
    apis = {}
    for name in order:
        service = yaml.safe_load((OPENSTACK / "services" / f"{name}.yaml").read_text()) or {}
        apis.update(service.get("apis") or {})
    return apis


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
    # every API of the catalog probed at the VIP over https (no HAProxy here: no answer)
    apis = catalog_apis()
    assert apis and ("api", "-") not in rows
    for api, spec in apis.items():
        row = rows[("api", api)]
        path = spec.get("check", "GET /").partition(" ")[2] or "/"
        assert row["detail"].startswith(f"https://127.0.0.10:{spec['port']}{path}: "), row
        if "no answer" in row["detail"]:
            assert row["state"] == "DEGRADED", row
    assert "node ctl2: " in " ".join(data["problems"])
