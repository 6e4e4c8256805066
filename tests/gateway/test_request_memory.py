"""Memory returns after every request (issue 15 item 7): the objects a request makes, and the
bodies they hold, die by reference count when it ends — on every path — never in a reference
cycle that waits for the cyclic collector (ten 50 MB uploads once stayed in memory that way).

Method: with the collector off, send requests with large bodies through each kind of flow, then
ask the collector what it would free (gc.DEBUG_SAVEALL keeps it in gc.garbage). Nothing of
jqgate's may be there, nor any large body. (RSS over time is bench/soak.py's business.)"""
from __future__ import annotations

import gc
import socket

import pytest

from jqgate.gateway.plans import compile_gateway
from jqgate.config import load_declarative
from jqgate.errors import Issues
from jqgate.gateway.plan_selection import gateway_for, handler_factory

from adminutil import wait_until
from netutil import GatewayThread, Upstream, http_get

BIG = 3 * 1024 * 1024          # above every buffering size: bodies stream or are read whole


FLOWS = {
    # the request body read whole by the flow (request window), then proxied
    "/reads-body": [
        {"name": "SIZE", "type": "jq", "inputs": {"body": "request.body"},
         "jq": "{size: (.body | length)}"},
        {"name": "SET", "type": "jq", "inputs": {"size": "SIZE"}, "jq": "{\"x-size\": (.size.size | tostring)}",
         "output": "service_request.headers"}],
    # the upstream answer taken whole for the response window
    "/response-window": [
        {"name": "SHAPE", "type": "jq", "inputs": {"body": "service_response.body"},
         "jq": "{seen: (.body | length)}", "output": "response.body"}],
    # a third party's large answer through a call node, then an exit
    "/call-big": [
        {"name": "CALL", "type": "call", "url": "http://127.0.0.1:{port}/big/%d" % BIG},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "CALL.status"}}],
    # a failing call: the error path
    "/call-fails": [
        {"name": "CALL", "type": "call", "url": "http://127.0.0.1:{port}/status/500"},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "CALL.body"}}],
    # a call whose answer is over its size limit
    "/call-too-big": [
        {"name": "CALL", "type": "call", "url": "http://127.0.0.1:{port}/big/%d" % BIG,
         "max_response_size": 100000},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "CALL.status"}}],
}


@pytest.fixture(scope="module")
def upstream():
    """Module-scoped (overrides conftest's per-test one): the module's one gateway points at it."""
    u = Upstream()
    yield u
    u.stop()


@pytest.fixture(scope="module")
def gw(upstream):
    """One gateway for the module: a gateway stopped mid-module would leave its event loop's
    own cycles for the collector while the next test looks."""
    g = gateway(upstream.port)
    assert http_get(g.port, "/plain")[0] == 200      # warm: lazily built objects exist
    yield g
    g.stop()


def gateway(port):
    routes, plugins = [{"name": "plain", "paths": ["/plain"]}], []
    for path, nodes in FLOWS.items():
        name = path.strip("/")
        routes.append({"name": name, "paths": [path]})
        nodes = [dict(n, url=n["url"].format(port=port)) if "url" in n else n for n in nodes]
        plugins.append({"name": "datakit", "route": name, "config": {"nodes": nodes}})
    doc = {"_format_version": "3.0",
           "services": [{"name": "svc", "url": f"http://127.0.0.1:{port}", "routes": routes}],
           "plugins": plugins}
    issues = Issues()
    compiled = compile_gateway(load_declarative(doc, "<test>"), issues)
    issues.raise_if_any()
    return GatewayThread(gateway_for(compiled), handler_factory=handler_factory)


def abort_mid_body(port, path):
    """The client sends a head and half its body, then goes away."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
                  % (path.encode(), BIG) + b"a" * (BIG // 2))


def is_jqgate(o) -> bool:
    module = getattr(type(o), "__module__", None)      # a descriptor on some metatypes
    return isinstance(module, str) and module.startswith("jqgate")


def garbage_after(exercise) -> tuple[list, list]:
    """What the cyclic collector would free of what `exercise` left behind. Objects of
    jqgate's that existed before (earlier tests' servers winding down in their threads) are
    held meanwhile, so only what the exercise made can show up."""
    gc.collect()
    gc.disable()
    earlier = [o for o in gc.get_objects() if is_jqgate(o)]
    try:
        exercise()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        found = list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    del earlier
    # Only descriptions leave here: a failing assertion keeps no object alive for later tests.
    return jqgate_objects(found), large_bodies(found)


def jqgate_objects(garbage) -> list:
    return [repr(o) for o in garbage if is_jqgate(o)]


def large_bodies(garbage) -> list:
    return [len(r) for o in garbage for r in gc.get_referents(o)
            if isinstance(r, (bytes, bytearray, str)) and len(r) >= BIG // 4]


@pytest.mark.parametrize("path, method, expect", [
    ("/plain", "POST", 200),             # streamed to the upstream
    ("/plain/big/%d" % BIG, "GET", 200),  # streamed back from it
    ("/reads-body", "POST", 200),        # buffered for the flow
    ("/response-window", "POST", 200),   # response window
    ("/call-big", "GET", 200),           # a call's large answer
    ("/call-fails", "POST", 500),        # a node error
    ("/call-too-big", "GET", 500),       # a call over its size limit
])
def test_requests_leave_nothing_for_the_cyclic_collector(gw, path, method, expect):
    body = b"b" * BIG if method == "POST" else None

    def exercise():
        for _ in range(5):
            status, _, _ = http_get(gw.port, path, method=method, body=body)
            assert status == expect
        wait_until(lambda: not gw.running.settings.connections, "connections closed")

    objects, bodies = garbage_after(exercise)
    assert objects == []
    assert bodies == []


@pytest.mark.parametrize("path", ["/plain", "/reads-body", "/response-window"])
def test_clients_that_abort_mid_body_leave_nothing_either(gw, path):
    def exercise():
        for _ in range(5):
            abort_mid_body(gw.port, path)
        wait_until(lambda: not gw.running.settings.connections, "aborted connections closed")
        assert http_get(gw.port, "/plain")[0] == 200

    objects, bodies = garbage_after(exercise)
    assert objects == []
    assert bodies == []
