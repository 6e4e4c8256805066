"""The pool's per-upstream limits are settings with an answer for each (issue 19, item 1):
a full queue is a 503 at once, a wait past queue_timeout a 504, keepalive_max_requests and
keepalive_pool_size retire connections."""
from __future__ import annotations

import socket
import threading

import pytest

from netutil import GatewayThread, http_get, make_config


def stall_in_background(port, n):
    """n requests to /stall, each holding an upstream connection; their sockets are returned
    (closed by the caller), once the upstream has seen them all."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"GET /stall HTTP/1.1\r\nHost: a\r\n\r\n")
        socks.append(s)
    return socks


def wait_for(predicate):
    done = threading.Event()
    for _ in range(3000):
        if predicate():
            return
        done.wait(0.01)
    raise AssertionError("condition never became true")


def test_a_full_queue_answers_503_at_once(upstream):
    gw = GatewayThread(make_config(upstream.port, retries=0),
                       pool_options={"max_per_host": 1, "queue_limit": 1})
    try:
        socks = stall_in_background(gw.port, 1)
        wait_for(lambda: upstream.requests >= 1)           # the one connection is busy
        waiting = stall_in_background(gw.port, 1)          # the one place in the queue
        wait_for(lambda: gw.running.pool.stats["waiting"] == 1)
        status, _, body = http_get(gw.port, "/echo")
        assert status == 503
        assert b"waiting for a connection" in body
        assert gw.running.pool.stats["overloaded"] == 1
        for s in socks + waiting:
            s.close()
    finally:
        gw.stop()


def test_a_wait_past_queue_timeout_answers_504(upstream):
    gw = GatewayThread(make_config(upstream.port, retries=0),
                       pool_options={"max_per_host": 1, "queue_timeout": 0.2})
    try:
        socks = stall_in_background(gw.port, 1)
        wait_for(lambda: upstream.requests >= 1)
        status, _, _ = http_get(gw.port, "/echo")
        assert status == 504
        for s in socks:
            s.close()
    finally:
        gw.stop()


def test_keepalive_max_requests_retires_a_connection(upstream):
    gw = GatewayThread(make_config(upstream.port), pool_options={"keepalive_max_requests": 3})
    try:
        for _ in range(9):
            assert http_get(gw.port, "/echo")[0] == 200
        assert upstream.connections == 3
    finally:
        gw.stop()


def test_keepalive_pool_size_zero_keeps_no_idle_connection(upstream):
    gw = GatewayThread(make_config(upstream.port), pool_options={"keepalive_pool_size": 0})
    try:
        for _ in range(3):
            assert http_get(gw.port, "/echo")[0] == 200
        assert upstream.connections == 3
        assert gw.running.pool.stats["idle"] == 0
    finally:
        gw.stop()


def test_bad_pool_limits_are_refused():
    import asyncio
    from jqgate._core.core import ConnectionPool
    loop = asyncio.new_event_loop()
    try:
        for bad in ({"max_per_host": -1}, {"queue_limit": -1}, {"queue_timeout": -1.0},
                    {"keepalive_max_requests": -5}):
            with pytest.raises(ValueError):
                ConnectionPool(loop, **bad)
    finally:
        loop.close()
