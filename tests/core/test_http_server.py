"""The compiled HTTP server with a plain Python handler, over real loopback sockets."""
from __future__ import annotations

import json
import socket
import time

import pytest

from netutil import ServerThread, header, parse_responses, raw_request


def echo_handler(calls=None):
    def handle(req, resp):
        if calls is not None:
            calls.append(req)

        def answer(body):
            if body is None:
                resp.send_error(req.body_stream.error_status or 400, "body failed")
                return
            doc = {"method": req.method.decode(), "target": req.target.decode(),
                   "path": req.path.decode(), "query": req.query.decode(),
                   "version": req.http_version, "body_len": len(body),
                   "streamed": req.body_stream is not None,
                   "headers": [[k.decode(), v.decode()] for k, v in req.headers],
                   "client": req.client_ip, "host": req.host.decode()}
            if req.path == b"/boom":
                raise RuntimeError("secret internal detail")
            resp.send(200, [(b"Content-Type", b"application/json")], json.dumps(doc).encode())
        if req.path == b"/boom":
            raise RuntimeError("secret internal detail")
        if req.path == b"/stream":
            resp.start(200, [(b"Content-Type", b"text/plain")])
            for i in range(3):
                resp.write(b"part%d;" % i)
            resp.end()
            return
        if req.body is not None:
            answer(req.body)
        else:
            req.body_stream.read_all(answer)
    return handle


@pytest.fixture
def server():
    calls = []
    s = ServerThread(echo_handler(calls), max_body_bytes=1 << 20, body_buffer_size=1024)
    s.calls = calls
    yield s
    s.stop()


def test_simple_get_has_request_id(server):
    data = raw_request(server.port, b"GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\n"
                                    b"Connection: close\r\n\r\n")
    (r,) = parse_responses(data)
    assert r["status"] == 200
    doc = json.loads(r["body"])
    assert doc["path"] == "/a/b" and doc["query"] == "x=1" and doc["host"] == "example.com"
    rid = header(r, "X-Kong-Request-Id")
    assert rid and len(rid) == 32
    assert header(r, "Connection") == b"close"


def test_keep_alive_and_request_ids_unique(server):
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        ids = []
        for i in range(3):
            s.sendall(b"GET /k%d HTTP/1.1\r\nHost: a\r\n\r\n" % i)
            buf = b""
            while b"\r\n\r\n" not in buf or len(parse_responses(buf)) < 1 or \
                    not parse_responses(buf)[0]["body"].endswith(b"}"):
                buf += s.recv(65536)
            (r,) = parse_responses(buf)
            ids.append(header(r, "X-Kong-Request-Id"))
        assert len(set(ids)) == 3
    assert len(server.settings.connections) <= 1


def test_http10(server):
    data = raw_request(server.port, b"GET /x HTTP/1.0\r\n\r\n")
    (r,) = parse_responses(data)
    assert r["status"] == 200 and json.loads(r["body"])["version"] == "1.0"
    # keep-alive for 1.0 when asked: the connection stays open for a second request
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        time.sleep(0.2)
        s.sendall(b"GET /2 HTTP/1.0\r\n\r\n")
        buf = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            buf += b
    rs = parse_responses(buf)
    assert [json.loads(r["body"])["path"] for r in rs] == ["/1", "/2"]
    assert header(rs[0], "Connection") == b"keep-alive"


def test_pipelined_requests_answered_in_order(server):
    reqs = b"".join(b"GET /p%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(20))
    reqs += b"POST /last HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
    rs = parse_responses(raw_request(server.port, reqs))
    paths = [json.loads(r["body"])["path"] for r in rs]
    assert paths == ["/p%d" % i for i in range(20)] + ["/last"]


def test_byte_by_byte(server):
    req = (b"POST /split?q=1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
           b"X-A: b\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
           b"GET /second HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(req)):
            s.sendall(req[i:i + 1])
        buf = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            buf += b
    rs = parse_responses(buf)
    assert [r["status"] for r in rs] == [200, 200]
    first = json.loads(rs[0]["body"])
    assert first["body_len"] == 11 and first["query"] == "q=1"
    assert json.loads(rs[1]["body"])["path"] == "/second"


def test_chunked_and_streamed_bodies(server):
    body = b"z" * 5000
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 700]), body[i:i + 700])
                       for i in range(0, len(body), 700)) + b"0\r\n\r\n"
    data = raw_request(server.port, b"POST /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                                    b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
    doc = json.loads(parse_responses(data)[0]["body"])
    assert doc["body_len"] == 5000 and doc["streamed"] is True   # above body_buffer_size
    data = raw_request(server.port, b"POST /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                                    b"Content-Length: 10\r\n\r\n0123456789")
    doc = json.loads(parse_responses(data)[0]["body"])
    assert doc["body_len"] == 10 and doc["streamed"] is False


def test_streamed_response_is_chunked(server):
    data = raw_request(server.port, b"GET /stream HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    (r,) = parse_responses(data)
    assert header(r, "Transfer-Encoding") == b"chunked"
    assert r["body"] == b"part0;part1;part2;"
    # HTTP/1.0 client: close-delimited
    data = raw_request(server.port, b"GET /stream HTTP/1.0\r\n\r\n")
    assert data.endswith(b"\r\n\r\npart0;part1;part2;")


def test_expect_continue(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                  b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
        first = s.recv(65536)
        assert first.startswith(b"HTTP/1.1 100 Continue")
        s.sendall(b"abcd")
        buf = first
        while True:
            b = s.recv(65536)
            if not b:
                break
            buf += b
    assert b"HTTP/1.1 200 OK" in buf


@pytest.mark.parametrize("raw, status", [
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"b" * 40000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X-Many: c\r\n" * 4000 + b"\r\n", 431),
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\nabc", 413),
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     + b"100000\r\n" + b"x" * 0x100000 + b"\r\n" + b"100000\r\n" + b"x" * 0x100000 + b"\r\n", 413),
])
def test_limits(server, raw, status):
    data = raw_request(server.port, raw)
    rs = parse_responses(data)
    assert rs[-1]["status"] == status
    assert header(rs[-1], "X-Kong-Request-Id")


SMUGGLING = {
    "cl+te": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te+cl": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    "double-cl": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
    "bad-chunk": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
    "bare-lf": b"GET / HTTP/1.1\nHost: a\n\n",
    "nul": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n",
    "space-colon": b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "te-gzip": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "no-host": b"GET / HTTP/1.1\r\n\r\n",
    "two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "http09": b"GET /\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(SMUGGLING))
def test_smuggling_rejected_and_never_handled(server, name):
    data = raw_request(server.port, SMUGGLING[name])
    rs = parse_responses(data)
    assert len(rs) == 1
    assert rs[0]["status"] in (400, 501)
    assert server.calls == []     # the handler never saw it


def test_pipelined_good_then_bad(server):
    data = raw_request(server.port, b"GET /good HTTP/1.1\r\nHost: a\r\n\r\n" + SMUGGLING["cl+te"])
    rs = parse_responses(data)
    assert [r["status"] for r in rs] == [200, 400]
    assert len(server.calls) == 1


def test_handler_error_is_500_without_traceback(server):
    data = raw_request(server.port, b"GET /boom HTTP/1.1\r\nHost: a\r\n\r\n")
    (r,) = parse_responses(data)
    assert r["status"] == 500
    assert b"secret" not in data and b"Traceback" not in data
    assert json.loads(r["body"])["message"] == "An unexpected error occurred"


def test_keepalive_and_header_timeouts():
    s = ServerThread(echo_handler(), keepalive_timeout=0.2, header_timeout=0.3)
    try:
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            assert c.recv(100) == b""           # idle connection closed by the server
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")   # never finishes its headers
            buf = b""
            while True:
                b = c.recv(1000)
                if not b:
                    break
                buf += b
            assert buf.startswith(b"HTTP/1.1 408")
    finally:
        s.stop()


def test_many_concurrent_connections(server):
    import asyncio

    async def one(i):
        r, w = await asyncio.open_connection("127.0.0.1", server.port)
        w.write(b"GET /c%d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % i)
        data = await r.read()
        w.close()
        return data

    async def main():
        sem = asyncio.Semaphore(500)

        async def bounded(i):
            async with sem:
                return await one(i)
        return await asyncio.gather(*(bounded(i) for i in range(1000)))
    out = asyncio.run(main())
    assert all(d.startswith(b"HTTP/1.1 200") for d in out)


def test_long_pipeline_behind_a_slow_request():
    """Thousands of instant answers queued behind a slow one: answered in order, without the
    stack growing with the queue."""
    import asyncio

    def handle(req, resp):
        body = req.path
        if req.path == b"/slow":
            asyncio.get_running_loop().call_later(0.2, resp.send, 200, [], body)
        else:
            resp.send(200, [], body)
    s = ServerThread(handle)
    try:
        n = 3000
        reqs = b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"
        reqs += b"".join(b"GET /r%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(n))
        reqs += b"GET /end HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        rs = parse_responses(raw_request(s.port, reqs, timeout=30))
        assert [r["body"] for r in rs] == [b"/slow"] + [b"/r%d" % i for i in range(n)] + [b"/end"]
    finally:
        s.stop()


def test_unread_body_stops_reading_the_client():
    """A handler that does not read a streamed body: the server buffers a bounded amount and
    stops reading, so the client's send blocks (TCP back-pressure)."""
    seen = []

    def handle(req, resp):
        seen.append(req)       # never reads req.body_stream
    s = ServerThread(handle, body_buffer_size=1024)
    try:
        c = socket.create_connection(("127.0.0.1", s.port))
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        c.sendall(b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % (1 << 30))
        c.settimeout(1.0)
        sent = 0
        piece = b"u" * 65536
        try:
            while sent < (1 << 30):
                sent += c.send(piece)
        except socket.timeout:
            pass
        assert sent < 64 * 1024 * 1024          # blocked long before the gigabyte
        for _ in range(100):
            if seen:
                break
            time.sleep(0.01)
        body = seen[0].body_stream
        assert seen[0].body is None and body is not None
        # what the server holds is bounded by its high-water mark plus one read
        assert body.received <= 2 * 1024 * 1024
        c.close()
    finally:
        s.stop()


def test_pipelining_client_that_never_reads_is_bounded():
    """Requests keep coming but the answers are never read: the server stops taking requests
    once its write buffer is full, instead of buffering answers without end."""
    big = b"r" * 200000
    handled = []

    def handle(req, resp):
        handled.append(1)
        resp.send(200, [], big)
    s = ServerThread(handle)
    try:
        c = socket.create_connection(("127.0.0.1", s.port))
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.settimeout(1.0)
        req = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        sent = 0
        try:
            while sent < 20000:
                c.sendall(req * 100)
                sent += 100
        except socket.timeout:
            pass
        # A round trip on a second connection: by its answer the server has fed everything it
        # had read from the first one to its parser, so the count below is what it took.
        (r,) = parse_responses(raw_request(s.port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
        assert r["status"] == 200
        assert len(handled) - 1 < 500      # 500 answers would be 100 MB of buffered bytes
        c.close()
    finally:
        s.stop()


def test_consumer_pause_does_not_outlive_its_request():
    """A handler that paused the body stream and answered without resuming: the next request
    on the same keep-alive connection is still read."""
    def handle(req, resp):
        if req.body_stream is not None:
            def done(body):
                req.body_stream.pause()      # e.g. an upstream that filled up at the end
                resp.send(200, [], b"%d" % len(body))
            req.body_stream.read_all(done)
        else:
            resp.send(200, [], b"next")
    s = ServerThread(handle, body_buffer_size=1024)
    try:
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            c.sendall(b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)
            buf = b""
            while not buf.endswith(b"5000"):
                buf += c.recv(65536)
            c.sendall(b"GET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            while True:
                b = c.recv(65536)
                if not b:
                    break
                buf += b
        assert [r["body"] for r in parse_responses(buf)] == [b"5000", b"next"]
    finally:
        s.stop()


def test_response_headers_in_other_shapes_are_written_or_refused_cleanly():
    # The head writer reads (bytes, bytes) tuples in place; any other pair shape is converted
    # first, and a str name is a handler error (500), never a crash or a garbled head.
    def handle(req, resp):
        if req.path == b"/lists":
            resp.send(200, [[b"X-A", b"1"], (b"X-B", b"2")], b"ok")
        else:
            resp.send(200, [("X-Text", "not bytes")], b"ok")
    s = ServerThread(handle)
    try:
        (r,) = parse_responses(raw_request(s.port, b"GET /lists HTTP/1.1\r\nHost: a\r\n"
                                                   b"Connection: close\r\n\r\n"))
        assert r["status"] == 200 and header(r, "X-A") == b"1" and header(r, "X-B") == b"2"
        assert r["body"] == b"ok"
        (r,) = parse_responses(raw_request(s.port, b"GET /str HTTP/1.1\r\nHost: a\r\n"
                                                   b"Connection: close\r\n\r\n"))
        assert r["status"] == 500
    finally:
        s.stop()
