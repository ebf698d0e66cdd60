"""
``bin/node-bootstrap NODE...``: first contact with nodes that have sshd and
the admin box's key but no Salt.

For each node, through salt-ssh (the roster made from the inventory, the
host keys in known_hosts): apply ``minion`` (the pinned Salt, its unit, a
config pinned to this master's fingerprint), read the new minion's public
key from the node, accept the key the master holds only if its fingerprint
is that one; then wait until every node answers ``test.ping``.
"""

import json
import pathlib
import sys

from . import keys
from .errors import AdminError
from .proc import run, wait_for

REPO = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.executable).parent
MINION_PUB = "/etc/salt/pki/minion/minion.pub"


class Master:
    """This checkout's master, as the Saltfile points the tools at it."""

    def __init__(self, repo=REPO, bin_dir=BIN):
        import salt.config  # noqa: PLC0415 (the lab imports this module without needing Salt)

        self.config_dir = pathlib.Path(repo) / "etc" / "salt"
        self.bin = pathlib.Path(bin_dir)
        self.opts = salt.config.master_config(str(self.config_dir / "master"))

    def cmd(self, tool, *args):
        return [str(self.bin / tool), "-c", str(self.config_dir), *args]

    @property
    def pki_dir(self):
        return pathlib.Path(self.opts["pki_dir"])

    def fingerprint(self):
        pub = self.pki_dir / "master.pub"
        if not pub.exists():
            raise AdminError(f"{pub}: the salt-master has no key yet: start it "
                             f"({self.bin / 'salt-master'} -c {self.config_dir} -d) and run again")
        return keys.fingerprint(pub)

    def ssh(self, node, *args):
        """Run salt-ssh against ``node``; its answer for that node."""
        result = run(self.cmd("salt-ssh", "--out=json", node, *args), check=False, capture=True)
        try:
            answer = json.loads(result.stdout)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or node not in answer:
            raise AdminError(f"salt-ssh {node} {args[0]}: no answer ({result.returncode}):\n"
                             f"{(result.stdout + result.stderr).strip()[-3000:]}")
        return answer[node]


def failures(answer):
    """The failed states of a salt-ssh state.apply answer (id: comment), or
    the answer itself when it is not a state run (a render error)."""
    if isinstance(answer, dict) and "return" in answer:  # salt-ssh wraps some answers
        answer = answer["return"]
    if not isinstance(answer, dict) or not all(isinstance(v, dict) for v in answer.values()):
        return {"minion": answer}
    return {sid.split("_|-")[1]: state.get("comment")
            for sid, state in answer.items() if state.get("result") is not True}


def install(master, node, finger):
    """Apply ``minion`` to ``node`` with this master's fingerprint."""
    answer = master.ssh(node, "state.apply", "minion",
                        "pillar=" + json.dumps({"minion": {"master_finger": finger}}))
    failed = failures(answer)
    if failed:
        raise AdminError(f"{node}: the minion was not installed: "
                         + json.dumps(failed, indent=1, default=str)[:4000])


def node_key(master, node, timeout=90):
    """The minion's public key, read from the node through salt-ssh."""
    def read():
        answer = master.ssh(node, "file.read", MINION_PUB)
        if isinstance(answer, dict) and "return" in answer:
            answer = answer["return"]
        return answer if isinstance(answer, str) and "BEGIN PUBLIC KEY" in answer else None

    return wait_for(f"{node}'s minion to make its key ({MINION_PUB})", read, timeout, interval=3)


def answering(salt_cmd, names, timeout=5):
    """Which minions of ``names`` answer test.ping now (``salt_cmd(tool,
    *args)``: the command line of a Salt tool for this master)."""
    result = run(salt_cmd("salt", "-L", ",".join(names), "test.ping", "--out=json", "--static",
                          f"--timeout={timeout}"), check=False, capture=True)
    try:
        answers = json.loads(result.stdout or "{}")
    except ValueError:
        return set()
    return {name for name, ok in answers.items() if ok is True}


def bootstrap(nodes, master=None, say=print):
    """Install, accept and ping ``nodes``; return the master's fingerprint."""
    master = master or Master()
    finger = master.fingerprint()
    say(f"master fingerprint (sha256): {finger}")
    for node in nodes:
        say(f"{node}: installing the pinned salt-minion through salt-ssh")
        install(master, node, finger)
        theirs = keys.fingerprint_text(node_key(master, node))
        if keys.accept(node, theirs, master.pki_dir, master.cmd("salt-key")):
            say(f"{node}: accepted its key (sha256 {theirs})")
        else:
            say(f"{node}: its key was already accepted (sha256 {theirs})")
    wait_for(f"{', '.join(nodes)} to answer test.ping",
             lambda: answering(master.cmd, nodes) == set(nodes), 180, interval=3)
    say(f"{', '.join(nodes)}: answering")
    return finger
