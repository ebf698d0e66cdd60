"""etc/salt/master: every option is one Salt 3008 knows (or the project's
own), and the hardening holds once Salt has loaded it."""

import salt.config
import yaml

from tests.conftest import REPO

MASTER = REPO / "etc" / "salt" / "master"
# options the project reads itself (runners, the Saltfile's per-command keys)
PROJECT_OPTIONS = {"heal", "twin_cloud_generated_pillar", "twin_cloud_clouds_yaml",
                   "salt", "salt-run", "salt-key", "salt-cp", "salt-ssh"}
# options Salt 3008 reads without listing them in VALID_OPTS: salt/master.py,
# salt/channel/server.py (presence_events), salt/renderers/gpg.py (gpg_keydir)
READ_BY_SALT = {"presence_events", "gpg_keydir"}


def test_every_option_exists_in_salt():
    options = set(yaml.safe_load(MASTER.read_text()))
    unknown = options - set(salt.config.VALID_OPTS) - PROJECT_OPTIONS - READ_BY_SALT
    assert not unknown, f"not Salt 3008 options: {sorted(unknown)}"


def test_the_hardening_survives_salts_loading(tmp_path):
    conf = tmp_path / "master"
    conf.write_text(MASTER.read_text())  # without this machine's master.d
    opts = salt.config.master_config(str(conf))
    assert opts["auto_accept"] is False and opts["open_mode"] is False
    assert opts["permissive_pki_access"] is False
    assert opts["sign_pub_messages"] is True
    assert opts["key_pass"] is None
    assert opts["publisher_acl"] == {} and opts["external_auth"] == {}
    assert opts["peer"] == {} and opts["file_recv"] is False
    assert opts["minion_data_cache"] is True  # presence events need it
    assert opts["presence_events"] is True
    assert opts["pillar_safe_render_error"] is True
    assert opts["hash_type"] == "sha256"


def test_each_hardening_line_is_explained():
    lines = MASTER.read_text().splitlines()
    for option in ("open_mode", "permissive_pki_access", "sign_pub_messages", "key_pass",
                   "publisher_acl", "external_auth", "peer", "file_recv", "minion_data_cache"):
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{option}:"))
        while lines[index - 1][:1].isalpha():  # options sharing one comment
            index -= 1
        assert lines[index - 1].startswith("#"), option
