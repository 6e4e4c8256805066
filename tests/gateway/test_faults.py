"""Fault injection (issue 15 item 8): a TCP fault proxy (faultproxy.py) between the gateway and
its upstream / third party resets, stalls, truncates, drips or answers garbage. Each fault
gives its documented answer — 502 (bad gateway), 504 (timeout) on a proxied route; 500 (node
error) from a `call` node — and never a hang; the next request works."""
from __future__ import annotations

import socket

import orjson
import pytest

from jqgate.gateway.plans import compile_gateway
from jqgate.config import load_declarative
from jqgate.errors import Issues
from jqgate.gateway.plan_selection import gateway_for, handler_factory

from adminutil import wait_until
from netutil import GatewayThread, http_get

READ_TIMEOUT_MS = 2000
CALL_TIMEOUT_MS = 800


@pytest.fixture
def gw(fault):
    doc = {"_format_version": "3.0",
           "services": [{"name": "svc", "url": f"http://127.0.0.1:{fault.port}", "retries": 0,
                         "read_timeout": READ_TIMEOUT_MS, "connect_timeout": 2000,
                         "routes": [{"name": "proxied", "paths": ["/p"]},
                                    {"name": "calls", "paths": ["/c"]}]}],
           "plugins": [{"name": "datakit", "route": "calls", "config": {"debug": True, "nodes": [
               {"name": "CALL", "type": "call", "timeout": CALL_TIMEOUT_MS,
                "url": f"http://127.0.0.1:{fault.port}/status/204"},
               {"name": "EXIT", "type": "exit", "inputs": {"body": "CALL.status"}}]}}]}
    issues = Issues()
    compiled = compile_gateway(load_declarative(doc, "<test>"), issues)
    issues.raise_if_any()
    g = GatewayThread(gateway_for(compiled), handler_factory=handler_factory)
    yield g
    g.stop()


# (mode, answer on the proxied route, answer from the call node). A dripping peer that keeps
# each gap under the read timeout is slow, not broken: the proxy relays it; the call node's
# timeout bounds the whole exchange, so it fails there.
FAULTS = [("reset", 502, 500), ("stall", 504, 500), ("truncate", 502, 500),
          ("garbage", 502, 500), ("drip", 204, 500)]


@pytest.mark.parametrize("mode, proxied, called", FAULTS)
def test_each_fault_on_a_proxied_route(gw, fault, mode, proxied, called):
    fault.mode = mode
    fault.drip_gap = 0.05             # 18 bytes: ~0.9 s, each gap far under READ_TIMEOUT_MS
    status, headers, body = http_get(gw.port, "/p/status/204", timeout=30)
    assert status == proxied, body
    assert fault.closed.wait(30)        # the faulty connection is over: none left to reuse
    fault.mode = "pass"
    assert http_get(gw.port, "/p/status/204")[0] == 204


@pytest.mark.parametrize("mode, proxied, called", FAULTS)
def test_each_fault_on_a_call_node(gw, fault, mode, proxied, called):
    fault.mode = mode
    fault.drip_gap = 0.25             # ~4.5 s in all: far over CALL_TIMEOUT_MS
    status, _, body = http_get(gw.port, "/c", timeout=30)
    assert status == called, body
    assert orjson.loads(body)["node"]["name"] == "CALL"
    assert fault.closed.wait(30)
    fault.mode = "pass"
    assert http_get(gw.port, "/c")[0] == 200


def test_a_request_body_that_fails_midway_closes_the_upstream_connection(gw, fault):
    """The client goes away in the middle of a streamed body: the upstream connection carrying
    the half-sent request is closed, never returned to the pool for the next request."""
    fault.mode = "pass"
    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as s:
        s.sendall(b"POST /p/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4000000\r\n\r\n"
                  + b"x" * 1_000_000)
        wait_until(lambda: fault.accepted == 1, "the gateway opened its upstream connection")
        fault.closed.clear()
    assert fault.closed.wait(30), "the gateway kept the half-written upstream connection"
    before = fault.accepted
    status, _, body = http_get(gw.port, "/p/echo", method="POST", body=b"y" * 10)
    assert status == 200 and orjson.loads(body)["body_len"] == 10
    assert fault.accepted == before + 1      # a fresh connection, not the broken one
