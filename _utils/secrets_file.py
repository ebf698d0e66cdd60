"""
The site's secrets pillar file (``secrets.sls``), GPG-encrypted for the
salt-master: Salt's own ``gpg`` renderer decrypts it when the master
compiles a minion's pillar (first line ``#!yaml|gpg``, master option
``gpg_keydir``), so no value is ever on disk in clear.

One implementation for a site and the lab: the runner ``secrets``
(``salt-run secrets.init``, ``secrets.rotate``) gets it as
``__utils__["secrets_file.<function>"]`` after ``salt-run saltutil.sync_all``;
``lab/secrets.py`` imports this file by path. Plain Python: no loader
dunders, every function takes the paths it works on.

- the names: the BMC passwords the inventory names, ``SERVICE_SECRETS``, the
  OpenStack catalog's (``openstack_names``: ``_utils/catalog.py``'s reading
  of the state tree's roots);
- the master's keyring: one key without passphrase (the master decrypts
  unattended), made once in ``gpg_keydir`` (mode 0700);
- the file: ``secrets:`` with every value an ASCII-armored message to that
  key, mode 0600, replaced atomically; values kept as they are (a plain
  value found there is encrypted), missing ones generated.

The ``gpg`` binary does the work (``--homedir <keydir> --batch``), as the
renderer calls it. Nothing here logs, prints or returns a value.
"""

import datetime
import importlib.util
import os
import re
import secrets as random_source
import shutil
import string
import subprocess

import salt.utils.x509 as x509util
import yaml
from cryptography.hazmat.primitives import serialization
from salt.exceptions import CommandExecutionError, SaltInvocationError

SHEBANG = "#!yaml|gpg"
HEADER = ("written by `salt-run secrets.init` (the lab: `python -m lab up`); every value is "
          "encrypted to the master's key; never commit")
BEGIN = "-----BEGIN PGP MESSAGE-----"
END = "-----END PGP MESSAGE-----"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
KEY_NAME = "twin-cloud salt-master (secrets pillar)"
PLACEHOLDER = "CHANGE-ME"  # the example file's values

# Secrets every site needs besides the BMC passwords its inventory names and
# the OpenStack catalog's.
SERVICE_SECRETS = (
    "corosync_authkey",        # corosync's shared key (base64 of random bytes)
    "galera_sst_password",     # mariabackup SST user
    "hacluster_password",      # pcs/pcsd's hacluster user
    "haproxy_stats_password",  # HAProxy stats page (management network only)
    "rabbitmq_erlang_cookie",  # RabbitMQ cluster cookie
    "rabbitmq_admin_password", # RabbitMQ administrator (guest is removed)
    "tls_ca_key",              # the site CA's private key (PEM): signs the VIP's certificates
)
# Least privilege: a node whose roles are all the witness's and the NAS's
# (inventory.holds_every_secret false: garbd, corosync-qnetd, a RabbitMQ
# member, the NFS server) gets ``secrets_witness.sls`` (pillar/top.sls), written
# with the secrets file and holding only these: RabbitMQ's, as it is a cluster
# member (salt/rabbitmq). The CA key, the BMC, database and service passwords
# stay on the master and the nodes that use them.
WITNESS_FILE = "secrets_witness"
WITNESS_SECRETS = ("rabbitmq_admin_password", "rabbitmq_erlang_cookie")
WITNESS_HEADER = ("written by `salt-run secrets.init` with secrets.sls, whose values it "
                  "repeats: the only secrets of the nodes with no role but witness and storage "
                  "(pillar/top.sls); never commit")
# Secrets whose value is a PEM private key, made by ``pem_private_key``.
PEM_KEYS = ("tls_ca_key",)
CA_KEY = "tls_ca_key"
# The site CA's certificate is public: a plain pillar file next to the
# secrets (``site_ca.sls``, ``site_ca:cert``), rewritten when it does not
# match the CA key or expires within CA_RENEW_DAYS.
CA_PILLAR_FILE = "site_ca"
CA_DAYS_VALID = 3650
CA_RENEW_DAYS = 365
CA_KEY_BITS = 3072
# Letters and digits only: a value goes into ini files, URLs (transport_url,
# database connections) and command lines (rabbitmqctl add_user reads a
# value starting with '-' as options, and echoes it in its error).
ALPHABET = string.ascii_letters + string.digits
# IPMI 2.0 passwords hold at most 20 bytes: 16 characters (~95 bits)
BMC_PASSWORD_LENGTH = 16
SERVICE_PASSWORD_LENGTH = 32  # ~190 bits


# --- names and values ---------------------------------------------------------------------------


def random_value(length):
    """A random secret of ``length`` letters and digits."""
    return "".join(random_source.choice(ALPHABET) for _ in range(length))


def bmc_names(site):
    """The secrets holding the BMC passwords the inventory names."""
    return sorted({spec["bmc"]["password_secret"]
                   for spec in ((site or {}).get("nodes") or {}).values()
                   if ((spec or {}).get("bmc") or {}).get("password_secret")})


def _catalog_reader():
    """``_utils/catalog.py`` beside this file (Salt syncs both to the same
    directory; the lab imports both by path)."""
    spec = importlib.util.spec_from_file_location(
        "twin_cloud_catalog", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                           "catalog.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def openstack_names(roots, override=None):
    """
    The secrets the OpenStack catalog needs (``_utils/catalog.py``'s
    reading of the catalog under ``openstack/`` in ``roots``, the
    fileserver's ``file_roots:base``, with pillar ``openstack:``
    (``override``) over it).
    """
    return _catalog_reader().load(roots, override)["secret_names"]


def wanted_names(site, openstack=()):
    """Every secret a site needs: its BMC passwords, ``SERVICE_SECRETS`` and
    ``openstack`` (the catalog's names)."""
    return sorted(set(bmc_names(site)) | set(SERVICE_SECRETS) | set(openstack))


def pem_private_key():
    """A new RSA private key (``CA_KEY_BITS``), PEM, unencrypted: Salt's
    x509 helpers make it (``salt.utils.x509``)."""
    key = x509util.generate_rsa_privkey(CA_KEY_BITS)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode().strip()


def value_length(name, site):
    """How long a generated value of secret ``name`` is (a BMC's: IPMI's limit)."""
    return BMC_PASSWORD_LENGTH if name in bmc_names(site) else SERVICE_PASSWORD_LENGTH


def generate(site, names, existing=None):
    """``{name: value}``: ``existing`` with a new random value for every
    name of ``names`` it lacks."""
    values = dict(existing or {})
    for name in names:
        if name not in values:
            values[name] = (pem_private_key() if name in PEM_KEYS
                            else random_value(value_length(name, site)))
    return dict(sorted(values.items()))


def check_name(name, where):
    """Refuse a secret name the pillar cannot hold, saying what to do."""
    if not isinstance(name, str) or not NAME.match(name):
        raise SaltInvocationError(
            f"secrets:{name}: not a secret name (lowercase letters, digits and '_', starting "
            f"with a letter); rename or remove it in {where}"
        )


# --- the master's keyring ------------------------------------------------------------------------


def _gpg_binary():
    found = shutil.which("gpg")
    if not found:
        raise CommandExecutionError("gpg is not installed on the master: apt-get install gnupg")
    return found


def _gpg(keydir, args, data=None, what="gpg"):
    """Run gpg on keyring ``keydir``; return its output (stderr in the error)."""
    result = subprocess.run(
        [_gpg_binary(), "--homedir", str(keydir), "--batch", "--no-tty", "--quiet", *args],
        input=data.encode() if isinstance(data, str) else data,
        capture_output=True, check=False, timeout=120,
    )
    if result.returncode != 0:
        tail = " ".join(result.stderr.decode(errors="replace").split())[-400:]
        raise CommandExecutionError(f"{what} failed (gpg --homedir {keydir}): {tail}")
    return result.stdout.decode()


def fingerprint(keydir):
    """
    The fingerprint of the one secret key of ``keydir`` able to encrypt;
    None when there is none (or no keyring at all). Several: an error (the
    file is encrypted to one key the master holds).
    """
    if not os.path.isdir(str(keydir)):
        return None
    listing = _gpg(keydir, ["--with-colons", "--list-secret-keys"], what="listing the keys")
    found, current = [], None
    for line in listing.splitlines():
        fields = line.split(":")
        if fields[0] == "sec":
            current = "E" in (fields[11] if len(fields) > 11 else "")
        elif fields[0] == "fpr" and current is not None:
            if current:
                found.append(fields[9])
            current = None
    if len(found) > 1:
        raise SaltInvocationError(
            f"gpg_keydir {keydir} holds {len(found)} secret keys that can encrypt "
            f"({', '.join(found)}): keep only the master's own (gpg --homedir {keydir} "
            "--delete-secret-and-public-key FINGERPRINT)"
        )
    return found[0] if found else None


def ensure_keyring(keydir, name=KEY_NAME):
    """
    The master's key in ``keydir`` (mode 0700), made when there is none: an
    ed25519 key with a cv25519 encryption subkey, no passphrase, never
    expiring. Returns ``(fingerprint, created)``.
    """
    os.makedirs(str(keydir), mode=0o700, exist_ok=True)
    os.chmod(str(keydir), 0o700)
    found = fingerprint(keydir)
    if found:
        return found, False
    params = "\n".join([
        "%no-protection", "Key-Type: eddsa", "Key-Curve: ed25519", "Key-Usage: sign",
        "Subkey-Type: ecdh", "Subkey-Curve: cv25519", "Subkey-Usage: encrypt",
        f"Name-Real: {name}", "Expire-Date: 0", "%commit", "",
    ])
    _gpg(keydir, ["--gen-key"], params, what="making the master's key")
    found = fingerprint(keydir)
    if not found:
        raise CommandExecutionError(f"gpg made no usable key in {keydir}")
    return found, True


def encrypt(keydir, key, value):
    """``value`` as an ASCII-armored message to key ``key`` of ``keydir``."""
    return _gpg(keydir, ["--trust-model", "always", "--armor", "--encrypt", "-r", key],
                str(value), what="encrypting a secret")


def decrypt(keydir, armored, name="?"):
    """The value of the armored message ``armored`` (secret ``name``)."""
    try:
        return _gpg(keydir, ["--decrypt"], armored, what=f"decrypting secrets:{name}")
    except CommandExecutionError as exc:
        raise SaltInvocationError(
            f"secrets:{name}: cannot be decrypted with the keyring {keydir} ({exc}); it was "
            f"encrypted to another key: restore the master's keyring, or delete the value "
            f"and run `salt-run secrets.init` to make a new one"
        ) from None


def stop_agent(keydir):
    """End the gpg-agent serving ``keydir`` (gpg starts one to decrypt)."""
    if os.path.isdir(str(keydir)) and shutil.which("gpgconf"):
        subprocess.run(["gpgconf", "--homedir", str(keydir), "--kill", "gpg-agent"],
                       capture_output=True, check=False, timeout=30)


# --- the file ------------------------------------------------------------------------------------


def armored(value):
    """True when ``value`` is an ASCII-armored GPG message."""
    return isinstance(value, str) and value.strip().startswith(BEGIN)


def parse(path):
    """
    ``{name: text}`` of the secrets file at ``path`` as written (armored
    messages, or plain values of an older file); ``{}`` when there is no
    file. Refuses a file that is not one ``secrets:`` mapping of names to
    texts, naming the key.
    """
    if not os.path.exists(str(path)):
        return {}
    with open(str(path), encoding="utf-8") as handle:
        try:
            doc = yaml.safe_load(handle) or {}
        except yaml.YAMLError as exc:
            raise SaltInvocationError(f"{path}: not YAML ({exc}); fix or restore it") from None
    if not isinstance(doc, dict) or set(doc) - {"secrets"}:
        raise SaltInvocationError(
            f"{path}: expected one mapping `secrets:` (names to values); move any other key "
            "to another pillar file"
        )
    values = doc.get("secrets") or {}
    if not isinstance(values, dict):
        raise SaltInvocationError(f"secrets: expected a mapping of names to values in {path}")
    for name, value in values.items():
        check_name(name, path)
        if not isinstance(value, str) or not value:
            raise SaltInvocationError(
                f"secrets:{name}: expected a text value in {path}; quote it, or delete it "
                "and run `salt-run secrets.init` to make a new one"
            )
    return values


def check_value(name, value, where):
    """Refuse a value the states cannot use, or the example's placeholder
    (without showing the value)."""
    if value == PLACEHOLDER:
        raise SaltInvocationError(
            f"secrets:{name}: still {PLACEHOLDER} (pillar/examples/secrets.sls); delete the "
            f"line from {where} (secrets.init makes a value) or put the real value there"
        )
    if name in PEM_KEYS:
        if "PRIVATE KEY-----" not in value.splitlines()[0]:
            raise SaltInvocationError(
                f"secrets:{name}: not a PEM private key; delete it from {where} and run "
                "`salt-run secrets.init` to make a new one"
            )
        return
    if value.startswith("-"):
        raise SaltInvocationError(
            f"secrets:{name}: starts with '-' (command lines read it as an option); delete it "
            f"from {where} and run `salt-run secrets.init` to make a new one"
        )


def read(path, keydir):
    """``{name: value}`` of the secrets file at ``path``, decrypted with
    ``keydir`` (a plain value of an older file as it is)."""
    return {name: decrypt(keydir, text, name) if armored(text) else text
            for name, text in parse(path).items()}


def render(messages, header=HEADER):
    """The file's text: the renderer's shebang, a header, and every armored
    message of ``{name: message}`` as a YAML literal block."""
    lines = [SHEBANG, f"# {header}", "secrets:"]
    for name in sorted(messages):
        check_name(name, "the secrets written")
        lines.append(f"  {name}: |")
        lines.extend(f"    {line}".rstrip() for line in messages[name].strip().splitlines())
    return "\n".join(lines) + "\n"


def write(path, text):
    """Replace the file at ``path`` with ``text``: written to ``<path>.new``
    (mode 0600 before anything is in it), then renamed over it."""
    path = str(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)
    os.replace(tmp, path)


def witness_path(secrets_path):
    """``secrets_witness.sls`` in the directory of the secrets file."""
    return os.path.join(os.path.dirname(str(secrets_path)), f"{WITNESS_FILE}.sls")


def write_files(path, messages):
    """Write the secrets file at ``path`` and, beside it, the witness's
    (``WITNESS_SECRETS`` of the same messages), each only when its text
    changes; both mode 0600. Returns True when either was written."""
    changed = False
    for file_path, text in (
            (str(path), render(messages)),
            (witness_path(path), render({name: messages[name] for name in WITNESS_SECRETS
                                         if name in messages}, WITNESS_HEADER))):
        if _text_of(file_path) != text:
            write(file_path, text)
            changed = True
        os.chmod(file_path, 0o600)
    return changed


def _text_of(path):
    if not os.path.exists(str(path)):
        return None
    with open(str(path), encoding="utf-8") as handle:
        return handle.read()


def ensure(path, keydir, site, names):
    """
    Make the secrets file at ``path`` complete and encrypted: the keyring
    of ``keydir`` made if absent; every value already there kept (an armored
    one as it is, once it decrypts; a plain one encrypted); every name of
    ``names`` it lacks generated. Written (mode 0600) only when something
    changed, and the witness's file beside it (``write_files``). Returns
    what was done, by name only.
    """
    key, key_created = ensure_keyring(keydir)
    current = parse(path)
    messages, encrypted, ca_key = {}, [], None
    for name, text in current.items():
        value = decrypt(keydir, text, name) if armored(text) else text
        check_value(name, value, path)
        if name == CA_KEY:
            ca_key = value
        if armored(text):
            messages[name] = text
        else:
            messages[name] = encrypt(keydir, key, value)
            encrypted.append(name)
    added = [name for name in names if name not in current]
    for name, value in generate(site, added).items():
        messages[name] = encrypt(keydir, key, value)
        if name == CA_KEY:
            ca_key = value
    changed = write_files(path, messages)
    ca = ensure_ca_pillar(ca_pillar_path(path), ca_key, site) if ca_key else None
    return {
        "ca_certificate": ca,
        "path": str(path),
        "keydir": str(keydir),
        "fingerprint": key,
        "keyring_created": key_created,
        "added": sorted(added),
        "encrypted": sorted(encrypted),
        "kept": sorted(set(current) - set(encrypted)),
        "changed": changed,
    }


def replace(path, keydir, name, value):
    """Give secret ``name`` (already in the file at ``path``) a new
    ``value``, encrypted to the master's key; the other values as they are."""
    current = parse(path)
    if name not in current:
        raise SaltInvocationError(
            f"secrets:{name}: not in {path}; known: {', '.join(sorted(current)) or 'none'} "
            "(`salt-run secrets.init` adds what the site needs)"
        )
    plain = sorted(n for n, text in current.items() if not armored(text))
    if plain:
        raise SaltInvocationError(
            f"{path} holds values in clear ({', '.join(plain)}): run `salt-run secrets.init` "
            "first, which encrypts them")
    check_value(name, value, "the new value")
    key = fingerprint(keydir)
    if not key:
        raise SaltInvocationError(
            f"gpg_keydir {keydir} holds no key: run `salt-run secrets.init` first")
    current[name] = encrypt(keydir, key, value)
    write_files(path, current)


# --- the site CA's certificate (public) ----------------------------------------------------------


def ca_pillar_path(secrets_path):
    """``site_ca.sls`` in the directory of the secrets file."""
    return os.path.join(os.path.dirname(str(secrets_path)), f"{CA_PILLAR_FILE}.sls")


def ca_certificate(key_pem, site):
    """A self-signed CA certificate (PEM) for ``key_pem``: the site's name in
    its subject, ``CA_DAYS_VALID`` days, signing certificates only (path
    length 0). Salt's x509 helpers build it."""
    name = (site or {}).get("name") or "site"
    builder, signing_key, _, _ = x509util.build_crt(
        signing_private_key=key_pem.encode(),
        CN=f"{name} site CA",
        O="twin-cloud",
        days_valid=CA_DAYS_VALID,
        basicConstraints="critical, CA:true, pathlen:0",
        keyUsage="critical, cRLSign, keyCertSign",
        subjectKeyIdentifier="hash",
    )
    cert = builder.sign(signing_key, x509util.get_hashing_algorithm("sha256"))
    return x509util.to_pem(cert).decode()


def _current_ca(path, key_pem):
    """The CA certificate of the pillar file at ``path`` if it is there,
    matches ``key_pem`` and is valid for more than ``CA_RENEW_DAYS``."""
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        try:
            doc = yaml.safe_load(handle) or {}
        except yaml.YAMLError:
            return None
    pem = ((doc.get(CA_PILLAR_FILE) or {}) if isinstance(doc, dict) else {}).get("cert")
    if not isinstance(pem, str):
        return None
    try:
        cert = x509util.load_cert(pem.encode())
        key = x509util.load_privkey(key_pem.encode())
    except Exception:  # pylint: disable=broad-except
        return None
    left = cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    if not x509util.is_pair(cert.public_key(), key) or left.days <= CA_RENEW_DAYS:
        return None
    return pem


def ensure_ca_pillar(path, key_pem, site):
    """
    Keep ``site_ca.sls`` at ``path`` (mode 0644: public) holding the site
    CA's certificate for the CA key ``key_pem``; a new certificate when there
    is none, it is not the key's, or it expires within ``CA_RENEW_DAYS``.
    Returns ``kept`` or ``written``.
    """
    if _current_ca(path, key_pem):
        return "kept"
    pem = ca_certificate(key_pem, site)
    text = ("# written by `salt-run secrets.init` (the lab: `python -m lab up`): the site CA's "
            "certificate, public; its key is secret tls_ca_key\n"
            + yaml.safe_dump({CA_PILLAR_FILE: {"cert": pem}}, default_style="|"))
    tmp = path + ".new"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return "written"
