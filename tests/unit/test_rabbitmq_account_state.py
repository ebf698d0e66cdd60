"""Unit tests of _states/rabbitmq_account.py: the password from the secrets
pillar, never shown; test mode; errors as comments."""

from unittest.mock import MagicMock

import pytest
from salt.exceptions import CommandExecutionError

from tests.conftest import load_ext

rabbitmq_account = load_ext("states", "rabbitmq_account")


def _run(ensure, test=False, secrets=None):
    rabbitmq_account.__salt__ = {"rabbitmq_cluster.ensure_user": ensure}
    rabbitmq_account.__opts__ = {"test": test}
    rabbitmq_account.__pillar__ = {"secrets": {"nova_rabbit_password": "nova-pw"}
                                   if secrets is None else secrets}
    return rabbitmq_account.present("nova", "nova_rabbit_password")


def test_nothing_to_change_is_no_change():
    ensure = MagicMock(return_value={"changes": [], "comment": "RabbitMQ user nova is as wanted"})
    ret = _run(ensure)
    assert ret == {"name": "nova", "result": True, "changes": {},
                   "comment": "RabbitMQ user nova is as wanted"}
    assert ensure.call_args.args == ("nova", "nova-pw")
    assert ensure.call_args.kwargs["test"] is False


@pytest.mark.parametrize("test, result", [(False, True), (True, None)])
def test_changes_are_reported_without_the_password(test, result):
    ensure = MagicMock(return_value={"changes": ["set the password of user nova"],
                                     "comment": "set the password of user nova"})
    ret = _run(ensure, test=test)
    assert ret["result"] is result
    assert ret["changes"] == {"user": "nova", "done": ["set the password of user nova"]}
    assert ret["comment"].startswith("would ") is test
    assert "nova-pw" not in repr(ret)
    assert ensure.call_args.kwargs["test"] is test


def test_a_missing_secret_names_the_pillar_key_and_changes_nothing():
    ensure = MagicMock()
    ret = _run(ensure, secrets={})
    assert ret["result"] is False
    assert ret["comment"] == ("secrets:nova_rabbit_password: missing; add it to the "
                              "secrets pillar")
    ensure.assert_not_called()


def test_a_rabbitmqctl_failure_is_the_comment():
    ensure = MagicMock(side_effect=CommandExecutionError("rabbitmqctl list_users failed (69): down"))
    ret = _run(ensure)
    assert ret["result"] is False and "failed (69)" in ret["comment"]
