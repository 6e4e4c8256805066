"""A DataKit `call` node through a real forward proxy (proxy.py, started by the test), its TLS
trust (the plugin's `ca_certificates`, Kong 3.16), `ssl_verify: false` under the gateway's
`tls_certificate_verify`, and a json_to_xml body's Content-Type (datakit.md §5.1, D11).

What each test pins:
  - http URL + http_proxy + proxy_auth_*: the request goes to the proxy in absolute form with
    Basic credentials; wrong credentials -> the proxy's 407 fails the node and the upstream
    never sees the request;
  - https URL + https_proxy: a CONNECT tunnel, TLS to the target inside it, verified against
    the plugin's ca_certificates (without them the same call fails verification);
  - a proxy URL that is not http://host[:port] fails the node;
  - tls_certificate_verify on: https with ssl_verify false is blocked, http is not;
  - a body from json_to_xml goes out as application/xml unless the headers input sets one.
"""
from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import time

import pytest

from jqgate.gateway.plans import compile_gateway
from jqgate.config import load_declarative
from jqgate.errors import ConfigError, Issues
from jqgate.nodes.call import tls as call_tls
from jqgate.gateway.plan_selection import gateway_for, handler_factory
from netutil import GatewayThread, Upstream, free_port, http_get

CA_ID = "6e9a6a5f-2a8f-4b0a-9f39-0c3c4e0f0a11"


class ForwardProxy:
    """proxy.py on loopback, requiring Basic credentials u:p."""

    def __init__(self):
        pytest.importorskip("proxy")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", str(self.port),
             "--basic-auth", "u:p", "--num-workers", "1", "--num-acceptors", "1",
             "--log-level", "WARNING"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(400):           # a bound on attempts, not a timing assertion
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.025)
        self.stop()
        raise RuntimeError("proxy.py did not start")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def fproxy():
    p = ForwardProxy()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def tls_material(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    key, cert = d / "key.pem", d / "cert.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost"],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("openssl CLI needed to make a test certificate")
    return str(key), str(cert)


@pytest.fixture
def tls_upstream(tls_material):
    key, cert = tls_material
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    u = Upstream(ssl_context=ctx)
    yield u
    u.stop()


def flow_gateway(nodes, upstream_port, ca_certificates=None, plugin_cas=None):
    config = {"nodes": nodes}
    if plugin_cas is not None:
        config["ca_certificates"] = plugin_cas
    doc = {"_format_version": "3.0",
           "services": [{"name": "s", "url": "http://127.0.0.1:%d" % upstream_port}],
           "routes": [{"name": "r", "service": "s", "paths": ["/"]}],
           "plugins": [{"name": "datakit", "route": "r", "config": config}]}
    if ca_certificates:
        doc["ca_certificates"] = ca_certificates
    issues = Issues()
    compiled = compile_gateway(load_declarative(doc, "<test>"), issues)
    issues.raise_if_any()
    return GatewayThread(gateway_for(compiled), handler_factory=handler_factory)


def proxy_nodes(url, proxy_url, user="u", password="p", kind="http_proxy", ssl_verify=True):
    return [
        {"name": "P", "type": "static",
         "values": {"url": proxy_url, "user": user, "password": password}},
        {"name": "CALL", "type": "call", "url": url, "ssl_verify": ssl_verify,
         "inputs": {kind: "P.url", "proxy_auth_username": "P.user",
                    "proxy_auth_password": "P.password"}},
        {"name": "EXIT", "type": "exit", "status": 200, "inputs": {"body": "CALL.body"}},
    ]


def test_http_call_through_the_forward_proxy_with_credentials(fproxy, upstream):
    g = flow_gateway(proxy_nodes("http://127.0.0.1:%d/thing?x=1" % upstream.port,
                                 "http://127.0.0.1:%d" % fproxy.port), upstream.port)
    try:
        status, _, body = http_get(g.port, "/")
        assert status == 200, body
        echoed = json.loads(body)
        assert echoed["path"] == "/thing?x=1"          # the proxy turned it into origin form
        names = {k.lower() for k, _ in echoed["headers"]}
        assert "proxy-authorization" not in names       # spent on the proxy, not passed on
        assert upstream.requests == 1
    finally:
        g.stop()


def test_wrong_proxy_credentials_fail_the_node_and_nothing_reaches_the_upstream(fproxy, upstream):
    g = flow_gateway(proxy_nodes("http://127.0.0.1:%d/thing" % upstream.port,
                                 "http://127.0.0.1:%d" % fproxy.port, password="wrong"),
                     upstream.port)
    try:
        status, _, body = http_get(g.port, "/")
        assert status == 500, body
        assert upstream.requests == 0
    finally:
        g.stop()


def test_https_call_tunnels_through_connect_and_trusts_the_plugins_ca_certificates(
        fproxy, tls_upstream, tls_material, upstream):
    _, cert = tls_material
    with open(cert) as f:
        pem = f.read()
    nodes = proxy_nodes("https://localhost:%d/secret" % tls_upstream.port,
                        "http://127.0.0.1:%d" % fproxy.port, kind="https_proxy")
    trusting = flow_gateway(nodes, upstream.port, ca_certificates=[{"id": CA_ID, "cert": pem}],
                            plugin_cas=[CA_ID])
    system = flow_gateway(nodes, upstream.port)
    try:
        status, _, body = http_get(trusting.port, "/")
        assert status == 200, body
        assert json.loads(body)["path"] == "/secret"
        assert tls_upstream.requests == 1
        # the same call without the plugin's trust store: the system's does not know the CA
        assert http_get(system.port, "/")[0] == 500
        assert tls_upstream.requests == 1
    finally:
        trusting.stop()
        system.stop()


def test_ca_certificates_must_name_an_entity(upstream):
    with pytest.raises(ConfigError) as err:
        flow_gateway([{"name": "C", "type": "call", "url": "https://localhost/x"}],
                     upstream.port, plugin_cas=[CA_ID])
    assert "ca_certificates[0]" in str(err.value) and CA_ID in str(err.value)


def test_a_proxy_url_that_is_not_http_fails_the_node(upstream):
    g = flow_gateway(proxy_nodes("http://127.0.0.1:%d/x" % upstream.port,
                                 "socks5://127.0.0.1:1080"), upstream.port)
    try:
        assert http_get(g.port, "/")[0] == 500
        assert upstream.requests == 0
    finally:
        g.stop()


def test_ssl_verify_false_is_blocked_under_tls_certificate_verify(tls_upstream, upstream):
    def unverified(url):
        return [{"name": "CALL", "type": "call", "url": url, "ssl_verify": False},
                {"name": "EXIT", "type": "exit", "status": 200, "inputs": {"body": "CALL.body"}}]
    https = flow_gateway(unverified("https://localhost:%d/x" % tls_upstream.port), upstream.port)
    plain = flow_gateway(unverified("http://127.0.0.1:%d/y" % upstream.port), upstream.port)
    try:
        assert http_get(https.port, "/")[0] == 200     # not enforced: unverified is allowed
        assert tls_upstream.requests == 1
        call_tls.set_tls_certificate_verify(True)
        status, _, body = http_get(https.port, "/")
        assert status == 500, body
        assert tls_upstream.requests == 1              # blocked before any connection
        assert http_get(plain.port, "/")[0] == 200     # an http URL is not concerned
        assert upstream.requests == 1
    finally:
        call_tls.set_tls_certificate_verify(False)
        https.stop()
        plain.stop()


@pytest.mark.parametrize("given", [None, "text/xml; charset=utf-8"])
def test_a_json_to_xml_body_goes_out_as_application_xml(upstream, given):
    pytest.importorskip("lxml")
    headers = {"headers": {"Content-Type": given}} if given else {}
    nodes = [{"name": "S", "type": "static", "values": {"doc": {"order": {"id": 7}}}},
             {"name": "X", "type": "json_to_xml", "attributes_name_prefix": "@", "input": "S.doc"},
             {"name": "H", "type": "static", "values": headers},
             {"name": "CALL", "type": "call", "method": "POST",
              "url": "http://127.0.0.1:%d/xml" % upstream.port,
              "inputs": {"body": "X", **({"headers": "H.headers"} if given else {})}},
             {"name": "EXIT", "type": "exit", "status": 200, "inputs": {"body": "CALL.body"}}]
    g = flow_gateway(nodes, upstream.port)
    try:
        status, _, body = http_get(g.port, "/")
        assert status == 200, body
        sent = {k.lower(): v for k, v in json.loads(body)["headers"]}
        assert sent["content-type"] == (given or "application/xml")
    finally:
        g.stop()
