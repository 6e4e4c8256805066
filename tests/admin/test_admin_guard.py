"""The Admin API refuses what a web page could send it (issue 15 item 2): cross-origin writes,
"simple" content types, missing tokens; and it can listen with TLS. Against `jqgate run` over
real loopback sockets."""
from __future__ import annotations

import http.client
import json
import ssl
import subprocess

import pytest

from adminutil import AdminGateway, declarative


@pytest.fixture
def gw(tmp_path, upstream):
    g = AdminGateway(tmp_path, declarative(upstream.port))
    yield g
    g.stop()


def new_config(upstream_port) -> str:
    return json.dumps(declarative(upstream_port, route_paths=("/changed",)))


def test_no_answer_allows_other_origins(gw):
    for method, path, body in [("GET", "/", None), ("GET", "/plugins", None),
                               ("OPTIONS", "/config", None)]:
        status, _, headers = gw.admin(method, path, body,
                                      headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in headers, (method, path, status)


def test_a_text_plain_config_from_a_foreign_page_is_refused(gw, upstream):
    # The probe: a "simple" cross-origin POST a browser sends without preflight.
    status, body, headers = gw.admin("POST", "/config", new_config(upstream.port),
                                     content_type="text/plain",
                                     headers={"Origin": "http://evil.example"})
    assert status == 403
    assert "cross-origin" in body["message"]
    assert "access-control-allow-origin" not in headers
    assert gw.admin("GET", "/routes")[1]["data"][0]["paths"] == ["/"]    # nothing changed


@pytest.mark.parametrize("method, path", [("POST", "/services"), ("PATCH", "/routes/main"),
                                          ("DELETE", "/routes/main"), ("POST", "/config")])
def test_every_state_changing_method_refuses_a_foreign_origin(gw, method, path):
    for origin in ("http://evil.example", "null", "http://127.0.0.1:1",
                   "https://127.0.0.1:%d" % gw.admin_port):
        status, body, _ = gw.admin(method, path, {"name": "x"} if method != "DELETE" else None,
                                   headers={"Origin": origin})
        assert status == 403, (origin, status, body)


def test_text_plain_without_origin_is_refused_as_unsupported(gw, upstream):
    status, body, _ = gw.admin("POST", "/config", new_config(upstream.port),
                               content_type="text/plain")
    assert status == 415
    assert "Content-Type" in body["message"]
    status, body, _ = gw.admin("POST", "/config", new_config(upstream.port), content_type=None)
    assert status == 415                               # a body with no type at all


def test_the_admin_apis_own_origin_and_plain_clients_may_write(gw, upstream):
    own = "http://127.0.0.1:%d" % gw.admin_port
    status, body, _ = gw.admin("POST", "/config", new_config(upstream.port),
                               headers={"Origin": own})
    assert status == 201, body
    status, body, _ = gw.admin("POST", "/config", new_config(upstream.port),
                               content_type="application/x-yaml")
    assert status == 201, body
    status, body, _ = gw.admin("POST", "/services", "name=svc2&url=http://127.0.0.1:9",
                               content_type="application/x-www-form-urlencoded",
                               headers={"Origin": "http://localhost:%d" % gw.admin_port})
    assert status == 201, body
    status, _, _ = gw.admin("DELETE", "/services/svc2", None)
    assert status == 204


def test_a_token_is_required_when_configured(tmp_path, upstream):
    g = AdminGateway(tmp_path, declarative(upstream.port), env={"JQGATE_ADMIN_TOKEN": "s3cret"})
    try:
        status, body, headers = g.admin("GET", "/plugins")
        assert status == 401 and "token" in body["message"]
        assert headers["www-authenticate"] == "Bearer"
        assert g.admin("GET", "/plugins", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert g.admin("GET", "/plugins", headers={"Kong-Admin-Token": "s3cre"})[0] == 401
        assert g.admin("POST", "/config", new_config(upstream.port))[0] == 401
        assert g.admin("GET", "/plugins", headers={"Authorization": "Bearer s3cret"})[0] == 200
        assert g.admin("GET", "/plugins", headers={"Kong-Admin-Token": "s3cret"})[0] == 200
        status, body, _ = g.admin("POST", "/config", new_config(upstream.port),
                                  headers={"Kong-Admin-Token": "s3cret"})
        assert status == 201, body
        # the token does not make a foreign page's write acceptable
        status, _, _ = g.admin("POST", "/config", new_config(upstream.port),
                               headers={"Kong-Admin-Token": "s3cret",
                                        "Origin": "http://evil.example"})
        assert status == 403
    finally:
        g.stop()


def test_listening_beyond_loopback_without_token_or_tls_warns(tmp_path, upstream):
    g = AdminGateway(tmp_path, declarative(upstream.port), admin_host="0.0.0.0")
    try:
        warning = [line for line in g.lines if "beyond loopback" in line]
        assert warning and "token" in warning[0] and "TLS" in warning[0]
    finally:
        g.stop()


def test_loopback_without_token_does_not_warn(gw):
    assert not [line for line in gw.lines if "beyond loopback" in line]


def _make_cert(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
    except FileNotFoundError:
        pytest.skip("openssl CLI needed to make a test certificate")
    return str(cert), str(key)


def test_the_admin_api_over_tls(tmp_path, upstream):
    cert, key = _make_cert(tmp_path)
    g = AdminGateway(tmp_path, declarative(upstream.port), admin_host="0.0.0.0",
                     env={"JQGATE_ADMIN_TOKEN": "t0k", "JQGATE_ADMIN_SSL_CERT": cert,
                          "JQGATE_ADMIN_SSL_KEY": key})
    try:
        assert not [line for line in g.lines if "beyond loopback" in line]
        ctx = ssl.create_default_context(cafile=cert)
        c = http.client.HTTPSConnection("127.0.0.1", g.admin_port, context=ctx, timeout=30)
        try:
            c.request("GET", "/plugins", headers={"Authorization": "Bearer t0k"})
            r = c.getresponse()
            assert r.status == 200 and json.loads(r.read())["data"] == []
        finally:
            c.close()
        # plain HTTP on the TLS port gets no Admin answer
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            g.admin("GET", "/plugins", headers={"Authorization": "Bearer t0k"})
    finally:
        g.stop()


def test_tls_needs_both_files(tmp_path, upstream):
    cert, _ = _make_cert(tmp_path)
    with pytest.raises(RuntimeError) as info:
        AdminGateway(tmp_path, declarative(upstream.port), env={"JQGATE_ADMIN_SSL_CERT": cert})
    assert "needs both a certificate and a key" in str(info.value)
