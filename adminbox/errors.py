"""The one error of the admin box's commands (the lab's LabError is one),
and how a command line reports it."""

import sys


class AdminError(SystemExit):
    """A step failed; the message says what, where, and what to do."""

    prefix = "admin"

    def __init__(self, message):
        super().__init__(f"{self.prefix}: {message}")


def run_command(parser, argv=None):
    """Parse ``argv`` with ``parser`` and run the chosen command's ``func``;
    an ``AdminError`` is printed (stderr) and gives exit code 2."""
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except AdminError as exc:
        print(exc.code, file=sys.stderr)
        return 2
