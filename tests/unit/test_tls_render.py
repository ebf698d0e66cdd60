"""TLS on the API VIP, rendered by Salt's real loader (masterless, no daemon)
for the lab's and the example site's nodes (tests/lab/test_tls.py checks
the handshakes on the lab):

- every node trusts the site CA (pillar site_ca:cert) system-wide;
- a controller signs its certificate for the VIP's fqdn and address with the
  CA key (secret tls_ca_key, written 0600 and never shown);
- HAProxy ends TLS on every API frontend with it, Horizon on 443 with VIP:80
  redirecting there; Galera stays plain TCP; backends stay http.
"""

import re

import pytest

from .sls import render_error_expected, render_file, site_minions, site_pillar, state_args

SITES = {name: site_pillar(name) for name in ("lab", "example")}
NODES = [(site, node, spec.get("roles", [])) for site, doc in SITES.items()
         for node, spec in doc["site"]["nodes"].items()]
CONTROLLERS = [(site, node) for site, node, roles in NODES if "controller" in roles]
CERT = "/etc/haproxy/tls/api.pem"


@pytest.fixture(scope="module")
def minion(tmp_path_factory):
    with site_minions(tmp_path_factory.mktemp("tls"), SITES) as get:
        yield get


def _high(loaders, sls):
    high = loaders.modules.state.show_sls(sls)
    assert isinstance(high, dict), high
    return high


@pytest.mark.parametrize("site, minion_id", [(s, n) for s, n, _ in NODES],
                         ids=[f"{s}-{n}" for s, n, _ in NODES])
def test_every_node_trusts_the_site_ca(minion, site, minion_id):
    high = _high(minion(site, minion_id), "base")
    trusted = state_args(high["tls-ca-trusted"], "file")
    assert trusted["name"].startswith("/usr/local/share/ca-certificates/")
    assert trusted["name"].endswith(".crt"), "update-ca-certificates reads *.crt only"
    assert trusted["contents_pillar"] == "site_ca:cert"
    update = state_args(high["tls-ca-bundle-updated"], "cmd")
    assert update["name"] == "update-ca-certificates"
    assert update["onchanges"] == [{"file": "tls-ca-trusted"}]
    assert "tls-ca-key-managed" not in high, "the CA key stays off the nodes that sign nothing"


def test_a_node_without_the_ca_certificate_is_refused_with_the_fix(minion):
    with render_error_expected():
        answer = minion("lab", "nas", "no-ca", site_ca={}).modules.state.show_sls("base")
    assert "site_ca:cert" in str(answer) and "secrets.init" in str(answer), answer


@pytest.mark.parametrize("site, minion_id", CONTROLLERS, ids=[f"{s}-{n}" for s, n in CONTROLLERS])
def test_a_controller_signs_its_vip_certificate_with_the_ca(minion, site, minion_id):
    high = _high(minion(site, minion_id), "haproxy")
    vip = SITES[site]["site"]["vips"]["api"]
    key = state_args(high["tls-ca-key-managed"], "file")
    assert key["contents_pillar"] == "secrets:tls_ca_key"
    assert (key["mode"], key["user"], key["show_changes"]) == ("0600", "root", False)
    cert = state_args(high["tls-api-cert-managed"], "x509")
    assert cert["name"] == CERT
    assert cert["signing_private_key"] == key["name"]
    assert cert["signing_cert"] == state_args(high["tls-ca-trusted"], "file")["name"]
    assert cert["CN"] == vip["fqdn"]
    assert cert["subjectAltName"] == f"DNS:{vip['fqdn']}, IP:{vip['address']}"
    assert cert["basicConstraints"] == "critical, CA:false"
    assert cert["days_remaining"] < cert["days_valid"] <= 398
    assert state_args(high["tls-api-key-managed"], "x509")["name"] == CERT + ".key"
    # HAProxy reloads on a new certificate, and checks its config with it there
    config = state_args(high["haproxy-config-managed"], "file")
    assert {"x509": "tls-api-cert-managed"} in config["require"]
    assert {"x509": "tls-api-cert-managed"} in state_args(
        high["haproxy-reloaded-when-running"], "cmd")["onchanges"]


def _haproxy_cfg(loaders):
    return render_file(loaders, _high(loaders, "haproxy")["haproxy-config-managed"])


def _sections(text):
    """``{"listen keystone": [lines]}`` of an HAProxy config."""
    sections, current = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            current = line.strip()
            sections[current] = []
        elif current and line.strip():
            sections[current].append(line.strip())
    return sections


@pytest.mark.parametrize("site, minion_id", CONTROLLERS, ids=[f"{s}-{n}" for s, n in CONTROLLERS])
def test_haproxy_ends_tls_on_every_api_frontend(minion, site, minion_id):
    loaders = minion(site, minion_id)
    vip = SITES[site]["site"]["vips"]["api"]["address"]
    sections = _sections(_haproxy_cfg(loaders))
    apis = loaders.modules.openstack.apis()
    assert len(apis) >= 14, sorted(apis)
    for api, spec in apis.items():
        lines = sections[f"listen {api}"]
        assert f"bind {vip}:{spec['port']} ssl crt {CERT}" in lines, (api, lines)
        assert "http-request set-header X-Forwarded-Proto https" in lines, (api, lines)
        servers = [line for line in lines if line.startswith("server ")]
        assert servers and all(f":{spec['backend_port']} check" in s and " ssl" not in s
                               for s in servers), servers
    # Horizon: TLS on 443 in front of Apache's :80, VIP:80 sends browsers there
    assert any(line.endswith(":80 check inter 2s fall 3 rise 2")
               for line in sections["listen horizon"])
    redirect = sections["frontend horizon-redirect"]
    assert redirect[0] == f"bind {vip}:80"
    assert re.fullmatch(r"http-request redirect prefix https://%\[req\.hdr\(host\),field\(1,:\)\] "
                        r"code 301", redirect[1]), redirect
    # Galera: plain TCP (MariaDB's clients, on the management network)
    galera = sections["listen galera"]
    assert f"bind {vip}:3306" in galera and not any("ssl" in line for line in galera)
    assert "ssl-min-ver TLSv1.2" in " ".join(sections["global"])


def test_horizon_behind_tls_makes_https_links_and_secure_cookies(minion):
    loaders = minion("lab", "ctl1")
    high = _high(loaders, "openstack.horizon")
    settings = render_file(loaders, high["openstack-horizon-local-settings"])
    assert "SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https')" in settings
    assert "CSRF_COOKIE_SECURE = True" in settings and "SESSION_COOKIE_SECURE = True" in settings
    assert 'OPENSTACK_KEYSTONE_URL = "https://10.77.0.10:5000/v3"' in settings
    ports = state_args(high["openstack-horizon-apache-listen"], "file")["contents"]
    assert "Listen 10.77.0.11:80" in ports


def test_salt_waits_for_each_api_over_https_with_the_system_bundle(minion):
    high = _high(minion("lab", "ctl1"), "openstack.glance")
    wait = state_args(high["openstack-glance-api-glance-answering"], "http")
    assert wait["name"] == "https://10.77.0.10:9292/healthcheck"
    assert wait["ca_bundle"] == "/etc/ssl/certs/ca-certificates.crt"

