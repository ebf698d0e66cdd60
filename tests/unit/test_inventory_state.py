"""Unit tests of _states/inventory.py."""

from unittest.mock import MagicMock, patch

import pytest
from salt.exceptions import SaltInvocationError

from tests.conftest import load_ext

inventory_state = load_ext("states", "inventory")

PROBLEMS = "site:name: not set; set it to a short name\nsite:nodes:ctl1:address: not set"


@pytest.fixture
def configure_loader_modules():
    return {inventory_state: {"__salt__": {}, "__opts__": {"test": False}}}


def test_virtual_needs_the_execution_module():
    assert inventory_state.__virtual__()[0] is False
    with patch.dict(inventory_state.__salt__, {"inventory.validate": MagicMock()}):
        assert inventory_state.__virtual__() == "inventory"


@pytest.mark.parametrize("test_mode", [False, True], ids=["run", "test-mode"])
def test_valid_pillar(test_mode):
    validate = MagicMock(return_value=True)
    with (
        patch.dict(inventory_state.__salt__, {"inventory.validate": validate}),
        patch.dict(inventory_state.__opts__, {"test": test_mode}),
    ):
        ret = inventory_state.validated("preflight")
    assert ret == {
        "name": "preflight",
        "result": True,
        "changes": {},
        "comment": "The site pillar is valid",
    }
    validate.assert_called_once_with()


@pytest.mark.parametrize("test_mode", [False, True], ids=["run", "test-mode"])
def test_invalid_pillar_fails_with_every_problem(test_mode):
    validate = MagicMock(side_effect=SaltInvocationError(PROBLEMS))
    with (
        patch.dict(inventory_state.__salt__, {"inventory.validate": validate}),
        patch.dict(inventory_state.__opts__, {"test": test_mode}),
    ):
        ret = inventory_state.validated("preflight")
    assert ret["result"] is False
    assert ret["changes"] == {}
    assert ret["comment"] == f"The site pillar is invalid:\n{PROBLEMS}"
