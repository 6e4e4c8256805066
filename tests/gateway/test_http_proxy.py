"""Proxying through the whole gateway (router + compiled proxy + pool) on loopback."""
from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from jqgate.config.model import Route, Service, Target, Upstream
from netutil import (FaultProxy, GatewayThread, Upstream as UpstreamServer, free_port, header,
                     http_get, make_config, parse_responses, raw_request)


@pytest.fixture
def gateway(upstream):
    g = GatewayThread(make_config(upstream.port))
    yield g
    g.stop()


def hdrs(doc):
    return {k.lower(): v for k, v in doc["headers"]}


def test_proxied_request_headers_both_ways(gateway, upstream):
    status, h, body = http_get(gateway.port, "/echo/x?a=1", headers={
        "Host": "example.com:8443", "X-Forwarded-For": "10.0.0.1", "X-Real-IP": "6.6.6.6",
        "X-Forwarded-Host": "evil", "Connection": "X-Drop, keep-alive", "X-Drop": "1",
        "Keep-Alive": "timeout=5", "TE": "trailers", "Proxy-Authorization": "secret",
        "X-Keep": "yes"})
    assert status == 200
    doc = json.loads(body)
    up = hdrs(doc)
    assert doc["path"] == "/echo/x?a=1"
    assert up["host"] == "127.0.0.1:%d" % upstream.port
    assert up["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
    assert up["x-real-ip"] == "127.0.0.1"
    assert up["x-forwarded-proto"] == "http"
    assert up["x-forwarded-host"] == "example.com"
    assert up["x-forwarded-port"] == str(gateway.port)
    assert up["x-forwarded-path"] == "/echo/x"
    assert up["x-keep"] == "yes"
    for gone in ("x-drop", "keep-alive", "te", "proxy-authorization", "connection"):
        assert gone not in up
    assert h["via"] == "1.1 jqgate/0.1.0"
    assert len(h["x-kong-request-id"]) == 32
    # whole milliseconds, as Kong sends them (test_latency_headers_... checks what they measure)
    assert h["x-kong-upstream-latency"].isdigit() and h["x-kong-proxy-latency"].isdigit()
    assert h["server"] == "test-upstream"



def test_latency_headers_measure_the_upstream(gateway):
    """X-Kong-Upstream-Latency covers the upstream's time to answer: an upstream that holds its
    answer for 300 ms cannot be reported as quicker (a lower bound the test itself causes, not a
    wall-clock limit on the gateway)."""
    status, h, body = http_get(gateway.port, "/delay/0.3")
    assert status == 200 and body == b"delayed"
    assert int(h["x-kong-upstream-latency"]) >= 300
    assert h["x-kong-proxy-latency"].isdigit()

def test_response_hop_by_hop_removed(gateway):
    status, h, body = http_get(gateway.port, "/hop")
    assert body == b"hop"
    for gone in ("x-secret", "keep-alive", "upgrade", "trailer"):
        assert gone not in h
    assert h["via"] == "1.0 other, 1.1 jqgate/0.1.0"


def test_relayed_head_is_the_same_whichever_reader_read_it(gateway):
    """A plain upstream head is copied to the client field by field (the scanner's spans); a
    head split across reads goes through llhttp and the header list. The client must not be
    able to tell which."""
    def answer(path):
        raw = raw_request(gateway.port, b"GET %s HTTP/1.1\r\nHost: a\r\n"
                                        b"Connection: close\r\n\r\n" % path)
        head, body = raw.split(b"\r\n\r\n", 1)
        lines = [line for line in head.split(b"\r\n")
                 if not line.lower().startswith((b"x-kong-", b"date:"))]
        return lines, body
    whole, split = answer(b"/varied-head"), answer(b"/varied-head-split")
    assert whole == split
    lines, body = whole
    assert body == b"body"
    assert lines == [b"HTTP/1.1 203 Non-Authoritative Information", b"Server: up",
                     b"X-A: tight", b"X-B: lead", b"X-Trail: t \t", b"X-Empty: ",
                     b"X-Forwarded-For: up", b"Host: up", b"X-Name: caf\xe9", b"x-lower: 1",
                     b"Via: 1.1 jqgate/0.1.0", b"Content-Length: 4", b"Connection: close"]


def test_pool_reuse_counted_at_upstream(gateway, upstream):
    for i in range(20):
        status, _, _ = http_get(gateway.port, "/echo/%d" % i)   # a new client connection each
        assert status == 200
    assert upstream.requests == 20
    assert upstream.connections == 1


def test_framings_through_proxy(gateway):
    assert http_get(gateway.port, "/chunked")[2] == b"abcdefghi"
    assert http_get(gateway.port, "/eof")[2] == b"until-the-end"
    assert http_get(gateway.port, "/continue")[2] == b"done"
    assert http_get(gateway.port, "/status/204")[0] == 204
    s, h, b = http_get(gateway.port, "/echo", method="HEAD")
    assert s == 200 and b == b"" and int(h["content-length"]) > 0
    s, h, b = http_get(gateway.port, "/echo", method="POST", body=b"q" * 100000)
    assert json.loads(b)["body_len"] == 100000


def test_no_route_404_and_no_target_503(upstream):
    cfg = make_config(upstream.port, routes=[
        Route(name="a", id="ra", service_id="svc-id", paths=["/a"]),
        Route(name="b", id="rb", service_id="svc-up", paths=["/b"])],
        services=[Service(name="svc", id="svc-id", protocol="http", host="127.0.0.1",
                          port=upstream.port, path=None),
                  Service(name="up", id="svc-up", protocol="http", host="empty-upstream",
                          port=80, path=None)],
        upstreams=[Upstream(name="empty-upstream", id="u1", targets=[])])
    g = GatewayThread(cfg)
    try:
        s, h, b = http_get(g.port, "/zzz")
        assert s == 404
        doc = json.loads(b)
        assert doc["message"] == "no Route matched with those values"
        assert doc["request_id"] == h["x-kong-request-id"]
        assert h["server"] == "jqgate/0.1.0"
        assert http_get(g.port, "/b")[0] == 503
        assert http_get(g.port, "/a/echo")[0] == 200
    finally:
        g.stop()


def test_strip_path_service_path_preserve_host(upstream):
    cfg = make_config(upstream.port, path="/base", routes=[
        Route(name="s", id="r1", service_id="svc-id", paths=["/api"]),
        Route(name="k", id="r2", service_id="svc-id", paths=["/keep"], strip_path=False,
              preserve_host=True),
        Route(name="re", id="r3", service_id="svc-id", paths=[r"~/v\d+/"]),
    ])
    g = GatewayThread(cfg)
    try:
        doc = json.loads(http_get(g.port, "/api/users?x=1")[2])
        assert doc["path"] == "/base/users?x=1"
        assert hdrs(doc)["x-forwarded-prefix"] == "/api"
        doc = json.loads(http_get(g.port, "/keep/me", headers={"Host": "orig.example"})[2])
        assert doc["path"] == "/base/keep/me"
        assert hdrs(doc)["host"] == "orig.example"
        doc = json.loads(http_get(g.port, "/v12/thing")[2])
        # v0 path handling (Kong's table: /s, /tv0, /tv0req -> /s/req): the rest joins the
        # service path with a slash when neither side has one
        assert doc["path"] == "/base/thing"
    finally:
        g.stop()


def test_weighted_round_robin(upstream):
    other = UpstreamServer()
    try:
        cfg = make_config(services=[Service(name="s", id="s1", protocol="http", host="pool-a",
                                            port=80, path=None)],
                          routes=[Route(name="r", id="r1", service_id="s1", paths=["/"])],
                          upstreams=[Upstream(name="pool-a", id="u", targets=[
                              Target("x", "127.0.0.1", upstream.port, weight=200),
                              Target("y", "127.0.0.1", other.port, weight=100)])])
        g = GatewayThread(cfg)
        try:
            for _ in range(30):
                assert http_get(g.port, "/echo")[0] == 200
            assert upstream.requests == 20 and other.requests == 10
            assert hdrs(upstream.seen and {"headers": upstream.seen[0][2]})["host"] == "pool-a"
        finally:
            g.stop()
    finally:
        other.stop()


def test_upstream_failures_mapped_like_kong(upstream):
    dead = free_port()
    cfg = make_config(services=[
        Service(name="dead", id="dead", protocol="http", host="127.0.0.1", port=dead, path=None,
                retries=2),
        Service(name="live", id="live", protocol="http", host="127.0.0.1", port=upstream.port,
                path=None, read_timeout=300, retries=0)],
        routes=[Route(name="d", id="rd", service_id="dead", paths=["/dead"]),
                Route(name="l", id="rl", service_id="live", paths=["/"])])
    g = GatewayThread(cfg)
    try:
        s, _, b = http_get(g.port, "/dead")
        assert s == 502
        assert json.loads(b)["message"] == \
            "An invalid response was received from the upstream server"
        s, _, b = http_get(g.port, "/stall")
        assert s == 504
        assert json.loads(b)["message"] == "The upstream server is timing out"
        s, _, b = http_get(g.port, "/reset")
        assert s == 502
        # reset after the head went out: the client connection is closed, body truncated
        data = raw_request(g.port, b"GET /halfreset HTTP/1.1\r\nHost: a\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"half")
        assert http_get(g.port, "/echo")[0] == 200     # still serving
    finally:
        g.stop()


def test_streamed_body_goes_whole_to_the_next_target_after_a_refused_connection(upstream):
    """A refused connection means no body byte left the gateway, though the start of a
    streamed (chunked) body was already read from the client: the next target gets all of it,
    on a new connection (first request) and on a pooled one (second)."""
    import hashlib
    import http.client
    cfg = make_config(services=[Service(name="s", id="s1", protocol="http", host="pool-a",
                                        port=80, path=None, retries=1)],
                      routes=[Route(name="r", id="r1", service_id="s1", paths=["/"])],
                      upstreams=[Upstream(name="pool-a", id="u", targets=[
                          Target("dead", "127.0.0.1", free_port()),
                          Target("live", "127.0.0.1", upstream.port)])])
    pieces = [bytes([65 + i % 26]) * 65536 for i in range(32)]      # 2 MiB, order visible
    g = GatewayThread(cfg)
    try:
        for attempt in (1, 2):          # the balancer starts each request on the dead target
            c = http.client.HTTPConnection("127.0.0.1", g.port, timeout=30)
            c.request("POST", "/upload", body=iter(pieces), encode_chunked=True,
                      headers={"Transfer-Encoding": "chunked"})
            r = c.getresponse()
            body = r.read()
            c.close()
            assert r.status == 200, body
            doc = json.loads(body)
            assert doc["body_len"] == len(pieces) * 65536
            assert doc["body_sha"] == hashlib.sha256(b"".join(pieces)).hexdigest()
            assert upstream.requests == attempt
    finally:
        g.stop()


def test_fault_proxy_between_gateway_and_upstream(upstream):
    fp = FaultProxy(upstream.port)
    cfg = make_config(fp.port, read_timeout=300, retries=0)
    g = GatewayThread(cfg)
    try:
        assert http_get(g.port, "/echo")[0] == 200
        fp.reset_all()               # the pooled connection dies between requests
        assert http_get(g.port, "/echo")[0] == 200   # retried transparently (idempotent)
        fp.mode = "reset_in_head"
        assert http_get(g.port, "/echo")[0] == 502
        fp.mode = "stall"
        assert http_get(g.port, "/echo")[0] == 504
        fp.mode = "pass"
        assert http_get(g.port, "/echo")[0] == 200   # and keeps serving
    finally:
        g.stop()
        fp.stop()


def test_smuggling_never_forwarded(gateway, upstream):
    attempts = [
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4x\r\nabcd\r\n0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
        b"GET / HTTP/1.1\nHost: a\n\n",
    ]
    for raw in attempts:
        rs = parse_responses(raw_request(gateway.port, raw))
        assert [r["status"] for r in rs] == [400]
    assert upstream.requests == 0


def test_streamed_bodies_both_ways(gateway, upstream):
    n = 5 * 1024 * 1024
    s, h, b = http_get(gateway.port, "/big/%d" % n)
    assert s == 200 and len(b) == n
    s, h, b = http_get(gateway.port, "/echo", method="POST", body=b"u" * n)
    assert json.loads(b)["body_len"] == n


def test_chunked_request_body_streamed_upstream(gateway, upstream):
    def gen():
        for _ in range(40):
            yield b"c" * 10000
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    c.request("POST", "/echo", body=gen(), encode_chunked=True,
              headers={"Transfer-Encoding": "chunked"})
    r = c.getresponse()
    doc = json.loads(r.read())
    c.close()
    assert doc["body_len"] == 400000
    assert hdrs(doc).get("transfer-encoding") == "chunked"


def test_many_concurrent_clients_through_proxy(gateway, upstream):
    async def one(i):
        r, w = await asyncio.open_connection("127.0.0.1", gateway.port)
        w.write(b"GET /echo/%d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % i)
        data = await r.read()
        w.close()
        return data

    async def main():
        sem = asyncio.Semaphore(250)

        async def bounded(i):
            async with sem:
                return await one(i)
        return await asyncio.gather(*(bounded(i) for i in range(1000)))
    out = asyncio.run(main())
    assert all(d.startswith(b"HTTP/1.1 200") for d in out)
    assert upstream.requests == 1000
    assert upstream.connections <= 256      # the pool's per-host cap


def test_pipelined_and_byte_by_byte_through_proxy(gateway, upstream):
    reqs = b"".join(b"GET /echo/p%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(10))
    reqs += (b"POST /echo/last HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
             b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    rs = parse_responses(raw_request(gateway.port, reqs))
    assert [json.loads(r["body"])["path"] for r in rs] == \
        ["/echo/p%d" % i for i in range(10)] + ["/echo/last"]
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(reqs)):
            s.sendall(reqs[i:i + 1])
        buf = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            buf += b
    rs = parse_responses(buf)
    assert len(rs) == 11 and json.loads(rs[-1]["body"])["body_len"] == 3


def test_client_going_away_abandons_upstream_request(gateway, upstream):
    s = socket.create_connection(("127.0.0.1", gateway.port))
    s.sendall(b"GET /stall HTTP/1.1\r\nHost: a\r\n\r\n")
    for _ in range(500):
        if upstream.requests >= 1:
            break
        time.sleep(0.01)
    assert len(upstream.open_transports) == 1
    s.close()
    for _ in range(500):                 # the gateway closes its upstream connection
        if not upstream.open_transports:
            break
        time.sleep(0.01)
    assert not upstream.open_transports
    assert http_get(gateway.port, "/echo")[0] == 200


def test_waiting_for_a_pooled_connection_is_bounded(upstream):
    cfg = make_config(upstream.port, connect_timeout=300, read_timeout=60000, retries=0)
    g = GatewayThread(cfg, pool_options={"max_per_host": 1})
    try:
        s = socket.create_connection(("127.0.0.1", g.port))
        s.sendall(b"GET /stall HTTP/1.1\r\nHost: a\r\n\r\n")     # holds the only connection
        for _ in range(500):
            if upstream.requests >= 1:
                break
            time.sleep(0.01)
        assert http_get(g.port, "/echo")[0] == 504
        s.close()
    finally:
        g.stop()


def test_request_id_sent_upstream_and_expect_not_forwarded(gateway, upstream):
    s, h, b = http_get(gateway.port, "/echo", headers={"X-Kong-Request-Id": "spoofed"})
    up = hdrs(json.loads(b))
    assert up["x-kong-request-id"] == h["x-kong-request-id"] != "spoofed"


def test_https_upstream_verified(tmp_path, upstream):
    import ssl
    import subprocess
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost"],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("openssl CLI needed to make a test certificate")
    sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    sctx.load_cert_chain(str(cert), str(key))
    tls_up = UpstreamServer(ssl_context=sctx)
    services = [
        Service(name="v", id="v", protocol="https", host="localhost", port=tls_up.port,
                path=None, retries=0),
        Service(name="nv", id="nv", protocol="https", host="localhost", port=tls_up.port,
                path=None, retries=0, tls_verify=False)]
    routes = [Route(name="v", id="rv", service_id="v", paths=["/v"]),
              Route(name="nv", id="rnv", service_id="nv", paths=["/nv"])]
    cfg = make_config(services=services, routes=routes)
    plain = GatewayThread(cfg)
    trusting = GatewayThread(cfg, pool_options={
        "ssl_context": ssl.create_default_context(cafile=str(cert))})
    try:
        assert http_get(plain.port, "/v/echo")[0] == 502      # unknown CA: refused
        assert http_get(plain.port, "/nv/echo")[0] == 200     # tls_verify: false
        s, h, b = http_get(trusting.port, "/v/echo")
        assert s == 200 and hdrs(json.loads(b))["host"] == "localhost:%d" % tls_up.port
    finally:
        plain.stop()
        trusting.stop()
        tls_up.stop()


def test_no_objects_leak_after_requests(gateway, upstream):
    """Like uvloop's debug counts: after the traffic stops, our per-request objects are gone
    (compared with a baseline, as other tests' gateways may still hold theirs)."""
    import collections
    import gc
    names = {"ProxyCall", "ClientExchange", "HttpRequest", "Responder", "RequestBody",
             "HttpServerProtocol", "_ProxyBodyPump", "_ProxyClientFlow", "ClientConnection"}

    def census():
        gc.collect()
        return collections.Counter(type(o).__name__ for o in gc.get_objects()
                                   if type(o).__name__ in names)
    http_get(gateway.port, "/echo")
    time.sleep(0.1)
    before = census()
    for i in range(50):
        assert http_get(gateway.port, "/echo/%d" % i)[0] == 200
        assert http_get(gateway.port, "/echo", method="POST", body=b"b" * 200000)[0] == 200
    http_get(gateway.port, "/status/404")
    raw_request(gateway.port, b"GET / HTTP/1.1\r\nHost: a\r\nX: \x00\r\n\r\n")
    for _ in range(50):
        after = census()
        if all(after[k] <= before[k] for k in after):
            break
        time.sleep(0.05)
    assert {k: (before[k], v) for k, v in after.items() if v > before[k]} == {}


def test_buffered_upstream_exchange_helpers(upstream):
    """The pieces a response-phase handler (the DataKit executor) uses instead of proxy()."""
    from jqgate._core import core

    class Handler(core.RequestHandler):
        def __init__(self, gateway, pool):
            self.gateway = gateway
            self.pool = pool

        def handle(self, req, resp):
            decision = self.gateway.route(req)
            ex = core.prepare_upstream_exchange(req, decision)

            def done(ex):
                if ex.error_kind:
                    resp.send_error(502, "bad")
                    return
                headers = core.filter_response_headers(ex.headers)
                headers.append((b"X-Post-Processed", b"yes"))
                resp.send(ex.status, headers, ex.body.upper())
            self.pool.send(ex, done)
    g = GatewayThread(make_config(upstream.port), handler_factory=Handler)
    try:
        s, h, b = http_get(g.port, "/hop")
        assert s == 200 and b == b"HOP"
        assert h["x-post-processed"] == "yes" and h["via"] == "1.0 other, 1.1 jqgate/0.1.0"
        assert "x-secret" not in h and "keep-alive" not in h
        s, h, b = http_get(g.port, "/echo", method="POST", body=b"abc")
        doc = json.loads(b.lower())
        assert doc["body_len"] == 3 and hdrs(doc)["x-forwarded-for"] == "127.0.0.1"
    finally:
        g.stop()


def test_header_names_configurable_and_reload(upstream):
    g = GatewayThread(make_config(upstream.port), proxy_options={
        "via": None, "upstream_latency_header": b"X-Up-Ms", "proxy_latency_header": None},
        server_options={"request_id_header": b"X-Request-Id"})
    try:
        s, h, b = http_get(g.port, "/echo")
        assert "via" not in h and "x-kong-proxy-latency" not in h
        assert "x-up-ms" in h and len(h["x-request-id"]) == 32
        g.running.reload(make_config(upstream.port, routes=[
            Route(name="only", id="only", service_id="svc-id", paths=["/only"])]))
        assert http_get(g.port, "/echo")[0] == 404
        assert http_get(g.port, "/only/echo")[0] == 200
    finally:
        g.stop()


def test_dot_segments_cannot_escape_a_route(upstream):
    cfg = make_config(upstream.port, routes=[
        Route(name="pub", id="pub", service_id="svc-id", paths=["/public"], strip_path=False)])
    g = GatewayThread(cfg)
    try:
        assert http_get(g.port, "/public/../admin")[0] == 404
        assert http_get(g.port, "/public/%2e%2e/admin")[0] == 404
        s, _, b = http_get(g.port, "/public/x/../y")
        assert s == 200 and json.loads(b)["path"] == "/public/y"
        assert upstream.requests == 1
    finally:
        g.stop()


def test_request_trailers_not_forwarded(gateway, upstream):
    raw = (b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n")
    (r,) = parse_responses(raw_request(gateway.port, raw))
    doc = json.loads(r["body"])
    assert doc["body_len"] == 3 and "x-trailer" not in hdrs(doc)


def test_pooled_connection_not_left_paused_by_a_slow_client(upstream):
    """A slow client pauses the upstream socket; if the upstream answer was already complete
    in that read, the connection must go back to the pool reading again."""
    cfg = make_config(upstream.port, read_timeout=3000, retries=0)
    g = GatewayThread(cfg)
    try:
        # The failure needed the last upstream read to both overfill the client's buffer and
        # end the answer: likely at the end of a big answer, not certain, hence a few rounds
        # (before the fix about one round in four failed).
        for _ in range(8):
            c = socket.create_connection(("127.0.0.1", g.port))
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            c.sendall(b"GET /big/8000000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            time.sleep(0.3)                  # not reading: the gateway's writes back up
            got = 0
            while True:
                b = c.recv(65536)
                if not b:
                    break
                got += len(b)
            c.close()
            assert got > 8000000
            assert http_get(g.port, "/echo")[0] == 200
    finally:
        g.stop()
