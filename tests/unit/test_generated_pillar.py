"""Unit tests of _utils/generated_pillar.py: the pillar files the master's
runners write (mode 0600, replaced atomically, in the directory of master
option ``twin_cloud_generated_pillar``), and the way Salt hands the module to
the runners (``__utils__``, from the master's synced extension modules)."""

import os
import pathlib
import stat

import pytest
import salt.config
import salt.runner
import yaml
from salt.exceptions import SaltInvocationError

from adminbox import master_conf
from tests.conftest import load_ext, load_utils

generated_pillar = load_ext("utils", "generated_pillar")

REPO = pathlib.Path(__file__).resolve().parents[2]
HEADER = "written by a test; never edit"
# base64 longer than a YAML line: the rings' builders and rings are such values
LONG = "QUJD" * 300


@pytest.fixture
def opts(tmp_path):
    return {"twin_cloud_generated_pillar": str(tmp_path / "pillar-generated")}


def _file(opts, key):
    return pathlib.Path(opts["twin_cloud_generated_pillar"]) / f"{key}.sls"


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("master_opts", [{}, {"twin_cloud_generated_pillar": ""}],
                         ids=["unset", "empty"])
@pytest.mark.parametrize("call", [
    lambda opts: generated_pillar.path(opts, "keys"),
    lambda opts: generated_pillar.read(opts, "keys"),
    lambda opts: generated_pillar.write(opts, "keys", {"a": 1}, HEADER),
], ids=["path", "read", "write"])
def test_without_the_master_option_the_error_names_it_and_the_fix(master_opts, call):
    with pytest.raises(SaltInvocationError) as error:
        call(master_opts)
    assert str(error.value) == (
        "master option twin_cloud_generated_pillar is not set: name a directory of "
        "pillar_roots the master may write (etc/salt/master)")


def test_the_file_of_a_key_is_its_sls_in_the_directory(opts):
    assert generated_pillar.path(opts, "swift_rings") == str(_file(opts, "swift_rings"))


def test_read_before_any_write_is_empty(opts):
    assert generated_pillar.read(opts, "keys") == {}
    assert not pathlib.Path(opts["twin_cloud_generated_pillar"]).exists()


@pytest.mark.parametrize("text", ["", "# only a comment\n", "other: {a: 1}\n", "keys:\n"],
                         ids=["empty", "comment", "other-key", "null"])
def test_read_of_a_file_without_the_key_is_empty(opts, text):
    path = _file(opts, "keys")
    path.parent.mkdir()
    path.write_text(text)
    assert generated_pillar.read(opts, "keys") == {}


def test_round_trip(opts):
    data = {"fernet": {"0": "k0", "1": "k1"}, "rings": {"object": LONG}, "devices": [
        {"node": "ctl1", "zone": 1}], "replicas": 2}
    generated_pillar.write(opts, "keys", data, HEADER)
    assert generated_pillar.read(opts, "keys") == data
    text = _file(opts, "keys").read_text()
    assert text.startswith(f"# {HEADER}\n")
    assert yaml.safe_load(text) == {"keys": data}, "a pillar SLS: the key at the top"
    assert f"object: {LONG}\n" in text, "a long value stays on one line"


def test_write_makes_the_directory_and_the_file_0600(opts):
    generated_pillar.write(opts, "keys", {"a": 1}, HEADER)
    assert _mode(_file(opts, "keys")) == 0o600


def test_write_replaces_a_readable_file_with_a_0600_one(opts):
    path = _file(opts, "keys")
    path.parent.mkdir()
    path.write_text("keys: {old: 1}\n")
    path.chmod(0o644)
    generated_pillar.write(opts, "keys", {"new": 2}, HEADER)
    assert _mode(path) == 0o600
    assert generated_pillar.read(opts, "keys") == {"new": 2}
    assert not list(path.parent.glob("*.new"))


def test_write_renames_a_complete_0600_file_over_the_old_one(opts, monkeypatch):
    generated_pillar.write(opts, "keys", {"old": 1}, HEADER)
    path = _file(opts, "keys")
    seen = []
    real_replace = os.replace

    def replace(src, dst):
        # the moment of the swap: the old file whole, the new one complete and private
        seen.append((src, dst, yaml.safe_load(path.read_text()),
                     yaml.safe_load(pathlib.Path(src).read_text()), _mode(pathlib.Path(src))))
        real_replace(src, dst)

    monkeypatch.setattr(generated_pillar.os, "replace", replace)
    generated_pillar.write(opts, "keys", {"new": 2}, HEADER)
    assert seen == [(f"{path}.new", str(path), {"keys": {"old": 1}}, {"keys": {"new": 2}},
                     0o600)]
    assert generated_pillar.read(opts, "keys") == {"new": 2}


def test_a_failed_write_leaves_the_old_file(opts):
    generated_pillar.write(opts, "keys", {"old": 1}, HEADER)
    before = _file(opts, "keys").read_text()
    with pytest.raises(yaml.YAMLError):
        generated_pillar.write(opts, "keys", {"new": object()}, HEADER)
    assert _file(opts, "keys").read_text() == before


# --- as Salt wires it ------------------------------------------------------------------------


def test_load_utils_packs_the_public_functions_by_module_name():
    assert load_utils("generated_pillar") == {
        "generated_pillar.path": generated_pillar.path,
        "generated_pillar.read": generated_pillar.read,
        "generated_pillar.write": generated_pillar.write,
    }


def _runner_client(tmp_path, synced):
    """Salt's runner client (what ``salt-run`` uses) on a master whose
    extension modules hold what ``salt-run saltutil.sync_all`` puts there:
    the repo's runners, and its utils when ``synced``."""
    extmods = tmp_path / "extmods"
    kinds = ("runners", "utils") if synced else ("runners",)
    for kind in kinds:
        (extmods / kind).mkdir(parents=True)
        for path in (REPO / f"_{kind}").glob("*.py"):
            (extmods / kind / path.name).symlink_to(path)
    opts = salt.config.master_config(None)
    opts.update({"cachedir": str(tmp_path / "cache"), "sock_dir": str(tmp_path / "sock"),
                 "pki_dir": str(tmp_path / "pki"), "extension_modules": str(extmods),
                 "twin_cloud_generated_pillar": str(tmp_path / "pillar-generated"),
                 # derived from the default extension_modules at config time:
                 # this machine's own master cache must not leak in
                 "utils_dirs": [str(extmods / "utils")]})
    return salt.runner.RunnerClient(opts)


def test_salts_runner_client_hands_the_synced_utils_to_the_runners(tmp_path):
    client = _runner_client(tmp_path, synced=True)
    try:
        functions = client.functions
        assert all(name in client.utils for name in load_utils("generated_pillar"))
        ret = functions["keystone_keys.ensure"]()
        assert ret == {"changed": True, "keys": {"fernet": [0, 1], "credential": [0, 1]}}
        path = tmp_path / "pillar-generated" / "keystone_keys.sls"
        assert _mode(path) == 0o600
        assert functions["swift_rings.show"]() == {"devices": [], "sha256": {}}
    finally:
        client.destroy()


@pytest.mark.parametrize("runner", ["keystone_keys", "swift_rings"])
def test_without_the_synced_utils_salt_run_says_to_sync(tmp_path, runner):
    client = _runner_client(tmp_path, synced=False)
    try:
        assert f"{runner}.ensure" not in client.functions
        assert client.functions.missing_fun_string(f"{runner}.ensure") == (
            f"'{runner}' __virtual__ returned False: {runner}: the generated_pillar utils "
            "are not synced to the master (salt-run saltutil.sync_all)")
    finally:
        client.destroy()


def test_the_labs_master_serves_every_extension_folder():
    """``salt-run saltutil.sync_all`` syncs only what the file roots hold:
    the lab links each ``_<kind>`` folder of the repo into them."""
    folders = {path.name for path in REPO.glob("_*") if path.is_dir()}
    assert "_utils" in folders
    assert folders <= set(master_conf.EXTENSION_DIRS)
