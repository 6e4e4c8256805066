"""HTTP/2 to clients (issue #17 item 2), end to end on loopback: h2c with prior knowledge and
ALPN h2 on TLS, streams through the same routing and proxy path as HTTP/1.1 (the upstream side
stays HTTP/1.1), flow control both ways, stream resets, GOAWAY on drain, and the known attacks
bounded (rapid reset, CONTINUATION floods, HPACK bombs, too many streams: the extra one is
refused alone)."""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys

import pytest
from h2.errors import ErrorCodes
from hpack import Encoder
from hyperframe.frame import ContinuationFrame, GoAwayFrame, HeadersFrame, RstStreamFrame

from h2client import PREFACE, H2Client, RawFrames
from netutil import HARNESS, GatewayThread, free_port, http_get, make_config, pattern_body


def gateway_with(upstream, **server_options):
    return GatewayThread(make_config(upstream.port),
                         server_options={"http2": True, **server_options})


@pytest.fixture
def gw(upstream):
    g = gateway_with(upstream)
    yield g
    g.stop()


def sent_headers(resp):
    return {k.lower(): v for k, v in json.loads(resp["body"])["headers"]}


def test_h2c_prior_knowledge_goes_through_the_proxy_path(gw, upstream):
    c = H2Client(gw.port)
    try:
        r = c.get("/echo/x?a=1", headers=[("x-keep", "yes"), ("te", "trailers")])
        h = r["headers"]
        assert h[b":status"] == b"200"
        assert len(h[b"x-kong-request-id"]) == 32
        assert h[b"via"] == b"1.1 jqgate/0.1.0"
        assert b"connection" not in h and b"transfer-encoding" not in h
        assert int(h[b"content-length"]) == len(r["body"])
        doc = json.loads(r["body"])
        assert doc["path"] == "/echo/x?a=1"
        up = sent_headers(r)
        assert up["host"] == "127.0.0.1:%d" % upstream.port     # the service's, as on 1.1
        assert up["x-forwarded-host"] == "gw.test"
        assert up["x-forwarded-proto"] == "http"
        assert up["x-keep"] == "yes"
        assert "te" not in up
        # the upstream request is HTTP/1.1 keep-alive: a second stream reuses its connection
        r2 = c.get("/echo/y")
        assert json.loads(r2["body"])["conn"] == doc["conn"]
    finally:
        c.close()


def test_http1_still_served_on_an_http2_listener(gw):
    status, h, body = http_get(gw.port, "/echo/plain")
    assert status == 200 and json.loads(body)["path"] == "/echo/plain"


def test_split_cookies_reach_the_upstream_as_one_field(gw):
    c = H2Client(gw.port)
    try:
        r = c.get("/echo/c", headers=[("cookie", "a=1"), ("cookie", "b=2")])
        assert sent_headers(r)["cookie"] == "a=1; b=2"
    finally:
        c.close()


def test_relayed_head_fields_are_valid_http2_fields(gw):
    # The upstream's head as the fast path relays it (mixed-case names, a value with trailing
    # whitespace, an empty one, hop-by-hop fields): HTTP/2 wants lower-case names and values
    # without surrounding whitespace (RFC 9113 8.2.1, 8.2.2); the h2 client refuses the
    # whole answer otherwise.
    c = H2Client(gw.port)
    try:
        r = c.get("/varied-head")
        h = r["headers"]
        assert h[b":status"] == b"203"
        assert h[b"x-a"] == b"tight" and h[b"x-b"] == b"lead" and h[b"x-lower"] == b"1"
        assert h[b"x-trail"] == b"t" and h[b"x-empty"] == b""
        assert h[b"x-name"] == b"caf\xe9"
        assert b"connection" not in h
        assert r["body"] == b"body"
        r = c.get("/hop")
        h = r["headers"]
        for name in (b"connection", b"keep-alive", b"upgrade", b"x-secret"):
            assert name not in h
        assert r["body"] == b"hop"
    finally:
        c.close()


def test_many_streams_multiplexed_on_one_connection(gw, upstream):
    c = H2Client(gw.port)
    try:
        sids = [c.request("/delay/0.05" if i % 2 else "/echo/%d" % i) for i in range(40)]
        for i, sid in enumerate(sids):
            r = c.response(sid)
            assert r["headers"][b":status"] == b"200"
            if i % 2:
                assert r["body"] == b"delayed"
            else:
                assert json.loads(r["body"])["path"] == "/echo/%d" % i
    finally:
        c.close()


def test_request_body_larger_than_every_window_arrives_whole(gw):
    """300 KB against a 64 KiB stream window and the 64 KiB body buffer: the body streams to
    the upstream while the gateway acknowledges what it took."""
    body = bytes(range(256)) * 1200
    c = H2Client(gw.port)
    try:
        sid = c.request("/echo/post", method="POST", body=body)
        r = c.response(sid)
        doc = json.loads(r["body"])
        assert doc["body_len"] == len(body)
        assert doc["body_sha"] == hashlib.sha256(body).hexdigest()
        small = c.get("/echo/small", method="POST", body=b"abc")
        assert json.loads(small["body"])["body_len"] == 3
    finally:
        c.close()


def test_response_respects_the_clients_window(gw):
    """The client offers a 1000-byte stream window and acknowledges only what it has read:
    h2 on the client side fails the connection if the gateway ever sends past it."""
    c = H2Client(gw.port, settings={h2_settings().INITIAL_WINDOW_SIZE: 1000})
    try:
        r = c.get("/big/300000")
        assert r["headers"][b":status"] == b"200"
        assert r["body"] == b"x" * 300000
    finally:
        c.close()


def test_large_body_pieces_arrive_in_order(gw):
    # Pieces of 4 KiB and more go to the socket by reference, cut into DATA frames (the
    # client's 16 KiB frames, its window), smaller ones copied: the bytes must come out whole
    # and in order either way.
    c = H2Client(gw.port, settings={h2_settings().INITIAL_WINDOW_SIZE: 50000})
    try:
        r = c.get("/pattern/700000")
        assert r["headers"][b":status"] == b"200"
        assert r["body"] == pattern_body(700000)
    finally:
        c.close()


def h2_settings():
    import h2.settings
    return h2.settings.SettingCodes


def test_reset_of_one_stream_leaves_the_others(gw, upstream):
    c = H2Client(gw.port)
    try:
        stalled = c.request("/stall")
        slow = c.request("/delay/0.2")
        c.reset(stalled)
        r = c.response(slow)
        assert r["body"] == b"delayed" and r["reset"] is None
        assert c.get("/echo/after")["headers"][b":status"] == b"200"
    finally:
        c.close()


def test_reset_while_the_request_body_streams_abandons_only_that_stream(gw):
    c = H2Client(gw.port)
    try:
        sid = c.request("/echo/upload", method="POST", body=b"x" * 100000, end=False)
        c.reset(sid)
        r = c.get("/echo/next", method="POST", body=b"y" * 100000)
        assert json.loads(r["body"])["body_len"] == 100000
    finally:
        c.close()


def test_rapid_reset_is_capped_then_goaway(upstream):
    """CVE-2023-44487: streams opened and reset at once. Past max_resets in the interval
    the connection gets GOAWAY ENHANCE_YOUR_CALM and is closed; other clients carry on."""
    g = gateway_with(upstream, http2={"max_resets": 50, "reset_interval": 3600.0})
    try:
        c = H2Client(g.port)
        c.read_once()                       # the server's SETTINGS
        for _ in range(60):
            sid = c.request("/stall")
            c.reset(sid)
        ev = c.read_until_goaway()
        assert ev.error_code == ErrorCodes.ENHANCE_YOUR_CALM
        assert c.closed_by_server()
        c.close()
        other = H2Client(g.port)
        assert other.get("/echo/ok")["headers"][b":status"] == b"200"
        other.close()
    finally:
        g.stop()


def test_resets_under_the_cap_are_served(upstream):
    g = gateway_with(upstream, http2={"max_resets": 50, "reset_interval": 3600.0})
    try:
        c = H2Client(g.port)
        for _ in range(40):
            c.reset(c.request("/stall"))
        assert c.get("/echo/still")["headers"][b":status"] == b"200"
        c.close()
    finally:
        g.stop()


def raw_connection(port):
    """A socket past the preface and an empty SETTINGS, and the frames reader for it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(PREFACE + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    return s, RawFrames(s)


def goaway_of(frames):
    """The GOAWAY the server sends before it closes (frames before it are skipped)."""
    while True:
        f = frames.next()
        assert f is not None, "connection closed without GOAWAY"
        if isinstance(f, GoAwayFrame):
            assert frames.next() is None, "connection still open after GOAWAY"
            return f


def continuation_flood(port, fragment):
    """CVE-2024-27316-style: one HEADERS without END_HEADERS, then CONTINUATION frames that
    never end, each carrying `fragment`; the GOAWAY the gateway answers with."""
    s, frames = raw_connection(port)
    block = Encoder().encode([(b":method", b"GET"), (b":scheme", b"http"),
                              (b":authority", b"gw.test"), (b":path", b"/")])
    h = HeadersFrame(1)
    h.data = block
    s.sendall(h.serialize())
    try:
        for _ in range(2000):
            cf = ContinuationFrame(1)
            cf.data = fragment
            s.sendall(cf.serialize())
    except (BrokenPipeError, ConnectionResetError):
        pass
    g = goaway_of(frames)
    s.close()
    return g


def test_continuation_flood_is_cut_off(gw):
    """CONTINUATION frames full of fields: the header list passes SETTINGS_MAX_HEADER_LIST_SIZE
    (32 KiB) long before the frame bound, and that ends it (GOAWAY ENHANCE_YOUR_CALM, as
    nginx answers a client over its header size)."""
    g = continuation_flood(gw.port, b"\x40\x01a\x01b" * 100)     # literal fields, never ending
    assert g.error_code == ErrorCodes.ENHANCE_YOUR_CALM


def test_empty_continuation_flood_stops_at_the_frame_bound(gw):
    """CONTINUATION frames that add nothing to the header list: the bound on their number
    (max_continuation_frames, 64) ends it with GOAWAY PROTOCOL_ERROR."""
    g = continuation_flood(gw.port, b"")
    assert g.error_code == ErrorCodes.PROTOCOL_ERROR


def test_hpack_bomb_over_the_header_list_limit_is_refused(gw):
    """A 3 KB field put in the HPACK table once, then referenced by index 100 times: 300 KB
    decoded from a few hundred bytes. Over SETTINGS_MAX_HEADER_LIST_SIZE (32 KiB): GOAWAY
    ENHANCE_YOUR_CALM."""
    s, frames = raw_connection(gw.port)
    enc = Encoder()
    fields = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"gw.test"),
              (b":path", b"/")] + [(b"x-bomb", b"b" * 3000)] * 100
    block = enc.encode(fields)
    assert len(block) < 4000
    h = HeadersFrame(1)
    h.data = block
    h.flags.add("END_HEADERS")
    h.flags.add("END_STREAM")
    s.sendall(h.serialize())
    g = goaway_of(frames)
    assert g.error_code == ErrorCodes.ENHANCE_YOUR_CALM
    s.close()


def test_server_advertises_its_limits(upstream):
    g = gateway_with(upstream, http2={"max_concurrent_streams": 7})
    try:
        c = H2Client(g.port)
        c.read_once()
        codes = h2_settings()
        assert c.conn.remote_settings.max_concurrent_streams == 7
        assert c.conn.remote_settings[codes.MAX_HEADER_LIST_SIZE] == 32768
        assert c.conn.remote_settings.initial_window_size == 65535
        c.close()
    finally:
        g.stop()


def test_a_stream_over_max_concurrent_streams_is_refused_alone(upstream):
    """As nginx: the stream over SETTINGS_MAX_CONCURRENT_STREAMS gets RST_STREAM
    REFUSED_STREAM and the connection goes on; once a stream is done, a new one is served.
    The client acknowledged our SETTINGS first, so the limit is in force (not merely sent)."""
    g = gateway_with(upstream, http2={"max_concurrent_streams": 4})
    s, frames = raw_connection(g.port)
    try:
        f = frames.next()
        assert f.type == 0x4 and "ACK" not in f.flags       # the server's SETTINGS
        s.sendall(b"\x00\x00\x00\x04\x01\x00\x00\x00\x00")   # acknowledged
        enc = Encoder()

        def open_stream(sid, path):
            h = HeadersFrame(sid)
            h.data = enc.encode([(b":method", b"GET"), (b":scheme", b"http"),
                                 (b":authority", b"gw.test"), (b":path", path)])
            h.flags.add("END_HEADERS")
            h.flags.add("END_STREAM")
            s.sendall(h.serialize())

        for sid in (1, 3, 5, 7, 9):
            open_stream(sid, b"/stall")
        while True:
            f = frames.next()
            assert f is not None, "connection closed"
            assert not isinstance(f, GoAwayFrame), "GOAWAY %s" % f.error_code
            if isinstance(f, RstStreamFrame):
                assert (f.stream_id, f.error_code) == (9, ErrorCodes.REFUSED_STREAM)
                break
        rst = RstStreamFrame(1)
        rst.error_code = ErrorCodes.CANCEL
        s.sendall(rst.serialize())
        open_stream(11, b"/echo/after")
        while True:
            f = frames.next()
            assert f is not None, "connection closed"
            assert not isinstance(f, (GoAwayFrame, RstStreamFrame)), f
            if isinstance(f, HeadersFrame) and f.stream_id == 11:
                assert dict(f.decoded)[b":status"] == b"200"
                break
    finally:
        s.close()
        g.stop()


def test_body_over_the_limit_is_413_and_the_connection_goes_on(upstream):
    g = gateway_with(upstream, max_body_bytes=1000)
    try:
        c = H2Client(g.port)
        r = c.get("/echo/big", method="POST", body=b"z" * 5000,
                  headers=[("content-length", "5000")])
        assert r["headers"][b":status"] == b"413"
        assert json.loads(r["body"])["message"] == "Request Entity Too Large"
        # without a declared length: refused once the bytes pass the limit
        sid = c.request("/echo/big2", method="POST", body=None, end=False)
        c.send_body(sid, b"z" * 5000)
        assert c.response(sid)["headers"][b":status"] == b"413"
        assert c.get("/echo/ok")["headers"][b":status"] == b"200"
        c.close()
    finally:
        g.stop()


def test_bad_requests_are_answered_per_stream(upstream):
    g = gateway_with(upstream, max_uri_bytes=100)
    try:
        c = H2Client(g.port)
        assert c.get("/" + "a" * 200)["headers"][b":status"] == b"414"
        # A malformed :authority makes the request malformed (RFC 9113 8.1.1): nghttp2 resets
        # that stream with PROTOCOL_ERROR (nginx would answer 400); the connection goes on.
        assert c.get("/echo/x", authority="bad host")["reset"] == ErrorCodes.PROTOCOL_ERROR
        assert c.get("/echo/ok")["headers"][b":status"] == b"200"
        c.close()
    finally:
        g.stop()


def test_drain_sends_goaway_and_in_flight_streams_finish(gw):
    c = H2Client(gw.port)
    frames = RawFrames(c.sock)       # h2 reads nothing after a GOAWAY: frames are read raw
    sid = c.request("/delay/0.3")

    async def drain():
        gw.running.settings.drain()
    gw.lt.call(drain())
    seen_goaway = None
    status = None
    body = b""
    while True:
        f = frames.next()
        if f is None:
            break
        if isinstance(f, GoAwayFrame):
            seen_goaway = f
            # a stream opened after the GOAWAY is refused
            late = HeadersFrame(sid + 2)
            late.data = Encoder().encode([(b":method", b"GET"), (b":scheme", b"http"),
                                          (b":authority", b"a"), (b":path", b"/echo/late")])
            late.flags.add("END_HEADERS")
            late.flags.add("END_STREAM")
            c.sock.sendall(late.serialize())
        elif isinstance(f, HeadersFrame) and f.stream_id == sid:
            status = dict(f.decoded)[b":status"]
        elif f.stream_id == sid and hasattr(f, "data") and f.type == 0:
            body += f.data
        elif isinstance(f, RstStreamFrame):
            assert f.stream_id == sid + 2 and f.error_code == ErrorCodes.REFUSED_STREAM
    assert seen_goaway is not None and seen_goaway.error_code == ErrorCodes.NO_ERROR
    assert seen_goaway.last_stream_id == sid
    assert status == b"200" and body == b"delayed"
    c.close()


def test_datakit_flow_over_h2(upstream):
    from jqgate.gateway.plans import compile_gateway
    from jqgate.config import load_declarative
    from jqgate.errors import Issues
    from jqgate.gateway.plan_selection import gateway_for, handler_factory
    doc = {"_format_version": "3.0",
           "services": [{"name": "svc", "url": f"http://127.0.0.1:{upstream.port}",
                         "routes": [{"name": "all", "paths": ["/"]}]}],
           "plugins": [{"name": "datakit", "config": {"nodes": [
               {"name": "A", "type": "call", "url": f"http://127.0.0.1:{upstream.port}/echo/a"},
               {"name": "v", "type": "jq", "inputs": {"a": "A.body", "h": "request.headers"},
                "jq": '{seen: .h."x-in", path: .a.path}'},
               {"name": "out", "type": "exit", "inputs": {"body": "v"}, "status": 201}]}}]}
    issues = Issues()
    compiled = compile_gateway(load_declarative(doc, "<test>"), issues)
    issues.raise_if_any()
    g = GatewayThread(gateway_for(compiled), handler_factory=handler_factory,
                      server_options={"http2": True})
    try:
        c = H2Client(g.port)
        r = c.get("/any", headers=[("x-in", "hello")])
        assert r["headers"][b":status"] == b"201"
        assert json.loads(r["body"]) == {"seen": "hello", "path": "/echo/a"}
        c.close()
    finally:
        g.stop()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_http2_prior_knowledge(gw):
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "-", "-w",
                          "\n%{http_version} %{response_code}",
                          "http://127.0.0.1:%d/echo/curl" % gw.port],
                         capture_output=True, timeout=30, check=True).stdout
    body, _, tail = out.rpartition(b"\n")
    assert tail == b"2 200"
    assert json.loads(body)["path"] == "/echo/curl"


# -- TLS: ALPN h2, falling back to http/1.1 --------------------------------------------------

@pytest.fixture(scope="module")
def cert_files(tmp_path_factory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    d = tmp_path_factory.mktemp("h2tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return str(d / "cert.pem"), str(d / "key.pem")


@pytest.fixture
def tls_gw(upstream, cert_files):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*cert_files)
    g = GatewayThread(make_config(upstream.port), ssl_context=ctx,
                      server_options={"http2": True})
    yield g
    g.stop()


def client_tls(cert_files, alpn):
    ctx = ssl.create_default_context(cafile=cert_files[0])
    ctx.set_alpn_protocols(alpn)
    return ctx


def test_alpn_h2_on_tls(tls_gw, cert_files):
    c = H2Client(tls_gw.port, tls=client_tls(cert_files, ["h2", "http/1.1"]))
    try:
        assert c.sock.selected_alpn_protocol() == "h2"
        r = c.get("/echo/tls")
        assert r["headers"][b":status"] == b"200"
        assert sent_headers(r)["x-forwarded-proto"] == "https"
        assert c.get("/pattern/300000")["body"] == pattern_body(300000)
    finally:
        c.close()


def test_alpn_falls_back_to_http1(tls_gw, cert_files):
    ctx = client_tls(cert_files, ["http/1.1"])
    with socket.create_connection(("127.0.0.1", tls_gw.port), timeout=20) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            assert s.selected_alpn_protocol() == "http/1.1"
            s.sendall(b"GET /echo/one HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    assert data.startswith(b"HTTP/1.1 200")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_http2_over_tls(tls_gw, cert_files):
    out = subprocess.run(["curl", "-sS", "--http2", "--cacert", cert_files[0], "-o", "-",
                          "-w", "\n%{http_version} %{response_code}",
                          "https://localhost:%d/echo/curl" % tls_gw.port],
                         capture_output=True, timeout=30, check=True).stdout
    body, _, tail = out.rpartition(b"\n")
    assert tail == b"2 200"
    assert json.loads(body)["path"] == "/echo/curl"


def test_a_stalled_request_body_times_out_on_its_stream_only(upstream):
    g = gateway_with(upstream, body_timeout=0.5)
    try:
        c = H2Client(g.port)
        stalled = c.request("/echo/slow", method="POST", body=b"a" * 100, end=False)
        r = c.get("/echo/fine")
        assert r["headers"][b":status"] == b"200"
        late = c.response(stalled)             # the gateway answers it once the gap is over
        assert late["headers"][b":status"] == b"408"
        assert c.get("/echo/after")["headers"][b":status"] == b"200"
        c.close()
    finally:
        g.stop()


def test_a_stream_whose_window_stays_shut_is_cancelled(upstream):
    """send_timeout per stream: the client never acknowledges the answer's DATA, so the
    gateway's bytes wait on its window; the stream is reset (CANCEL) and the upstream
    released, while the connection stays."""
    g = gateway_with(upstream, send_timeout=0.5)
    try:
        c = H2Client(g.port, settings={h2_settings().INITIAL_WINDOW_SIZE: 100})
        c.auto_ack = False
        r = c.get("/big/100000")
        assert r["reset"] == ErrorCodes.CANCEL
        assert len(r["body"]) <= 100
        c.close()
    finally:
        g.stop()


def test_expect_100_continue(gw):
    c = H2Client(gw.port)
    try:
        sid = c.request("/echo/expect", method="POST", end=False,
                        headers=[("expect", "100-continue")])
        events = []
        while not any(type(e).__name__ == "InformationalResponseReceived" for e in events):
            events = c.read_once()
        c.send_body(sid, b"after-100")
        assert json.loads(c.response(sid)["body"])["body_len"] == 9
    finally:
        c.close()


def test_jqgate_run_http2_flags(upstream):
    """`jqgate run --http2 --http2-max-concurrent-streams 9`: the flags reach the listener."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.join(HARNESS, "cli_run_proc.py"),
                             "--upstream", "http://127.0.0.1:%d" % upstream.port,
                             "--listen", "127.0.0.1:%d" % port, "--no-admin", "--http2",
                             "--http2-max-concurrent-streams", "9"],
                            stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if "jqgate ready" in line:
                break
        c = H2Client(port)
        r = c.get("/echo/cli")
        assert r["headers"][b":status"] == b"200"
        assert c.conn.remote_settings.max_concurrent_streams == 9
        c.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
