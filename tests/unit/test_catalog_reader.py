"""_utils/catalog.py: the admin box's one reader of the OpenStack catalog
(the runners and secrets.init), against the repo's state tree."""

import pytest
from salt.exceptions import SaltInvocationError

from tests.conftest import REPO, load_ext

catalog = load_ext("utils", "catalog")

ROOTS = [REPO / "salt", REPO]  # salt/ and, for _modules/, the checkout


def test_the_tree_read_as_the_minions_merge_it():
    data = catalog.load(ROOTS)
    assert data["endpoint_scheme"] == "https"
    assert list(data["services"])[0] == "keystone"
    keystone = data["frontends"]["keystone"]
    assert (keystone["port"], keystone["tls"], keystone["service"]) == (5000, True, "keystone")
    assert data["frontends"]["horizon"]["redirect_from"] == 80
    assert "glance_db_password" in data["secret_names"]
    # the module's own merge: the package lists of openstack/defaults.yaml are there
    assert data["pkgs"]


def test_the_pillar_goes_over_the_files():
    data = catalog.load(ROOTS, {"endpoint_scheme": "http", "region": "RegionTwin"})
    assert data["region"] == "RegionTwin" and data["endpoint_scheme"] == "http"
    assert not any(api["tls"] for api in data["frontends"].values())


@pytest.mark.parametrize("override, says", [
    ({"endpoint_scheme": "ftp"}, "openstack:endpoint_scheme: 'ftp' is not https"),
    ({"services": {"glance": {"apis": {"glance": {"port": 5000}}}}},
     "openstack:services:keystone:apis:keystone:port: 5000 is already the port of"),
], ids=["scheme", "port-twice"])
def test_a_catalog_the_services_refuse_is_refused_naming_the_key(override, says):
    with pytest.raises(SaltInvocationError, match=says):
        catalog.load(ROOTS, override)


def test_a_tree_without_the_catalog_names_the_setting_to_check(tmp_path):
    with pytest.raises(SaltInvocationError, match="_modules/openstack.py is in none of the "
                                                  "state tree's roots .*file_roots:base"):
        catalog.load([tmp_path])


def test_roots_are_the_base_file_roots():
    assert catalog.roots({"file_roots": {"base": ["/a", "/b"]}}) == ["/a", "/b"]
    assert catalog.roots({}) == []
