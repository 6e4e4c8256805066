"""serve() in a real process: ready line, access log, workers, graceful drain, streamed bodies."""
from __future__ import annotations

import json
import signal
import socket
import threading
import time

import pytest

from gateway_process import GatewayProcess, child_pids, listens_on
from netutil import http_get


def test_ready_line_and_access_log(upstream):
    g = GatewayProcess(upstream.port)
    try:
        status, h, body = http_get(g.port, "/echo/logged")
        assert status == 200
    finally:
        g.stop()
    assert g.proc.returncode == 0
    ready = [l for l in g.lines if "jqgate ready" in l]
    assert len(ready) == 1 and "127.0.0.1:%d" % g.port in ready[0]
    access = [l for l in g.lines if '"GET /echo/logged' in l]
    assert len(access) == 1
    assert '"GET /echo/logged HTTP/1.1" 200' in access[0]
    assert "rid=%s" % h["x-kong-request-id"] in access[0]


def test_sigterm_drains_in_flight_requests(upstream):
    g = GatewayProcess(upstream.port)
    results = []
    try:
        def call(i):
            results.append(http_get(g.port, "/delay/1.0?i=%d" % i)[0])
        threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        # wait until every request reached the upstream (in flight at the gateway)
        for _ in range(500):
            if upstream.requests >= 8:
                break
            time.sleep(0.01)
        assert upstream.requests == 8
        g.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(30)
        g.proc.wait(30)
    finally:
        g.stop()
    assert results == [200] * 8
    assert g.proc.returncode == 0
    with pytest.raises(OSError):          # and it stopped listening
        socket.create_connection(("127.0.0.1", g.port), timeout=2).close()


def test_workers_share_the_port(upstream):
    """Two worker processes, each listening on the one port itself (which of them the kernel
    hands a connection to is its choice, so the test checks the sockets, not the spread)."""
    g = GatewayProcess(upstream.port, workers=2)
    try:
        for i in range(10):
            status, h, _ = http_get(g.port, "/echo/%d" % i)
            assert status == 200
        ready = [l for l in g.lines if "jqgate ready" in l]
        assert len(ready) == 1 and "2 workers" in ready[0]
        workers = child_pids(g.proc.pid)
        assert len(workers) == 2
        assert all(listens_on(pid, g.port) for pid in workers)
        assert not listens_on(g.proc.pid, g.port)      # the parent accepts nothing
    finally:
        g.stop()
    assert g.proc.returncode == 0


def test_50mb_bodies_stream_both_ways(upstream):
    """50 MB down (read slowly at first, so back-pressure reaches the upstream) and 50 MB up,
    whole. How much memory the gateway used meanwhile is bench/memory.py's check."""
    g = GatewayProcess(upstream.port)
    n = 50 * 1024 * 1024
    try:
        # download 50 MB through the gateway, reading it slowly at first (back-pressure)
        s = socket.create_connection(("127.0.0.1", g.port))
        s.sendall(b"GET /big/%d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % n)
        time.sleep(0.5)                # the gateway must stop reading the upstream meanwhile
        got = 0
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            got += len(b)
        s.close()
        assert got > n
        # upload 50 MB through the gateway (streamed, Content-Length preserved)
        s = socket.create_connection(("127.0.0.1", g.port))
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                  b"Content-Length: %d\r\n\r\n" % n)
        piece = b"p" * (1 << 20)
        for _ in range(50):
            s.sendall(piece)
        buf = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            buf += b
        s.close()
        doc = json.loads(buf.split(b"\r\n\r\n", 1)[1])
        assert doc["body_len"] == n
    finally:
        g.stop()
