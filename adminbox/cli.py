"""`python -m adminbox COMMAND` (bin/admin-setup, bin/node-bootstrap):

    setup SITE_DIR       make this checkout the salt-master of the site whose
                         pillar (site.sls, secrets.sls) is in SITE_DIR
    bootstrap NODE...    first contact through salt-ssh: install the pinned
                         minion, accept its key by fingerprint, ping it
"""

import argparse

from .errors import run_command


def cmd_setup(args):
    from .setup import setup  # noqa: PLC0415

    setup(args.site_dir, wheels=args.wheelhouse)
    return 0


def cmd_bootstrap(args):
    from .bootstrap import bootstrap  # noqa: PLC0415

    bootstrap(args.nodes)
    return 0


def parser():
    p = argparse.ArgumentParser(prog="python -m adminbox", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser("setup", help="set up this admin box's master for a site")
    s.add_argument("site_dir", help="the site's pillar directory (site.sls, secrets.sls)")
    s.add_argument("--wheelhouse", help="where the pinned Salt's wheels are kept "
                                        "(default /var/cache/twin-cloud/wheels-salt-<version>)")
    s.set_defaults(func=cmd_setup)
    s = sub.add_parser("bootstrap", help="install, accept and ping nodes through salt-ssh")
    s.add_argument("nodes", nargs="+", help="minion ids (as in the roster)")
    s.set_defaults(func=cmd_bootstrap)
    return p


def main(argv=None):
    return run_command(parser(), argv)
