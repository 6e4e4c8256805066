"""Engine test harness: a loopback third-party HTTP server, the pool, and a driver that runs a
plan through either executor the way the server will (request window, then response window).
"""
from __future__ import annotations

import asyncio

import httptools
import orjson

from jqgate._core import core
from jqgate.reference import executor as ref_executor


class Route:
    def __init__(self, status=200, headers=None, body=b"", delay=0.0, hold=False):
        self.status = status
        self.headers = headers or {}
        if isinstance(body, (dict, list)):
            body = orjson.dumps(body)
            self.headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        self.body = body
        self.delay = delay
        self.hold = hold      # answer only once `release()` is called


class Received:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path                 # path + query as sent
        self.headers = headers           # [(str, str)]
        self.body = body
        self.answered = False            # the server has written its answer (or dropped it)

    def closed(self):
        """Has the connection this request came on been closed?"""
        return self.conn.lost

    def header(self, name):
        vals = [v for n, v in self.headers if n.lower() == name.lower()]
        return vals[0] if len(vals) == 1 else (vals or None)


class _Conn(asyncio.Protocol):
    def __init__(self, server):
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport = None
        self.lost = False

    def connection_made(self, transport):
        self.transport = transport
        self.server.open += 1
        self.server.connections.append(self)

    def connection_lost(self, exc):
        self.lost = True
        self.server.open -= 1
        self.server.closed += 1
        self.server.changed.set()

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_begin(self):
        self.url = b""
        self.headers = []
        self.body = []

    def on_url(self, url):
        self.url += url

    def on_header(self, name, value):
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body):
        self.body.append(body)

    def on_message_complete(self):
        rec = Received(self.parser.get_method().decode(), self.url.decode("latin-1"),
                       self.headers, b"".join(self.body))
        rec.conn = self
        self.server.received.append(rec)
        self.server.changed.set()
        asyncio.get_running_loop().create_task(self.server.answer(self, rec))


class ThirdParty:
    """A loopback HTTP/1.1 server answering per path with a configured Route."""

    def __init__(self):
        self.routes = {}
        self.received = []
        self.open = 0
        self.closed = 0
        self.connections = []
        self.changed = asyncio.Event()
        self.released = asyncio.Event()
        self.server = None
        self.port = None

    async def start(self):
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Conn(self), "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def route(self, path, **kw):
        self.routes[path] = Route(**kw)

    def release(self):
        self.released.set()

    def request_to(self, path):
        return next((r for r in self.received if r.path == path), None)

    async def wait_for(self, predicate, timeout=5.0):
        async def loop():
            while not predicate():
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(loop(), timeout)

    async def answer(self, conn, rec):
        r = self.routes.get(rec.path.split("?", 1)[0]) or Route(404, body="not found")
        if r.hold:
            await self.released.wait()
        if r.delay:
            await asyncio.sleep(r.delay)
        if r.status == -1:                   # simulate a reset
            conn.transport.abort()
            rec.answered = True
            self.changed.set()
            return
        hdrs = [(k, v) for k, v in r.headers.items()]
        if r.status == 200 and rec.path.startswith("/echo"):
            body = orjson.dumps({"method": rec.method, "path": rec.path,
                                 "headers": dict(rec.headers), "body": rec.body.decode()})
            hdrs = [("Content-Type", "application/json")]
        else:
            body = r.body
        head = "HTTP/1.1 %d X\r\n" % r.status + "".join("%s: %s\r\n" % kv for kv in hdrs)
        head += "Content-Length: %d\r\n\r\n" % len(body)
        if not conn.transport.is_closing():
            conn.transport.write(head.encode("latin-1") + body)
        rec.answered = True                  # tests wait for this instead of sleeping
        self.changed.set()

    async def stop(self):
        self.server.close()
        for c in self.connections:
            if c.transport and not c.transport.is_closing():
                c.transport.close()
        await self.server.wait_closed()


def make_pool():
    """The compiled client pool, on the running loop."""
    return core.ConnectionPool(asyncio.get_running_loop())


EXECUTORS = {"core": core.PlanRun, "reference": ref_executor.PlanRun}


async def drive(executor, plan, request, pool, ctx_shared=None, upstream=None, env=None):
    """Run both windows like the server: -> the run object (outcome read from it)."""
    cls = EXECUTORS[executor]
    run = cls(plan, request, pool, ctx_shared if ctx_shared is not None else {}, env)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    if run.start_request_window(lambda r: done.set_result(None)) == 1:
        await asyncio.wait_for(done, 10)
    if not run.exited and run.needs_response_window:
        status, headers, body = upstream or (200, [("Content-Type", "text/plain"),
                                                   ("Content-Length", "2")], b"UP")
        done = loop.create_future()
        if run.start_response_window(status, headers, body,
                                     lambda r: done.set_result(None)) == 1:
            await asyncio.wait_for(done, 10)
    return run


def request_view(spec: dict | None):
    spec = dict(spec or {})
    headers = spec.pop("headers", [])
    if isinstance(headers, dict):
        headers = list(headers.items())
    body = spec.pop("body", None)
    if isinstance(body, (dict, list)):
        body = orjson.dumps(body)
    elif isinstance(body, str):
        body = body.encode()
    return core.RequestView(headers=[(str(n), str(v)) for n, v in headers], body=body,
                            **spec)
