"""A small asyncio HTTP/1.1 client with the pool API of `_core/http_client.pyx`.

`SimplePool(loop).send(exchange, callback)` sends one request on a fresh connection and calls
`callback(exchange)` exactly once with the result fields filled in, unless
`exchange.cancel()` ran first (then the connection is closed and the callback suppressed).

It exists so the reference executor (and the embedding API, when the compiled pool is absent)
can make calls; it is written for clarity, not speed: one connection per exchange, no reuse.
"""
from __future__ import annotations

import asyncio
import ssl as ssl_module

import httptools

ERR_NONE = 0
ERR_CONNECT = 1
ERR_TIMEOUT = 2
ERR_RESET = 3
ERR_PROTOCOL = 4
ERR_TLS = 5


class Exchange:
    """One request/response, the same fields as the compiled `ClientExchange`."""

    def __init__(self):
        self.scheme = "http"
        self.host = ""
        self.port = 80
        self.method = b"GET"
        self.target = b"/"
        self.headers = []
        self.body = None
        self.timeout = 60.0
        self.ssl_verify = True
        self.server_hostname = None
        self.idempotent = True
        self.status = 0
        self.resp_headers = []
        self.resp_body = b""
        self.error_kind = ERR_NONE
        self.error = ""
        self._task = None
        self._canceled = False

    def cancel(self):
        """Close the connection (if any) and make sure the callback never runs."""
        self._canceled = True
        if self._task is not None:
            self._task.cancel()


class _Response:
    def __init__(self):
        self.headers = []
        self.body = []
        self.done = False

    def on_header(self, name, value):
        self.headers.append((bytes(name), bytes(value)))

    def on_body(self, body):
        self.body.append(bytes(body))

    def on_message_complete(self):
        self.done = True


class SimplePool:
    def __init__(self, loop=None):
        self.loop = loop
        self.open_connections = 0

    def send(self, ex, callback):
        loop = self.loop or asyncio.get_running_loop()
        ex._task = loop.create_task(self._run(ex, callback))

    async def _run(self, ex, callback):
        writer = None
        try:
            try:
                writer = await asyncio.wait_for(self._exchange(ex), ex.timeout)
            except asyncio.TimeoutError:
                ex.error_kind, ex.error = ERR_TIMEOUT, "timeout"
            except ssl_module.SSLError as e:
                ex.error_kind, ex.error = ERR_TLS, "TLS error: %s" % e
            except (ConnectionRefusedError, OSError) as e:
                if ex.error_kind == ERR_NONE:
                    ex.error_kind, ex.error = ERR_CONNECT, "connection failed: %s" % (e.strerror or e)
            except httptools.HttpParserError as e:
                ex.error_kind, ex.error = ERR_PROTOCOL, "invalid response: %s" % e
        except asyncio.CancelledError:
            return
        if not ex._canceled:
            callback(ex)

    async def _exchange(self, ex):
        ctx = None
        if ex.scheme == "https":
            ctx = ssl_module.create_default_context()
            if not ex.ssl_verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl_module.CERT_NONE
        reader, writer = await asyncio.open_connection(
            ex.host, ex.port, ssl=ctx, server_hostname=(ex.server_hostname or ex.host) if ctx else None)
        self.open_connections += 1
        try:
            head = [ex.method + b" " + ex.target + b" HTTP/1.1\r\n"]
            for n, v in ex.headers:
                head.append(n + b": " + v + b"\r\n")
            head.append(b"\r\n")
            writer.write(b"".join(head) + (ex.body or b""))
            resp = _Response()
            parser = httptools.HttpResponseParser(resp)
            while not resp.done:
                data = await reader.read(65536)
                if not data:
                    if not resp.done:
                        ex.error_kind, ex.error = ERR_RESET, "connection closed before the response completed"
                        raise ConnectionResetError("closed")
                    break
                parser.feed_data(data)
            ex.status = parser.get_status_code()
            ex.resp_headers = resp.headers
            ex.resp_body = b"".join(resp.body)
            # the compiled ClientExchange names its result fields status/headers/body
            ex.headers = resp.headers
            ex.body = ex.resp_body
        finally:
            writer.close()
            self.open_connections -= 1
        return writer
