"""Unit tests of _modules/rabbitmq_cluster.py: parsers on RabbitMQ 3.10.8's real
JSON output (Debian 12, taken on the lab), rabbitmqctl mocked."""

import json
from unittest.mock import MagicMock, patch

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.conftest import load_ext

rabbitmq_cluster = load_ext("modules", "rabbitmq_cluster")

# `rabbitmqctl list_policies -p / --formatter json -q` (3.10.8): the
# definition comes back as JSON text, not as an object.
POLICIES_3_10 = (
    "[\n"
    '{"vhost":"/","name":"ha-openstack","pattern":"^(?!amq\\\\.).*","apply-to":"queues",'
    '"definition":"{\\"delivery-limit\\":10}","priority":0}\n'
    "]\n"
)

# `rabbitmqctl cluster_status --formatter json -q` (3.10.8), trimmed to the
# keys read plus one of the others.
CLUSTER_STATUS_3_10 = json.dumps(
    {
        "alarms": [],
        "cluster_name": "rabbit@ctl1.lab.twin-cloud.test",
        "disk_nodes": ["rabbit@ctl1", "rabbit@ctl2", "rabbit@nas"],
        "feature_flags": [{"name": "quorum_queue", "state": "enabled"}],
        "partitions": {},
        "ram_nodes": [],
        "running_nodes": ["rabbit@ctl2", "rabbit@nas", "rabbit@ctl1"],
    }
)

POLICY = {
    "name": "ha-openstack",
    "pattern": "^(?!amq\\.).*",
    "definition": {"delivery-limit": 10},
    "apply_to": "queues",
    "priority": 0,
    "vhost": "/",
}


@pytest.fixture
def configure_loader_modules():
    return {rabbitmq_cluster: {"__salt__": {}, "__opts__": {"test": False}, "__context__": {}}}


@pytest.fixture(autouse=True)
def log():
    """Salt's deferred log handler would print after pytest closed stderr."""
    with patch.object(rabbitmq_cluster, "log") as fake:
        yield fake


def ctl(stdout="", retcode=0, stderr=""):
    """A cmd.run_all answering like rabbitmqctl (call_args holds the argv)."""
    return MagicMock(return_value={"retcode": retcode, "stdout": stdout, "stderr": stderr})


@pytest.fixture
def installed():
    with patch("salt.utils.path.which", return_value="/usr/sbin/rabbitmqctl"):
        yield


# --- __virtual__ and pure helpers ---------------------------------------------------


def test_virtual_loads_without_rabbitmq_installed():
    # erlang_address renders the configuration before the package is installed
    with patch("salt.utils.path.which", return_value=None):
        assert rabbitmq_cluster.__virtual__() == "rabbitmq_cluster"


@pytest.mark.parametrize(
    "address, expected",
    [
        ("10.77.0.11", "{10,77,0,11}"),
        (" 192.0.2.1 ", "{192,0,2,1}"),
        ("fe80::1", "{65152,0,0,0,0,0,0,1}"),
        ("2001:db8::a:b", "{8193,3512,0,0,0,0,10,11}"),
    ],
)
def test_erlang_address(address, expected):
    assert rabbitmq_cluster.erlang_address(address) == expected
    assert " " not in expected  # survives CTL_ERL_ARGS word splitting


@pytest.mark.parametrize("address", ["10.77.0.0/24", "ctl1", "", None, "10.77.0.256"])
def test_erlang_address_refuses_what_is_not_an_address(address):
    with pytest.raises(SaltInvocationError, match="is not an IP address"):
        rabbitmq_cluster.erlang_address(address)


def test_parse_policies_3_10_definition_as_text():
    assert rabbitmq_cluster.parse_policies(POLICIES_3_10) == {
        "ha-openstack": {
            "vhost": "/",
            "pattern": "^(?!amq\\.).*",
            "apply_to": "queues",
            "definition": {"delivery-limit": 10},
            "priority": 0,
        }
    }


def test_parse_policies_definition_as_object_and_defaults():
    text = json.dumps([{"name": "p", "pattern": ".*", "definition": {"max-length": 5}}])
    assert rabbitmq_cluster.parse_policies(text) == {
        "p": {
            "vhost": "/",
            "pattern": ".*",
            "apply_to": "all",
            "definition": {"max-length": 5},
            "priority": 0,
        }
    }


def test_parse_policies_empty_and_after_a_warning():
    assert rabbitmq_cluster.parse_policies("[\n]\n") == {}
    warned = "warning: the VM is running with native name encoding of latin1\n" + POLICIES_3_10
    assert list(rabbitmq_cluster.parse_policies(warned)) == ["ha-openstack"]


def test_parse_cluster_status_3_10():
    assert rabbitmq_cluster.parse_cluster_status(CLUSTER_STATUS_3_10) == {
        "cluster_name": "rabbit@ctl1.lab.twin-cloud.test",
        "disk_nodes": ["rabbit@ctl1", "rabbit@ctl2", "rabbit@nas"],
        "ram_nodes": [],
        "running_nodes": ["rabbit@ctl1", "rabbit@ctl2", "rabbit@nas"],
        "partitions": {},
        "alarms": [],
    }


def test_parse_cluster_status_partitions_in_both_shapes():
    as_map = {"rabbit@ctl1": ["rabbit@ctl2"]}
    as_pairs = [["rabbit@ctl1", ["rabbit@ctl2"]]]
    for partitions in (as_map, as_pairs):
        text = json.dumps({"running_nodes": ["rabbit@ctl1"], "partitions": partitions})
        assert rabbitmq_cluster.parse_cluster_status(text)["partitions"] == {
            "rabbit@ctl1": ["rabbit@ctl2"]
        }


@pytest.mark.parametrize("text", ["", "Error: unable to perform an operation on node", "[1, 2"])
def test_parse_refuses_output_without_json(text):
    with pytest.raises(CommandExecutionError, match="no JSON"):
        rabbitmq_cluster.parse_cluster_status(text)


def test_parse_cluster_status_refuses_a_list():
    with pytest.raises(CommandExecutionError, match="unexpected answer"):
        rabbitmq_cluster.parse_cluster_status("[]")


# --- rabbitmqctl ----------------------------------------------------------------------


def test_status_runs_rabbitmqctl_json_quietly_without_a_shell(installed):
    fake = ctl(CLUSTER_STATUS_3_10)
    with patch.dict(rabbitmq_cluster.__salt__, {"cmd.run_all": fake}):
        assert rabbitmq_cluster.status()["running_nodes"] == [
            "rabbit@ctl1",
            "rabbit@ctl2",
            "rabbit@nas",
        ]
        rabbitmq_cluster.status(node="rabbit@nas")
    first, second = (call.args[0] for call in fake.call_args_list)
    assert first == ["/usr/sbin/rabbitmqctl", "cluster_status", "--formatter", "json", "-q"]
    assert second[:3] == ["/usr/sbin/rabbitmqctl", "-n", "rabbit@nas"]
    assert all(call.kwargs["python_shell"] is False for call in fake.call_args_list)


def test_a_failing_rabbitmqctl_raises_with_its_message(installed):
    error = "Error: unable to perform an operation on node 'rabbit@ctl1'"
    fake = ctl("", retcode=69, stderr=error)
    with patch.dict(rabbitmq_cluster.__salt__, {"cmd.run_all": fake}):
        with pytest.raises(CommandExecutionError, match=r"cluster_status failed \(69\).*ctl1"):
            rabbitmq_cluster.status()


def test_without_rabbitmqctl_status_says_the_package_is_missing():
    with patch("salt.utils.path.which", return_value=None):
        with pytest.raises(CommandExecutionError, match="rabbitmq-server is not installed"):
            rabbitmq_cluster.status()


def test_running_members_is_empty_when_the_node_does_not_answer(installed):
    with patch.dict(rabbitmq_cluster.__salt__, {"cmd.run_all": ctl("", retcode=69)}):
        assert rabbitmq_cluster.running_members() == []
    with patch.dict(rabbitmq_cluster.__salt__, {"cmd.run_all": ctl(CLUSTER_STATUS_3_10)}):
        assert len(rabbitmq_cluster.running_members()) == 3


def test_policies_asks_the_vhost(installed):
    fake = ctl(POLICIES_3_10)
    with patch.dict(rabbitmq_cluster.__salt__, {"cmd.run_all": fake}):
        assert "ha-openstack" in rabbitmq_cluster.policies(vhost="/")
    assert fake.call_args.args[0][1:4] == ["list_policies", "-p", "/"]


# --- policy_matches: the guard of rabbitmq_policy.present (salt#61925) -----------------


def matches(stdout=POLICIES_3_10, retcode=0, **overrides):
    with patch.dict(rabbitmq_cluster.__salt__, {"cmd.run_all": ctl(stdout, retcode)}):
        return rabbitmq_cluster.policy_matches(**{**POLICY, **overrides})


def test_policy_matches_the_policy_as_set(installed):
    assert matches() is True


def test_policy_matches_definition_given_as_json_text_with_other_spacing(installed):
    assert matches(definition='{ "delivery-limit" : 10 }') is True


def test_policy_matches_priority_given_as_text(installed):
    # Salt may hand an SLS value over as a string
    assert matches(priority="0") is True


@pytest.mark.parametrize(
    "override",
    [
        {"apply_to": "all"},  # what the built-in state gets wrong
        {"pattern": ".*"},
        {"definition": {"delivery-limit": 20}},
        {"definition": {"delivery-limit": 10, "max-length": 1}},
        {"priority": 1},
        {"name": "other"},
    ],
)
def test_policy_does_not_match_any_difference(installed, override):
    assert matches(**override) is False


def test_policy_does_not_match_in_another_vhost(installed):
    assert matches(stdout="[\n]\n", vhost="/openstack") is False


def test_policy_matches_is_false_not_an_error_when_rabbitmq_is_down(installed, log):
    assert matches(stdout="", retcode=69) is False
    assert log.info.called


def test_policy_matches_is_false_before_rabbitmq_is_installed():
    with patch("salt.utils.path.which", return_value=None):
        assert rabbitmq_cluster.policy_matches(**POLICY) is False


def test_policy_matches_is_false_on_a_bad_definition(installed):
    assert matches(definition="not json") is False
    assert matches(definition="[1]") is False


# --- accounts ------------------------------------------------------------------------

# `rabbitmqctl list_users --formatter json -q` and `list_permissions -p /` (3.10.8)
USERS_3_10 = ('[\n{"user":"admin","tags":["administrator"]}\n,{"user":"nova","tags":[]}\n]\n')
PERMISSIONS_3_10 = ('[\n{"user":"admin","configure":".*","write":".*","read":".*"}\n'
                    ',{"user":"nova","configure":".*","write":".*","read":".*"}\n]\n')


class FakeRabbit:
    """rabbitmqctl over an in-memory broker: answers cmd.run_all as the real
    one does (a password only from stdin, as ensure_user sends it)."""

    def __init__(self):
        self.users = {"admin": {"password": "admin-pw", "tags": ["administrator"]},
                      "nova": {"password": "nova-pw", "tags": []}}
        self.perms = {"/": {"admin": [".*"] * 3, "nova": [".*"] * 3}}
        self.calls = []

    def __call__(self, cmd, stdin=None, **kwargs):
        args = cmd[1:cmd.index("--formatter")]
        self.calls.append((args, stdin, kwargs))
        password = stdin[:-1] if stdin else None
        verb = args[0]
        if verb == "list_users":
            rows = [{"user": u, "tags": d["tags"]} for u, d in self.users.items()]
            return self._ok(json.dumps(rows))
        if verb == "list_permissions":
            rows = [{"user": u, "configure": p[0], "write": p[1], "read": p[2]}
                    for u, p in self.perms.get(args[2], {}).items()]
            return self._ok(json.dumps(rows))
        if verb == "authenticate_user":
            if self.users.get(args[1], {}).get("password") == password:
                return self._ok("")
            return {"retcode": 65, "stdout": "",
                    "stderr": f'Error: failed to authenticate user "{args[1]}"\n'
                              f"user '{args[1]}' - invalid credentials"}
        if verb == "add_user":
            self.users[args[1]] = {"password": password, "tags": []}
        elif verb == "change_password":
            self.users[args[1]]["password"] = password
        elif verb == "set_user_tags":
            self.users[args[1]]["tags"] = sorted(args[2:])
        elif verb == "set_permissions":
            self.perms.setdefault(args[2], {})[args[3]] = list(args[4:7])
        return self._ok("")

    @staticmethod
    def _ok(stdout):
        return {"retcode": 0, "stdout": stdout, "stderr": ""}

    def verbs(self):
        return [args[0] for args, _, _ in self.calls]


@pytest.fixture
def rabbit(installed):
    fake = FakeRabbit()
    with patch.dict(rabbitmq_cluster.__salt__, {"cmd.run_all": fake}):
        rabbitmq_cluster.__context__.clear()
        yield fake


def test_parse_users_and_permissions_3_10():
    assert rabbitmq_cluster.parse_users(USERS_3_10) == {"admin": ["administrator"], "nova": []}
    assert rabbitmq_cluster.parse_permissions(PERMISSIONS_3_10)["nova"] == [".*", ".*", ".*"]


def test_an_account_as_wanted_costs_one_run_and_the_reads_are_shared(rabbit):
    assert rabbitmq_cluster.ensure_user("nova", "nova-pw") == {
        "changes": [], "comment": "RabbitMQ user nova is as wanted"}
    assert rabbitmq_cluster.ensure_user("admin", "admin-pw", tags=["administrator"])["changes"] == []
    # the users and the vhost's permissions read once for both accounts
    assert rabbit.verbs() == ["list_users", "authenticate_user", "list_permissions",
                              "authenticate_user"]


def test_a_password_goes_on_stdin_never_on_the_command_line_nor_in_a_log(rabbit):
    rabbitmq_cluster.ensure_user("glance", "glance-pw")
    rabbitmq_cluster.ensure_user("nova", "new-nova-pw")
    with_password = [(args, stdin, kw) for args, stdin, kw in rabbit.calls if stdin]
    assert [args[0] for args, _, _ in with_password] == [
        "add_user", "authenticate_user", "change_password"]
    for args, stdin, kwargs in rabbit.calls:
        assert not any("pw" in arg for arg in args)
        if stdin:
            assert kwargs["output_loglevel"] == "quiet"
            assert kwargs["python_shell"] is False


def test_a_missing_account_is_created_with_its_permissions_then_left_alone(rabbit):
    first = rabbitmq_cluster.ensure_user("glance", "glance-pw")
    assert first["changes"] == ["create user glance", "grant glance .*/.*/.* on vhost /"]
    assert rabbit.users["glance"]["password"] == "glance-pw"
    assert rabbit.perms["/"]["glance"] == [".*"] * 3
    # the reads made before the change are not trusted after it
    assert rabbitmq_cluster.ensure_user("glance", "glance-pw")["changes"] == []


def test_a_changed_password_tags_and_permissions_are_set(rabbit):
    rabbit.perms["/"]["nova"] = ["", ".*", ".*"]
    outcome = rabbitmq_cluster.ensure_user("nova", "rotated", tags=["monitoring"])
    assert outcome["changes"] == ["set the password of user nova",
                                  "set the tags of nova to ['monitoring']",
                                  "grant nova .*/.*/.* on vhost /"]
    assert rabbit.users["nova"] == {"password": "rotated", "tags": ["monitoring"]}
    assert rabbit.perms["/"]["nova"] == [".*"] * 3
    assert "rotated" not in outcome["comment"]


def test_test_mode_reports_and_changes_nothing(rabbit):
    outcome = rabbitmq_cluster.ensure_user("glance", "glance-pw", test=True)
    assert outcome["changes"] == ["create user glance", "grant glance .*/.*/.* on vhost /"]
    assert "glance" not in rabbit.users
    assert not {"add_user", "set_permissions"} & set(rabbit.verbs())


def test_authentication_that_fails_for_another_reason_is_an_error(installed):
    down = ctl("", retcode=69, stderr="Error: unable to perform an operation on node 'rabbit@ctl1'")
    with patch.dict(rabbitmq_cluster.__salt__, {"cmd.run_all": down}):
        with pytest.raises(CommandExecutionError, match=r"authenticate_user nova failed \(69\)"):
            rabbitmq_cluster.authenticates("nova", "secret-pw")
        assert "secret-pw" not in down.call_args.args[0]
        assert down.call_args.kwargs["stdin"] == "secret-pw\n"


@pytest.mark.parametrize("kwargs, says", [
    ({"password": ""}, "no password given"),
    ({"password": "pw", "perms": [".*", ".*"]}, "three patterns"),
])
def test_ensure_user_refuses_bad_arguments(rabbit, kwargs, says):
    with pytest.raises(SaltInvocationError, match=says):
        rabbitmq_cluster.ensure_user("nova", **kwargs)
    assert rabbit.calls == []
