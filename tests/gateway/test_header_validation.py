"""One header validator on every path, and Host / absolute-form authority validation
(issue 19, items 4 and 5): a client's bad field or Host is a 400; a field a flow or a call node
would send that is not a token name / a value of visible ASCII, SP, HTAB or obs-text fails the
flow (500, the node named in debug mode) and never reaches the wire."""
from __future__ import annotations

import json
from urllib.parse import quote

import orjson
import pytest

from jqgate.gateway.plans import compile_gateway
from jqgate.config import load_declarative
from jqgate.gateway.plan_selection import gateway_for, handler_factory
from jqgate.errors import Issues
from netutil import GatewayThread, ServerThread, http_get, parse_responses, raw_request


def echo_host(req, resp):
    resp.send(200, [], req.host)


@pytest.fixture
def server():
    s = ServerThread(echo_host)
    yield s
    s.stop()


def answer_to(port, head: bytes):
    (r,) = parse_responses(raw_request(port, head))
    return r


@pytest.mark.parametrize("host", [
    b"a.example/../x", b"user@evil.example", b"a, b", b"a b", b"a.example:8x", b"[::1",
    b"[zz::1]", b"a.example:80:80", b"", b"a%zz", b"a\x01b",
])
def test_a_host_that_is_not_an_authority_is_400(server, host):
    r = answer_to(server.port, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
    assert r["status"] == 400


@pytest.mark.parametrize("host", [
    b"a.example", b"a.example:8080", b"127.0.0.1:1", b"[::1]:8000", b"[2001:db8::1]",
    b"xn--bcher-kva.example", b"a%41.example", b"a.example:", b"under_score.example",
])
def test_a_real_authority_is_taken(server, host):
    r = answer_to(server.port, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
    assert r["status"] == 200 and r["body"] == host


@pytest.mark.parametrize("target", [
    b"http://u@evil.example:99/x", b"http://a@b@c/x", b"http:///x", b"http://a b/x",
])
def test_absolute_form_authority_is_validated(server, target):
    r = answer_to(server.port, b"GET " + target + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert r["status"] == 400


def test_absolute_form_authority_replaces_host(server):
    r = answer_to(server.port, b"GET http://b.example:81/x HTTP/1.1\r\nHost: a\r\n"
                               b"Connection: close\r\n\r\n")
    assert r["status"] == 200 and r["body"] == b"b.example:81"


@pytest.mark.parametrize("value", [b"a\x01b", b"a\x7fb", b"a\x1bb", b"a\x0bb"])
def test_a_client_field_value_with_a_control_byte_is_400(server, value):
    r = answer_to(server.port, b"GET / HTTP/1.1\r\nHost: a\r\nX-V: " + value
                  + b"\r\nConnection: close\r\n\r\n")
    assert r["status"] == 400


# -- what a DataKit flow would send ----------------------------------------------------------

def gateway(upstream_port, nodes, debug=False):
    doc = {"_format_version": "3.0",
           "services": [{"name": "svc", "url": f"http://127.0.0.1:{upstream_port}",
                         "routes": [{"name": "all", "paths": ["/"]}]}],
           "plugins": [{"name": "datakit", "config": {"nodes": nodes, "debug": debug}}]}
    issues = Issues()
    compiled = compile_gateway(load_declarative(doc, "<test>"), issues)
    issues.raise_if_any()
    return GatewayThread(gateway_for(compiled), handler_factory=handler_factory)


# The field name and value come from the client's query (?name=..&value=..), percent-decoded.
FIELD_FROM_QUERY = '{(.name // "X-Fine"): (.value // "fine")}'

BAD_FIELDS = [("X-A:B", "1"), ("X A", "1"), ("", "empty-name"), ("X-Api-Key", "k\x00"),
              ("X-V", "a\x01b"), ("X-V", "a\x0bb"), ("X-V", "a\x7fb"), ("X-V", "a\x1bb"),
              ("X-V", "a\r\nX-Injected: 1")]


def query_for(name, value):
    return "?name=%s&value=%s" % (quote(name, safe=""), quote(value, safe=""))


@pytest.mark.parametrize("name,value", BAD_FIELDS)
def test_a_call_node_never_sends_an_invalid_field(upstream, name, value):
    gw = gateway(upstream.port, [
        {"name": "H", "type": "jq", "input": "request.query", "jq": FIELD_FROM_QUERY},
        {"name": "CALL", "type": "call", "url": f"http://127.0.0.1:{upstream.port}/echo/call",
         "inputs": {"headers": "H"}},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "CALL.body"}, "status": 200}],
        debug=True)
    try:
        assert http_get(gw.port, "/" + query_for("X-Fine", "fine"))[0] == 200
        before = upstream.requests
        status, headers, body = http_get(gw.port, "/" + query_for(name, value))
        assert status == 500
        doc = orjson.loads(body)
        assert doc["node"]["name"] == "CALL"
        assert "invalid" in doc["error"]
        assert upstream.requests == before      # the third party received nothing
    finally:
        gw.stop()


@pytest.mark.parametrize("sink", ["service_request.headers", "response.headers"])
@pytest.mark.parametrize("name,value", BAD_FIELDS[:6])
def test_a_flow_never_sends_an_invalid_field_upstream_or_to_the_client(upstream, sink, name,
                                                                       value):
    gw = gateway(upstream.port, [
        {"name": "H", "type": "jq", "input": "request.query", "jq": FIELD_FROM_QUERY,
         "output": sink}])
    try:
        assert http_get(gw.port, "/echo" + query_for("X-Fine", "fine"))[0] == 200
        before = upstream.requests
        status, _, body = http_get(gw.port, "/echo" + query_for(name, value))
        assert status == 500
        assert orjson.loads(body)["message"] == "An unexpected error occurred"
        if sink == "service_request.headers":
            assert upstream.requests == before
        assert http_get(gw.port, "/echo")[0] == 200      # the gateway keeps serving
    finally:
        gw.stop()


def test_an_exit_never_sends_an_invalid_field(upstream):
    gw = gateway(upstream.port, [
        {"name": "H", "type": "jq", "input": "request.query", "jq": FIELD_FROM_QUERY},
        {"name": "EXIT", "type": "exit", "inputs": {"headers": "H"}, "status": 200}])
    try:
        assert http_get(gw.port, "/" + query_for("X-Fine", "fine"))[0] == 200
        status, _, body = http_get(gw.port, "/" + query_for("X-V", "a\x1bb"))
        assert status == 500
        assert json.loads(body)["message"] == "An unexpected error occurred"
    finally:
        gw.stop()


@pytest.mark.parametrize("sink", ["service_request", "response"])
def test_in_debug_mode_the_sink_that_would_send_it_is_named(upstream, sink):
    gw = gateway(upstream.port, [
        {"name": "H", "type": "jq", "input": "request.query", "jq": FIELD_FROM_QUERY,
         "output": sink + ".headers"}], debug=True)
    try:
        status, headers, body = http_get(gw.port, "/echo" + query_for("X A", "1"))
        assert status == 500
        doc = orjson.loads(body)
        assert doc["message"] == "node execution error"
        assert doc["node"]["name"] == sink and "invalid header name" in doc["error"]
        assert doc["request_id"] == headers["x-kong-request-id"]
    finally:
        gw.stop()
