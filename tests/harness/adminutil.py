"""Helpers for the Admin API tests: the gateway process with its Admin API, JSON calls, a strict
keep-alive client, declarative configurations pointing at loopback upstreams."""
from __future__ import annotations

import json
import os
import socket
import sys
import time

import httptools

from netutil import free_port
from run_process import RunProcess

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = os.path.join(HERE, "..", "cases", "seed")


def seed_body(name: str) -> bytes:
    """A seed Admin API body, byte for byte as the Kong docs give it."""
    with open(os.path.join(SEED, name), "rb") as f:
        return f.read()


def declarative(upstream_port: int, service_path: str | None = None, plugins=None,
                route_paths=("/",)) -> dict:
    service = {"name": "svc", "url": "http://127.0.0.1:%d%s" % (upstream_port, service_path or "")}
    doc = {"_format_version": "3.0", "services": [service],
           "routes": [{"name": "main", "service": "svc", "paths": list(route_paths)}]}
    if plugins:
        doc["plugins"] = plugins
    return doc


class AdminGateway(RunProcess):
    """`admin_gateway_proc.py` in a subprocess (harness/run_process.py); ready once it says so."""

    def __init__(self, tmp_path, doc: dict, workers: int = 1, log_format: str = "plain",
                 admin: bool = True, admin_host: str = "127.0.0.1", env: dict | None = None,
                 tls: tuple | None = None):
        """tls=(cert file, key file): a second proxy listener, `127.0.0.1:<tls_port> ssl`,
        with that default certificate."""
        self.config_file = str(tmp_path / "kong.json")
        self.write_config(doc)
        listen = "127.0.0.1:{port}"
        self.tls_port = None
        if tls is not None:
            self.tls_port = free_port()
            listen += ", 127.0.0.1:%d ssl" % self.tls_port
            env = dict(env or {}, KONG_SSL_CERT=tls[0], KONG_SSL_CERT_KEY=tls[1])
        super().__init__(command=[sys.executable, os.path.join(HERE, "admin_gateway_proc.py"),
                                  self.config_file, listen,
                                  "%s:{admin}" % admin_host if admin else "off", str(workers),
                                  log_format],
                         env=env, stdout=None)
        if not admin:
            self.admin_port = None

    def write_config(self, doc) -> None:
        tmp = self.config_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        os.replace(tmp, self.config_file)

    def admin(self, method, path, body=None, content_type="application/json", headers=None):
        """(status, decoded JSON or raw bytes, headers) from the Admin API."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        h = dict(headers or {})
        if body is not None and content_type:
            h["Content-Type"] = content_type
        return call(self.admin_port, method, path, body, h)

    def proxy(self, path="/", method="GET"):
        return call(self.port, method, path, None, {})

    def status(self):
        s, body, _ = self.admin("GET", "/status")
        assert s == 200, body
        return body


def call(port, method, path, body, headers, timeout=30):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if hdrs.get("content-type", "").startswith("application/json") and data:
            return r.status, json.loads(data), hdrs
        return r.status, data, hdrs
    finally:
        c.close()


def wait_until(predicate, what, attempts=200, pause=0.05):
    """Poll a condition a bounded number of times (no timing assertion: just a bound)."""
    for _ in range(attempts):
        value = predicate()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError("never happened: " + what)


class KeepAliveClient:
    """One TCP connection, one request at a time, responses parsed strictly with llhttp. Any
    close by the server, a `Connection: close`, or a parse error raises: the tests need to know
    that the same connection carried every request."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def get(self, path):
        self.sock.sendall(b"GET %s HTTP/1.1\r\nHost: test\r\n\r\n" % path.encode())
        done = {}
        body = []
        headers = []

        class P:
            def on_header(self, n, v):
                headers.append((n.lower(), v))

            def on_body(self, b):
                body.append(b)

            def on_message_complete(self):
                done["ok"] = True

        parser = httptools.HttpResponseParser(P())
        while "ok" not in done:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the keep-alive connection")
            parser.feed_data(data)
        if (b"connection", b"close") in headers:
            raise ConnectionError("server asked to close the keep-alive connection")
        return parser.get_status_code(), b"".join(body)

    def close(self):
        self.sock.close()
