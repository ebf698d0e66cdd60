"""Issue 6 on the deployed lab: TLS on the API VIP, checked from outside.

Every API frontend HAProxy holds on the VIP completes a TLS handshake that
verifies with the site CA alone (the certificate names the VIP's address and
fqdn), and a client without the CA refuses it; a node of the site (the
witness) trusts the CA system-wide, so its curl needs no option; the
dashboard's plain http port sends browsers to https.
"""

import http.client
import pathlib
import socket
import ssl
import urllib.error
import urllib.request

import pytest
import yaml

from lab import config as lab_config
from lab import secrets as lab_secrets

from .conftest import REPO

pytestmark = pytest.mark.lab

LAB = lab_config.load()
VIP = LAB.site["vips"]["api"]["address"]
FQDN = LAB.site["vips"]["api"]["fqdn"]
SERVICES = pathlib.Path(REPO) / "salt" / "openstack" / "services"


def _api_ports():
    """Every API frontend's port (salt/openstack/services/*.yaml `apis`)."""
    ports = {}
    for path in sorted(SERVICES.glob("*.yaml")):
        for api, spec in ((yaml.safe_load(path.read_text()) or {}).get("apis") or {}).items():
            ports[api] = spec["port"]
    return ports


PORTS = _api_ports()


def _handshake(port, context, server_hostname):
    with socket.create_connection((VIP, port), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname=server_hostname) as tls:
            return tls.getpeercert(), tls.version()


def test_every_api_frontend_verifies_with_the_site_ca(deployed):
    assert len(PORTS) >= 14, PORTS
    context = lab_secrets.ssl_context()
    for api, port in sorted(PORTS.items()):
        cert, version = _handshake(port, context, VIP)
        assert version in ("TLSv1.2", "TLSv1.3"), (api, version)
        names = set(cert["subjectAltName"])
        assert {("IP Address", VIP), ("DNS", FQDN)} <= names, (api, names)
    # the fqdn the operators' machines may use verifies too
    _handshake(PORTS["keystone"], context, FQDN)


def test_a_client_without_the_site_ca_refuses_the_vip(deployed):
    """The host's own trust store (Debian's CAs, not the site's): no
    handshake, so nothing is sent to an endpoint it cannot authenticate."""
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(PORTS["keystone"], ssl.create_default_context(), VIP)
    with pytest.raises(urllib.error.URLError) as refused:
        urllib.request.urlopen(f"https://{VIP}:5000/v3", timeout=10)  # noqa: S310
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError), refused.value


def test_plain_http_on_an_api_port_gets_no_api(deployed):
    """HAProxy speaks TLS only there: a plain request gets no API answer."""
    connection = http.client.HTTPConnection(VIP, PORTS["keystone"], timeout=10)
    try:
        connection.request("GET", "/v3")
        status = connection.getresponse().status
    except (ConnectionError, http.client.HTTPException, OSError):
        status = None
    finally:
        connection.close()
    assert status in (None, 400), status


def test_a_node_of_the_site_trusts_the_ca_system_wide(lab, deployed):
    out = lab.exec("nas", "curl", "-sS", "-m", "30", "-o", "/dev/null", "-w", "%{http_code}",
                   f"https://{VIP}:5000/v3")
    assert out.stdout == "200", out.stdout
    # and the operator's clouds.yaml names the CA (the openstack CLI checks with it)
    clouds = yaml.safe_load((lab_config.STATE / "clouds.yaml").read_text())
    cloud = next(iter(clouds["clouds"].values()))
    assert cloud["auth"]["auth_url"] == f"https://{VIP}:5000/v3"
    assert pathlib.Path(cloud["cacert"]).read_text() == lab_secrets.ca_cert()


def test_the_dashboard_redirects_http_to_https(deployed):
    connection = http.client.HTTPConnection(VIP, 80, timeout=10)
    try:
        connection.request("GET", "/horizon/auth/login/", headers={"Host": VIP})
        answer = connection.getresponse()
        location = answer.getheader("Location")
    finally:
        connection.close()
    assert (answer.status, location) == (301, f"https://{VIP}/horizon/auth/login/")
    with urllib.request.urlopen(location, timeout=30,  # noqa: S310
                                context=lab_secrets.ssl_context()) as page:
        assert page.status == 200
        assert b"csrfmiddlewaretoken" in page.read()
