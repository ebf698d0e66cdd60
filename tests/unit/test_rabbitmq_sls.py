"""The rabbitmq and memcached SLS, rendered by Salt's real loader (masterless,
no daemon) with the lab's site pillar and fake secrets, for each member: what
each node would apply, in which order, and the files it would write."""

import json

import pytest

from .sls import (served_roots, load, minion_loaders, minion_opts, render_file, sample_ca_cert,
                  state_args as _args, state_function as _function)

COOKIE = "cookie-value-never-rendered"
ADMIN_PASSWORD = "admin-password-value"
ADDRESSES = {"ctl1": "10.77.0.11", "ctl2": "10.77.0.12", "nas": "10.77.0.13"}


def _opts(tmp_path, minion_id):
    pillar = {
        **load("lab/pillar/site.sls"),
        "secrets": {
            "rabbitmq_erlang_cookie": COOKIE,
            "rabbitmq_admin_password": ADMIN_PASSWORD,
        },
        "site_ca": {"cert": sample_ca_cert()},  # rabbitmq includes base, base the CA's trust
    }
    return minion_opts(tmp_path / minion_id, minion_id, pillar, file_roots=served_roots())


class Minion:
    def __init__(self, loaders):
        self.loaders = loaders

    def show_sls(self, sls):
        ret = self.loaders.modules.state.show_sls(sls)
        assert isinstance(ret, dict), ret
        return ret

    def render_file(self, state):
        """Render the template a file.managed state names, with its context."""
        return render_file(self.loaders, state)


@pytest.fixture(scope="module")
def minions(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("minions")
    with minion_loaders() as loaders:

        def get(minion_id):
            return Minion(loaders(minion_id, lambda: _opts(tmp, minion_id)))

        yield get


@pytest.fixture(scope="module")
def rendered(minions):
    cache = {}

    def get(minion_id, sls="rabbitmq"):
        if (minion_id, sls) not in cache:
            cache[minion_id, sls] = minions(minion_id).show_sls(sls)
        return cache[minion_id, sls]

    return get


def _own(high, prefix):
    return {sid: state for sid, state in high.items() if state["__sls__"].startswith(prefix)}


# --- rabbitmq ---------------------------------------------------------------------------


@pytest.mark.parametrize("minion_id", ["ctl1", "ctl2", "nas"])
def test_state_ids_are_namespaced_and_base_is_included(rendered, minion_id):
    high = rendered(minion_id)
    assert "base-hosts-file-managed" in high  # node names resolve through /etc/hosts
    own = _own(high, "rabbitmq")
    assert own and all(sid.startswith("rabbitmq-") for sid in own), sorted(own)


@pytest.mark.parametrize("minion_id", ["ctl1", "ctl2", "nas"])
def test_the_cookie_comes_from_pillar_and_is_never_rendered(rendered, minion_id):
    high = rendered(minion_id)
    cookie = _args(high["rabbitmq-config-cookie-managed"], "file")
    assert cookie["name"] == "/var/lib/rabbitmq/.erlang.cookie"
    assert cookie["contents_pillar"] == "secrets:rabbitmq_erlang_cookie"
    assert cookie["show_changes"] is False
    assert (cookie["user"], cookie["group"], cookie["mode"]) == ("rabbitmq", "rabbitmq", "0400")
    assert COOKIE not in json.dumps(high)


@pytest.mark.parametrize("minion_id", ["ctl1", "ctl2", "nas"])
def test_cookie_and_configuration_come_before_the_package(rendered, minion_id):
    high = rendered(minion_id)
    package = _args(high["rabbitmq-package-installed"], "pkg")
    assert package["pkgs"] == ["rabbitmq-server"]
    assert {"sls": "rabbitmq.config"} in package["require"]
    for sid in (
        "rabbitmq-config-cookie-managed",
        "rabbitmq-config-rabbitmq-conf-managed",
        "rabbitmq-config-rabbitmq-env-conf-managed",
        "rabbitmq-config-advanced-config-managed",
        "rabbitmq-config-epmd-socket-managed",
    ):
        assert high[sid]["__sls__"] == "rabbitmq.config"
        assert {"file": sid} in _args(high["rabbitmq-service-running"], "service")["watch"]


@pytest.mark.parametrize("minion_id", ["ctl1", "ctl2", "nas"])
def test_every_listener_is_on_the_management_address(rendered, minions, minion_id):
    high, minion, address = rendered(minion_id), minions(minion_id), ADDRESSES[minion_id]
    erlang = "{" + address.replace(".", ",") + "}"

    conf = minion.render_file(high["rabbitmq-config-rabbitmq-conf-managed"])
    assert f"listeners.tcp.1 = {address}:5672" in conf
    assert "cluster_partition_handling = pause_minority" in conf
    assert not [line for line in conf.splitlines() if "0.0.0.0" in line or "::" in line]

    env = minion.render_file(high["rabbitmq-config-rabbitmq-env-conf-managed"])
    assert f"NODENAME=rabbit@{minion_id}\n" in env
    assert f"ERL_EPMD_ADDRESS={address}\n" in env
    assert f'CTL_ERL_ARGS="-kernel inet_dist_use_interface {erlang}"' in env

    advanced = minion.render_file(high["rabbitmq-config-advanced-config-managed"])
    assert f"{{inet_dist_use_interface, {erlang}}}" in advanced
    assert advanced.rstrip().endswith("].")

    socket = minion.render_file(high["rabbitmq-config-epmd-socket-managed"])
    assert socket.count("ListenStream=") == 3  # reset, loopback, management
    assert f"ListenStream={address}:4369" in socket and "ListenStream=127.0.0.1:4369" in socket


def test_the_seed_joins_nobody(rendered):
    assert "rabbitmq-cluster-joined" not in rendered("ctl1")


@pytest.mark.parametrize("minion_id", ["ctl2", "nas"])
def test_the_others_join_the_first_controller_with_retries(rendered, minion_id):
    high = rendered(minion_id)
    join = _args(high["rabbitmq-cluster-joined"], "rabbitmq_cluster")
    assert _function(high["rabbitmq-cluster-joined"]) == "rabbitmq_cluster.joined"
    assert (join["name"], join["user"], join["host"]) == ("rabbit@ctl1", "rabbit", "ctl1")
    assert join["retry"]["attempts"] * join["retry"]["interval"] >= 60
    # users and policies are set after the join (a join resets the node)
    for sid in (
        "rabbitmq-cluster-user-guest-absent",
        "rabbitmq-cluster-user-admin-present",
        "rabbitmq-cluster-policy-ha-openstack-present",
    ):
        assert {"rabbitmq_cluster": "rabbitmq-cluster-joined"} in _args(high[sid])["require"]


@pytest.mark.parametrize("minion_id", ["ctl1", "ctl2", "nas"])
def test_guest_removed_and_admin_from_the_secrets(rendered, minion_id):
    high = rendered(minion_id)
    assert _function(high["rabbitmq-cluster-user-guest-absent"]) == "rabbitmq_user.absent"
    admin = _args(high["rabbitmq-cluster-user-admin-present"], "rabbitmq_account")
    assert admin["name"] == "admin"
    assert admin["password_secret"] == "rabbitmq_admin_password"
    assert ADMIN_PASSWORD not in json.dumps(high)
    assert admin["tags"] == ["administrator"]
    assert admin["vhost"] == "/"


@pytest.mark.parametrize("minion_id", ["ctl1", "ctl2", "nas"])
def test_quorum_queue_policy_guarded_by_an_exact_check(rendered, minion_id):
    state = rendered(minion_id)["rabbitmq-cluster-policy-ha-openstack-present"]
    policy = _args(state, "rabbitmq_policy")
    assert policy["pattern"] == "^(?!amq\\.).*"
    assert policy["apply_to"] == "queues"  # 3.10 refuses quorum_queues
    assert json.loads(policy["definition"]) == {"delivery-limit": 10}
    (guard,) = policy["unless"]
    assert guard["fun"] == "rabbitmq_cluster.policy_matches"
    assert {k: guard[k] for k in ("name", "pattern", "apply_to", "priority", "vhost")} == {
        "name": "ha-openstack",
        "pattern": policy["pattern"],
        "apply_to": "queues",
        "priority": policy["priority"],
        "vhost": policy["vhost"],
    }
    assert guard["definition"] == json.loads(policy["definition"])


# --- memcached -----------------------------------------------------------------------------


@pytest.mark.parametrize("minion_id", ["ctl1", "ctl2"])
def test_memcached_on_the_management_address_configured_before_the_package(
    rendered, minions, minion_id
):
    high = _own(rendered(minion_id, "memcached"), "memcached")
    assert all(sid.startswith("memcached-") for sid in high), sorted(high)
    package = _args(high["memcached-pkgs-installed"], "pkg")
    assert {"file": "memcached-config-managed"} in package["require"]
    service = _args(high["memcached-service-running"], "service")
    assert service["enable"] is True
    assert {"file": "memcached-config-managed"} in service["watch"]

    conf = minions(minion_id).render_file(high["memcached-config-managed"])
    options = [line for line in conf.splitlines() if line.startswith("-")]
    assert f"-l {ADDRESSES[minion_id]}" in options
    assert "-U 0" in options
    assert any(line.startswith("-m ") and int(line.split()[1]) >= 64 for line in options)
    assert len([line for line in options if line.startswith("-l ")]) == 1
