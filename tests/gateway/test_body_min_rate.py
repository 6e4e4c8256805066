"""A streaming request body must keep a minimum rate (issue 19, item 1): a client that sends a
buffer's worth at once (so its request streams upstream and holds an upstream connection) and
then trickles fails with 408 once its rate is checked (ServerSettings body_min_rate over
body_min_rate_window), and its upstream connection is closed. With the trickling bodies that
never take one (test_slow_clients.py) and clients that never read their answer (released after
send_timeout), normal requests keep being answered. Scaled down (a pool of 4 connections,
short windows) so it runs in seconds; bench/slow_clients.py is the full-size version."""
from __future__ import annotations

import socket
import threading

from netutil import GatewayThread, http_get, make_config


def wait_for(predicate, timeout=20.0):
    tick = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return True
        tick.wait(0.02)
    return predicate()


class Dripper:
    """A POST of `length` bytes: `burst` bytes at once, then one byte every `gap` seconds
    until the gateway answers or closes."""

    def __init__(self, port, length, burst, gap, path="/drip"):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(b"POST %s HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n"
                          % (path.encode(), length) + b"b" * burst)
        self.gap = gap
        self.stop = threading.Event()
        self.answer = b""
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()

    def _drip(self):
        self.sock.settimeout(self.gap)
        while not self.stop.is_set():
            try:
                data = self.sock.recv(65536)
                if not data:
                    return
                self.answer += data
                continue
            except socket.timeout:
                pass
            except OSError:
                return
            try:
                self.sock.send(b"b")
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.thread.join(10)
        self.sock.close()


class NonReader:
    """A GET of a big answer that is never read."""

    def __init__(self, port, size):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.sendall(b"GET /big/%d HTTP/1.1\r\nHost: a\r\n\r\n" % size)

    def close(self):
        self.sock.close()


def test_a_body_below_the_minimum_rate_fails_and_releases_its_upstream(upstream):
    gw = GatewayThread(make_config(upstream.port),
                       server_options={"body_min_rate": 1000, "body_min_rate_window": 0.3})
    d = None
    try:
        # 70,000 bytes at once: over the 64 KiB buffer, so it streams upstream; then 20 B/s.
        d = Dripper(gw.port, 1_000_000, 70_000, 0.05)
        assert wait_for(lambda: b"\r\n\r\n" in d.answer), "no answer to a body below the rate"
        assert d.answer.startswith(b"HTTP/1.1 408 ")
        pool = gw.running.pool
        assert wait_for(lambda: pool.stats["open"] == pool.stats["idle"] == 0)
        assert wait_for(lambda: not upstream.open_transports)   # closed, never pooled
        # a body that keeps the rate is unaffected (it arrives in one go here)
        status, _, body = http_get(gw.port, "/ok", method="POST", body=b"x" * 300_000)
        assert status == 200 and b'"body_len": 300000' in body
    finally:
        if d is not None:
            d.close()
        gw.stop()


def test_slow_body_and_non_reading_clients_do_not_starve_normal_requests(upstream):
    gw = GatewayThread(make_config(upstream.port),
                       pool_options={"max_per_host": 4, "queue_timeout": 30},
                       server_options={"body_min_rate": 1000, "body_min_rate_window": 0.5,
                                       "send_timeout": 1.0})
    slow, fast_then_slow, non_readers = [], [], []
    try:
        # never a buffer's worth: these hold no upstream connection at all
        slow = [Dripper(gw.port, 100_000, 10, 0.2) for _ in range(30)]
        # a buffer's worth at once, then a trickle: each holds one until its rate is checked
        fast_then_slow = [Dripper(gw.port, 1_000_000, 70_000, 0.1) for _ in range(10)]
        # answers of 20 MB never read: each holds one until send_timeout
        non_readers = [NonReader(gw.port, 20_000_000) for _ in range(30)]
        statuses = [http_get(gw.port, "/normal/%d" % i, timeout=60)[0] for i in range(20)]
        assert statuses == [200] * 20
        assert all(d.answer.startswith(b"HTTP/1.1 408 ") for d in fast_then_slow
                   if wait_for(lambda d=d: b"\r\n\r\n" in d.answer))
        assert not any(d.answer for d in slow)      # still trickling, and nothing held for them
    finally:
        for c in slow + fast_then_slow + non_readers:
            c.close()
        gw.stop()
