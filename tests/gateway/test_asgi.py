"""jqgate.asgi: a DataKit flow in front of a Starlette application, served by a real uvicorn
server on loopback, reached by a real HTTP client."""
from __future__ import annotations

import asyncio
import threading

import pytest

from adminutil import call
from netutil import free_port

uvicorn = pytest.importorskip("uvicorn")
starlette = pytest.importorskip("starlette")

from starlette.applications import Starlette  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from jqgate.asgi import DataKitMiddleware  # noqa: E402

FLOW = {"nodes": [
    # no api key: the flow answers, the application is never called
    {"name": "CHECK", "type": "jq", "input": "request.query",
     "jq": "if .api_key then {} else error(\"no key\") end"},
    {"name": "HDR", "type": "jq", "inputs": {"q": "request.query", "c": "CHECK"},
     "output": "service_request.headers", "jq": "{\"X-User\": .q.api_key}"},
    {"name": "WRAP", "type": "jq", "input": "service_response.body", "output": "response.body",
     "jq": "{wrapped: .}"}]}


async def orders(request):
    return JSONResponse({"path": request.url.path, "user": request.headers.get("x-user"),
                         "body": (await request.body()).decode()})


class Server:
    def __init__(self, app):
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()),
                                       daemon=True)
        self.thread.start()
        for _ in range(400):
            if self.server.started:
                break
            threading.Event().wait(0.025)
        assert self.server.started, "uvicorn did not start"

    def stop(self):
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def served():
    app = Starlette(routes=[Route("/orders", orders, methods=["GET", "POST"])])
    app.add_middleware(DataKitMiddleware, flow=FLOW)
    server = Server(app)
    yield server
    server.stop()


def test_flow_patches_the_request_and_the_response(served):
    status, body, headers = call(served.port, "POST", "/orders?api_key=alice", b"payload",
                                 {"Content-Type": "text/plain"})
    assert status == 200, body
    assert body == {"wrapped": {"path": "/orders", "user": "alice", "body": "payload"}}
    assert int(headers["content-length"]) > 0


def test_flow_answers_without_calling_the_app(served):
    status, body, _ = call(served.port, "GET", "/orders", None, {})
    assert status == 500                      # the jq error: DataKit's 500, the app not reached
    assert not (isinstance(body, dict) and "wrapped" in body)


def test_request_body_limit(served):
    app = Starlette(routes=[Route("/orders", orders, methods=["POST"])])
    server = Server(DataKitMiddleware(app, FLOW, max_body_bytes=10))
    try:
        status, body, _ = call(server.port, "POST", "/orders?api_key=a", b"x" * 11, {})
        assert status == 413 and body == {"message": "Request body too large"}
        assert call(server.port, "POST", "/orders?api_key=a", b"x" * 10, {})[0] == 200
    finally:
        server.stop()
