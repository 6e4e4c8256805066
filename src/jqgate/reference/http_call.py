"""A `call` node's HTTP exchange in the reference executor: the standard library's http.client.

The core sends calls through its own pooled HTTP/1.1 client (`_core/client/`); the reference
sends each one on a fresh http.client connection in a worker thread, so the engine cases check
what the core puts on the wire against an independent client, and the core's parsing of the
answer against http.client's. One connection per call (no pool): keep-alive reuse is the core's
business and tested there.

D13: an exit or a failure cancels the calls in flight by closing their connections
(`cancel()` shuts the socket down under the worker thread, which then ends). Limits: the node's
`timeout` bounds connecting and each read (http.client's socket timeout), and the response
body is read up to `max_body` bytes; one byte more fails the call, as the core's does.
"""
from __future__ import annotations

import http.client
import socket
import ssl
import threading

from jqgate.reference.values import to_wire


class CallFailed(Exception):
    """A network-level failure (§5.1 failure 1): the text is the node's error."""


class _HTTPSConnection(http.client.HTTPSConnection):
    """HTTPS with the node's `ssl_server_name` as SNI and the name checked (not the URL's host)."""

    def __init__(self, *args, server_name=None, **kw):
        super().__init__(*args, **kw)
        self.server_name = server_name

    def connect(self):
        http.client.HTTPConnection.connect(self)      # TCP, and CONNECT through a proxy
        name = self.server_name or self._tunnel_host or self.host
        self.sock = self._context.wrap_socket(self.sock, server_hostname=name)


class HttpCall:
    """One request: built by the executor, run by `run()` in a worker thread."""

    def __init__(self, scheme: str, host: str, port: int, method: str, target: str,
                 headers: list, body: bytes | None, timeout: float, max_body: int):
        self.scheme = scheme
        self.host = host                 # where the connection goes (a forward proxy, maybe)
        self.port = port
        self.method = method
        self.target = target             # request-target: origin form, or absolute via a proxy
        self.headers = headers           # [(str, str)], Host included, Content-Length not
        self.body = body
        self.timeout = timeout
        self.max_body = max_body         # 0: unbounded
        self.ssl_verify = True
        self.ssl_context = None          # the plugin's trust store, else the system's
        self.server_name = None
        self.tunnel = None               # (host, port, {header: value}) for CONNECT
        self._conn = None
        self._cancelled = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the exchange

    def run(self) -> tuple[int, list, bytes]:
        """-> (status, [(name, value)], body). Raises CallFailed."""
        try:
            return self._exchange()
        except CallFailed:
            raise
        except socket.timeout:
            raise CallFailed("upstream timed out") from None
        except (OSError, http.client.HTTPException, ValueError) as e:
            if self._cancelled:
                raise CallFailed("cancelled") from None
            raise CallFailed("%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__) \
                from None
        finally:
            self._close()

    def _exchange(self):
        conn = self._connection()
        conn.connect()
        with self._lock:                     # from here on cancel() can shut the socket down
            self._conn = conn
            if self._cancelled:
                raise CallFailed("cancelled")
        conn.putrequest(self.method, self.target, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers:       # values as the core writes them (to_wire)
            conn.putheader(name, to_wire(value))
        # RFC 9110 §8.6: a request whose method gives content a meaning says its length
        if self.body is not None:
            conn.putheader("Content-Length", str(len(self.body)))
        elif self.method in ("POST", "PUT", "PATCH"):
            conn.putheader("Content-Length", "0")
        conn.endheaders(self.body)
        resp = conn.getresponse()
        if self.method == "HEAD":
            body = b""
        elif self.max_body:
            body = resp.read(self.max_body + 1)
            if len(body) > self.max_body:
                raise CallFailed("upstream response body over %d bytes" % self.max_body)
        else:
            body = resp.read()
        return resp.status, resp.getheaders(), body

    def _connection(self):
        if self.scheme != "https":
            return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        if not self.ssl_verify:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ssl_context is not None:
            context = self.ssl_context
        else:
            context = ssl.create_default_context()
        conn = _HTTPSConnection(self.host, self.port, timeout=self.timeout, context=context,
                                server_name=self.server_name)
        if self.tunnel is not None:
            host, port, headers = self.tunnel
            conn.set_tunnel(host, port, headers)
        return conn

    def start(self, loop, on_done):
        """Run in a thread of its own (a shared pool could run out of threads while held calls
        wait); `on_done(result)` on the loop: (status, headers, body) or a CallFailed."""
        def work():
            try:
                result = self.run()
            except CallFailed as e:
                result = e
            try:
                loop.call_soon_threadsafe(on_done, result)
            except RuntimeError:             # the loop is gone: nobody waits for this call
                pass
        threading.Thread(target=work, name="reference-call", daemon=True).start()

    # ------------------------------------------------------------------ D13

    def cancel(self):
        """Close the connection now (from the event loop's thread): the worker's read fails."""
        with self._lock:
            self._cancelled = True
            conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _close(self):
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
