"""Loopback test peers for the functional tests: an HTTP upstream, a fault-injecting TCP proxy,
and small raw-socket client helpers. Each server runs its own event loop in a thread.

The upstream counts accepted connections and requests, so keep-alive and pool reuse are checked
at the server side. Behaviour is chosen by the request path:
  /echo...         200 JSON {method, path, headers, body_len, body_sha}   (default for any path)
  /close           200 with Connection: close
  /chunked         chunked response of three pieces
  /eof             HTTP/1.0-style response delimited by closing the connection
  /continue        a 100 Continue interim answer, then 200
  /status/NNN      empty answer with that status
  /big/N           N bytes of body, written in 64 KiB pieces (respecting flow control)
  /pattern/N       N bytes of pattern_body(N) (no two neighbouring KiB alike), in pieces of
                   uneven sizes: a piece out of place or cut wrong shows in the body
  /stall           reads the request, never answers
  /hugehead        an answer whose head never fits a sane limit
  /delay/S         answers after S seconds
  /hop             an answer carrying hop-by-hop headers
  /early           answers 413 as soon as the head arrives, before the body
  /reset           resets the connection without answering
  /halfreset       sends a head and half a body, then resets
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import struct
import threading

import httptools

from ports import free_port  # noqa: F401  (the tests import it from here)

# The folder of these helpers: the tests start gateway_proc.py and its kin from here.
HARNESS = os.path.dirname(os.path.abspath(__file__))


async def until(predicate, timeout: float = 10.0, step: float = 0.005) -> None:
    """Wait, without blocking the loop, for a condition that a server in another thread makes
    true (a request seen, a connection closed); fails the test if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in %.0f s" % timeout)
        await asyncio.sleep(step)


class LoopThread:
    """An asyncio loop running in a daemon thread; `call(coro)` runs a coroutine on it."""

    def __init__(self, use_uvloop=False):
        if use_uvloop:
            import uvloop
            self.loop = uvloop.new_event_loop()
        else:
            self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class _UpstreamProtocol(asyncio.Protocol):
    def __init__(self, server: "Upstream"):
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport = None
        self.url = b""
        self.headers = []
        self.body = []

    def connection_made(self, transport):
        self.transport = transport
        self.server.connections += 1
        self.server.open_transports.add(transport)

    def connection_lost(self, exc):
        self.server.open_transports.discard(self.transport)

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            self.transport.close()

    def on_message_begin(self):
        self.url = b""
        self.headers = []
        self.body = []

    def on_url(self, url):
        self.url += url

    def on_header(self, name, value):
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self):
        if self.url == b"/early":      # answers before reading the body
            self.transport.write(b"HTTP/1.1 413 Too Big\r\nContent-Length: 0\r\n\r\n")

    def on_body(self, body):
        self.body.append(body)

    def on_message_complete(self):
        if self.url == b"/early":
            return
        self.server.requests += 1
        body = b"".join(self.body)
        method = self.parser.get_method()
        self.server.seen.append((method, self.url, self.headers, len(body)))
        keep = self.parser.should_keep_alive()
        path = self.url.split(b"?")[0].decode()
        t = self.transport
        if path == "/close":
            t.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
            t.close()
        elif path == "/chunked":
            t.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"3\r\nabc\r\n4\r\ndefg\r\n2\r\nhi\r\n0\r\n\r\n")
        elif path == "/split-body":     # the head whole, the body in two reads
            t.write(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nabc")
            asyncio.get_running_loop().call_later(
                0.02, lambda: t.is_closing() or t.write(b"defg"))
            return
        elif path == "/split-head":     # the head in two reads
            t.write(b"HTTP/1.1 200 OK\r\nContent-Le")
            asyncio.get_running_loop().call_later(
                0.02, lambda: t.is_closing() or t.write(b"ngth: 4\r\n\r\nhead"))
            return
        elif path in ("/varied-head", "/varied-head-split"):
            # the same answer whole (read by the C scanner) or in two reads (by llhttp)
            head = (b"HTTP/1.1 203 Fine\r\nServer: up\r\nX-A:tight\r\nX-B:  \t lead\r\n"
                    b"X-Trail: t \t\r\nX-Empty:\r\nX-Forwarded-For: up\r\nHost: up\r\n"
                    b"X-Name: caf\xe9\r\nConnection: keep-alive\r\nContent-Length: 4\r\n"
                    b"x-lower: 1\r\n\r\nbody")
            if path == "/varied-head":
                t.write(head)
            else:
                t.write(head[:20])
                asyncio.get_running_loop().call_later(
                    0.02, lambda: t.is_closing() or t.write(head[20:]))
                return
        elif path == "/junk-after":     # bytes past the end of the response
            t.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK")
        elif path == "/junk-after-chunked":
            t.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"2\r\nok\r\n0\r\n\r\nJUNK")
        elif path == "/latin1-header":
            t.write(b"HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nContent-Length: 2\r\n\r\nok")
        elif path == "/eof":
            t.write(b"HTTP/1.0 200 OK\r\nX-Kind: eof\r\n\r\nuntil-the-end")
            t.close()
        elif path == "/continue":
            t.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            if code in (204, 304):
                t.write(b"HTTP/1.1 %d X\r\n\r\n" % code)
            else:
                t.write(b"HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n" % code)
        elif path.startswith("/big/"):
            n = int(path.rsplit("/", 1)[1])
            t.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
            asyncio.ensure_future(self._write_big(n))
            return
        elif path.startswith("/pattern/"):
            body = pattern_body(int(path.rsplit("/", 1)[1]))
            t.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
            at, size = 0, 1000
            while at < len(body):
                t.write(body[at:at + size])
                at += size
                size = size * 3 % 70001 + 1
        elif path == "/stall":
            return
        elif path == "/hugehead":
            t.write(b"HTTP/1.1 200 OK\r\n" + b"X-Junk: " + b"j" * 200000 + b"\r\n\r\n")
        elif path.startswith("/delay/"):
            delay = float(path.rsplit("/", 1)[1])
            asyncio.get_running_loop().call_later(
                delay, lambda: t.is_closing() or t.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\ndelayed"))
            return
        elif path == "/hop":
            t.write(b"HTTP/1.1 200 OK\r\nConnection: X-Secret, keep-alive\r\nX-Secret: s\r\n"
                    b"Keep-Alive: timeout=5\r\nUpgrade: h2c\r\nTrailer: X-T\r\n"
                    b"Via: 1.0 other\r\nContent-Length: 3\r\n\r\nhop")
        elif path == "/reset":
            _reset(t)
            return
        elif path == "/halfreset":
            t.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf")
            asyncio.get_running_loop().call_later(0.05, _reset, t)
            return
        else:
            payload = json.dumps({
                "method": method.decode(), "path": self.url.decode("latin-1"),
                "headers": self.headers, "body_len": len(body),
                "body_sha": hashlib.sha256(body).hexdigest(),
                "conn": id(self),
            }).encode()
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nServer: test-upstream\r\n"
            if method == b"HEAD":
                t.write(head + b"Content-Length: %d\r\n\r\n" % len(payload))
            else:
                t.write(head + b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
        if not keep and not t.is_closing():
            t.close()

    async def _write_big(self, n):
        piece = b"x" * 65536
        sent = 0
        while sent < n and not self.transport.is_closing():
            k = min(len(piece), n - sent)
            self.transport.write(piece[:k])
            sent += k
            while self.transport.get_write_buffer_size() > 1 << 20:
                await asyncio.sleep(0.001)


def pattern_body(n: int) -> bytes:
    """n bytes in which every position is told apart from its neighbours' (i * 7 + i // 1024)."""
    return bytes((i * 7 + i // 1024) % 256 for i in range(n))


def _reset(transport):
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.close()


class Upstream:
    """An HTTP/1.1 upstream on loopback in its own thread (see the module docstring)."""

    def __init__(self, ssl_context=None):
        self.lt = LoopThread()
        self.connections = 0
        self.requests = 0
        self.seen = []
        self.open_transports = set()
        self.port = free_port()
        self.lt.call(self._start(ssl_context))

    async def _start(self, ssl_context):
        self.server = await asyncio.get_running_loop().create_server(
            lambda: _UpstreamProtocol(self), "127.0.0.1", self.port, ssl=ssl_context,
            backlog=2048)

    def drop_idle(self):
        """Close every open connection from the server side (as a keep-alive timeout would)."""
        async def close_all():
            for t in list(self.open_transports):
                t.close()
        self.lt.call(close_all())

    def stop(self):
        async def stop():
            self.server.close()
            for t in list(self.open_transports):
                t.close()
        self.lt.call(stop())
        self.lt.stop()


class FaultProxy:
    """A TCP proxy on loopback between a client and `target_port`, whose behaviour tests flip:
    mode "pass" forwards; "stall" swallows client bytes; "reset_in_head" forwards the
    upstream's first 10 bytes (inside the status line) then resets the client side.
    reset_all() resets every connection."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.mode = "pass"
        self.port = free_port()
        self.lt = LoopThread()
        self.pairs = []
        self.accepted = 0
        self.lt.call(self._start())

    async def _start(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, creader, cwriter):
        self.accepted += 1
        try:
            ureader, uwriter = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            cwriter.close()
            return
        pair = (cwriter, uwriter)
        self.pairs.append(pair)

        async def pump(reader, writer, upstream_to_client):
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    if self.mode == "stall":
                        continue
                    if upstream_to_client and self.mode == "reset_in_head":
                        writer.write(data[:10])
                        await writer.drain()
                        _reset(cwriter.transport)
                        uwriter.close()
                        return
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                try:
                    writer.close()
                except Exception:
                    pass

        await asyncio.gather(pump(creader, uwriter, False), pump(ureader, cwriter, True))

    def reset_all(self):
        async def reset():
            for cw, uw in self.pairs:
                _reset(cw.transport)
                uw.close()
            self.pairs.clear()
        self.lt.call(reset())

    def stop(self):
        async def stop():
            self.server.close()
            for cw, uw in self.pairs:
                cw.close()
                uw.close()
        self.lt.call(stop())
        self.lt.stop()


def raw_request(port: int, data: bytes, timeout: float = 10.0, read_until_close=True) -> bytes:
    """Send raw bytes on a fresh connection and return everything read until the peer closes
    (or the timeout passes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
                if not read_until_close:
                    break
        except socket.timeout:
            pass
        return b"".join(chunks)


class ServerThread:
    """jqgate's HTTP server (the compiled protocol) on uvloop in a thread, on a free port."""

    def __init__(self, handler, **settings):
        from jqgate._core import core
        self.core = core
        self.lt = LoopThread(use_uvloop=True)
        self.settings = core.ServerSettings(handler, **settings)
        self.port = free_port()
        self.lt.call(self._start())

    async def _start(self):
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: self.core.HttpServerProtocol(self.settings, loop), "127.0.0.1", self.port,
            backlog=2048)

    def stop(self):
        async def stop():
            self.server.close()
            for p in list(self.settings.connections):
                if p.transport is not None:
                    p.transport.close()
        self.lt.call(stop())
        self.lt.stop()


class _RespCollector:
    def __init__(self):
        self.out = []
        self.cur = None
        self.parser = None

    def on_message_begin(self):
        self.cur = {"headers": [], "body": b"", "status": 0}

    def on_header(self, name, value):
        self.cur["headers"].append((name, value))

    def on_headers_complete(self):
        self.cur["status"] = self.parser.get_status_code()

    def on_body(self, body):
        self.cur["body"] += body

    def on_message_complete(self):
        self.out.append(self.cur)


def parse_responses(data: bytes):
    """Split raw bytes into responses: [{"status", "headers", "body"}]; a trailing partial
    (close-delimited) response counts too."""
    c = _RespCollector()
    c.parser = httptools.HttpResponseParser(c)
    try:
        c.parser.feed_data(data)
    except httptools.HttpParserError:
        pass
    if c.cur is not None and (not c.out or c.out[-1] is not c.cur):
        c.out.append(c.cur)
    return c.out


def header(resp, name):
    name = name.lower().encode() if isinstance(name, str) else name.lower()
    for k, v in resp["headers"]:
        if k.lower() == name:
            return v
    return None


class GatewayThread:
    """The whole gateway (jqgate.gateway.serve.start) on uvloop in a thread, on a free port."""

    def __init__(self, config, **kw):
        from jqgate.gateway.serve import start
        self.lt = LoopThread(use_uvloop=True)
        self.running = self.lt.call(start(config, "127.0.0.1", 0, **kw))
        self.port = self.running.port

    def stop(self):
        self.lt.call(self.running.close(1.0))
        self.lt.stop()


def make_config(upstream_port=None, *, routes=None, services=None, upstreams=None, **svc):
    """A GatewayConfig with one service `svc` (to 127.0.0.1:upstream_port unless `host` is
    given) and, by default, one catch-all route to it."""
    from jqgate.config.model import GatewayConfig, Route, Service
    if services is None:
        opts = dict(name="svc", id="svc-id", protocol="http", host="127.0.0.1",
                    port=upstream_port, path=None)
        opts.update(svc)
        services = [Service(**opts)]
    if routes is None:
        routes = [Route(name="all", id="route-all", service_id=services[0].id, paths=["/"])]
    return GatewayConfig(services=services, routes=routes, upstreams=upstreams or [])


def http_get(port, path="/", headers=None, method="GET", body=None, timeout=30):
    """One request with http.client; returns (status, headers dict lower-cased, body)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()
