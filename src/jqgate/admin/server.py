"""The Admin API listener: a RequestHandler on the same compiled HTTP server as the proxy
(jqgate._core.http_server), its own socket and ServerSettings.

Per request: collect the body (bounded), match the route, run the async handler as a task on
the loop (a change may wait for the workers to apply it), answer JSON. The handler's errors are
Kong-shaped (AdminError); anything unexpected is logged and answered 500 without details.
"""
from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import parse_qsl

from jqgate._core import core
from jqgate.admin import errors, routes
from jqgate.admin.guard import AdminGuard
from jqgate.admin.handlers import AdminCall
from jqgate.gateway.routing import DEFAULT_SERVER

log = logging.getLogger("jqgate.admin")
admin_access_log = logging.getLogger("jqgate.admin.access")

MAX_ADMIN_BODY = 64 * 1024 * 1024       # the configuration file limit (config.reading)
# No Access-Control-Allow-Origin: a page on another origin must not read Admin answers
# (jqgate.admin.guard).
JSON_HEADERS = [(b"Content-Type", b"application/json; charset=utf-8")]


class Admin:
    """What the handlers work with: the store, where statistics come from, listen addresses."""

    def __init__(self, store, stats, proxy_listen: str, admin_listen: str, guard=None):
        self.store = store
        self.stats = stats                 # jqgate.admin.status.LocalStats | control.WorkerStats
        self.proxy_listen = proxy_listen
        self.admin_listen = admin_listen
        self.edit_lock = asyncio.Lock()
        self.guard = guard if guard is not None else AdminGuard()   # set again once bound
        self.draining = False              # shutting down: not ready for new traffic


def _dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class AdminHandler(core.RequestHandler):
    def __init__(self, admin: Admin, match=routes.match, guarded=True):
        self.admin = admin
        self.match = match                 # the status listener serves a smaller table
        # The Admin API's guard (token, Origin, content type); the status listener is read-only
        # and unauthenticated, like Kong's status_listen.
        self.guarded = guarded
        self.tasks: set = set()

    def handle(self, req, resp):
        refused = None if not self.guarded else self.admin.guard.check(req.method.decode("latin-1"), req.header,
                                         req.body_stream is not None or bool(req.body))
        if refused is not None:      # before the body is read: it is not wanted
            self._send(resp, refused.status, refused.body,
                       [(b"WWW-Authenticate", b"Bearer")] if refused.status == 401 else [])
            return
        if req.body is not None:
            self._dispatch(req, resp, req.body)
        else:
            req.body_stream.read_all(
                lambda body: self._dispatch(req, resp, body) if body is not None else
                resp.send_error(413, "Request body too large (or the client went away)"),
                MAX_ADMIN_BODY)

    def _dispatch(self, req, resp, body: bytes):
        method = req.method.decode("latin-1")
        path = req.path.decode("latin-1")
        handler, params = self.match(method, path)
        if handler is None:
            err = errors.not_found() if params is None else errors.method_not_allowed()
            self._send(resp, err.status, err.body)
            return
        call = AdminCall(method=method, params=params,
                         query=dict(parse_qsl(req.query.decode("latin-1"))), body=body,
                         content_type=req.header(b"content-type"), extra={"path": path})
        task = asyncio.get_running_loop().create_task(self._run(handler, call, resp))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, handler, call, resp):
        try:
            status, body = await handler(self.admin, call)
        except errors.AdminError as exc:
            status, body = exc.status, exc.body
        except Exception:
            log.exception("admin %s failed", call.method)
            status, body = 500, {"message": "An unexpected error occurred"}
        if resp.finished:
            return
        self._send(resp, status, body)

    @staticmethod
    def _send(resp, status, body, extra_headers=()):
        if isinstance(body, bytes):       # /metrics: already the text format
            from jqgate.metrics import CONTENT_TYPE
            resp.send(status, [(b"Content-Type", CONTENT_TYPE)], body)
        elif body is None:
            resp.send(status, [], b"")
        else:
            resp.send(status, JSON_HEADERS + list(extra_headers), _dumps(body))


def log_admin_request(req, resp) -> None:
    """One line per Admin API request (Kong keeps an admin access log too): configuration
    changes leave a trace of who asked for them."""
    if admin_access_log.isEnabledFor(logging.INFO):
        admin_access_log.info('%s "%s %s HTTP/%s" %d %d rid=%s', req.client_ip,
                              req.method.decode("latin-1"), req.target.decode("latin-1"),
                              req.http_version, resp.status, resp.bytes_sent,
                              req.request_id.decode())


async def start_admin(admin: Admin, host: str, port: int, sock=None, ssl_context=None,
                      match=routes.match, access_log=log_admin_request,
                      max_body_bytes=MAX_ADMIN_BODY, guarded=True):
    """Listen for the Admin API (or, with the status table, the status listener) on the
    running loop (TLS with `ssl_context`); returns (asyncio Server, settings, port)."""
    from jqgate.gateway.serve import bind_socket
    loop = asyncio.get_running_loop()
    settings = core.ServerSettings(AdminHandler(admin, match, guarded), server_header=DEFAULT_SERVER,
                                   body_buffer_size=1024 * 1024, max_body_bytes=max_body_bytes,
                                   access_log=access_log,
                                   scheme="https" if ssl_context is not None else "http")
    if sock is None:
        sock = bind_socket(host, port, reuse_port=False)
    server = await loop.create_server(lambda: core.HttpServerProtocol(settings, loop), sock=sock,
                                      ssl=ssl_context)
    return server, settings, sock.getsockname()[1]
