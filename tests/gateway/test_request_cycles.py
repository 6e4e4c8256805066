"""Per-request objects die by reference count: after requests through each benchmark flow
(bench/flows.py: F1 the seed flow, F2 the plain proxy, F3 two calls joined, F4 a 30-node
compute chain), with metrics and the access log on as `jqgate run` has them, the cyclic
collector finds no jqgate object. A cycle per request would leave the whole request's objects
to the collector, whose passes grow with the heap and stall the event loop."""
from __future__ import annotations

import gc

import pytest

from jqgate.gateway.plans import compile_gateway
from jqgate.config import load_declarative
from jqgate.errors import Issues
from jqgate.examples import compute_flow, seed_flow
from jqgate.metrics import Metrics
from jqgate.gateway.plan_selection import gateway_for, handler_factory

from netutil import GatewayThread, Upstream, http_get
from test_datakit_gateway import TokenService


def join_flow(url: str) -> dict:
    """F3's shape (bench/flows.py join_flow) against the loopback echo upstream."""
    return {"nodes": [
        {"name": "A", "type": "call", "url": f"{url}/a"},
        {"name": "B", "type": "call", "url": f"{url}/b"},
        {"name": "JOIN", "type": "jq", "inputs": {"a": "A.body", "b": "B.body"},
         "jq": "{a: .a.path, b: .b.path}"},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "JOIN"}, "status": 200},
    ]}


def flows(upstream_port: int, token_port: int) -> dict:
    up = f"http://127.0.0.1:{upstream_port}"
    return {"/f1": seed_flow(f"http://127.0.0.1:{token_port}/auth-token"), "/f2": None,
            "/f3": join_flow(up), "/f4": compute_flow(30)}


def declarative(upstream_port: int, token_port: int) -> dict:
    routes = []
    for path, flow in flows(upstream_port, token_port).items():
        route = {"name": path.strip("/"), "paths": [path]}
        if flow is not None:
            route["plugins"] = [{"name": "datakit", "config": flow}]
        routes.append(route)
    return {"_format_version": "3.0",
            "services": [{"name": "svc", "url": f"http://127.0.0.1:{upstream_port}",
                          "routes": routes}]}


def is_jqgate(o) -> bool:
    module = getattr(type(o), "__module__", None)
    return isinstance(module, str) and module.startswith("jqgate")


def jqgate_garbage() -> list:
    """The names of jqgate's own types among what a full collection finds unreachable."""
    gc.set_debug(gc.DEBUG_SAVEALL)       # keep what it finds in gc.garbage instead of freeing
    try:
        gc.collect()
        found = [type(o).__qualname__ for o in gc.garbage if is_jqgate(o)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.collect()                     # and now free it
    return found


@pytest.mark.parametrize("path", ["/f1?api_key=K", "/f2", "/f3", "/f4"])
def test_benchmark_flows_leave_no_cycles(tmp_path, path):
    up, tokens = Upstream(), TokenService()
    issues = Issues()
    compiled = compile_gateway(load_declarative(declarative(up.port, tokens.port), "<test>"),
                               issues)
    issues.raise_if_any()
    gw = GatewayThread(gateway_for(compiled), handler_factory=handler_factory,
                       metrics=Metrics(), access_log=str(tmp_path / "access.log"))
    try:
        for _ in range(20):               # warm-up: pools, caches, first-use allocations
            assert http_get(gw.port, path)[0] == 200
        gc.collect()
        gc.disable()
        # Objects alive now (this gateway's, and whatever earlier tests in this process still
        # hold) are held here, so only what the requests below made can be found as garbage.
        alive = [o for o in gc.get_objects() if is_jqgate(o)]
        try:
            for _ in range(50):
                assert http_get(gw.port, path)[0] == 200
            garbage = jqgate_garbage()
        finally:
            gc.enable()
            del alive
    finally:
        gw.stop()
        tokens.stop()
        up.stop()
    assert garbage == [], "reference cycles through %s" % ", ".join(sorted(set(garbage)))
