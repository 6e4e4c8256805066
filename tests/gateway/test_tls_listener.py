"""TLS listeners with real TLS clients: Kong's certificates chosen by SNI (exact, wildcard,
default), TLS 1.2 and 1.3, session resumption, routes matching `snis` and `protocols`,
X-Forwarded-Proto and the DataKit request scheme, certificate changes through a reload while
connections stay up, and clients that abort, send garbage or never finish their handshake."""
from __future__ import annotations

import json
import socket
import ssl
import threading
import warnings

import pytest

from netutil import Upstream
from tls_certs import CertAuthority, common_name, x509_der
from tls_gateway import TLSGateway, kong_doc

CA = CertAuthority()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    cert, key = CA.leaf_files(d, "default.test")
    return {"cert": cert, "key": key, "ca": CA.ca_file(d), "dir": d}


def client_context(files, version=None):
    ctx = ssl.create_default_context(cafile=files["ca"])
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


def tls_connect(port, name, ctx, session=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    return ctx.wrap_socket(raw, server_hostname=name, session=session)


def request(sock, path="/", host="x.test", close=False):
    """One HTTP/1.1 exchange on an open socket: (status, headers, body)."""
    head = "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (path, host, "Connection: close\r\n" if close else "")
    sock.sendall(head.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    raw_head, _, rest = data.partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk
        rest += chunk
    return int(lines[0].split()[1]), headers, rest[:length]


def served_name(port, name, files, **kw):
    """The CN of the certificate a client asking for `name` gets (no verification)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with tls_connect(port, name, ctx) as s:
        return common_name(s.getpeercert(binary_form=True))


@pytest.fixture
def upstream():
    u = Upstream()
    yield u
    u.stop()


def certificate(*names, **kw):
    cert, key = CA.leaf(*names)
    return {"cert": cert, "key": key, "snis": list(names), **kw}


def test_sni_selection_exact_wildcard_default(upstream, files):
    doc = kong_doc(upstream.port, [certificate("api.example.com"),
                                   certificate("*.example.com"),
                                   certificate("example.*")])
    gw = TLSGateway(doc, files)
    try:
        port = gw.tls_port
        assert served_name(port, "api.example.com", files) == "api.example.com"
        assert served_name(port, "www.example.com", files) == "*.example.com"
        assert served_name(port, "example.net", files) == "example.*"
        assert served_name(port, "a.b.example.com", files) == "default.test"   # one label only
        assert served_name(port, "nothing.test", files) == "default.test"
        # a verifying client gets a certificate valid for the name it asked
        with tls_connect(port, "api.example.com", client_context(files)) as s:
            status, headers, body = request(s, "/echo", host="api.example.com")
        assert status == 200
        echoed = json.loads(body)["headers"]
        forwarded = {k.lower(): v for k, v in (echoed.items() if isinstance(echoed, dict) else echoed)}
        assert forwarded["x-forwarded-proto"] == "https"
    finally:
        gw.stop()


def test_tls_versions_and_session_resumption(upstream, files):
    gw = TLSGateway(kong_doc(upstream.port), files)
    try:
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = client_context(files, version)
            with tls_connect(gw.tls_port, "default.test", ctx) as s:
                assert s.version() == version.name.replace("v1_", "v1.")
                assert request(s)[0] == 200          # TLS 1.3 tickets arrive with the data
                session = s.session
            with tls_connect(gw.tls_port, "default.test", ctx, session=session) as s:
                assert s.session_reused, version
                assert request(s)[0] == 200
        old = ssl.create_default_context(cafile=files["ca"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)     # TLS 1.1, on purpose
            old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("ALL:@SECLEVEL=0")
        with pytest.raises((ssl.SSLError, ConnectionError)):
            tls_connect(gw.tls_port, "default.test", old).close()
    finally:
        gw.stop()


def test_routes_match_snis_and_protocols(upstream, files):
    routes = [{"name": "secure", "service": "svc", "paths": ["/secure"], "protocols": ["https"]},
              {"name": "by-sni", "service": "svc", "snis": ["sni.example.com"],
               "protocols": ["https"], "paths": ["/sni"]},
              {"name": "all", "service": "svc", "paths": ["/"]}]
    doc = kong_doc(upstream.port, [certificate("sni.example.com")], routes=routes)
    gw = TLSGateway(doc, files)
    try:
        import http.client
        plain = http.client.HTTPConnection("127.0.0.1", gw.plain_port, timeout=30)
        plain.request("GET", "/secure")
        answer = plain.getresponse()
        assert answer.status == 426
        assert json.loads(answer.read())["message"] == "Please use HTTPS protocol"
        plain.close()
        with tls_connect(gw.tls_port, "default.test", client_context(files)) as s:
            assert request(s, "/secure")[0] == 200
            # the snis route needs its server name: this connection asked for another one
            status, headers, body = request(s, "/sni/x")
            assert status == 200 and json.loads(body)["path"] == "/sni/x"   # route "all"
        with tls_connect(gw.tls_port, "sni.example.com", client_context(files)) as s:
            status, headers, body = request(s, "/sni/x", host="sni.example.com")
            assert status == 200 and json.loads(body)["path"] == "/x"       # by-sni strips /sni
    finally:
        gw.stop()


def test_datakit_sees_the_https_scheme(upstream, files):
    flow = {"name": "datakit", "config": {"nodes": [
        {"name": "SCHEME", "type": "property", "property": "kong.client.protocol"},
        {"name": "OUT", "type": "jq", "inputs": {"scheme": "SCHEME", "req": "request.scheme"},
         "jq": "."},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "OUT"}}]}}
    gw = TLSGateway(kong_doc(upstream.port, plugins=[flow]), files)
    try:
        with tls_connect(gw.tls_port, "default.test", client_context(files)) as s:
            status, _, body = request(s)
        assert status == 200 and json.loads(body) == {"scheme": "https", "req": "https"}
        import http.client
        plain = http.client.HTTPConnection("127.0.0.1", gw.plain_port, timeout=30)
        plain.request("GET", "/")
        assert json.loads(plain.getresponse().read()) == {"scheme": "http", "req": "http"}
        plain.close()
    finally:
        gw.stop()


def test_certificate_change_by_reload_keeps_connections(upstream, files):
    first = certificate("swap.example.com")
    second = certificate("swap.example.com")
    gw = TLSGateway(kong_doc(upstream.port, [first]), files)
    try:
        kept = tls_connect(gw.tls_port, "swap.example.com", client_context(files))
        before = kept.getpeercert(binary_form=True)
        assert request(kept, host="swap.example.com")[0] == 200
        gw.reload(kong_doc(upstream.port, [second]))
        with tls_connect(gw.tls_port, "swap.example.com", client_context(files)) as fresh:
            after = fresh.getpeercert(binary_form=True)
        assert after != before
        assert after == x509_der(second["cert"])
        # the connection made before the change is still up and still served
        assert request(kept, host="swap.example.com")[0] == 200
        kept.close()
    finally:
        gw.stop()


def test_bad_clients_do_not_disturb_others(upstream, files):
    gw = TLSGateway(kong_doc(upstream.port), files, ssl_handshake_timeout=0.5)
    try:
        good = tls_connect(gw.tls_port, "default.test", client_context(files))
        assert request(good)[0] == 200
        # garbage instead of a ClientHello: the server gives up on that connection alone
        junk = socket.create_connection(("127.0.0.1", gw.tls_port), timeout=30)
        junk.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 10)
        assert junk.recv(65536) is not None
        junk.close()
        # a client that starts a handshake and drops it
        aborted = socket.create_connection(("127.0.0.1", gw.tls_port), timeout=30)
        ctx = ssl.create_default_context(cafile=files["ca"])
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(incoming, outgoing, server_hostname="default.test")
        with pytest.raises(ssl.SSLWantReadError):
            obj.do_handshake()
        aborted.sendall(outgoing.read())
        aborted.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        aborted.close()                                       # RST mid-handshake
        # a client that connects and never says anything: closed at the handshake timeout
        silent = socket.create_connection(("127.0.0.1", gw.tls_port), timeout=30)
        closed = threading.Event()

        def wait_close():
            try:
                while silent.recv(1024):
                    pass
            except OSError:
                pass
            closed.set()
        threading.Thread(target=wait_close, daemon=True).start()
        assert closed.wait(20), "the handshake timeout never closed the silent connection"
        silent.close()
        assert request(good)[0] == 200                       # the good one is unaffected
        with tls_connect(gw.tls_port, "default.test", client_context(files)) as s:
            assert request(s)[0] == 200                      # and new ones are served
        good.close()
    finally:
        gw.stop()
