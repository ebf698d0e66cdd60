"""The encrypted secrets pillar on a real master and minion (loopback): the
master has a ``gpg_keydir`` and a generated pillar directory in its
``pillar_roots``; ``salt-run secrets.init`` makes the key and the file
(``#!yaml|gpg``), the minion sees every value decrypted through
``pillar.get``, and after ``salt-run secrets.rotate ... apply=False`` it sees
the new value. The runner's answers name no value."""

import pathlib

import pytest
import yaml

from tests.conftest import load_ext, message_to_another_key

from .conftest import SITE, repo_master

secrets_file = load_ext("utils", "secrets_file")
MINION_ID = "ctl2"  # a node of the inventory: pillar/top.sls-style targeting by id


@pytest.fixture(scope="module")
def keydir(tmp_path_factory):
    path = tmp_path_factory.mktemp("g") / "gpgkeys"  # short: gpg-agent's socket lives there
    yield path
    secrets_file.stop_agent(path)


@pytest.fixture(scope="module")
def gpg_master(salt_factories, repo_root, keydir, tmp_path_factory):
    pillar = tmp_path_factory.mktemp("gpg-pillar")
    (pillar / "top.sls").write_text(f"base:\n  '*':\n    - site\n  '{MINION_ID}':\n"
                                    "    - secrets\n")
    (pillar / "site.sls").write_text(yaml.safe_dump({"site": SITE}))
    generated = tmp_path_factory.mktemp("gpg-generated")
    with repo_master(salt_factories, "gpg-master", repo_root, [generated, pillar], "secrets",
                     twin_cloud_generated_pillar=str(generated),
                     gpg_keydir=str(keydir)) as factory:
        yield factory


def _shown(values, text):
    return sorted(name for name, value in values.items() if value in text)


@pytest.fixture(scope="module")
def made(gpg_master):
    """``salt-run secrets.init`` on the new site."""
    ret = gpg_master.salt_run_cli().run("secrets.init")
    assert ret.returncode == 0, ret
    return ret


@pytest.fixture(scope="module")
def minion(gpg_master, made):
    factory = gpg_master.salt_minion_daemon(MINION_ID)
    with factory.started():
        yield factory


def test_init_makes_the_key_and_the_file_and_shows_no_value(made, keydir):
    assert made.data["keyring_created"] is True and "glance_db_password" in made.data["added"]
    path = pathlib.Path(made.data["path"])
    assert path.read_text().startswith("#!yaml|gpg\n")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(keydir.stat().st_mode & 0o777) == "0o700"
    assert not _shown(secrets_file.read(path, keydir), made.stdout + made.stderr)


def test_the_minion_sees_the_values_decrypted_and_then_the_rotated_one(gpg_master, made,
                                                                       minion, keydir):
    path = pathlib.Path(made.data["path"])
    values = secrets_file.read(path, keydir)
    call = minion.salt_call_cli()
    seen = call.run("pillar.get", "secrets", "unmask=True")
    assert seen.returncode == 0, seen
    # every value decrypted by the master's gpg renderer (Salt masks pillar
    # output unless asked; with saltenv= given, pillar.get masks even then)
    assert seen.data == values

    rotated = gpg_master.salt_run_cli().run("secrets.rotate", "name=glance_db_password",
                                            "apply=False")
    assert rotated.returncode == 0, rotated
    assert rotated.data["next"] == "salt-run state.orchestrate orch.secret_rotate"
    after = secrets_file.read(path, keydir)
    assert after["glance_db_password"] != values["glance_db_password"]
    assert not _shown({**after, "old": values["glance_db_password"]},
                      rotated.stdout + rotated.stderr)
    seen = call.run("pillar.get", "secrets:glance_db_password", "unmask=True")
    assert seen.data == after["glance_db_password"]


def test_a_value_the_master_cannot_decrypt_is_a_pillar_error(made, minion, tmp_path_factory):
    """gpg_decrypt_must_succeed (Salt's default): the minion gets a pillar
    error (the master's log says why: no secret key), never the message in
    place of the value."""
    message = message_to_another_key(tmp_path_factory, "fromAnotherKey")
    path = pathlib.Path(made.data["path"])
    kept = path.read_text()
    secrets_file.write(path, secrets_file.render({"glance_db_password": message}))
    try:
        seen = minion.salt_call_cli().run("pillar.items", "unmask=True")
        errors = " ".join((seen.data or {}).get("_errors") or [])
        assert "Rendering SLS 'secrets' failed" in errors, seen
        assert "secrets" not in (seen.data or {}), seen
    finally:
        secrets_file.write(path, kept)
