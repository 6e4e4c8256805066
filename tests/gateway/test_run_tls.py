"""`jqgate run --ssl-cert --ssl-cert-key`: the proxy listener speaks HTTPS; a key that does not
load stops the start-up with a message naming the files."""
from __future__ import annotations

import http.client
import json
import ssl
import subprocess

import pytest

from netutil import Upstream, free_port
from adminutil import declarative
from test_status_listener import JqgateRun


@pytest.fixture
def certificate(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost"],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("openssl CLI needed to make a test certificate")
    return str(cert), str(key)


def test_https_proxy_listener(tmp_path, certificate):
    cert, key = certificate
    up = Upstream()
    config = tmp_path / "kong.json"
    config.write_text(json.dumps(declarative(up.port)))
    port = free_port()
    run = JqgateRun([str(config), "--listen", "127.0.0.1:%d" % port, "--no-admin"],
                    env={"KONG_SSL_CERT": cert, "JQGATE_SSL_CERT_KEY": key})
    try:
        assert any("jqgate ready: proxy listening on https://" in l for l in run.lines), run.lines
        context = ssl.create_default_context(cafile=cert)
        conn = http.client.HTTPSConnection("localhost", port, context=context, timeout=30)
        conn.request("GET", "/over-tls")
        response = conn.getresponse()
        body = json.loads(response.read())
        conn.close()
        assert response.status == 200
        forwarded = {k.lower(): v for k, v in body["headers"].items()} \
            if isinstance(body["headers"], dict) else {k.lower(): v for k, v in body["headers"]}
        assert forwarded["x-forwarded-proto"] == "https"
    finally:
        run.stop()
        up.stop()


def test_bad_tls_files_are_named(tmp_path, certificate):
    cert, _ = certificate
    missing = str(tmp_path / "nokey.pem")
    config = tmp_path / "kong.json"
    config.write_text(json.dumps(declarative(1)))
    run = JqgateRun([str(config), "--listen", "127.0.0.1:%d" % free_port(), "--no-admin",
                     "--ssl-cert", cert, "--ssl-cert-key", missing])
    code, log = run.exited()
    assert code == 1
    assert "jqgate: cannot start: TLS certificate %s with key %s" % (cert, missing) in log, log
    run = JqgateRun([str(config), "--listen", "127.0.0.1:%d" % free_port(), "--no-admin",
                     "--ssl-cert", cert])
    code, log = run.exited()
    assert code == 1 and "TLS needs both ssl_cert and ssl_cert_key" in log, log
