"""DataKit on the gateway's request path, end to end over real loopback sockets: the seed flow in
front of a token service and an upstream, exits, failures, the response window, request bodies
and plugin scoping."""
import json

import orjson
import pytest

from jqgate.gateway.plans import compile_gateway
from jqgate.config import load_declarative
from jqgate.demo_services import start_service, token_service
from jqgate.errors import Issues
from jqgate.examples import seed_flow
from jqgate.gateway.plan_selection import gateway_for, handler_factory

from netutil import FaultProxy, GatewayThread, LoopThread, Upstream, free_port, http_get


class TokenService:
    """The demo's token service (POST form -> {"access_token": "tok-<X-Api-Key>"}) in a thread;
    /deny answers 401 instead."""

    def __init__(self):
        self.lt = LoopThread()
        self.calls = []

        async def handler(method, target, headers, body):
            self.calls.append((method, target, dict(headers), body))
            if target.startswith("/deny"):
                return 401, {"Content-Type": "application/json"}, b'{"error":"denied"}'
            if target.startswith("/notjson"):
                return 200, {"Content-Type": "application/json"}, b"not json"
            return await token_service(method, target, headers, body)

        self.server = self.lt.call(start_service(handler))
        self.port = self.server.sockets[0].getsockname()[1]

    def stop(self):
        async def close():
            self.server.close()
        self.lt.call(close())
        self.lt.stop()


@pytest.fixture
def tokens():
    t = TokenService()
    yield t
    t.stop()


def gateway(doc):
    issues = Issues()
    compiled = compile_gateway(load_declarative(doc, "<test>"), issues)
    issues.raise_if_any()
    return GatewayThread(gateway_for(compiled), handler_factory=handler_factory)


def declarative(upstream_port, plugins, routes=None):
    return {"_format_version": "3.0",
            "services": [{"name": "svc", "url": f"http://127.0.0.1:{upstream_port}",
                          "routes": routes or [{"name": "all", "paths": ["/"]}]}],
            "plugins": plugins}


def test_seed_flow_injects_the_token_and_keeps_the_request(upstream, tokens):
    gw = gateway(declarative(upstream.port, [
        {"name": "datakit", "config": seed_flow(f"http://127.0.0.1:{tokens.port}/auth-token")}]))
    try:
        status, headers, body = http_get(gw.port, "/orders?api_key=K&x=1", headers={"X-Client": "c"})
        assert status == 200
        seen = json.loads(body)
        sent = {k.lower(): v for k, v in seen["headers"]}
        assert sent["authorization"] == "Bearer tok-K"
        assert sent["x-client"] == "c"
        assert seen["path"] == "/orders?api_key=K&x=1"
        method, target, token_headers, token_body = tokens.calls[-1]
        assert (method, target) == ("POST", "/auth-token")
        assert token_headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert token_headers["X-Api-Key"] == "K"
        assert token_body == b"grant_type=client_credentials"
        assert "x-kong-request-id" in headers

        status, _, body = http_get(gw.port, "/orders")
        sent = {k.lower(): v for k, v in json.loads(body)["headers"]}
        assert sent["authorization"] == "Bearer tok-none"
    finally:
        gw.stop()


def test_headers_the_flow_does_not_touch_reach_the_upstream_byte_for_byte(upstream, tokens):
    # The seed flow patches service_request.headers (Authorization). The client's other
    # headers must pass unchanged, including a value byte beyond ASCII: it once went out
    # decoded as Latin-1 and re-encoded as UTF-8 ("caf\xe9" arrived as "caf\xc3\xa9").
    gw = gateway(declarative(upstream.port, [
        {"name": "datakit", "config": seed_flow(f"http://127.0.0.1:{tokens.port}/auth-token")}]))
    try:
        status, _, body = http_get(gw.port, "/orders?api_key=K",
                                   headers={"X-Name": "caf\xe9", "X-Plain": "a b"})
        assert status == 200
        sent = {k.lower(): v for k, v in json.loads(body)["headers"]}
        assert sent["x-name"].encode("latin-1") == b"caf\xe9"
        assert sent["x-plain"] == "a b" and sent["authorization"] == "Bearer tok-K"
    finally:
        gw.stop()


def test_token_service_refusal_is_a_generic_500_and_the_upstream_is_not_called(upstream, tokens):
    gw = gateway(declarative(upstream.port, [
        {"name": "datakit", "config": seed_flow(f"http://127.0.0.1:{tokens.port}/deny")}]))
    try:
        before = upstream.requests
        status, headers, body = http_get(gw.port, "/orders?api_key=K")
        assert status == 500
        assert orjson.loads(body) == {"message": "An unexpected error occurred",
                                      "request_id": headers["x-kong-request-id"]}
        assert upstream.requests == before
    finally:
        gw.stop()


def test_debug_body_names_the_failing_node(upstream, tokens):
    config = seed_flow(f"http://127.0.0.1:{tokens.port}/notjson")
    config["debug"] = True
    gw = gateway(declarative(upstream.port, [{"name": "datakit", "config": config}]))
    try:
        status, headers, body = http_get(gw.port, "/")
        assert status == 500
        doc = orjson.loads(body)
        assert doc["message"] == "node execution error"
        assert doc["node"] == {"index": 3, "name": "AUTH_REQUEST", "type": "call"}
        assert doc["request_id"] == headers["x-kong-request-id"]
    finally:
        gw.stop()


def test_exit_answers_without_proxying(upstream, tokens):
    config = {"nodes": [
        {"name": "A", "type": "call", "url": f"http://127.0.0.1:{upstream.port}/echo/a"},
        {"name": "B", "type": "call", "url": f"http://127.0.0.1:{upstream.port}/echo/b"},
        {"name": "JOIN", "type": "jq", "inputs": {"a": "A.body", "b": "B.body"},
         "jq": "{a: .a.path, b: .b.path}"},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "JOIN"}, "status": 201}]}
    gw = gateway(declarative(upstream.port, [{"name": "datakit", "config": config}]))
    try:
        before = upstream.requests
        status, headers, body = http_get(gw.port, "/anything")
        assert status == 201
        assert headers["content-type"] == "application/json"
        assert orjson.loads(body) == {"a": "/echo/a", "b": "/echo/b"}
        assert upstream.requests == before + 2          # the two calls, no proxied request
    finally:
        gw.stop()


def test_response_window_rewrites_the_upstream_answer(upstream):
    config = {"nodes": [
        {"name": "WRAP", "type": "jq", "input": "service_response.body",
         "jq": "{wrapped: .path}", "output": "response.body"},
        {"name": "MARK", "type": "static", "values": {"X-Wrapped": "yes"}, "output": "response.headers"}]}
    gw = gateway(declarative(upstream.port, [{"name": "datakit", "config": config}]))
    try:
        status, headers, body = http_get(gw.port, "/items/1")
        assert status == 200
        assert orjson.loads(body) == {"wrapped": "/items/1"}
        assert headers["x-wrapped"] == "yes"
        assert headers["content-length"] == str(len(body))
    finally:
        gw.stop()


def test_response_window_passes_untouched_upstream_headers_byte_for_byte(upstream):
    # The response patch sets one header; the upstream's others reach the client as sent
    # (a byte beyond ASCII was once decoded as Latin-1 and re-encoded as UTF-8).
    config = {"nodes": [
        {"name": "MARK", "type": "static", "values": {"X-Wrapped": "yes"}, "output": "response.headers"}]}
    gw = gateway(declarative(upstream.port, [{"name": "datakit", "config": config}]))
    try:
        status, headers, body = http_get(gw.port, "/latin1-header")
        assert status == 200 and body == b"ok" and headers["x-wrapped"] == "yes"
        assert headers["x-name"].encode("latin-1") == b"caf\xe9"
    finally:
        gw.stop()


def test_request_body_read_by_a_node_is_rewritten_for_the_upstream(upstream):
    config = {"nodes": [
        {"name": "BODY", "type": "jq", "input": "request.body", "jq": "{count: (.items | length)}",
         "output": "service_request.body"}]}
    gw = gateway(declarative(upstream.port, [{"name": "datakit", "config": config}]))
    try:
        payload = orjson.dumps({"items": list(range(50_000))})     # larger than one read
        status, _, body = http_get(gw.port, "/bulk", method="POST", body=payload,
                                   headers={"Content-Type": "application/json"})
        assert status == 200
        seen = json.loads(body)
        expected = orjson.dumps({"count": 50_000})
        assert seen["body_len"] == len(expected)
        sent = {k.lower(): v for k, v in seen["headers"]}
        assert sent["content-length"] == str(len(expected))
        assert sent["content-type"] == "application/json"
    finally:
        gw.stop()


def test_route_scoped_plugin_runs_only_on_its_route(upstream):
    config = {"nodes": [{"name": "EXIT", "type": "exit", "status": 418}]}
    gw = gateway(declarative(upstream.port, [{"name": "datakit", "route": "teapot", "config": config}],
                             routes=[{"name": "teapot", "paths": ["/tea"]},
                                     {"name": "rest", "paths": ["/"]}]))
    try:
        assert http_get(gw.port, "/tea")[0] == 418
        assert http_get(gw.port, "/coffee")[0] == 200
    finally:
        gw.stop()


def test_service_target_and_upstream_properties_redirect_one_request(upstream):
    other = Upstream()
    try:
        config = {"nodes": [
            {"name": "T", "type": "jq", "input": "request.query",
             "jq": f'if .to == "other" then "127.0.0.1:{other.port}" else "127.0.0.1:{upstream.port}" end'},
            {"name": "SET_TARGET", "type": "property", "property": "kong.service.target", "input": "T"}]}
        gw = gateway(declarative(upstream.port, [{"name": "datakit", "route": "pinned", "config": config},
                                                 {"name": "datakit", "route": "pool", "config": {"nodes": [
                                                     {"name": "U", "type": "static", "values": {"u": "blue"}},
                                                     {"name": "SET_UP", "type": "property",
                                                      "property": "kong.service.upstream", "input": "U.u"}]}}],
                                 routes=[{"name": "pinned", "paths": ["/pinned"]},
                                         {"name": "pool", "paths": ["/pool"]}]) | {
            "upstreams": [{"name": "blue", "targets": [{"target": f"127.0.0.1:{other.port}"}]}]})
        try:
            before_main, before_other = upstream.requests, other.requests
            assert http_get(gw.port, "/pinned?to=other")[0] == 200
            assert (upstream.requests, other.requests) == (before_main, before_other + 1)
            assert http_get(gw.port, "/pinned?to=main")[0] == 200
            assert (upstream.requests, other.requests) == (before_main + 1, before_other + 1)
            assert http_get(gw.port, "/pool")[0] == 200
            assert other.requests == before_other + 2
        finally:
            gw.stop()
    finally:
        other.stop()


def test_response_status_set_in_the_request_window_changes_the_client_status(upstream):
    config = {"nodes": [
        {"name": "S", "type": "static", "values": {"status": 202}},
        {"name": "SET_STATUS", "type": "property", "property": "kong.response.status", "input": "S.status"}]}
    gw = gateway(declarative(upstream.port, [{"name": "datakit", "config": config}]))
    try:
        status, _, body = http_get(gw.port, "/accepted")
        assert status == 202
        assert json.loads(body)["path"] == "/accepted"      # the upstream's body, relayed
    finally:
        gw.stop()



def test_header_values_beyond_latin1_go_out_as_utf8_and_bad_names_fail_cleanly(upstream):
    config = {"nodes": [
        {"name": "H", "type": "jq", "input": "request.query",
         "jq": 'if .bad then {"bad name": "x"} else {"X-Greeting": "你好 é"} end',
         "output": "service_request.headers"}]}
    gw = gateway(declarative(upstream.port, [{"name": "datakit", "config": config}]))
    try:
        status, _, body = http_get(gw.port, "/hello")
        assert status == 200
        sent = {k.lower(): v for k, v in json.loads(body)["headers"]}
        assert sent["x-greeting"].encode("latin-1").decode("utf-8") == "你好 é"
        before = upstream.requests
        status, headers, body = http_get(gw.port, "/hello?bad=1")
        assert status == 500
        assert orjson.loads(body)["message"] == "An unexpected error occurred"
        assert upstream.requests == before          # an invalid header is never sent
        assert http_get(gw.port, "/hello")[0] == 200   # and the gateway keeps serving
    finally:
        gw.stop()


def test_streamed_body_is_read_whole_for_a_response_window_flow(upstream):
    """No node reads the request body, but the response window needs the whole upstream answer,
    so the streamed body (larger than the server buffers) is read before the upstream call."""
    config = {"nodes": [
        {"name": "SIZE", "type": "jq", "input": "service_response.body", "jq": "{seen: .body_len}",
         "output": "response.body"}]}
    gw = gateway(declarative(upstream.port, [{"name": "datakit", "config": config}]))
    try:
        payload = b"x" * 300_000
        status, _, body = http_get(gw.port, "/upload", method="POST", body=payload,
                                   headers={"Content-Type": "application/octet-stream"})
        assert status == 200
        assert orjson.loads(body) == {"seen": len(payload)}
    finally:
        gw.stop()


# A response-window flow: the upstream answer is fetched whole (the buffered path), and the
# body says which request the upstream saw.
SEEN_BY_UPSTREAM = {"nodes": [
    {"name": "SEEN", "type": "jq", "input": "service_response.body",
     "jq": "{path: .path, body_len: .body_len}", "output": "response.body"}]}


def balanced(targets, retries):
    """The response-window flow on a service balanced over `targets` ("host:port"), in order:
    a fresh balancer picks the first one first, then alternates (equal weights)."""
    return {"_format_version": "3.0",
            "services": [{"name": "svc", "url": "http://pool", "retries": retries,
                          "routes": [{"name": "all", "paths": ["/"]}]}],
            "upstreams": [{"name": "pool", "targets": [{"target": t} for t in targets]}],
            "plugins": [{"name": "datakit", "config": SEEN_BY_UPSTREAM}]}


def test_response_window_flow_retries_a_refused_connection_on_the_next_target(upstream):
    dead, live = "127.0.0.1:%d" % free_port(), "127.0.0.1:%d" % upstream.port
    gw = gateway(balanced([dead, live], retries=1))
    try:
        # Nothing left the gateway on a refused connection: even a POST goes to the next peer.
        status, _, body = http_get(gw.port, "/orders", method="POST", body=b"p" * 1000)
        assert status == 200
        assert orjson.loads(body) == {"path": "/orders", "body_len": 1000}
        assert upstream.requests == 1
    finally:
        gw.stop()
    gw = gateway(balanced([dead, live], retries=0))
    try:
        status, _, body = http_get(gw.port, "/orders", method="POST", body=b"p" * 1000)
        assert status == 502
        assert orjson.loads(body)["message"] == \
            "An invalid response was received from the upstream server"
        assert upstream.requests == 1
    finally:
        gw.stop()


def test_response_window_flow_retries_a_reset_only_for_an_idempotent_method(upstream):
    behind_fault = Upstream()
    fault = FaultProxy(behind_fault.port)
    fault.mode = "reset_in_head"       # the first target resets in the middle of its answer
    gw = gateway(balanced(["127.0.0.1:%d" % fault.port, "127.0.0.1:%d" % upstream.port],
                          retries=2))
    try:
        status, _, body = http_get(gw.port, "/items/1")
        assert status == 200
        assert orjson.loads(body) == {"path": "/items/1", "body_len": 0}
        assert (behind_fault.requests, upstream.requests) == (1, 1)
        # The balancer is back on the faulty target. The POST reached it and may have been
        # acted on: it is not sent again, retries left or not.
        status, _, body = http_get(gw.port, "/items", method="POST", body=b"{}")
        assert status == 502
        assert orjson.loads(body)["message"] == \
            "An invalid response was received from the upstream server"
        assert (behind_fault.requests, upstream.requests) == (2, 1)
    finally:
        gw.stop()
        fault.stop()
        behind_fault.stop()
