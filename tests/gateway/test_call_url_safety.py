"""A `call` URL built from request data (issue 15 item 5): what reaches the third party's
request line, over real loopback sockets. The flow puts the client's `?id=` (URL-decoded, as
request.query gives it) into the call's path, the way a careless flow would."""
import orjson
import pytest

from jqgate.gateway.plans import compile_gateway
from jqgate.config import load_declarative
from jqgate.errors import ConfigError, Issues
from jqgate.gateway.plan_selection import gateway_for, handler_factory

from netutil import GatewayThread, Upstream, http_get


@pytest.fixture
def third_party():
    up = Upstream()
    yield up
    up.stop()


def gateway(third_party_port, *, query_input=False):
    url = f'"http://127.0.0.1:{third_party_port}/users/" + .q.id'
    if not query_input:           # the query through the URL string too
        url += ' + "?tag=" + (.q.tag // "x")'
    call = {"name": "CALL", "type": "call", "inputs": {"url": "URL"}}
    if query_input:
        call["inputs"]["query"] = "request.query"
    nodes = [
        {"name": "URL", "type": "jq", "inputs": {"q": "request.query"}, "jq": url},
        call,
        {"name": "EXIT", "type": "exit", "inputs": {"body": "CALL.body"}}]
    doc = {"_format_version": "3.0",
           "services": [{"name": "svc", "url": f"http://127.0.0.1:{third_party_port}",
                         "routes": [{"name": "all", "paths": ["/"]}]}],
           "plugins": [{"name": "datakit", "config": {"debug": True, "nodes": nodes}}]}
    issues = Issues()
    compiled = compile_gateway(load_declarative(doc, "<test>"), issues)
    issues.raise_if_any()
    return GatewayThread(gateway_for(compiled), handler_factory=handler_factory)


def sent_targets(up):
    return [url for _, url, _, _ in up.seen]


@pytest.mark.parametrize("raw_id, why", [
    ("7%20HTTP/1.0", "space"),                 # would split the request line
    ("a%00b", "NUL"),
    ("a%7Fb", "DEL"),
    ("a%0D%0AX-Injected:%201", "CR LF"),       # header injection
    ("a%09b", "tab"),
])
def test_a_character_no_request_target_may_hold_fails_the_node(third_party, raw_id, why):
    gw = gateway(third_party.port)
    try:
        status, headers, body = http_get(gw.port, "/?id=" + raw_id)
        assert status == 500, why
        doc = orjson.loads(body)
        assert doc["node"]["name"] == "CALL"
        assert "not allowed in a request target" in doc["error"]
        assert third_party.seen == [], "nothing may reach the third party"
    finally:
        gw.stop()


@pytest.mark.parametrize("raw_id", ["..%2F..%2Fadmin", "..", "a%2F.%2Fb", "%252e%252e"])
def test_a_dot_segment_fails_the_node(third_party, raw_id):
    # "..%2f..%2fadmin" arrives decoded ("../../admin") and would walk out of /users/.
    gw = gateway(third_party.port)
    try:
        status, _, body = http_get(gw.port, "/?id=" + raw_id)
        assert status == 500
        doc = orjson.loads(body)
        assert doc["node"]["name"] == "CALL"
        assert "dot segment" in doc["error"]
        assert third_party.seen == []
    finally:
        gw.stop()


@pytest.mark.parametrize("raw_id, target", [
    ("caf%C3%A9", b"/users/caf%C3%A9?tag=x"),              # non-ASCII: UTF-8 percent-encoded
    ("a%252fb", b"/users/a%2fb?tag=x"),                    # an encoded slash stays encoded
    ("%7Bx%7D%22%3C%3E", b"/users/%7Bx%7D%22%3C%3E?tag=x"),  # {x}"<> encoded
    ("50%25", b"/users/50%25?tag=x"),                      # "50%": a bare % becomes %25
    ("7&tag=%C3%A9%7C", b"/users/7?tag=%C3%A9%7C"),         # in the query too
])
def test_printable_unsafe_characters_are_percent_encoded(third_party, raw_id, target):
    gw = gateway(third_party.port)
    try:
        status, _, body = http_get(gw.port, "/?id=" + raw_id)
        assert status == 200, body
        assert sent_targets(third_party) == [target]
    finally:
        gw.stop()


def test_the_query_input_encodes_every_reserved_character(third_party):
    gw = gateway(third_party.port, query_input=True)
    try:
        status, _, body = http_get(gw.port, "/?id=7&tag=a%20b%26c%3Dd%0D%0A")
        assert status == 200, body
        [target] = sent_targets(third_party)
        assert target.startswith(b"/users/7?")
        assert b"tag=a%20b%26c%3Dd%0D%0A" in target
    finally:
        gw.stop()


@pytest.mark.parametrize("url", ["http://example.com/a b", "http://example.com/a\x00b",
                                 "http://example.com/x/../admin", "http://example.com/\x7f"])
def test_a_configured_url_with_such_characters_is_refused_at_load(url):
    doc = {"_format_version": "3.0",
           "services": [{"name": "svc", "url": "http://127.0.0.1:9",
                         "routes": [{"name": "all", "paths": ["/"]}]}],
           "plugins": [{"name": "datakit", "config": {"nodes": [
               {"name": "CALL", "type": "call", "url": url}]}}]}
    with pytest.raises(ConfigError) as info:
        issues = Issues()
        compile_gateway(load_declarative(doc, "<test>"), issues)
        issues.raise_if_any()
    assert "not a valid URL" in str(info.value.errors)
