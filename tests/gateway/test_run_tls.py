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
from run_process import jqgate_run


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
    # Kong's syntax: the listener says ssl (KONG_PROXY_LISTEN reads the same)
    run = jqgate_run([str(config), "--no-admin"],
                    env={"KONG_SSL_CERT": cert, "JQGATE_SSL_CERT_KEY": key,
                         "KONG_PROXY_LISTEN": "127.0.0.1:%d ssl" % port})
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
    run = jqgate_run([str(config), "--listen", "127.0.0.1:%d ssl" % free_port(), "--no-admin",
                     "--ssl-cert", cert, "--ssl-cert-key", missing])
    code, log = run.exited()
    assert code == 1
    assert "jqgate: cannot start: TLS certificate %s with key %s" % (cert, missing) in log, log
    run = jqgate_run([str(config), "--listen", "127.0.0.1:%d" % free_port(), "--no-admin",
                     "--ssl-cert", cert])
    code, log = run.exited()
    assert code == 1 and "TLS needs both ssl_cert and ssl_cert_key" in log, log


def test_listen_syntax_sni_with_curl_and_openssl(tmp_path):
    """`--listen "A, B http2 ssl"` with two workers: the plain and the TLS listener both serve;
    curl --resolve and openssl s_client -servername get the certificate of the name they ask
    (a `certificates` entity), others the default; unknown flags are refused by name."""
    from tls_certs import CertAuthority
    ca = CertAuthority()
    cert, key = ca.leaf_files(tmp_path, "default.test")
    api_cert, api_key = ca.leaf("api.example.com")
    up = Upstream()
    doc = declarative(up.port)
    doc["certificates"] = [{"cert": api_cert, "key": api_key, "snis": ["api.example.com"]}]
    config = tmp_path / "kong.json"
    config.write_text(json.dumps(doc))
    plain, secure = free_port(), free_port()
    run = jqgate_run([str(config), "--listen", "127.0.0.1:%d, 127.0.0.1:%d http2 ssl" % (
        plain, secure), "--no-admin", "--workers", "2", "--ssl-cert", cert,
        "--ssl-cert-key", key])
    try:
        ready = [l for l in run.lines if "jqgate ready" in l]
        assert ready and "http://127.0.0.1:%d, https://127.0.0.1:%d" % (plain, secure) \
            in ready[0], run.lines
        ca_file = ca.ca_file(tmp_path)
        done = subprocess.run(["curl", "-sS", "--resolve", "api.example.com:%d:127.0.0.1" % secure,
                               "--cacert", ca_file, "-o", "/dev/null", "-w", "%{http_code}",
                               "https://api.example.com:%d/x" % secure],
                              capture_output=True, text=True, timeout=60)
        assert done.stdout == "200", done.stderr
        # The listener that says http2 offers h2 by ALPN; the plain one without it speaks
        # HTTP/1.1 only (no h2c).
        done = subprocess.run(["curl", "-sS", "--http2", "--resolve",
                               "api.example.com:%d:127.0.0.1" % secure, "--cacert", ca_file,
                               "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                               "https://api.example.com:%d/x" % secure],
                              capture_output=True, text=True, timeout=60)
        assert done.stdout == "200 2", done.stderr
        done = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null",
                               "-w", "%{http_version}", "http://127.0.0.1:%d/x" % plain],
                              capture_output=True, text=True, timeout=60)
        assert done.stdout != "2", done.stdout
        for name, subject in (("api.example.com", "CN = api.example.com"),
                              ("other.test", "CN = default.test")):
            done = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % secure,
                                   "-servername", name, "-CAfile", ca_file, "-brief"],
                                  input="", capture_output=True, text=True, timeout=60)
            assert subject in done.stderr + done.stdout, done.stderr
        conn = http.client.HTTPConnection("127.0.0.1", plain, timeout=30)
        conn.request("GET", "/plain")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        run.stop()
        up.stop()
    run = jqgate_run([str(config), "--listen", "127.0.0.1:%d ssl sparkles" % free_port(),
                     "--no-admin"])
    code, log = run.exited()
    assert code == 1 and 'unknown listen flag "sparkles"' in log, log
