"""The two TLS engines of the proxy listeners (jqgate.tls): the core's (jqgate._core.tls, OpenSSL
over memory BIOs in C, the default) and uvloop's SSL transport (the fallback), each with real
TLS clients: SNI selection by Kong's rule, ALPN, large bodies both ways through flow control
(the HTTP protocol pausing its reading, the socket pausing the writes), a chunked answer, two
requests in one TLS record, and a client's close_notify answered with the server's."""
from __future__ import annotations

import hashlib
import json
import socket
import ssl

import pytest

from netutil import Upstream, pattern_body, until
from tls_certs import CertAuthority, common_name
from tls_gateway import TLSGateway, kong_doc

CA = CertAuthority()
ENGINES = ["core", "python"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls-engine")
    cert, key = CA.leaf_files(d, "default.test")
    return {"cert": cert, "key": key, "ca": CA.ca_file(d), "dir": d}


@pytest.fixture(scope="module")
def upstream():
    u = Upstream()
    yield u
    u.stop()


@pytest.fixture(scope="module", params=ENGINES)
def gateway(request, upstream, files):
    cert, key = CA.leaf("api.example.com")
    doc = kong_doc(upstream.port, [{"cert": cert, "key": key, "snis": ["api.example.com"]}])
    gw = TLSGateway(doc, files, engine=request.param)
    assert gw.tls.engine == request.param
    yield gw
    gw.stop()


def connect(port, name="default.test", alpn=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    return ctx.wrap_socket(raw, server_hostname=name)


def read_answer(sock, buf=b""):
    """One HTTP/1.1 answer (Content-Length or chunked) from `sock`: (status, body, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, buf
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    if fields.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            while b"\r\n" not in buf:
                buf += sock.recv(65536)
            size_line, _, buf = buf.partition(b"\r\n")
            size = int(size_line, 16)
            while len(buf) < size + 2:
                buf += sock.recv(65536)
            body, buf = body + buf[:size], buf[size + 2:]
            if size == 0:
                return int(lines[0].split()[1]), body, buf
    length = int(fields["content-length"])
    while len(buf) < length:
        chunk = sock.recv(1 << 20)
        assert chunk
        buf += chunk
    return int(lines[0].split()[1]), buf[:length], buf[length:]


def test_the_core_engine_is_the_default(files):
    from jqgate._core import tls as core
    from jqgate.tls import ServerTLS
    assert core.available, core.why
    assert ServerTLS(files["cert"], files["key"]).engine == "core"


def test_falling_back_to_uvloop_tls_is_said_at_start_up(files, monkeypatch, caplog):
    """Where the core's TLS cannot run (another CPython's SSLContext layout, say), "auto" serves
    through uvloop's transport -- correct but slower -- and the operator is told why."""
    import jqgate.tls as tls
    monkeypatch.setattr(tls, "core_tls", lambda: None)
    monkeypatch.setattr(tls, "_core_tls_why", lambda: "layout check failed")
    with caplog.at_level("WARNING", logger=tls.log.name):
        assert tls.ServerTLS(files["cert"], files["key"]).engine == "python"
    assert "layout check failed" in caplog.text and "uvloop" in caplog.text
    with pytest.raises(tls.TLSFileError, match="layout check failed"):
        tls.ServerTLS(files["cert"], files["key"], engine="core")


def test_sni_and_alpn(gateway):
    with connect(gateway.tls_port, "api.example.com") as s:
        assert common_name(s.getpeercert(binary_form=True)) == "api.example.com"
    with connect(gateway.tls_port, "other.test", alpn=["h2", "http/1.1"]) as s:
        assert common_name(s.getpeercert(binary_form=True)) == "default.test"
        assert s.selected_alpn_protocol() == "http/1.1"      # this listener does not say http2
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        status, body, _ = read_answer(s)
        assert status == 200
        headers = {k.lower(): v for k, v in json.loads(body)["headers"]}
        assert headers["x-forwarded-proto"] == "https"


def test_a_large_upload_through_flow_control(gateway):
    body = pattern_body(8 << 20)
    with connect(gateway.tls_port) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        s.sendall(body)
        status, answer, _ = read_answer(s)
    assert status == 200
    echoed = json.loads(answer)
    assert echoed["body_len"] == len(body)
    assert echoed["body_sha"] == hashlib.sha256(body).hexdigest()


def test_a_large_download_through_flow_control(gateway):
    """The client reads nothing until the gateway's writes to it are held back (its socket
    transport over the high-water mark: the HTTP protocol was told to pause), then all of it:
    every byte arrives, in order, once writing resumes."""
    n = 24 << 20
    settings = gateway.thread.running.settings

    def held_back():
        return any(p.transport is not None and p.transport.get_write_buffer_size() > 65536
                   for p in list(settings.connections))

    with connect(gateway.tls_port) as s:
        s.sendall(b"GET /pattern/%d HTTP/1.1\r\nHost: x\r\n\r\n" % n)
        gateway.thread.lt.call(until(held_back, timeout=30))
        status, body, _ = read_answer(s)
    assert status == 200
    assert body == pattern_body(n)


def test_chunked_answer_and_two_requests_in_one_record(gateway):
    with connect(gateway.tls_port) as s:
        s.sendall(b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\nGET /echo/2 HTTP/1.1\r\nHost: x\r\n\r\n")
        status, body, rest = read_answer(s)
        assert (status, body) == (200, b"abcdefghi")
        status, body, _ = read_answer(s, rest)
        assert status == 200 and json.loads(body)["path"] == "/echo/2"


def test_close_notify_is_answered(gateway):
    s = connect(gateway.tls_port)
    s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_answer(s)[0] == 200
    plain = s.unwrap()          # sends close_notify, returns once the server's arrives
    assert plain.recv(1) == b""                 # and the server then closes the socket
    plain.close()
