"""Keys of the admin box: fingerprints (sha256, as ``hash_type: sha256``),
the admin box's ssh key for salt-ssh, and accepting a minion's key only when
its fingerprint is the one read from the node itself (no ``auto_accept``)."""

import pathlib

from .errors import AdminError
from .proc import run, wait_for


def fingerprint_text(pem):
    """The sha256 fingerprint of a PEM public key given as text, as Salt
    computes it from a file (``salt.utils.crypt.pem_finger``: the base64 body,
    without the BEGIN/END lines)."""
    import salt.utils.crypt  # noqa: PLC0415 (Salt only where keys are handled)

    lines = [line for line in pem.encode().splitlines(keepends=True) if line.strip()]
    body = b"".join(lines[1:-1]).replace(b"\r\n", b"\n")
    if not body:
        raise AdminError("not a PEM public key (no body between its BEGIN and END lines)")
    return salt.utils.crypt.pem_finger(key=body, sum_type="sha256")


def fingerprint(pem_path):
    """The sha256 fingerprint of the PEM public key in file ``pem_path``."""
    return fingerprint_text(pathlib.Path(pem_path).read_text())


def ensure_ssh_key(path):
    """Make the admin box's ssh key pair (ed25519, no passphrase: salt-ssh
    runs unattended) at ``path`` unless it exists; return (changed, public key text)."""
    path = pathlib.Path(path)
    changed = not path.exists()
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "twin-cloud admin box (salt-ssh)",
             "-f", path], quiet=True)
    pub = path.with_name(path.name + ".pub")
    if not pub.exists():
        raise AdminError(f"{pub} is missing beside the private key {path}: remove {path} "
                         "and run again to make a new pair (then give the nodes the new key)")
    return changed, pub.read_text().strip()


def accept(name, expected, pki_dir, salt_key, timeout=90, error=AdminError):
    """
    Accept minion ``name``'s key on the master whose keys are in ``pki_dir``
    once the pending key has fingerprint ``expected`` (read from the node by
    another channel: its disk in the lab, salt-ssh on a site). ``salt_key``
    is the salt-key command (a list). Returns True when accepted now, False
    when the same key was already accepted; raises ``error`` when the key the
    master holds is any other.
    """
    pki_dir = pathlib.Path(pki_dir)
    accepted = pki_dir / "minions" / name
    if accepted.exists():
        held = fingerprint(accepted)
        if held != expected:
            raise error(f"{name}: the accepted key (sha256 {held}) is not the node's own key "
                        f"({expected}); if the node was reinstalled, delete the old key "
                        f"(salt-key -d {name}) and accept again")
        return False
    pending = pki_dir / "minions_pre" / name
    wait_for(f"{name}'s key to reach the master ({pending})", pending.exists, timeout,
             error=error)
    theirs = fingerprint(pending)
    if theirs != expected:
        raise error(f"{name}: the pending key (sha256 {theirs}) is not the node's own key "
                    f"({expected}); refusing it: another machine may be using the id {name}. "
                    f"Delete it (salt-key -d {name}) once you know why")
    run([*salt_key, "-y", "-a", name], quiet=True, error=error)
    if not accepted.exists() or fingerprint(accepted) != expected:
        run([*salt_key, "-y", "-d", name], check=False, quiet=True, error=error)
        raise error(f"{name}: the key accepted was not the one checked (it changed meanwhile); "
                    "deleted it: run again")
    return True
