"""Unit tests of _runners/site.py and _output/site_status.py: checks, rows, table, retcode."""

import copy
import json

import pytest

from tests.conftest import REPO, load_ext, load_utils
from tests.unit.sls import sample_ca_cert

site_runner = load_ext("runners", "site")
outputter = load_ext("output", "site_status")

SECRETS = {"bmc_ctl1": "s3cret-one", "bmc_ctl2": "s3cret-two", "bmc_nas": "s3cret-nas"}
SITE = {
    "name": "lab",
    "quorum": {"mode": "witness", "witness": "nas"},
    "fencing": {"enabled": True},
    "vips": {"api": {"address": "10.77.0.10"}},
    "nas": {"node": "nas", "exports": {"images": {"path": "/srv/nfs/images"},
                                       "volumes": {"path": "/srv/nfs/volumes"},
                                       "backups": {"path": "/srv/nfs/backups"}}},
    "nodes": {
        name: {
            "roles": roles,
            "address": f"10.77.0.{11 + i}",
            **({"cluster_id": i + 1} if "controller" in roles else {}),
            "bmc": {"address": f"10.77.0.{21 + i}", "port": 623, "username": "admin",
                    "password_secret": f"bmc_{name}"},
        }
        for i, (name, roles) in enumerate(
            [("ctl1", ["controller", "compute"]), ("ctl2", ["controller", "compute"]),
             ("nas", ["storage", "witness"])]
        )
    },
}

STAT_HEADER = ("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,"
               "eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime")


def stat_line(proxy, server, status, backup=False):
    act, bck = (0, 1) if backup else (1, 0)
    return f"{proxy},{server},0,0,0,0,,0,0,0,,0,,0,0,0,0,{status},1,{act},{bck},0,0,5,0"


def show_stat(ctl2="UP"):
    return "\n".join([
        STAT_HEADER,
        "stats,FRONTEND,,,0,0,4096,0,0,0,0,0,0,,,,,OPEN,,,,,,,",
        stat_line("galera", "ctl1", "UP"),
        stat_line("galera", "ctl2", ctl2, backup=True),
        "galera,BACKEND,0,0,0,0,410,0,0,0,0,0,,0,0,0,0,UP,1,1,1,,0,5,0",
        "",
    ])


WSREP = ("wsrep_cluster_status\tPrimary\nwsrep_local_state\t4\n"
         "wsrep_local_state_comment\tSynced\nwsrep_cluster_size\t3\n"
         "wsrep_last_committed\t1417\n")

PCMK = {
    "dc": "ctl1", "quorate": True, "nodes_online": ["ctl1", "ctl2"],
    "nodes": {"ctl1": {"online": True}, "ctl2": {"online": True}},
    "resources": {
        "fence-ctl1": {"agent": "stonith:fence_ipmilan", "active": True, "failed": False,
                       "nodes": ["ctl2"]},
        "fence-ctl2": {"agent": "stonith:fence_ipmilan", "active": True, "failed": False,
                       "nodes": ["ctl1"]},
        "vip": {"agent": "ocf:heartbeat:IPaddr2", "active": True, "failed": False,
                "nodes": ["ctl1"]},
        "haproxy-clone": {"agent": "systemd:haproxy", "active": True, "failed": False,
                          "nodes": ["ctl1", "ctl2"], "instances": 2, "started": 2},
    },
    "failures": [],
}


class FakeSite:
    def __init__(self):
        self.up = {"ctl1", "ctl2", "nas"}
        self.power = {"10.77.0.21": "on", "10.77.0.22": "on", "10.77.0.23": "on"}
        self.pacemaker = copy.deepcopy(PCMK)
        self.quorate = True
        self.qdevice = True
        self.wsrep = {"ctl1": WSREP, "ctl2": WSREP}
        self.units = {("nas", "garb"): True, ("nas", "nfs-server"): True}
        self.rabbit_running = ["rabbit@ctl1", "rabbit@ctl2", "rabbit@nas"]
        self.alarms = []
        self.stat = {"ctl1": show_stat(), "ctl2": show_stat()}
        self.mounted = {"ctl1": True, "ctl2": True}
        self.memcached = {"10.77.0.11": True, "10.77.0.12": True}
        self.ipmi_passwords = []
        self.calls = []

    def local(self, tgt, fun, arg=(), kwarg=None, timeout=10):
        self.calls.append((tuple(tgt), fun))
        out = {}
        for node in tgt:
            if node not in self.up:
                continue
            if fun == "test.ping":
                out[node] = (True, True)
            elif fun == "pacemaker.status":
                out[node] = (True, copy.deepcopy(self.pacemaker))
            elif fun == "pacemaker.quorum_status":
                out[node] = (True, {"quorate": self.quorate, "total_votes": 3,
                                    "expected_votes": 3})
            elif fun == "pacemaker.qdevice_status":
                out[node] = (True, {"connected": self.qdevice})
            elif fun == "service.status":
                out[node] = (True, self.units.get((node, arg[0]), False))
            elif fun == "rabbitmq_cluster.status":
                out[node] = (True, {"running_nodes": list(self.rabbit_running),
                                    "partitions": {}, "alarms": list(self.alarms)})
            elif fun == "cmd.run_all":
                out[node] = (True, self.command(node, arg[0], kwarg))
            else:
                raise AssertionError(fun)
        return out

    def command(self, node, cmd, kwarg):
        assert kwarg["python_shell"] is False
        if cmd[0] == "mariadb":
            text = self.wsrep[node]
            return {"retcode": 0 if text else 1, "stdout": text or "", "stderr": ""}
        if cmd[0] == "socat":
            assert kwarg["stdin"] == "show stat\n"
            text = self.stat[node]
            return {"retcode": 0 if text else 1, "stdout": text or ""}
        if cmd[0] == "sh":
            mode, items = cmd[4], cmd[6:]
            assert mode == "mount"
            ok = self.mounted[node]
            return {"retcode": 0, "stdout": "".join(
                f"{'ok' if ok else 'missing'} {item}\n" for item in items)}
        raise AssertionError(cmd)

    def ipmi(self, bmc, password, timeout):
        self.ipmi_passwords.append(password)
        return self.power[bmc["address"]]

    def memcached_version(self, address, port, timeout):
        if self.memcached.get(address):
            return True, f"1.6.18 on {address}:{port}"
        return False, f"no answer on {address}:{port}: Connection refused"


@pytest.fixture
def fake(monkeypatch):
    fake = FakeSite()
    monkeypatch.setattr(site_runner, "_local", fake.local)
    monkeypatch.setattr(site_runner, "_ipmi_power", fake.ipmi)
    monkeypatch.setattr(site_runner, "_memcached_version", fake.memcached_version)
    monkeypatch.setattr(site_runner, "_http", lambda url, method, timeout, context=None: (200, "HTTP 200"))
    return fake


@pytest.fixture
def heal_state():
    return {"dry_run": False, "lock": None, "queued": 0, "kinds": {}, "suppressed": {}}


def pillar_of(minion):
    if minion == "nas":  # the witness's secrets only (pillar/top.sls): no BMC password
        return {"site": SITE, "secrets": {"rabbitmq_erlang_cookie": "c00kie"},
                "site_ca": {"cert": sample_ca_cert()}}
    if minion in SITE["nodes"]:
        return {"site": SITE, "secrets": SECRETS, "site_ca": {"cert": sample_ca_cert()}}
    return {"site": SITE}


@pytest.fixture
def configure_loader_modules(heal_state):
    return {
        site_runner: {
            "__opts__": {"id": "master", "file_roots": {"base": [str(REPO / "salt"), str(REPO)]}},
            "__salt__": {"pillar.show_pillar": pillar_of, "heal.status": lambda: heal_state},
            "__utils__": load_utils("catalog"),
            "__context__": {},
        }
    }


def run():
    ret = site_runner.status()
    assert ret["outputter"] == "site_status"
    return ret["data"]


def row(data, component, item):
    [found] = [r for r in data["rows"] if r["component"] == component and r["item"] == item]
    return found


# --- green --------------------------------------------------------------------------------------


def test_all_green(fake, monkeypatch):
    monkeypatch.setattr(site_runner, "_http", lambda url, method, timeout, context=None: (200, "HTTP 200"))
    data = run()
    assert data["status"] == "ok" and data["retcode"] == 0 and data["problems"] == []
    assert site_runner.__context__["retcode"] == 0
    assert row(data, "node", "ctl1")["detail"] == (
        "controller,compute  10.77.0.11  power on  minion up")
    assert row(data, "pacemaker", "vip")["detail"] == "10.77.0.10 on ctl1"
    assert row(data, "pacemaker", "fencing")["detail"] == (
        "enabled: fence-ctl1 on ctl2, fence-ctl2 on ctl1")
    assert "quorate, 3/3 votes, quorum device connected" in row(
        data, "pacemaker", "quorum")["detail"]
    assert row(data, "pacemaker", "resource haproxy-clone")["detail"] == "2/2 started on ctl1, ctl2"
    assert row(data, "galera", "ctl2")["detail"] == "Primary, Synced, size 3, seqno 1417"
    assert row(data, "galera", "garbd (nas)")["state"] == "ok"
    assert row(data, "rabbitmq", "members")["detail"] == (
        "running rabbit@ctl1, rabbit@ctl2, rabbit@nas")
    assert row(data, "haproxy", "ctl1")["detail"] == "galera: ctl1 UP, ctl2 UP (backup)"
    assert row(data, "memcached", "ctl2")["state"] == "ok"
    assert row(data, "nfs", "server (nas)")["detail"] == "nfs-server running"
    assert row(data, "nfs", "ctl1")["detail"] == (
        "mounted: /srv/backups, /var/lib/glance/images")  # from salt/nfs/defaults.yaml
    # every API of salt/openstack/services/*.yaml, through the VIP
    assert row(data, "api", "keystone")["detail"] == "https://10.77.0.10:5000/v3: HTTP 200"
    assert row(data, "heal", "-")["detail"] == "nothing suppressed"
    assert {r["state"] for r in data["rows"]} <= {"ok", "info"}


def test_secrets_are_never_shown(fake):
    data = run()
    assert sorted(fake.ipmi_passwords) == sorted(SECRETS.values())  # used, through the env
    text = json.dumps(data) + outputter.render(data)
    assert not any(secret in text for secret in SECRETS.values())


def test_json_output_carries_the_data_and_the_retcode(fake):
    fake.up.discard("ctl2")
    data = run()
    json.dumps(data)  # serialisable for --out=json
    assert data["retcode"] == 1 and data["status"] == "degraded"
    assert site_runner.__context__["retcode"] == 1


# --- degraded -------------------------------------------------------------------------------------


def test_a_killed_server(fake):
    fake.up.discard("ctl2")
    fake.power["10.77.0.22"] = "off"
    fake.pacemaker["nodes"]["ctl2"]["online"] = False
    fake.pacemaker["nodes_online"] = ["ctl1"]
    fake.pacemaker["resources"]["haproxy-clone"].update(started=1, nodes=["ctl1"])
    fake.wsrep["ctl1"] = WSREP.replace("size\t3", "size\t2")
    fake.rabbit_running = ["rabbit@ctl1", "rabbit@nas"]
    fake.memcached["10.77.0.12"] = False
    data = run()
    assert data["status"] == "degraded"
    assert row(data, "node", "ctl2") == {
        "component": "node", "item": "ctl2", "state": "DEGRADED",
        "detail": "controller,compute  10.77.0.12  power off  minion DOWN"}
    assert row(data, "pacemaker", "nodes")["detail"] == "online ctl1; OFFLINE ctl2"
    assert row(data, "pacemaker", "resource haproxy-clone")["state"] == "DEGRADED"
    assert row(data, "galera", "ctl2")["detail"] == "minion down"
    assert row(data, "galera", "ctl1")["state"] == "ok"  # Primary, Synced on the survivor
    assert "MISSING rabbit@ctl2" in row(data, "rabbitmq", "members")["detail"]
    assert row(data, "memcached", "ctl2")["state"] == "DEGRADED"
    assert row(data, "haproxy", "ctl2")["detail"] == "minion down"
    assert "node ctl2: controller,compute  10.77.0.12  power off  minion DOWN" in data["problems"]


def test_galera_joiner_and_stopped_mysqld(fake):
    fake.wsrep["ctl2"] = WSREP.replace("state\t4", "state\t1").replace("Synced", "Joining")
    data = run()
    assert row(data, "galera", "ctl2") == {
        "component": "galera", "item": "ctl2", "state": "DEGRADED",
        "detail": "Primary, Joining, size 3, seqno 1417"}
    fake.wsrep["ctl2"] = None
    data = run()
    assert row(data, "galera", "ctl2")["detail"] == (
        "mysqld does not answer SQL (mariadb NOT running)")


def test_haproxy_backend_down(fake):
    fake.stat["ctl1"] = show_stat(ctl2="DOWN")
    data = run()
    assert row(data, "haproxy", "ctl1") == {
        "component": "haproxy", "item": "ctl1", "state": "DEGRADED",
        "detail": "galera: ctl1 UP, ctl2 DOWN (backup)"}
    fake.stat["ctl2"] = None
    assert row(run(), "haproxy", "ctl2")["detail"] == "HAProxy does not answer on its socket"


def test_pacemaker_vip_nowhere_no_quorum_no_fencing(fake):
    fake.pacemaker["resources"]["vip"].update(active=False, nodes=[])
    fake.pacemaker["resources"]["fence-ctl1"].update(active=False, nodes=[])
    fake.quorate = False
    fake.qdevice = False
    fake.pacemaker["failures"] = [{"op_key": "vip_monitor_10000", "node": "ctl1",
                                   "exitreason": "not running"}]
    data = run()
    assert row(data, "pacemaker", "vip")["detail"] == "10.77.0.10 on NO NODE"
    assert row(data, "pacemaker", "fencing")["state"] == "DEGRADED"
    quorum = row(data, "pacemaker", "quorum")
    assert quorum["state"] == "DEGRADED" and "NOT quorate" in quorum["detail"]
    assert "quorum device NOT connected" in quorum["detail"]
    assert row(data, "pacemaker", "failed action")["state"] == "info"


def test_no_controller_answers(fake):
    fake.up -= {"ctl1", "ctl2"}
    data = run()
    assert row(data, "pacemaker", "cluster")["detail"] == "no controller answers"


def test_rabbitmq_alarms(fake):
    fake.alarms = ["memory"]
    assert row(run(), "rabbitmq", "alarms") == {
        "component": "rabbitmq", "item": "alarms", "state": "DEGRADED", "detail": "memory"}


def test_nfs_mount_missing_and_server_down(fake):
    fake.mounted["ctl2"] = False
    fake.units[("nas", "nfs-server")] = False
    data = run()
    assert "MISSING /srv/backups, /var/lib/glance/images" in row(data, "nfs", "ctl2")["detail"]
    assert row(data, "nfs", "server (nas)")["detail"] == "nfs-server NOT running"


def test_a_suppressed_heal_is_shown_and_degrades(fake, heal_state):
    heal_state["suppressed"] = {
        "service/ctl2/memcached": {"reason": "flapping", "detail": "5 faults within 300 s",
                                   "until": 0},
        "galera": {"reason": "cooldown", "detail": "last attempt 3 s ago", "until": 0},
    }
    data = run()
    flapping = row(data, "heal", "service/ctl2/memcached")
    assert flapping["state"] == "DEGRADED"
    assert flapping["detail"].startswith("suppressed (flapping): 5 faults within 300 s")
    assert row(data, "heal", "galera")["state"] == "info"  # a cooldown passes by itself
    assert data["status"] == "degraded"


def test_a_paused_healer_is_shown(fake, heal_state):
    heal_state["paused"] = {"since": 0, "until": None, "reason": "disk swap"}
    assert row(run(), "heal", "paused")["detail"] == (
        "healing paused until heal.resume: disk swap")


def test_a_heal_to_be_retried_is_shown(fake, heal_state):
    heal_state["deferred"] = {"service/ctl2/memcached": 0}
    data = run()
    assert row(data, "heal", "service/ctl2/memcached")["detail"].startswith(
        "the last heal did not hold; retried after")
    assert data["status"] == "ok"


def test_apis_through_the_vip(fake, monkeypatch):
    calls = []

    def http(url, method, timeout, context=None):
        calls.append((url, method, context is not None))
        return (503, "HTTP 503") if "9292" in url else (300, "HTTP 300")

    monkeypatch.setattr(site_runner, "_http", http)
    monkeypatch.setattr(site_runner, "_catalog", lambda pillar: ("https", {
        "keystone": {"port": 5000, "check": "GET /v3"}, "glance": {"port": 9292}}))
    data = run()
    # https, verified with the site CA of the pillar
    assert calls == [("https://10.77.0.10:9292/", "GET", True),
                     ("https://10.77.0.10:5000/v3", "GET", True)]
    assert row(data, "api", "keystone")["state"] == "ok"
    assert row(data, "api", "glance")["state"] == "DEGRADED"


def test_a_check_that_raises_is_a_degraded_row(fake, monkeypatch):
    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(site_runner, "CHECKS", (("galera", broken),))
    data = run()
    assert row(data, "galera", "-") == {"component": "galera", "item": "-",
                                        "state": "DEGRADED", "detail": "the check failed: boom"}


def test_no_site_pillar(fake, monkeypatch):
    monkeypatch.setitem(site_runner.__salt__, "pillar.show_pillar", lambda minion: {})
    data = run()
    assert data["status"] == "degraded" and "no site pillar" in data["problems"][0]


# --- parsers and the table ---------------------------------------------------------------


def test_parse_haproxy_stat():
    assert site_runner.parse_haproxy_stat(show_stat(ctl2="DOWN 1/2")) == {
        "galera": {"ctl1": {"status": "UP", "backup": False},
                   "ctl2": {"status": "DOWN 1/2", "backup": True}}}
    assert site_runner.parse_haproxy_stat("") == {}


def test_parse_wsrep():
    assert site_runner.parse_wsrep(WSREP) == {
        "cluster_status": "Primary", "state": "Synced", "local_state": 4, "size": 3,
        "seqno": 1417}


def test_table():
    data = {
        "site": "lab", "status": "degraded",
        "rows": [
            {"component": "node", "item": "ctl1", "state": "ok", "detail": "power on"},
            {"component": "galera", "item": "ctl2", "state": "DEGRADED", "detail": "minion down"},
        ],
        "problems": ["galera ctl2: minion down"],
    }
    assert outputter.output(data) == "\n".join([
        "site lab: DEGRADED",
        "",
        "COMPONENT  ITEM  STATE     DETAIL",
        "node       ctl1  ok        power on",
        "galera     ctl2  DEGRADED  minion down",
        "",
        "1 problem(s):",
        "  - galera ctl2: minion down",
    ])
    assert outputter.render("not the data") == "not the data"


def test_status_has_a_cli_example():
    assert "CLI Example:" in site_runner.status.__doc__
