"""The one error of the admin box's commands."""


class AdminError(SystemExit):
    """A step failed; the message says what, where, and what to do."""

    def __init__(self, message):
        super().__init__(f"admin: {message}")
