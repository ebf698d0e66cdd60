"""Issue 3, the Corosync/Pacemaker layer on real nodes, after the deploy:
corosync.conf and the authkey from the inventory, the quorum device over
mutual TLS (each controller its own key), the CIB Salt declared (fencing
against the BMCs, the VIP, the HAProxy clone), passwords never in Salt's
output, a drifted CIB or a lost certificate put back, and second runs that
change nothing. No fencing is triggered here: the fault tests do that."""

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

from lab import secrets as lab_secrets

from .conftest import REPO

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("healer_paused")]

CONTROLLERS = ("ctl1", "ctl2")
WITNESS = "nas"
SITE = yaml.safe_load((REPO / "lab" / "pillar" / "site.sls").read_text())["site"]


def secrets():
    return lab_secrets.load()


def sh(lab, node, command, check=True):
    return lab.exec(node, "sh", "-c", command, check=check).stdout


def state_apply(lab, target, sls, *args):
    """{minion: [(state id, changes, result)]} of a state run."""
    ret = lab.salt(target, "state.apply", sls, "queue=True", *args, "-L")
    out = {}
    for minion, states in ret.items():
        assert isinstance(states, dict), f"{minion}: {states}"
        out[minion] = [(sid.split("_|-")[1], st["changes"], st["result"])
                       for sid, st in states.items()]
    return out


def changed(run):
    return {minion: [sid for sid, changes, _ in states if changes]
            for minion, states in run.items()}


def all_ok(run):
    return all(result is True for states in run.values() for _, _, result in states)


def cib_nvpairs(lab, xpath):
    out = sh(lab, "ctl1", f'cibadmin --query --xpath "{xpath}"')
    root = ET.fromstring(out)
    return {nv.get("name"): nv.get("value") for nv in root.iter("nvpair")}


# --- corosync -----------------------------------------------------------------------


def test_corosync_conf_is_built_from_the_inventory(lab, deployed):
    confs = {node: sh(lab, node, "cat /etc/corosync/corosync.conf") for node in CONTROLLERS}
    assert confs["ctl1"] == confs["ctl2"]
    conf = confs["ctl1"]
    assert f"cluster_name: {SITE['name']}" in conf
    assert "transport: knet" in conf and "crypto_cipher: aes256" in conf
    for node in CONTROLLERS:
        spec = SITE["nodes"][node]
        assert (f"name: {node}\n\t\tnodeid: {spec['cluster_id']}\n"
                f"\t\tring0_addr: {spec['address']}") in conf
    witness_address = SITE["nodes"][WITNESS]["address"]
    assert f"host: {witness_address}" in conf and "algorithm: ffsplit" in conf
    assert "tls: on" in conf and "two_node" not in conf
    for node in CONTROLLERS:
        assert lab.exec(node, "corosync", "-t").returncode == 0


def test_authkey_is_the_same_binary_key_on_both_and_private(lab, deployed):
    digests = set()
    for node in CONTROLLERS:
        stat = sh(lab, node, "stat -c '%a %U %s' /etc/corosync/authkey").split()
        assert stat == ["400", "root", "256"], stat
        digests.add(sh(lab, node, "sha256sum /etc/corosync/authkey").split()[0])
    assert len(digests) == 1
    raw = sh(lab, "ctl1", "base64 -w0 /etc/corosync/authkey")
    assert secrets()["corosync_authkey"] not in raw


def test_the_debian_sample_cluster_left_nothing(lab, deployed):
    nodes = sh(lab, "ctl1", "cibadmin --query --scope nodes")
    assert 'uname="ctl1"' in nodes and 'uname="ctl2"' in nodes
    assert "node1" not in nodes


def test_pcsd_is_off(lab, deployed):
    for node in CONTROLLERS:
        assert sh(lab, node, "systemctl is-active pcsd", check=False).strip() == "inactive"
        assert sh(lab, node, "systemctl is-enabled pcsd", check=False).strip() == "disabled"


# --- the quorum device --------------------------------------------------------------


def test_quorum_has_three_votes_with_the_qdevice(lab, deployed):
    out = sh(lab, "ctl1", "corosync-quorumtool -s")
    assert "Expected votes:   3" in out and "Total votes:      3" in out, out
    assert "Qdevice" in out.split("Flags:")[1].splitlines()[0], out
    for node in CONTROLLERS:
        tool = sh(lab, node, "corosync-qdevice-tool -s")
        assert "State:\t\t\tConnected" in tool, tool
        assert "Tie-breaker:\t\tNode with node ID 1" in tool, tool  # the delay_node


def test_qnetd_listens_on_the_management_address_only(lab, deployed):
    out = sh(lab, WITNESS, "ss -Hltn 'sport = :5403'")
    assert out.split()[3] == f"{SITE['nodes'][WITNESS]['address']}:5403", out


def test_each_controller_has_its_own_tls_client_certificate(lab, deployed):
    verbose = sh(lab, WITNESS, "corosync-qnetd-tool -l -v")
    assert verbose.count("TLS active:\t\tYes (client certificate verified)") == 2, verbose
    db = "/etc/corosync/qdevice/net/nssdb"
    certs = {node: sh(lab, node, f"certutil -L -d {db} -n 'Cluster Cert' -a")
             for node in CONTROLLERS}
    assert certs["ctl1"] != certs["ctl2"]  # own key, own certificate
    for node in CONTROLLERS:
        assert "CN=lab" in sh(lab, node, f"certutil -L -d {db} -n 'Cluster Cert'")
        # the stock tool's exported key copy is not left behind
        assert sh(lab, node, f"ls {db}").split().count("qdevice-net-node.p12") == 0


def test_a_lost_certificate_is_reissued(lab, deployed):
    sh(lab, "ctl2", "rm -rf /etc/corosync/qdevice/net/nssdb")
    retcode, states = lab.orchestrate("orch.qdevice")
    (step,) = states.values()
    assert retcode == 0 and step["result"] is True, step
    assert list(step["changes"]) == ["ctl2"], step
    lab.wait("ctl2's qdevice to reconnect",
             lambda: "Connected" in sh(lab, "ctl2", "corosync-qdevice-tool -s", check=False),
             30)
    retcode, states = lab.orchestrate("orch.qdevice")
    (step,) = states.values()
    assert retcode == 0 and step["changes"] == {}, step


# --- the CIB --------------------------------------------------------------------------


def test_pcs_status_shows_everything_started(lab, deployed):
    out = sh(lab, "ctl1", "pcs status")
    assert "Online: [ ctl1 ctl2 ]" in out, out
    assert "fence-ctl1\t(stonith:fence_ipmilan):\t Started ctl2" in out, out
    assert "fence-ctl2\t(stonith:fence_ipmilan):\t Started ctl1" in out, out
    assert "vip\t(ocf:heartbeat:IPaddr2):\t Started ctl" in out, out
    assert "Started: [ ctl1 ctl2 ]" in out, out


def test_the_vip_is_on_the_node_pacemaker_says(lab, deployed):
    out = sh(lab, "ctl1", "crm_resource --resource vip --locate")
    holder = out.split()[-1]
    assert holder in CONTROLLERS, out
    assert "10.77.0.10/24" in sh(lab, holder, "ip -br addr show host0")


def test_cib_properties_and_fencing_parameters(lab, deployed):
    props = cib_nvpairs(lab, "//cluster_property_set[@id='cib-bootstrap-options']")
    assert props["stonith-enabled"] == "true" and props["no-quorum-policy"] == "stop"
    assert cib_nvpairs(lab, "//rsc_defaults")["resource-stickiness"] == "100"
    fence1 = cib_nvpairs(lab, "//primitive[@id='fence-ctl1']")
    fence2 = cib_nvpairs(lab, "//primitive[@id='fence-ctl2']")
    # witness mode: the side without quorum never fences, so no device waits
    # (a delay would only slow the failover of the VIP holder)
    assert "delay" not in fence1 and "delay" not in fence2
    for params, node in ((fence1, "ctl1"), (fence2, "ctl2")):
        bmc = SITE["nodes"][node]["bmc"]
        assert params["ip"] == bmc["address"] and params["pcmk_host_list"] == node
        assert (params["lanplus"], params["method"]) == ("1", "onoff")
    locations = sh(lab, "ctl1", "cibadmin --query --scope constraints")
    assert 'id="salt-loc-fence-ctl1-avoid-ctl1"' in locations
    assert 'id="salt-col-vip-with-haproxy-clone"' in locations
    assert 'id="salt-ord-haproxy-clone-then-vip"' in locations


def test_fence_credentials_answer_a_status_query(lab, deployed):
    """Only `status`: the fault tests do the real fencing."""
    bmc = SITE["nodes"]["ctl2"]["bmc"]
    options = (f"ip={bmc['address']}\nipport={bmc['port']}\nusername={bmc['username']}\n"
               f"password={secrets()[bmc['password_secret']]}\nlanplus=1\nmethod=onoff\n"
               "action=status\n")
    done = subprocess.run([sys.executable, "-m", "lab", "exec", "ctl1", "fence_ipmilan"],
                          cwd=REPO, input=options, text=True, capture_output=True, timeout=60)
    assert "Status: ON" in done.stdout, done.stderr[-2000:]


def test_a_drifted_cib_is_put_back_without_showing_a_password(lab, deployed):
    sh(lab, "ctl1", "crm_resource --resource fence-ctl2 --set-parameter method "
                    "--parameter-value cycle")
    ret = lab.salt("ctl1", "state.apply", "pacemaker.resources", "queue=True")
    text = repr(ret)
    (state,) = [st for sid, st in ret["ctl1"].items() if sid.startswith("pacemaker_|-")
                and "cib_present" in sid]
    assert state["result"] is True and state["changes"], state
    assert 'name="method" value="onoff"' in state["changes"]["diff"]
    for name, value in secrets().items():
        assert value not in text, f"secret {name} in Salt's output"
    assert cib_nvpairs(lab, "//primitive[@id='fence-ctl2']")["method"] == "onoff"


# --- idempotence ----------------------------------------------------------------------


def test_second_runs_change_nothing(lab, deployed):
    assert changed(state_apply(lab, WITNESS, "pacemaker.qnetd")) == {WITNESS: []}
    controllers = state_apply(lab, ",".join(CONTROLLERS), "pacemaker")
    assert all_ok(controllers), controllers
    assert changed(controllers) == {node: [] for node in CONTROLLERS}
    resources = state_apply(lab, "ctl1", "pacemaker.resources")
    assert changed(resources) == {"ctl1": []}, resources
