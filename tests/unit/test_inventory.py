"""Unit tests of _modules/inventory.py: the site pillar schema and lookups."""

import copy
from unittest.mock import patch

import pytest
import yaml
from salt.exceptions import SaltInvocationError

from tests.conftest import REPO, load_ext

inventory = load_ext("modules", "inventory")

# A valid site: the lab's layout, with BMCs on a network of their own and a
# NAS without BMC (as in the real example).
BASE_SITE_YAML = """
site:
  name: test
  domain: test.example
  quorum: {mode: witness, witness: nas}
  fencing: {enabled: true, delay_node: ctl1, delay_seconds: 10}
  networks:
    management: {cidr: 10.77.0.0/24, gateway: 10.77.0.1}
    provider: {cidr: 10.78.0.0/24, physnet: provider}
    bmc: {cidr: 10.79.0.0/24}
  vips:
    api: {address: 10.77.0.10, fqdn: cloud.test.example}
  nodes:
    ctl1:
      roles: [controller, compute, network, object]
      address: 10.77.0.11
      cluster_id: 1
      interfaces: {management: host0, provider: host1}
      bmc: {address: 10.79.0.11, port: 623, username: admin, password_secret: bmc_ctl1}
      disks:
        swift:
          - {file: /var/lib/swift-disks/d1.img, size_gb: 2}
    ctl2:
      roles: [controller, compute, network, object]
      address: 10.77.0.12
      cluster_id: 2
      interfaces: {management: host0, provider: host1}
      bmc: {address: 10.79.0.12, username: admin, password_secret: bmc_ctl2}
      disks:
        swift:
          - {device: /dev/sdb}
    nas:
      roles: [storage, witness]
      address: 10.77.0.13
      interfaces: {management: host0}
  nas:
    node: nas
    exports:
      images: {path: /srv/nfs/images}
      volumes: {path: /srv/nfs/volumes}
      backups: {path: /srv/nfs/backups}
"""
BASE_SITE = yaml.safe_load(BASE_SITE_YAML)["site"]
SECRETS = {"bmc_ctl1": "s3cret", "bmc_ctl2": "s3cret"}

DELETE = object()


def changed_site(changes):
    """A copy of BASE_SITE with ``{"a:b:0:c": value or DELETE}`` applied."""
    site = copy.deepcopy(BASE_SITE)
    for key_path, value in changes.items():
        *parents, last = [int(part) if part.isdigit() else part for part in key_path.split(":")]
        target = site
        for part in parents:
            target = target[part]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return site


# id, changes to BASE_SITE, every expected problem as (key path, words in the message)
CASES = [
    # missing required keys
    ("missing-name", {"name": DELETE}, [("site:name", "not set; set it to a short name")]),
    (
        "missing-node-address",
        {"nodes:ctl1:address": DELETE},
        [("site:nodes:ctl1:address", "not set; set it to the node's IP address")],
    ),
    (
        "empty-interface",
        {"nodes:ctl1:interfaces:management": None},
        [("site:nodes:ctl1:interfaces:management", "not set")],
    ),
    (
        "missing-mgmt-cidr",
        {"networks:management": {"gateway": "10.77.0.1"}},
        [("site:networks:management:cidr", "not set")],
    ),
    ("missing-vip-fqdn", {"vips:api:fqdn": DELETE}, [("site:vips:api:fqdn", "not set")]),
    (
        "missing-api-vip",
        {"vips": {"admin": {"address": "10.77.0.9", "fqdn": "a.test.example"}}},
        [("site:vips:api", "not set; set it to the API VIP")],
    ),
    (
        "missing-provider-physnet",
        {"networks:provider:physnet": DELETE},
        [("site:networks:provider:physnet", "not set")],
    ),
    (
        "missing-export-path",
        {"nas:exports:images": {}},
        [("site:nas:exports:images:path", "not set")],
    ),
    # wrong types
    (
        "yaml11-bool-as-interface",
        {"nodes:ctl1:interfaces:management": False},
        [("site:nodes:ctl1:interfaces:management", "quote the value")],
    ),
    (
        "yaml11-bool-as-physnet",
        {"networks:provider:physnet": True},
        [
            (
                "site:networks:provider:physnet",
                "yes/no/on/off/true/false as booleans; quote the value",
            )
        ],
    ),
    (
        "number-as-username",
        {"nodes:ctl1:bmc:username": 1234},
        [("site:nodes:ctl1:bmc:username", "got the number 1234; quote the value")],
    ),
    (
        "string-as-bool",
        {"fencing:enabled": "maybe"},
        [("site:fencing:enabled", "expected true or false, got the text 'maybe'")],
    ),
    (
        "quoted-cluster-id",
        {"nodes:ctl1:cluster_id": "1"},
        [("site:nodes:ctl1:cluster_id", "write it without quotes")],
    ),
    (
        "bool-cluster-id",
        {"nodes:ctl1:cluster_id": True},
        [("site:nodes:ctl1:cluster_id", "expected a whole number, got the boolean true")],
    ),
    (
        "zero-cluster-id",
        {"nodes:ctl1:cluster_id": 0},
        [("site:nodes:ctl1:cluster_id", "out of range")],
    ),
    (
        "roles-not-a-list",
        {"nodes:nas:roles": "storage"},
        [("site:nodes:nas:roles", "expected a non-empty list")],
    ),
    (
        "node-not-a-mapping",
        {"nodes:ctl2:interfaces": "host0"},
        [("site:nodes:ctl2:interfaces", "expected a mapping with keys management, provider")],
    ),
    (
        "relative-export-path",
        {"nas:exports:images:path": "srv/images"},
        [("site:nas:exports:images:path", "not an absolute path")],
    ),
    # addresses and networks
    (
        "address-not-ip",
        {"nodes:ctl1:address": "10.77.0.300"},
        [("site:nodes:ctl1:address", "is not an IP address")],
    ),
    (
        "address-with-prefix",
        {"nodes:ctl1:address": "10.77.0.11/24"},
        [("site:nodes:ctl1:address", "is not an IP address")],
    ),
    (
        "cidr-without-prefix",
        {"networks:management:cidr": "10.77.0.0"},
        [("site:networks:management:cidr", "CIDR notation")],
    ),
    (
        "cidr-host-bits",
        {"networks:provider:cidr": "10.78.0.5/24"},
        [("site:networks:provider:cidr", "has host bits set")],
    ),
    (
        "cidr-garbage",
        {"networks:bmc:cidr": "bmc-lan"},
        [("site:networks:bmc:cidr", "CIDR notation")],
    ),
    (
        "node-outside-mgmt",
        {"nodes:ctl2:address": "10.99.0.12"},
        [("site:nodes:ctl2:address", "outside the management network 10.77.0.0/24")],
    ),
    (
        "vip-outside-mgmt",
        {"vips:api:address": "10.78.0.10"},
        [("site:vips:api:address", "outside the management network")],
    ),
    (
        "gateway-outside-mgmt",
        {"networks:management:gateway": "10.78.0.1"},
        [("site:networks:management:gateway", "outside the management network")],
    ),
    (
        "bmc-outside-bmc-net",
        {"nodes:ctl1:bmc:address": "10.77.0.111"},
        [("site:nodes:ctl1:bmc:address", "outside the bmc network 10.79.0.0/24")],
    ),
    (
        "vip-is-node-address",
        {"vips:api:address": "10.77.0.11"},
        [("site:vips:api:address", "is the address of node ctl1 (site:nodes:ctl1:address)")],
    ),
    (
        "duplicate-node-address",
        {"nodes:ctl2:address": "10.77.0.11"},
        [("site:nodes:ctl2:address", "already used by site:nodes:ctl1:address")],
    ),
    (
        "duplicate-vip-address",
        {"vips:admin": {"address": "10.77.0.10", "fqdn": "admin.test.example"}},
        [("site:vips:admin:address", "already used by site:vips:api:address")],
    ),
    (
        "duplicate-bmc-address",
        {"nodes:ctl2:bmc:address": "10.79.0.11"},
        [("site:nodes:ctl2:bmc:address", "already used by site:nodes:ctl1:bmc:address")],
    ),
    (
        "admin-not-an-address",
        {"admin": {"address": "10.77.0.5/24"}},
        [("site:admin:address", "not an IP address; write one address")],
    ),
    (
        "admin-outside-mgmt",
        {"admin": {"address": "10.78.0.5"}},
        [("site:admin:address", "outside the management network 10.77.0.0/24")],
    ),
    (
        "admin-is-a-node-address",
        {"admin": {"address": "10.77.0.12"}},
        [("site:nodes:ctl2:address", "already used by site:admin:address")],
    ),
    (
        "admin-unknown-key",
        {"admin": {"address": "10.77.0.5", "adress": "10.77.0.6"}},
        [("site:admin", "unknown key(s) adress")],
    ),
    (
        "admin-without-address",
        {"admin": {}},
        [("site:admin:address", "not set; set it to the admin box's IP address")],
    ),
    (
        "bmc-address-is-node-address",
        {"networks:bmc": DELETE, "nodes:ctl2:bmc:address": "10.77.0.12"},
        [("site:nodes:ctl2:bmc:address", "already used by site:nodes:ctl2:address")],
    ),
    # nodes and roles
    (
        "duplicate-cluster-id",
        {"nodes:ctl2:cluster_id": 1},
        [("site:nodes:ctl2:cluster_id", "1 is already the cluster_id of ctl1")],
    ),
    (
        "unknown-role",
        {"nodes:nas:roles": ["storage", "witness", "stroage"]},
        [
            (
                "site:nodes:nas:roles",
                "unknown role(s) stroage; "
                "known roles: compute, controller, network, object, storage, witness",
            )
        ],
    ),
    (
        "one-controller",
        {"nodes:ctl2:roles": ["compute"]},
        [("site:nodes", "1 controller node(s) (ctl1); the cluster needs two")],
    ),
    (
        "controller-without-cluster-id",
        {"nodes:ctl2:cluster_id": DELETE},
        [("site:nodes:ctl2:cluster_id", "not set; set it to a unique cluster node number")],
    ),
    ("non-controller-with-cluster-id", {"nodes:nas:cluster_id": 3}, []),
    (
        "node-name-yaml-bool",
        {"nodes": {**BASE_SITE["nodes"], False: {}}},
        [("site:nodes:False", "the name expected text, got the boolean false")],
    ),
    # quorum
    ("witness-missing", {"quorum:witness": DELETE}, [("site:quorum:witness", "not set")]),
    (
        "witness-not-a-node",
        {"quorum:witness": "nass"},
        [
            (
                "site:quorum:witness",
                "'nass' is not a node under site:nodes; use one of: ctl1, ctl2, nas",
            )
        ],
    ),
    (
        "witness-without-role",
        {"nodes:nas:roles": ["storage"]},
        [
            (
                "site:quorum:witness",
                "node nas has no witness role; add witness to site:nodes:nas:roles",
            )
        ],
    ),
    (
        "witness-is-controller",
        {"quorum:witness": "ctl2", "nodes:ctl2:roles": ["controller", "witness"]},
        [("site:quorum:witness", "node ctl2 is a controller; the witness must be a third host")],
    ),
    (
        "unknown-quorum-mode",
        {"quorum:mode": "three_node"},
        [("site:quorum:mode", "unknown mode 'three_node'; use witness")],
    ),
    ("two-node-with-fencing", {"quorum": {"mode": "two_node"}}, []),
    (
        "two-node-without-fencing",
        {"quorum": {"mode": "two_node"}, "fencing": {"enabled": False}},
        [("site:fencing:enabled", "quorum mode two_node needs fencing")],
    ),
    # fencing
    (
        "no-fencing-no-bmc",
        {"fencing": {"enabled": False}, "nodes:ctl1:bmc": DELETE, "nodes:ctl2:bmc": DELETE},
        [],
    ),
    (
        "fencing-controller-without-bmc",
        {"nodes:ctl2:bmc": DELETE},
        [
            (
                "site:nodes:ctl2:bmc",
                "not set; set it to the BMC's address, username and password_secret",
            )
        ],
    ),
    (
        "fencing-bmc-without-username",
        {"nodes:ctl1:bmc:username": DELETE},
        [("site:nodes:ctl1:bmc:username", "not set")],
    ),
    (
        "fencing-bmc-without-secret",
        {"nodes:ctl1:bmc:password_secret": DELETE},
        [("site:nodes:ctl1:bmc:password_secret", "not set")],
    ),
    (
        "fencing-without-delay-node",
        {"fencing:delay_node": DELETE},
        [("site:fencing:delay_node", "not set")],
    ),
    (
        "fencing-without-delay-seconds",
        {"fencing:delay_seconds": DELETE},
        [("site:fencing:delay_seconds", "not set")],
    ),
    (
        "delay-node-not-controller",
        {"fencing:delay_node": "nas"},
        [("site:fencing:delay_node", "'nas' is not a controller node; use one of: ctl1, ctl2")],
    ),
    # BMC
    (
        "bmc-address-not-ip",
        {"nodes:ctl1:bmc:address": "idrac-ctl1"},
        [("site:nodes:ctl1:bmc:address", "is not an IP address")],
    ),
    (
        "bmc-port-too-high",
        {"nodes:ctl1:bmc:port": 70000},
        [("site:nodes:ctl1:bmc:port", "70000 is out of range; use 1..65535")],
    ),
    ("bmc-port-zero", {"nodes:ctl1:bmc:port": 0}, [("site:nodes:ctl1:bmc:port", "out of range")]),
    # NAS
    (
        "nas-not-a-node",
        {"nas:node": "filer"},
        [("site:nas:node", "'filer' is not a node under site:nodes")],
    ),
    (
        "nas-without-storage-role",
        {"nas:node": "ctl2"},
        [("site:nas:node", "node ctl2 has no storage role; add storage to site:nodes:ctl2:roles")],
    ),
    (
        "unknown-export",
        {"nas:exports:isos": {"path": "/srv/nfs/isos"}},
        [("site:nas:exports", "unknown key(s) isos; known keys: images, volumes, backups")],
    ),
    ("no-nas", {"nas": DELETE}, []),
    # swift disks
    (
        "disk-neither",
        {"nodes:ctl1:disks:swift:0": {"size_gb": 2}},
        [("site:nodes:ctl1:disks:swift:0", "has neither device and file")],
    ),
    (
        "disk-both",
        {"nodes:ctl2:disks:swift:0:file": "/srv/d.img"},
        [("site:nodes:ctl2:disks:swift:0", "has both device and file")],
    ),
    (
        "disk-file-without-size",
        {"nodes:ctl1:disks:swift:0:size_gb": DELETE},
        [("site:nodes:ctl1:disks:swift:0:size_gb", "not set")],
    ),
    (
        "disk-relative-device",
        {"nodes:ctl2:disks:swift:0:device": "sdb"},
        [("site:nodes:ctl2:disks:swift:0:device", "'sdb' is not an absolute path")],
    ),
    (
        "disks-not-a-list",
        {"nodes:ctl2:disks:swift": "/dev/sdb"},
        [("site:nodes:ctl2:disks:swift", "expected a list")],
    ),
    # typos
    (
        "unknown-top-level-key",
        {"node": {}},
        [("site", "unknown key(s) node; known keys: name, domain")],
    ),
    (
        "misspelt-nested-key",
        {"nodes:ctl1:bmc:pasword_secret": "bmc_ctl1", "nodes:ctl1:bmc:password_secret": DELETE},
        [
            ("site:nodes:ctl1:bmc", "unknown key(s) pasword_secret"),
            ("site:nodes:ctl1:bmc:password_secret", "not set"),
        ],
    ),
]


def assert_problems(problems, expected):
    assert len(problems) == len(expected), "\n".join(problems)
    for (path, words), line in zip(expected, problems, strict=True):
        assert line.startswith(f"{path}: "), line
        assert words in line, line


@pytest.mark.parametrize(
    "changes, expected", [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_validate_site(changes, expected):
    assert_problems(inventory.validate_site(changed_site(changes), SECRETS), expected)


def test_base_site_is_valid():
    assert inventory.validate_site(BASE_SITE, SECRETS) == []


def test_missing_site():
    assert_problems(inventory.validate_site(None), [("site", "not set; assign the site pillar")])


def test_site_not_a_mapping():
    assert_problems(
        inventory.validate_site(["ctl1"]), [("site", "expected a mapping with keys name")]
    )


def test_every_problem_is_reported_at_once():
    site = changed_site({"name": DELETE, "nodes:ctl1:address": "x", "nodes:ctl2:bmc:port": 0})
    paths = [line.split(": ")[0] for line in inventory.validate_site(site)]
    assert paths == ["site:name", "site:nodes:ctl1:address", "site:nodes:ctl2:bmc:port"]


@pytest.mark.parametrize(
    "secrets, expected",
    [
        (None, []),
        (SECRETS, []),
        (
            {"bmc_ctl1": "x"},
            [
                (
                    "site:nodes:ctl2:bmc:password_secret",
                    "'bmc_ctl2' is not a key under secrets; "
                    "add bmc_ctl2: <password> to the secrets pillar",
                )
            ],
        ),
        (["bmc_ctl1"], [("secrets", "expected a mapping of secret names to values")]),
        (
            {**SECRETS, "aodh_rabbitmq_password": "-nfFQjCX"},
            [("secrets:aodh_rabbitmq_password", "starts with '-'")],
        ),
        # the site CA's key: a PEM block, written to a file, never on a command line
        ({**SECRETS, "tls_ca_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"},
         []),
        ({**SECRETS, "tls_ca_key": "-----BEGIN PRIVATE KEY-----"},
         [("secrets:tls_ca_key", "starts with '-'")]),
    ],
    ids=["no-secrets-skips-check", "all-present", "one-missing", "not-a-mapping",
         "leading-dash", "pem-block", "half-a-pem"],
)
def test_secret_cross_check(secrets, expected):
    assert_problems(inventory.validate_site(BASE_SITE, secrets), expected)


def test_a_refused_secret_is_never_shown():
    lines = inventory.validate_site(BASE_SITE, {**SECRETS, "x_password": "-s3cr3tvalue"})
    assert lines and not any("s3cr3tvalue" in line for line in lines)


# --- the raw YAML of a site file


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (
            "    ctl2:\n",
            "    ctl1:\n",
            [
                (
                    "site:nodes:ctl1",
                    "duplicate key at line 23 (first at line 14); YAML keeps only the last one",
                ),
                ("site:nodes", "1 controller node(s)"),
            ],
        ),
        (
            "      cluster_id: 2\n",
            "      cluster_id: 2\n      cluster_id: 3\n",
            [("site:nodes:ctl2:cluster_id", "duplicate key at line 27 (first at line 26)")],
        ),
        ("  vips:\n", "  name: again\n  vips:\n", [("site:name", "duplicate key")]),
        (
            "{management: host0, provider: host1}\n      bmc: {address: 10.79.0.11",
            "{management: off, provider: host1}\n      bmc: {address: 10.79.0.11",
            [
                (
                    "site:nodes:ctl1:interfaces:management",
                    "got the boolean false: YAML reads unquoted",
                )
            ],
        ),
        ("  name: test\n", "  name: [test\n", [("site file", "not valid YAML")]),
    ],
    ids=[
        "duplicate-node-id",
        "duplicate-node-key",
        "duplicate-site-key",
        "yaml11-off",
        "syntax-error",
    ],
)
def test_validate_site_text(old, new, expected):
    assert old in BASE_SITE_YAML
    text = BASE_SITE_YAML.replace(old, new, 1)
    assert_problems(inventory.validate_site_text(text, SECRETS), expected)


def test_validate_site_text_without_site_mapping():
    assert_problems(inventory.validate_site_text("- a\n- b\n"), [("site", "not set")])


def test_base_site_text_is_valid():
    assert inventory.validate_site_text(BASE_SITE_YAML, SECRETS) == []


@pytest.mark.parametrize(
    "site_file, secrets_file",
    [("lab/pillar/site.sls", None), ("pillar/examples/site.sls", "pillar/examples/secrets.sls")],
)
def test_shipped_site_pillars_are_valid(site_file, secrets_file):
    secrets = None
    if secrets_file:
        secrets = yaml.safe_load((REPO / secrets_file).read_text())["secrets"]
    assert inventory.validate_site_text((REPO / site_file).read_text(), secrets) == []


# --- through the loader


@pytest.fixture
def configure_loader_modules():
    return {
        inventory: {
            "__pillar__": {"site": copy.deepcopy(BASE_SITE), "secrets": dict(SECRETS)},
            "__opts__": {"id": "ctl2"},
        }
    }


def test_validate_reads_pillar():
    assert inventory.validate() is True


def test_validate_raises_with_every_problem():
    with (
        patch.dict(inventory.__pillar__, {"secrets": {}}),
        pytest.raises(SaltInvocationError) as excinfo,
    ):
        inventory.validate()
    assert str(excinfo.value).splitlines() == [
        f"site:nodes:{node}:bmc:password_secret: 'bmc_{node}' is not a key under secrets; "
        f"add bmc_{node}: <password> to the secrets pillar"
        for node in ("ctl1", "ctl2")
    ]


def test_validate_on_the_witness_needs_no_bmc_password():
    """the NAS's pillar holds RabbitMQ's secrets only (pillar/top.sls):
    the BMC passwords are checked where they are, never asked of it."""
    with (
        patch.dict(inventory.__opts__, {"id": "nas"}),
        patch.dict(inventory.__pillar__, {"secrets": {"rabbitmq_erlang_cookie": "c00kie"}}),
    ):
        assert inventory.validate() is True
        with (
            patch.dict(inventory.__pillar__, {"secrets": {"rabbitmq_erlang_cookie": "-c"}}),
            pytest.raises(SaltInvocationError, match="^secrets:rabbitmq_erlang_cookie: starts"),
        ):
            inventory.validate()


@pytest.mark.parametrize("roles, holds", [
    (["storage", "witness"], False), (["witness"], False), (["storage"], False),
    (["controller"], True), (["witness", "compute"], True), ([], False),
])
def test_who_holds_every_secret(roles, holds):
    assert inventory.holds_every_secret({"roles": roles}) is holds


def test_validate_without_site_pillar():
    with (
        patch.dict(inventory.__pillar__, clear=True),
        pytest.raises(SaltInvocationError, match="^site: not set"),
    ):
        inventory.validate()


def test_validate_arguments_override_pillar():
    with pytest.raises(SaltInvocationError, match="site:name: not set"):
        inventory.validate(site=changed_site({"name": DELETE}))
    assert inventory.validate(site=BASE_SITE, secrets=SECRETS) is True


def test_nodes_sorted_by_cluster_id_then_id():
    reordered = {
        "nas": BASE_SITE["nodes"]["nas"],
        "ctl2": BASE_SITE["nodes"]["ctl2"],
        "ctl1": BASE_SITE["nodes"]["ctl1"],
        "aaa": {"roles": ["compute"]},
    }
    with patch.dict(inventory.__pillar__["site"], {"nodes": reordered}):
        assert inventory.nodes() == ["ctl1", "ctl2", "aaa", "nas"]
        assert inventory.nodes(role="compute") == ["ctl1", "ctl2", "aaa"]


def test_nodes_with_role():
    assert inventory.nodes() == ["ctl1", "ctl2", "nas"]
    assert inventory.nodes("storage") == ["nas"]
    assert inventory.nodes("nope") == []
    assert inventory.controllers() == ["ctl1", "ctl2"]


def test_node_defaults_to_this_minion_with_bmc_port():
    entry = inventory.node()
    assert entry["address"] == "10.77.0.12"
    assert entry["bmc"]["port"] == 623
    assert "port" not in inventory.__pillar__["site"]["nodes"]["ctl2"]["bmc"]
    assert inventory.node("nas")["roles"] == ["storage", "witness"]
    assert inventory.node("admin") == {}


def test_roles_and_peers():
    assert inventory.roles() == ["controller", "compute", "network", "object"]
    assert inventory.roles(id="nas") == ["storage", "witness"]
    assert inventory.roles("admin") == []
    assert inventory.peers("controller") == ["ctl1"]
    assert inventory.peers("witness") == ["nas"]


def test_witness():
    assert inventory.witness() == "nas"
    with patch.dict(inventory.__pillar__["site"], {"quorum": {"mode": "two_node"}}):
        assert inventory.witness() is None


def test_vip():
    assert inventory.vip() == {"address": "10.77.0.10", "fqdn": "cloud.test.example"}
    with pytest.raises(SaltInvocationError, match="site:vips:admin: not set; known VIPs: api"):
        inventory.vip("admin")


def test_queries_without_site_pillar():
    with patch.dict(inventory.__pillar__, clear=True):
        assert inventory.nodes() == []
        assert inventory.node() == {}
        assert inventory.witness() is None
