"""Issue 3 on real nodes: the deploy orchestration brings bare lab nodes to
the whole HA layer, and a second deploy changes nothing."""

import json

import pytest

from lab import secrets as lab_secrets

from .conftest import changed_states, failed_states, secrets_in

pytestmark = pytest.mark.lab

CONTROLLERS = ("ctl1", "ctl2")
VIP = "10.77.0.10"


def one(lab, minion, fun, *args):
    ret = lab.salt(minion, fun, *args)
    assert minion in ret, f"{minion} did not answer {fun}: {ret}"
    return ret[minion]


def test_galera_has_two_data_nodes_and_garbd_primary_synced(lab, deployed):
    for node in CONTROLLERS:
        probe = one(lab, node, "galera.probe")
        assert probe["cluster_status"] == "Primary", probe
        assert probe["local_state"] == 4, probe
        assert probe["cluster_size"] == 3, probe  # ctl1, ctl2 and garbd on nas
    assert one(lab, "nas", "service.status", "garb") is True


def test_rabbitmq_has_three_running_members_and_a_quorum_queue_policy(lab, deployed):
    out = one(lab, "ctl1", "cmd.run", "rabbitmqctl cluster_status --formatter json")
    running = set(json.loads(out)["running_nodes"])
    assert running == {"rabbit@ctl1", "rabbit@ctl2", "rabbit@nas"}, out
    policies = json.loads(one(lab, "ctl1", "cmd.run",
                              "rabbitmqctl list_policies --formatter json"))
    # RabbitMQ 3.10 has no apply-to quorum_queues: the policy applies to
    # queues and sets what only quorum queues honour (oslo.messaging declares
    # them with rabbit_quorum_queue = true)
    assert any(p.get("name") == "ha-openstack" and "delivery-limit" in str(p.get("definition"))
               for p in policies), policies


def test_pacemaker_both_online_qdevice_fencing_vip_haproxy(lab, deployed):
    status = one(lab, "ctl1", "pacemaker.status")
    assert status["quorate"], status
    assert set(status["nodes_online"]) == set(CONTROLLERS), status
    started = set(status["resources_started"])
    for rid in ("fence-ctl1", "fence-ctl2", "vip"):
        assert rid in started, status["resources"]
    assert any(r.startswith("haproxy") for r in started), started
    quorum = one(lab, "ctl1", "pacemaker.quorum_status")
    assert quorum["qdevice_registered"] and quorum["expected_votes"] == 3, quorum


def test_a_client_through_the_vip_writes_and_reads(lab, deployed):
    sql = ("CREATE DATABASE IF NOT EXISTS smoke; "
           "CREATE USER IF NOT EXISTS 'smoke'@'10.77.0.%' IDENTIFIED BY 'smoke-lab-only'; "
           "GRANT ALL ON smoke.* TO 'smoke'@'10.77.0.%';")
    one(lab, "ctl1", "cmd.run", f'mariadb -e "{sql}"')
    client = f"mariadb -h {VIP} -u smoke -psmoke-lab-only smoke"
    one(lab, "ctl2", "cmd.run",
        f'{client} -e "CREATE TABLE IF NOT EXISTS t (v INT PRIMARY KEY); '
        f'REPLACE INTO t VALUES (42);"')
    out = one(lab, "ctl2", "cmd.run", f'{client} -N -e "SELECT v FROM t"')
    assert out.strip() == "42", out
    # both data nodes hold it
    for node in CONTROLLERS:
        assert one(lab, node, "cmd.run", 'mariadb -N -e "SELECT v FROM smoke.t"').strip() == "42"


def test_no_secret_in_the_deploy_output(deployed):
    """The whole output of the deploy from bare nodes (every state of every
    node, OpenStack's included) names no secret of the site's pillar."""
    text = json.dumps(deployed["states"])
    values = lab_secrets.load()
    assert len(values) > 30, sorted(values)
    assert "tls_ca_key" in values, sorted(values)
    found = secrets_in(text, values)
    assert not found, f"secret values in the deploy output: {found}"


def test_no_secret_in_the_masters_event_stream_during_the_deploy(deployed):
    """Every event the master's bus carried during the deploy from bare nodes
    (jobs published and returned, the orchestration's runner events, beacons,
    presence) names no secret value; the capture did see the deploy's jobs."""
    text = deployed["events"].read_text()
    events = [line.split("\t", 1) for line in text.splitlines() if "\t" in line]
    tags = [tag for tag, _ in events]
    assert any(tag.startswith("salt/run/") for tag in tags), tags[:20]
    returned = {tag.rsplit("/", 1)[-1] for tag, data in events
                if tag.startswith("salt/job/") and "/ret/" in tag
                and json.loads(data).get("fun") == "state.sls"}
    assert returned >= {"ctl1", "ctl2", "nas"}, (returned, len(events))
    values = lab_secrets.load()
    assert len(values) > 30, sorted(values)
    found = secrets_in(text, values)
    assert not found, f"secret values in the master's event stream: {found}"


def test_a_second_deploy_changes_nothing(lab, deployed):
    retcode, states = lab.orchestrate("orch.deploy")
    failed = failed_states(states)
    assert retcode == 0 and not failed, failed
    assert changed_states(states) == []
