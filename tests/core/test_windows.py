"""Window hand-over details: unbuffered response bodies (D25), kong.ctx.shared across several
DataKit instances on one request (§6.4), both executors."""
import pytest

from engine_harness import EXECUTORS, request_view
from engine_plans import compile_config


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_headers_only_response_window_without_body(executor):
    plan = compile_config({"nodes": [
        {"name": "H", "type": "jq", "input": "service_response.status",
         "output": "response.headers", "jq": '{"X-Status": .}'}]})
    run = EXECUTORS[executor](plan, request_view({}), None, {})
    assert run.start_request_window(None) == 0 and not run.exited
    assert run.needs_response_window
    up_headers = [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")]
    assert run.start_response_window(200, up_headers, None, None) == 0
    assert run.response_body is None                       # stream the upstream body as is
    assert run.response_headers == up_headers + [("X-Status", "200")]


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_instances_share_ctx_shared_and_consumer(executor):
    writer = compile_config({"nodes": [
        {"name": "V", "type": "jq", "input": "request.query", "jq": ".who"},
        {"name": "SET", "type": "property", "property": "kong.ctx.shared.who", "input": "V"},
        {"name": "C", "type": "jq", "jq": '{username: "bob"}'},
        {"name": "SETC", "type": "property", "property": "kong.client.consumer", "input": "C"},
        {"name": "P", "type": "jq", "jq": '"private"'},
        {"name": "SETP", "type": "property", "property": "kong.ctx.plugin.p", "input": "P"}]})
    reader = compile_config({"nodes": [
        {"name": "GET", "type": "property", "property": "kong.ctx.shared.who"},
        {"name": "GETC", "type": "property", "property": "kong.client.consumer"},
        {"name": "GETP", "type": "property", "property": "kong.ctx.plugin.p"},
        {"name": "J", "type": "jq", "inputs": {"who": "GET", "c": "GETC", "p": "GETP"}, "jq": "."},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "J"}}]})
    req = request_view({"query": "who=alice"})
    shared = {}
    cls = EXECUTORS[executor]
    first = cls(writer, req, None, shared)
    first.start_request_window(None)
    assert not first.exited and shared == {"who": "alice"}
    second = cls(reader, req, None, shared)
    second.start_request_window(None)
    assert second.exit_body == b'{"who":"alice","c":{"username":"bob"},"p":null}'


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_request_view_with_raw_bytes_from_the_parser(executor):
    from jqgate._core import core
    plan = compile_config({"nodes": [
        {"name": "R", "type": "jq", "input": "request", "jq": "{m: .method, p: .path, q: .query, b: .body}"},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "R"}}]})
    req = core.RequestView(method=b"POST", path=b"/a", raw_path=b"/a", query=b"x=1",
                           headers=[(b"Content-Type", b"application/json")],
                           body=bytearray(b'{"k":1}'))
    run = EXECUTORS[executor](plan, req, None, {})
    run.start_request_window(None)
    assert run.exit_body == b'{"m":"POST","p":"/a","q":{"x":"1"},"b":{"k":1}}'


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_header_bytes_round_trip_latin_1(executor):
    """Header bytes become text as latin-1, so every byte comes back unchanged on the wire."""
    from jqgate._core import core
    plan = compile_config({"nodes": [
        {"name": "H", "type": "jq", "input": "request.headers", "output": "service_request.headers",
         "jq": '{"X-Copy": .["X-Raw"]}'}]})
    req = core.RequestView(headers=[(b"X-Raw", b"caf\xe9 \xff")])
    run = EXECUTORS[executor](plan, req, None, {})
    run.start_request_window(None)
    out = dict(run.service_request_headers(req.headers))
    assert out["X-Copy"].encode("latin-1") == b"caf\xe9 \xff"
    assert out["X-Raw"].encode("latin-1") == b"caf\xe9 \xff"
