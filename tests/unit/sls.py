"""Reading rendered highstate data (``state.show_sls``) in tests."""


def state_fun(state):
    """(module, [args...]) of one rendered state."""
    for key, value in state.items():
        if not key.startswith("__"):
            return key, value
    raise AssertionError(state)


def state_function(state):
    """``module.function`` of one rendered state."""
    key, value = state_fun(state)
    return f"{key}.{next(item for item in value if isinstance(item, str))}"


def state_args(state, module=None):
    """The keyword arguments of one rendered state (checking its module)."""
    key, value = state_fun(state)
    if module:
        assert key == module, state
    args = {}
    for item in value:
        if isinstance(item, dict):
            args.update(item)
    return args
