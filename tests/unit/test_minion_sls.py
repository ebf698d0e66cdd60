"""salt/minion (first contact through salt-ssh), rendered by Salt's real
loader (masterless, no daemon) with the example and lab site pillars: the
pinned Salt in a venv from the admin box's wheels or an index, the config
pinned to the master's fingerprint, the unit, and the refusals."""

import copy

import pytest
import yaml

from lab import config as lab_config

from .sls import (served_roots, REPO, load, minion_loaders, minion_opts, render_error_expected,
                  render_file, site_pillar,
                  state_args as _args, state_function as _function)

DEFAULTS = load("salt/minion/defaults.yaml")
FINGER = ":".join(["ab"] * 32)


class Minion:
    def __init__(self, loaders):
        self.loaders = loaders

    def show_sls(self, sls):
        return self.loaders.modules.state.show_sls(sls)

    def render_file(self, state):
        """Render the template a file.managed state names, with its context."""
        return render_file(self.loaders, state)


@pytest.fixture(scope="module")
def minion(tmp_path_factory):
    """minion(id, site='example', minion_pillar=None): a masterless minion
    rendering with that site's pillar and ``minion:`` over the defaults."""
    with minion_loaders() as loaders:

        def get(minion_id, site="example", minion_pillar=None, admin=True):
            pillar = copy.deepcopy(site_pillar(site))
            if not admin:
                del pillar["site"]["admin"]
            if minion_pillar is not None:
                pillar["minion"] = minion_pillar
            return Minion(loaders((minion_id, repr(pillar)), lambda: minion_opts(
                tmp_path_factory.mktemp(minion_id), minion_id, pillar,
                file_roots=served_roots())))

        yield get


def _high(minion, sls="minion"):
    high = minion.show_sls(sls)
    assert isinstance(high, dict), high
    return high


def test_the_pinned_version_is_the_labs_and_the_venvs():
    assert DEFAULTS["version"] == lab_config.SALT_VERSION
    pyproject = (REPO / "pyproject.toml").read_text()
    assert f'"salt=={DEFAULTS["version"]}"' in pyproject
    assert DEFAULTS["pkgs"] == ["python3-venv"]  # in the lab's apt repository too


def test_the_venv_is_made_with_the_nodes_python_and_salt_from_the_wheelhouse(minion):
    high = _high(minion("r430-a", minion_pillar={"master_finger": FINGER}))
    venv = _args(high["salt-minion-venv-created"], "cmd")
    assert venv["name"] == "/usr/bin/python3 -m venv --system-site-packages /opt/salt"
    assert venv["creates"] == "/opt/salt/bin/pip"
    wheels = _args(high["salt-minion-wheels-copied"], "file")
    assert _function(high["salt-minion-wheels-copied"]) == "file.recurse"
    assert wheels["source"] == "salt://salt-wheels"
    assert wheels["name"] == "/var/cache/salt-minion/wheels" and wheels["clean"] is True
    pip = _args(high["salt-minion-pip-installed"], "cmd")
    assert pip["name"] == ("/opt/salt/bin/pip install --disable-pip-version-check --no-input "
                           "--no-index --find-links /var/cache/salt-minion/wheels salt==3008.3")
    assert "salt.version.__version__ != '3008.3'" in pip["unless"]
    assert {"file": "salt-minion-wheels-copied"} in pip["require"]
    link = _args(high["salt-minion-salt-call-linked"], "file")
    assert link["name"] == "/usr/bin/salt-call" and link["target"] == "/opt/salt/bin/salt-call"


def test_a_site_may_install_from_its_package_index(minion):
    index = "https://pypi.example.org/simple"
    high = _high(minion("r430-a", minion_pillar={"master_finger": FINGER, "source": index}))
    assert "salt-minion-wheels-copied" not in high
    pip = _args(high["salt-minion-pip-installed"], "cmd")
    assert f"--index-url {index} salt==3008.3" in pip["name"]
    assert "--no-index" not in pip["name"]


def test_the_config_pins_the_admin_box_by_its_fingerprint(minion):
    node = minion("r430-b", minion_pillar={"master_finger": FINGER})
    high = _high(node)
    state = high["salt-minion-config-managed"]
    assert _args(state, "file")["name"] == "/etc/salt/minion.d/twin-cloud.conf"
    conf = yaml.safe_load(node.render_file(state))
    assert conf["id"] == "r430-b"
    assert conf["master"] == "192.0.2.5"  # site:admin:address of the example
    assert conf["master_finger"] == FINGER
    assert conf["hash_type"] == "sha256"
    assert conf["sign_pub_messages"] is True


def test_the_lab_node_gets_the_lab_hosts_address(minion):
    node = minion("bare", site="lab", minion_pillar={"master_finger": FINGER})
    conf = yaml.safe_load(node.render_file(_high(node)["salt-minion-config-managed"]))
    assert conf["master"] == "10.77.0.1" and conf["id"] == "bare"


def test_the_unit_runs_the_venvs_minion_and_restarts_on_change(minion):
    node = minion("nas", minion_pillar={"master_finger": FINGER})
    high = _high(node)
    unit = node.render_file(high["salt-minion-unit-managed"])
    assert "ExecStart=/opt/salt/bin/salt-minion" in unit and "pinned 3008.3" in unit
    service = _args(high["salt-minion-service-running"], "service")
    assert service["name"] == "salt-minion" and service["enable"] is True
    assert {"file": "salt-minion-config-managed"} in service["watch"]
    assert {"cmd": "salt-minion-pip-installed"} in service["watch"]
    reload = _args(high["salt-minion-unit-reloaded"], "cmd")
    assert reload["onchanges"] == [{"file": "salt-minion-unit-managed"}]


def test_no_fingerprint_no_minion(minion):
    with render_error_expected():
        errors = minion("r430-a").show_sls("minion")
    assert isinstance(errors, list), errors
    text = "\n".join(map(str, errors))
    assert "minion:master_finger: not set" in text and "bin/node-bootstrap" in text


def test_no_admin_address_no_minion(minion):
    with render_error_expected():
        errors = minion("r430-a", minion_pillar={"master_finger": FINGER},
                        admin=False).show_sls("minion")
    assert isinstance(errors, list), errors
    assert "site:admin:address: not set" in "\n".join(map(str, errors))


def test_clean_undoes_every_piece(minion):
    high = _high(minion("r430-a"), "minion.clean")
    assert _function(high["salt-minion-service-dead"]) == "service.dead"
    names = _args(high["salt-minion-clean-files-absent"])["names"]
    for path in ("/opt/salt", "/etc/salt/minion.d/twin-cloud.conf",
                 "/etc/systemd/system/salt-minion.service", "/usr/bin/salt-call"):
        assert path in names
