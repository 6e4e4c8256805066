"""A DataKit flow in front of an ASGI application (Starlette, FastAPI, Django's ASGI...).

    from starlette.applications import Starlette
    from jqgate.asgi import DataKitMiddleware

    app = DataKitMiddleware(Starlette(routes=[...]), flow)   # flow: DataKit config dict or plan
    # or, in Starlette/FastAPI: app.add_middleware(DataKitMiddleware, flow=flow)

Per HTTP request: the request (method, path, query, headers, body) goes through the flow's
request window; when the flow exits (an `exit` node, an auth failure, an error) its answer is
sent and the application is not called. Otherwise the application is called with the request
as the flow left it (`service_request`: method, path, query, headers, body). When the flow
reads or changes the response (`service_response`, `response` nodes), the application's
answer is collected and runs through the response window before it is sent; else it streams.

The application is the upstream: a flow that retargets the service (`service_request` target,
scheme, upstream) is refused with 500 rather than silently sent to the application.
Limits: the request body is read whole, at most `max_body_bytes` (default 8 MiB, else 413), and
so is a response the flow reads (`max_response_bytes`, default 8 MiB, else 502).
WebSocket and lifespan messages pass straight to the application.
"""
from __future__ import annotations

import logging

import orjson

from jqgate.embed import RunnablePlan, runnable

log = logging.getLogger("jqgate.asgi")

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class _TooLarge(Exception):
    pass


def _latin1(value: bytes) -> str:
    return value.decode("latin-1")


async def _read_body(receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _raw(value) -> bytes:
    return bytes(value) if isinstance(value, (bytes, bytearray)) else str(value).encode("latin-1")


async def _send_answer(send, status: int, headers, body: bytes) -> None:
    raw = [(_raw(k).lower(), _raw(v)) for k, v in headers]
    if not any(k.lower() == b"content-length" for k, _ in raw):
        raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _send_message(send, status: int, message: str) -> None:
    await _send_answer(send, status, [("content-type", "application/json; charset=utf-8")],
                       orjson.dumps({"message": message}))


class DataKitMiddleware:
    def __init__(self, app, flow, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES):
        self.app = app
        if isinstance(flow, dict):
            import jqgate
            flow = jqgate.compile(flow, "asgi")
        self.plan: RunnablePlan = runnable(flow)
        self.max_body_bytes = max_body_bytes
        self.max_response_bytes = max_response_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive, self.max_body_bytes)
        except _TooLarge:
            await _send_message(send, 413, "Request body too large")
            return
        client = scope.get("client") or ("127.0.0.1", 0)
        server = scope.get("server") or ("", 80)
        query = _latin1(scope.get("query_string", b""))
        request = {
            "method": scope["method"], "path": scope["path"],
            "raw_path": _latin1(scope["raw_path"]) if scope.get("raw_path") else scope["path"],
            "query": query, "headers": [(_latin1(k), _latin1(v)) for k, v in scope["headers"]],
            "body": body or None, "client_ip": client[0], "client_port": client[1] or 0,
            "server_port": server[1] or 0, "scheme": scope.get("scheme", "http"),
            "http_version": scope.get("http_version", "1.1"),
        }
        result = await self.plan.request_window(request)
        if result.exited:
            await _send_answer(send, result.status, result.headers, result.body or b"")
            return
        outgoing = result.service_request
        if outgoing["target"] is not None or outgoing["upstream"] is not None:
            log.error("the flow retargets the service; behind jqgate.asgi the application is "
                      "the service")
            await _send_message(send, 500, "An unexpected error occurred")
            return
        app_scope = dict(scope)
        app_scope["method"] = outgoing["method"]
        app_scope["path"] = outgoing["path"]
        app_scope["raw_path"] = outgoing["path"].encode("latin-1")
        app_scope["query_string"] = (outgoing["query"] or "").encode("latin-1")
        app_scope["headers"] = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                                for k, v in outgoing["headers"]]
        app_body = outgoing["body"] or b""
        if isinstance(app_body, str):
            app_body = app_body.encode()
        sent = False

        async def app_receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": app_body, "more_body": False}
            return await receive()          # http.disconnect when the client goes away

        if not RunnablePlan.needs_response(result):
            await self.app(app_scope, app_receive, send)
            return
        captured = {"status": 500, "headers": [], "chunks": [], "size": 0}

        async def app_send(message):
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = [(_latin1(k), _latin1(v))
                                       for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                captured["size"] += len(chunk)
                if captured["size"] > self.max_response_bytes:
                    raise _TooLarge()
                captured["chunks"].append(chunk)

        try:
            await self.app(app_scope, app_receive, app_send)
        except _TooLarge:
            await _send_message(send, 502, "The upstream response is too large")
            return
        upstream_headers = [(k, v) for k, v in captured["headers"]
                            if k.lower() not in ("content-length", "transfer-encoding")]
        await self.plan.response_window(result, {"status": captured["status"],
                                                 "headers": upstream_headers,
                                                 "body": b"".join(captured["chunks"])})
        await _send_answer(send, result.status, result.headers, result.body or b"")
