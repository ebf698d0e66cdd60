"""Issue 3 on real nodes: RabbitMQ on ctl1, ctl2 and the witness (nas) forms
one cluster of three running members with the quorum-queue policy, guest
gone, every listener on the management address; memcached on each
controller on its management address; a second run changes nothing; a
SIGKILLed RabbitMQ comes back by itself."""

import json
import time

import pytest

from lab import secrets as lab_secrets

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("healer_paused")]

MEMBERS = ("ctl1", "ctl2", "nas")
CONTROLLERS = ("ctl1", "ctl2")
ADDRESS = {"ctl1": "10.77.0.11", "ctl2": "10.77.0.12", "nas": "10.77.0.13"}
RUNNING = sorted(f"rabbit@{node}" for node in MEMBERS)


def summarise(ret):
    """{minion: (states changed, all succeeded)} of a state run's JSON."""
    out = {}
    for minion, states in ret.items():
        assert isinstance(states, dict), f"{minion}: {states}"
        out[minion] = (sum(1 for s in states.values() if s["changes"]),
                       all(s["result"] for s in states.values()))
    return out


def apply(lab, nodes, sls):
    return lab.salt("-L", ",".join(nodes), "state.apply", sls, "queue=True", timeout=900)


def admin_password():
    return lab_secrets.load()["rabbitmq_admin_password"]


def running_members(lab, node):
    ret = lab.salt(node, "rabbitmq_cluster.running_members", "--timeout=60")
    return ret.get(node)


def listeners(lab, node):
    """{(address, port)} of the TCP sockets listening on ``node``."""
    out = lab.exec(node, "ss", "-Hltn").stdout
    found = set()
    for line in out.splitlines():
        local = line.split()[3]
        address, _, port = local.rpartition(":")
        found.add((address.strip("[]"), int(port)))
    return found


@pytest.fixture(scope="module")
def deployed(lab):
    """First runs: RabbitMQ on every member at once (the others wait for the
    seed), memcached on the controllers."""
    rabbit = summarise(apply(lab, MEMBERS, "base,rabbitmq"))
    memcached = summarise(apply(lab, CONTROLLERS, "memcached"))
    return rabbit, memcached


def test_first_runs_succeed(deployed):
    rabbit, memcached = deployed
    assert set(rabbit) == set(MEMBERS) and all(ok for _, ok in rabbit.values()), rabbit
    assert set(memcached) == set(CONTROLLERS) and all(ok for _, ok in memcached.values()), memcached


def test_three_running_members_seen_from_every_member(lab, deployed):
    for node in MEMBERS:
        assert running_members(lab, node) == RUNNING, node
    status = lab.salt("ctl1", "rabbitmq_cluster.status")["ctl1"]
    assert status["disk_nodes"] == RUNNING
    assert status["partitions"] == {} and status["alarms"] == []


def test_quorum_queue_policy(lab, deployed):
    policies = lab.salt("nas", "rabbitmq_cluster.policies")["nas"]
    assert policies["ha-openstack"]["apply_to"] == "queues", policies
    assert policies["ha-openstack"]["pattern"] == "^(?!amq\\.).*"
    assert "delivery-limit" in policies["ha-openstack"]["definition"]
    partitions = lab.exec("ctl1", "grep", "-x", "cluster_partition_handling = pause_minority",
                          "/etc/rabbitmq/rabbitmq.conf", check=False)
    assert partitions.returncode == 0, partitions.stdout


def test_a_quorum_queue_gets_the_policy_and_three_replicas(lab, deployed):
    declare = ('rabbit_amqqueue:declare(rabbit_misc:r(<<"/">>, queue, <<"lab-qq">>), true, false, '
               '[{<<"x-queue-type">>, longstr, <<"quorum">>}], none, <<"lab">>).')
    lab.exec("ctl2", "rabbitmqctl", "eval", declare)
    try:
        queues = json.loads(lab.exec("ctl1", "rabbitmqctl", "list_queues", "-q", "name", "type",
                                     "policy", "members", "--formatter", "json").stdout)
        (queue,) = [q for q in queues if q["name"] == "lab-qq"]
        assert (queue["type"], queue["policy"]) == ("quorum", "ha-openstack"), queue
        assert sorted(queue["members"]) == RUNNING, queue
    finally:
        lab.exec("ctl2", "rabbitmqctl", "delete_queue", "lab-qq", check=False)


def test_guest_is_refused_and_admin_accepted(lab, deployed):
    guest = lab.exec("ctl1", "rabbitmqctl", "authenticate_user", "guest", "guest", check=False)
    assert guest.returncode != 0, guest.stdout
    users = lab.exec("ctl1", "rabbitmqctl", "list_users", "-q", "--formatter", "json").stdout
    tags = {u["user"]: u["tags"] for u in json.loads(users)}
    assert "guest" not in tags, users
    # admin is the only administrator; the OpenStack services' users have no tags
    assert [user for user, t in tags.items() if t] == ["admin"], users
    assert tags["admin"] == ["administrator"], users
    admin = lab.exec("ctl1", "rabbitmqctl", "authenticate_user", "admin", admin_password(),
                     check=False)
    assert admin.returncode == 0, admin.stderr


def test_every_listener_on_the_management_address(lab, deployed):
    for node in MEMBERS:
        found = listeners(lab, node)
        mine = {(a, p) for a, p in found if p in (4369, 5672, 25672)}
        assert mine == {(ADDRESS[node], 4369), ("127.0.0.1", 4369),
                        (ADDRESS[node], 5672), (ADDRESS[node], 25672)}, (node, found)


def test_cookie_file_is_private(lab, deployed):
    for node in MEMBERS:
        stat = lab.exec(node, "stat", "-c", "%U %G %a", "/var/lib/rabbitmq/.erlang.cookie")
        assert stat.stdout.split() == ["rabbitmq", "rabbitmq", "400"], node


def test_memcached_on_the_management_address_only(lab, deployed):
    for node in CONTROLLERS:
        found = {(a, p) for a, p in listeners(lab, node) if p == 11211}
        assert found == {(ADDRESS[node], 11211)}, (node, found)
        enabled = lab.exec(node, "systemctl", "is-enabled", "memcached").stdout.strip()
        assert enabled == "enabled"


def test_second_runs_change_nothing(lab, deployed):
    rabbit = summarise(apply(lab, MEMBERS, "base,rabbitmq"))
    assert rabbit == {n: (0, True) for n in MEMBERS}, rabbit
    memcached = summarise(apply(lab, CONTROLLERS, "memcached"))
    assert memcached == {n: (0, True) for n in CONTROLLERS}, memcached


def test_no_secret_in_state_output(lab, deployed):
    out = lab.salt("-L", ",".join(MEMBERS), "state.apply", "rabbitmq", "queue=True", "test=True")
    text = json.dumps(out)
    secrets = lab_secrets.load()
    for name in ("rabbitmq_admin_password", "rabbitmq_erlang_cookie"):
        assert secrets[name] not in text, name


def test_sigkilled_rabbitmq_comes_back_and_rejoins(lab, deployed):
    pid = lab.exec("ctl2", "systemctl", "show", "-p", "MainPID", "--value",
                   "rabbitmq-server").stdout.strip()
    assert pid.isdigit() and pid != "0", pid
    lab.exec("ctl2", "kill", "-KILL", pid)
    time.sleep(2)

    def back():
        members = running_members(lab, "ctl1")
        return members == RUNNING and members

    lab.wait("ctl2's RabbitMQ back in the cluster", back, timeout=120, interval=3)
