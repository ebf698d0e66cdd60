"""
The quorum device's TLS certificates, one step at a time, on the node that
holds them.

corosync-qdevice (on each controller) and corosync-qnetd (on the witness)
authenticate each other with TLS: the witness holds a CA (created by
``corosync-qnetd-certutil -i``; Debian's package does it at install) and its
server certificate; each controller needs the CA certificate, to check the
witness, and a client certificate for the cluster name signed by that CA.

The stock tool signs one request and copies the resulting key (a PKCS#12
file) to the other nodes. Here each controller makes its OWN key and
request, the witness signs each request, and the certificate (public) goes
back: no private key ever leaves the node that made it. The steps are
chained by the master-side state ``qdevice.certified``
(``_states/qdevice.py``), which carries the public pieces (CA certificate,
requests, certificates; base64 DER) between the nodes.

The node-side steps use the stock ``corosync-qdevice-net-certutil`` /
``corosync-qnetd-certutil`` scripts, so the NSS databases are laid out
exactly as corosync-qdevice, corosync-qnetd and pcs expect them.
"""

import base64
import contextlib
import os
import re
import shutil
import tempfile

import salt.utils.path
from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "qdevice"

QNETD_DB = "/etc/corosync/qnetd/nssdb"
NODE_DB = "/etc/corosync/qdevice/net/nssdb"
CA_NICKNAME = "QNet CA"
CLUSTER_NICKNAME = "Cluster Cert"
P12_FILE = "qdevice-net-node.p12"
CRQ_FILE = "qdevice-net-node.crq"
QDEVICE_SERVICE = "corosync-qdevice"

_CLUSTER_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_PEM_RE = re.compile(
    r"-----BEGIN CERTIFICATE-----\s*(.*?)\s*-----END CERTIFICATE-----", re.DOTALL
)


def __virtual__():
    if not salt.utils.path.which("certutil"):
        return (False, "the qdevice module needs certutil (Debian package libnss3-tools)")
    return __virtualname__


def _run(cmd, ok_codes=(0,)):
    result = __salt__["cmd.run_all"](
        cmd, python_shell=False, ignore_retcode=True, output_loglevel="quiet"
    )
    if result["retcode"] not in ok_codes:
        detail = (result.get("stderr") or result.get("stdout") or "").strip()
        what = " ".join(cmd[:2])
        raise CommandExecutionError(f"{what} failed (exit {result['retcode']}): {detail}")
    return result


def _check_cluster(cluster):
    if not isinstance(cluster, str) or not _CLUSTER_RE.match(cluster):
        raise SaltInvocationError(f"invalid cluster name {cluster!r}")
    return cluster


def _der(text):
    """Base64 text (of DER, or of a PEM file) -> DER bytes."""
    try:
        data = base64.b64decode(text, validate=False)
    except (ValueError, TypeError) as exc:
        raise SaltInvocationError(f"not base64: {exc}") from None
    if b"-----BEGIN" in data:
        match = _PEM_RE.search(data.decode("ascii", "replace"))
        if not match:
            raise SaltInvocationError("PEM data without a certificate")
        data = base64.b64decode("".join(match.group(1).split()))
    if not data:
        raise SaltInvocationError("empty certificate data")
    return data


def _b64(data):
    return base64.b64encode(data).decode("ascii")


@contextlib.contextmanager
def _private_dir():
    path = tempfile.mkdtemp(prefix="salt-qdevice-")  # mode 0700
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _write(directory, name, data):
    path = os.path.join(directory, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def _db_exists(db):
    return os.path.exists(os.path.join(db, "cert9.db")) or os.path.exists(
        os.path.join(db, "cert8.db")
    )


def _cert_der(db, nickname):
    """The DER of certificate ``nickname`` in ``db``, or None."""
    if not _db_exists(db):
        return None
    result = _run(["certutil", "-L", "-d", db, "-n", nickname, "-a"], ok_codes=(0, 255))
    match = _PEM_RE.search(result["stdout"] or "") if result["retcode"] == 0 else None
    return base64.b64decode("".join(match.group(1).split())) if match else None


def _subject(db, nickname):
    result = _run(["certutil", "-L", "-d", db, "-n", nickname], ok_codes=(0, 255))
    match = re.search(r'Subject:\s*"([^"]*)"', result["stdout"] or "")
    return match.group(1) if match else None


def qnetd_ca(create=True):
    """
    Return the witness's CA certificate (base64 DER), or None when it has
    none and ``create`` is False. With ``create`` (default), a witness
    without a CA gets one, and its server certificate
    (``corosync-qnetd-certutil -i``; Debian's package does it at install).
    Public data.

    CLI Example:

    .. code-block:: bash

        salt nas qdevice.qnetd_ca
    """
    if not salt.utils.path.which("corosync-qnetd-certutil"):
        raise CommandExecutionError("corosync-qnetd is not installed on this node")
    if not _db_exists(QNETD_DB):
        if not create:
            return None
        _run(["corosync-qnetd-certutil", "-i"])
    der = _cert_der(QNETD_DB, CA_NICKNAME)
    if der is None:
        raise CommandExecutionError(f"{QNETD_DB} holds no {CA_NICKNAME!r} certificate")
    return _b64(der)


def qnetd_sign(request, cluster):
    """
    Sign a controller's certificate request (base64) for ``cluster`` with
    the witness's CA (``corosync-qnetd-certutil -s``); return the
    certificate (base64 DER). Public data.

    CLI Example:

    .. code-block:: bash

        salt nas qdevice.qnetd_sign "$REQUEST_B64" lab
    """
    cluster = _check_cluster(cluster)
    crt = os.path.join(QNETD_DB, f"cluster-{cluster}.crt")
    with _private_dir() as directory:
        crq = _write(directory, CRQ_FILE, _der(request))
        try:
            _run(["corosync-qnetd-certutil", "-s", "-c", crq, "-n", cluster])
            with open(crt, "rb") as handle:
                return _b64(handle.read())
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(crt)


def node_status(ca=None, cluster=None):
    """
    Report this controller's qdevice certificates: whether its NSS database
    exists, whether its CA is ``ca`` (base64, from ``qdevice.qnetd_ca``),
    whether it holds a client certificate, its subject, whether NSS finds it
    valid for a TLS client, and ``ok`` when all of that holds for ``cluster``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 qdevice.node_status "$CA_B64" lab
    """
    status = {
        "nssdb": _db_exists(NODE_DB),
        "ca_matches": None,
        "cluster_cert": False,
        "subject": None,
        "valid": False,
        "ok": False,
    }
    if not status["nssdb"]:
        return status
    node_ca = _cert_der(NODE_DB, CA_NICKNAME)
    if ca is not None:
        status["ca_matches"] = node_ca is not None and node_ca == _der(ca)
    status["cluster_cert"] = _cert_der(NODE_DB, CLUSTER_NICKNAME) is not None
    if status["cluster_cert"]:
        status["subject"] = _subject(NODE_DB, CLUSTER_NICKNAME)
        checked = _run(
            ["certutil", "-V", "-u", "C", "-d", NODE_DB, "-n", CLUSTER_NICKNAME],
            ok_codes=(0, 255),
        )
        status["valid"] = checked["retcode"] == 0 and "certificate is valid" in (
            checked["stdout"] or ""
        )
    status["ok"] = bool(
        status["valid"]
        and status["ca_matches"] is not False
        and (cluster is None or status["subject"] == f"CN={cluster}")
    )
    return status


def node_request(ca, cluster):
    """
    Start this controller's certificate over: a new NSS database trusting
    ``ca`` (base64, from ``qdevice.qnetd_ca``), a new key (it never leaves
    this node) and a request for ``CN=<cluster>``; return the request
    (base64). The previous database, if any, is removed.

    CLI Example:

    .. code-block:: bash

        salt ctl1 qdevice.node_request "$CA_B64" lab
    """
    cluster = _check_cluster(cluster)
    ca_der = _der(ca)
    shutil.rmtree(NODE_DB, ignore_errors=True)
    with _private_dir() as directory:
        ca_file = _write(directory, "qnetd-cacert.crt", ca_der)
        _run(["corosync-qdevice-net-certutil", "-i", "-c", ca_file])
    _run(["corosync-qdevice-net-certutil", "-r", "-n", cluster])
    crq = os.path.join(NODE_DB, CRQ_FILE)
    with open(crq, "rb") as handle:
        request = handle.read()
    os.unlink(crq)
    return _b64(request)


def node_import(certificate, start=True):
    """
    Import this controller's signed certificate (base64, from
    ``qdevice.qnetd_sign``) next to the key of ``qdevice.node_request``. The
    PKCS#12 copy the stock tool exports (for other nodes) is removed: every
    node has its own key. With ``start`` (default), corosync-qdevice is
    restarted when it runs, or started when it is enabled (the pacemaker
    state enables it in quorum mode witness), to use the new certificate.

    CLI Example:

    .. code-block:: bash

        salt ctl1 qdevice.node_import "$CERT_B64"
    """
    with _private_dir() as directory:
        crt = _write(directory, "cluster.crt", _der(certificate))
        _run(["corosync-qdevice-net-certutil", "-M", "-c", crt])
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(NODE_DB, P12_FILE))
    action = None
    if start:
        if __salt__["service.status"](QDEVICE_SERVICE):
            action = "restarted" if __salt__["service.restart"](QDEVICE_SERVICE) else None
        elif __salt__["service.enabled"](QDEVICE_SERVICE):
            action = "started" if __salt__["service.start"](QDEVICE_SERVICE) else None
    return {"imported": True, "service": action}


def node_has_certificate():
    """
    True when this controller holds a client certificate for the quorum
    device (used to gate starting corosync-qdevice).

    CLI Example:

    .. code-block:: bash

        salt ctl1 qdevice.node_has_certificate
    """
    return _cert_der(NODE_DB, CLUSTER_NICKNAME) is not None
