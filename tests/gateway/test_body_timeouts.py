"""Slow clients time out (issue 15 item 6): a request body that stops arriving (the time between
two reads is bounded by `body_timeout`, nginx's client_body_timeout, default 60 s) and a request
head that takes too long in all (`header_timeout`, a total deadline from its first byte,
default 60 s) are answered 408 and the connection closed; a body streaming to the upstream is
abandoned there too. Small timeouts here; no timing assertion, only that it ends."""
from __future__ import annotations

import select
import socket

import pytest

from jqgate.gateway.plans import compile_gateway
from jqgate.config import load_declarative
from jqgate.errors import Issues
from jqgate.gateway.plan_selection import gateway_for, handler_factory

from adminutil import wait_until
from netutil import GatewayThread, parse_responses


@pytest.fixture
def gw(fault):
    doc = {"_format_version": "3.0",
           "services": [{"name": "svc", "url": f"http://127.0.0.1:{fault.port}",
                         "routes": [{"name": "plain", "paths": ["/plain"]},
                                    {"name": "reads", "paths": ["/reads"]}]}],
           "plugins": [{"name": "datakit", "route": "reads", "config": {"nodes": [
               {"name": "SIZE", "type": "jq", "inputs": {"b": "request.body"},
                "jq": "{size: (.b | length)}"},
               {"name": "EXIT", "type": "exit", "inputs": {"body": "SIZE"}}]}}]}
    issues = Issues()
    compiled = compile_gateway(load_declarative(doc, "<test>"), issues)
    issues.raise_if_any()
    g = GatewayThread(gateway_for(compiled), handler_factory=handler_factory,
                      server_options={"body_timeout": 0.5, "header_timeout": 1.0})
    yield g
    g.stop()


def read_until_closed(s: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            got = s.recv(65536)
        except ConnectionResetError:
            break
        if not got:
            break
        data += got
    return data


@pytest.mark.parametrize("path, length, sent", [
    ("/plain", 100, 10),                 # a small body, buffered before the handler runs
    ("/plain", 4_000_000, 1_000_000),    # a large body, streaming to the upstream
    ("/reads", 100, 10),                 # a flow reading request.body, buffered
    ("/reads", 4_000_000, 1_000_000),    # a flow reading request.body, read whole
])
def test_a_body_that_stops_arriving_is_408(gw, path, length, sent):
    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as s:
        s.sendall(b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
                  % (path.encode(), length) + b"x" * sent)
        answers = parse_responses(read_until_closed(s))
    assert [a["status"] for a in answers] == [408]


def test_a_streamed_body_that_times_out_closes_the_upstream_connection(gw, fault):
    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as s:
        s.sendall(b"POST /plain HTTP/1.1\r\nHost: t\r\nContent-Length: 4000000\r\n\r\n"
                  + b"x" * 1_000_000)
        wait_until(lambda: fault.accepted == 1, "the upstream connection opened")
        assert fault.closed.wait(30), "the half-sent upstream request was kept"
        assert [a["status"] for a in parse_responses(read_until_closed(s))] == [408]


def test_a_head_that_keeps_dripping_meets_the_total_deadline(gw):
    """Each byte comes well within any between-reads timeout; the head as a whole does not."""
    head = b"GET /plain HTTP/1.1\r\nHost: t\r\nX-Long: " + b"a" * 10_000
    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as s:
        for i in range(len(head)):
            s.sendall(head[i:i + 1])
            readable, _, _ = select.select([s], [], [], 0.05)
            if readable:
                break
        else:
            pytest.fail("the head was never cut short")
        answers = parse_responses(read_until_closed(s))
    assert [a["status"] for a in answers] == [408]
