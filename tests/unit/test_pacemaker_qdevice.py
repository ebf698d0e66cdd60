"""Unit tests of the quorum device's certificates: _modules/qdevice.py (the
node-side steps, with the NSS tools faked) and _states/qdevice.py (the
master-side chaining, with the nodes faked behind saltutil.cmd)."""

import base64
import os

import pytest

from tests.conftest import load_ext

qdevice_mod = load_ext("modules", "qdevice")
qdevice_state = load_ext("states", "qdevice")

CA_DER = b"\x30\x82ca-der-bytes"
OTHER_CA_DER = b"\x30\x82another-ca"
CERT_DER = b"\x30\x82cluster-cert"
CSR_DER = b"\x30\x82request"


def pem(der):
    body = base64.b64encode(der).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


def b64(data):
    return base64.b64encode(data).decode()


# --- the node-side module -----------------------------------------------------------


class FakeNss:
    """cmd.run_all for the module: certutil and the corosync cert scripts."""

    def __init__(self, node_db, qnetd_db):
        self.node_db = node_db
        self.qnetd_db = qnetd_db
        self.certs = {}  # (db, nickname) -> DER
        self.subject = "CN=lab"
        self.valid = True
        self.calls = []

    def __call__(self, cmd, python_shell=False, output_loglevel="debug", **_kwargs):
        assert python_shell is False
        assert output_loglevel == "quiet"
        self.calls.append(list(cmd))
        ok = {"retcode": 0, "stdout": "", "stderr": "", "pid": 0}
        if cmd[:2] == ["certutil", "-L"]:
            key = (cmd[cmd.index("-d") + 1], cmd[cmd.index("-n") + 1])
            if key not in self.certs:
                return {**ok, "retcode": 255, "stderr": "could not find certificate"}
            if "-a" in cmd:
                return {**ok, "stdout": pem(self.certs[key])}
            return {**ok, "stdout": f'Certificate:\n    Subject: "{self.subject}"\n'}
        if cmd[:2] == ["certutil", "-V"]:
            if self.valid:
                return {**ok, "stdout": "certutil: certificate is valid\n"}
            return {**ok, "retcode": 255, "stdout": "certutil: certificate is invalid\n"}
        if cmd[0] == "corosync-qnetd-certutil" and cmd[1] == "-i":
            os.makedirs(self.qnetd_db, exist_ok=True)
            open(os.path.join(self.qnetd_db, "cert9.db"), "w").close()
            self.certs[(self.qnetd_db, "QNet CA")] = CA_DER
            return ok
        if cmd[0] == "corosync-qnetd-certutil" and cmd[1] == "-s":
            with open(cmd[cmd.index("-c") + 1], "rb") as handle:
                assert handle.read() == CSR_DER
            name = cmd[cmd.index("-n") + 1]
            with open(os.path.join(self.qnetd_db, f"cluster-{name}.crt"), "wb") as handle:
                handle.write(CERT_DER)
            return ok
        if cmd[0] == "corosync-qdevice-net-certutil":
            if cmd[1] == "-i":
                assert not os.path.exists(self.node_db), "the old database must be gone"
                os.makedirs(self.node_db)
                open(os.path.join(self.node_db, "cert9.db"), "w").close()
                with open(cmd[cmd.index("-c") + 1], "rb") as handle:
                    self.certs[(self.node_db, "QNet CA")] = handle.read()
            elif cmd[1] == "-r":
                with open(os.path.join(self.node_db, "qdevice-net-node.crq"), "wb") as handle:
                    handle.write(CSR_DER)
            elif cmd[1] == "-M":
                with open(cmd[cmd.index("-c") + 1], "rb") as handle:
                    self.certs[(self.node_db, "Cluster Cert")] = handle.read()
                open(os.path.join(self.node_db, "qdevice-net-node.p12"), "w").close()
            return ok
        raise AssertionError(f"unexpected command {cmd}")


class FakeServices:
    def __init__(self, running=False, enabled=True):
        self.running = running
        self.enabled_ = enabled
        self.actions = []

    def status(self, name):
        return self.running

    def enabled(self, name):
        return self.enabled_

    def start(self, name):
        self.actions.append(("start", name))
        return True

    def restart(self, name):
        self.actions.append(("restart", name))
        return True


@pytest.fixture
def dbs(tmp_path, monkeypatch):
    node_db = str(tmp_path / "qdevice" / "net" / "nssdb")
    qnetd_db = str(tmp_path / "qnetd" / "nssdb")
    monkeypatch.setattr(qdevice_mod, "NODE_DB", node_db)
    monkeypatch.setattr(qdevice_mod, "QNETD_DB", qnetd_db)
    monkeypatch.setattr(qdevice_mod.salt.utils.path, "which", lambda name: f"/usr/bin/{name}")
    return node_db, qnetd_db


@pytest.fixture
def nss(dbs):
    return FakeNss(*dbs)


@pytest.fixture
def services():
    return FakeServices()


@pytest.fixture
def configure_loader_modules(nss, services):
    return {
        qdevice_mod: {
            "__salt__": {
                "cmd.run_all": nss,
                "service.status": services.status,
                "service.enabled": services.enabled,
                "service.start": services.start,
                "service.restart": services.restart,
            }
        },
        qdevice_state: {"__opts__": {"__role": "master", "test": False}, "__pillar__": {},
                        "__salt__": {}},
    }


def test_der_accepts_der_and_pem():
    assert qdevice_mod._der(b64(CA_DER)) == CA_DER
    assert qdevice_mod._der(b64(pem(CA_DER).encode())) == CA_DER
    with pytest.raises(qdevice_mod.SaltInvocationError):
        qdevice_mod._der(b64(b"-----BEGIN nothing"))


def test_qnetd_ca_creates_the_ca_once(nss):
    assert qdevice_mod.qnetd_ca(create=False) is None
    assert qdevice_mod.qnetd_ca() == b64(CA_DER)
    assert qdevice_mod.qnetd_ca() == b64(CA_DER)
    assert sum(1 for cmd in nss.calls if cmd[:2] == ["corosync-qnetd-certutil", "-i"]) == 1


def test_node_status_without_database():
    status = qdevice_mod.node_status(b64(CA_DER), "lab")
    assert status == {"nssdb": False, "ca_matches": None, "cluster_cert": False,
                      "subject": None, "valid": False, "ok": False}


def test_the_whole_dance(nss, services, dbs):
    node_db, _ = dbs
    ca = qdevice_mod.qnetd_ca()
    request = qdevice_mod.node_request(ca, "lab")
    assert base64.b64decode(request) == CSR_DER
    assert not os.path.exists(os.path.join(node_db, "qdevice-net-node.crq"))
    certificate = qdevice_mod.qnetd_sign(request, "lab")
    assert base64.b64decode(certificate) == CERT_DER
    assert not os.path.exists(os.path.join(dbs[1], "cluster-lab.crt"))
    assert qdevice_mod.node_import(certificate) == {"imported": True, "service": "started"}
    # every node keeps its own key: the exported PKCS#12 copy is removed
    assert not os.path.exists(os.path.join(node_db, "qdevice-net-node.p12"))
    assert services.actions == [("start", "corosync-qdevice")]
    status = qdevice_mod.node_status(ca, "lab")
    assert status == {"nssdb": True, "ca_matches": True, "cluster_cert": True,
                      "subject": "CN=lab", "valid": True, "ok": True}
    assert qdevice_mod.node_has_certificate() is True


def test_node_request_starts_over(nss, dbs):
    node_db, _ = dbs
    os.makedirs(node_db)
    open(os.path.join(node_db, "cert9.db"), "w").close()
    open(os.path.join(node_db, "stale"), "w").close()
    qdevice_mod.node_request(b64(CA_DER), "lab")
    assert not os.path.exists(os.path.join(node_db, "stale"))


def test_import_restarts_a_running_qdevice(services):
    services.running = True
    qdevice_mod.node_request(b64(CA_DER), "lab")
    assert qdevice_mod.node_import(b64(CERT_DER))["service"] == "restarted"
    assert services.actions == [("restart", "corosync-qdevice")]


def test_import_leaves_a_disabled_qdevice_alone(services):
    services.enabled_ = False
    qdevice_mod.node_request(b64(CA_DER), "lab")
    assert qdevice_mod.node_import(b64(CERT_DER))["service"] is None
    assert services.actions == []


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda nss: setattr(nss, "subject", "CN=other"), "subject"),
        (lambda nss: setattr(nss, "valid", False), "valid"),
    ],
)
def test_node_status_not_ok(nss, change, field):
    qdevice_mod.node_request(b64(CA_DER), "lab")
    qdevice_mod.node_import(b64(CERT_DER), start=False)
    change(nss)
    status = qdevice_mod.node_status(b64(CA_DER), "lab")
    assert status["ok"] is False
    assert status[field] in (False, "CN=other")


def test_node_status_other_ca():
    qdevice_mod.node_request(b64(CA_DER), "lab")
    qdevice_mod.node_import(b64(CERT_DER), start=False)
    status = qdevice_mod.node_status(b64(OTHER_CA_DER), "lab")
    assert status["ca_matches"] is False and status["ok"] is False


@pytest.mark.parametrize("name", ["", "a b", "x;rm -rf /", None])
def test_cluster_names_are_checked(name):
    with pytest.raises(qdevice_mod.SaltInvocationError):
        qdevice_mod.node_request(b64(CA_DER), name)


# --- the master-side state ----------------------------------------------------------

SITE = {
    "name": "lab",
    "quorum": {"mode": "witness", "witness": "nas"},
    "nodes": {
        "ctl2": {"roles": ["controller"], "cluster_id": 2},
        "ctl1": {"roles": ["controller"], "cluster_id": 1},
        "nas": {"roles": ["witness"]},
    },
}
GOOD = {"nssdb": True, "ca_matches": True, "cluster_cert": True, "subject": "CN=lab",
        "valid": True, "ok": True}
BARE = {"nssdb": False, "ca_matches": None, "cluster_cert": False, "subject": None,
        "valid": False, "ok": False}


class FakeNodes:
    """saltutil.cmd on the master: each (minion, function) answers from a table."""

    def __init__(self, statuses, silent=()):
        self.statuses = dict(statuses)
        self.silent = set(silent)
        self.calls = []

    def __call__(self, tgt, fun, arg=(), tgt_type="glob", timeout=None):
        self.calls.append((tgt, fun))
        if tgt in self.silent:
            return {}
        if fun == "qdevice.qnetd_ca":
            ret = b64(CA_DER)
        elif fun == "qdevice.node_status":
            ret = self.statuses[tgt]
        elif fun == "qdevice.node_request":
            ret = b64(CSR_DER)
        elif fun == "qdevice.qnetd_sign":
            assert arg == [b64(CSR_DER), "lab"]
            ret = b64(CERT_DER)
        elif fun == "qdevice.node_import":
            self.statuses[tgt] = GOOD
            ret = {"imported": True, "service": "started"}
        else:
            raise AssertionError(fun)
        return {tgt: {"ret": ret, "retcode": 0, "jid": "1"}}

    def mutations(self):
        return [call for call in self.calls
                if call[1] in ("qdevice.node_request", "qdevice.qnetd_sign",
                               "qdevice.node_import")]


def run_state(nodes, site=SITE, test=False):
    qdevice_state.__salt__ = {"saltutil.cmd": nodes}
    qdevice_state.__pillar__ = {"site": site}
    qdevice_state.__opts__ = {"__role": "master", "test": test}
    return qdevice_state.certified("qdevice-certified")


def test_state_loads_only_on_the_master():
    qdevice_state.__opts__ = {"__role": "minion"}
    loaded, reason = qdevice_state.__virtual__()
    assert loaded is False and "orchestration" in reason
    qdevice_state.__opts__ = {"__role": "master"}
    assert qdevice_state.__virtual__() == "qdevice"


def test_state_nothing_to_do():
    nodes = FakeNodes({"ctl1": GOOD, "ctl2": GOOD})
    for test in (False, True):
        ret = run_state(nodes, test=test)
        assert ret["result"] is True and ret["changes"] == {}, ret
    assert nodes.mutations() == []


def test_state_two_node_mode_needs_nothing():
    nodes = FakeNodes({})
    ret = run_state(nodes, site={**SITE, "quorum": {"mode": "two_node"}})
    assert ret["result"] is True and ret["changes"] == {} and "two_node" in ret["comment"]
    assert nodes.calls == []


def test_state_test_mode_lists_who_would_get_one():
    nodes = FakeNodes({"ctl1": GOOD, "ctl2": BARE})
    ret = run_state(nodes, test=True)
    assert ret["result"] is None
    assert list(ret["changes"]) == ["ctl2"]
    assert "no qdevice certificate database" in ret["changes"]["ctl2"]
    assert nodes.mutations() == []
    # test mode never creates the witness's CA
    assert ("nas", "qdevice.qnetd_ca") in nodes.calls


def test_state_certifies_each_node_in_turn():
    nodes = FakeNodes({"ctl1": {**GOOD, "ca_matches": False, "ok": False}, "ctl2": BARE})
    ret = run_state(nodes)
    assert ret["result"] is True, ret
    assert list(ret["changes"]) == ["ctl1", "ctl2"]
    assert "not the witness's current qnetd CA" in ret["changes"]["ctl1"]
    assert "corosync-qdevice started" in ret["changes"]["ctl2"]
    assert nodes.mutations() == [
        ("ctl1", "qdevice.node_request"), ("nas", "qdevice.qnetd_sign"),
        ("ctl1", "qdevice.node_import"),
        ("ctl2", "qdevice.node_request"), ("nas", "qdevice.qnetd_sign"),
        ("ctl2", "qdevice.node_import"),
    ]
    # a second run: nothing to do
    ret = run_state(nodes)
    assert ret["result"] is True and ret["changes"] == {}


def test_state_fails_when_the_witness_is_silent():
    ret = run_state(FakeNodes({"ctl1": BARE, "ctl2": BARE}, silent={"nas"}))
    assert ret["result"] is False
    assert "nas: no answer to qdevice.qnetd_ca" in ret["comment"]


def test_state_fails_when_the_import_does_not_take():
    class Broken(FakeNodes):
        def __call__(self, tgt, fun, arg=(), tgt_type="glob", timeout=None):
            answer = super().__call__(tgt, fun, arg, tgt_type, timeout)
            if fun == "qdevice.node_import":
                self.statuses[tgt] = {**GOOD, "valid": False, "ok": False}
            return answer

    ret = run_state(Broken({"ctl1": GOOD, "ctl2": BARE}))
    assert ret["result"] is False
    assert "ctl2: after import: its client certificate is not valid" in ret["comment"]


def test_state_reports_a_failed_step():
    class Failing(FakeNodes):
        def __call__(self, tgt, fun, arg=(), tgt_type="glob", timeout=None):
            if fun == "qdevice.qnetd_sign":
                self.calls.append((tgt, fun))
                return {tgt: {"ret": "ERROR: certutil failed", "retcode": 1}}
            return super().__call__(tgt, fun, arg, tgt_type, timeout)

    ret = run_state(Failing({"ctl1": BARE, "ctl2": GOOD}))
    assert ret["result"] is False
    assert "nas: qdevice.qnetd_sign failed: ERROR: certutil failed" in ret["comment"]
