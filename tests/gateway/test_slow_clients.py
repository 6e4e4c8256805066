"""Slow clients do not starve an upstream (issue 19, item 1): a client trickling a large body
takes no upstream connection before a buffer's worth of it arrived, and a client that stops
reading its answer gives its upstream connection back after the send timeout -- while normal
requests keep being answered. Scaled down from the issue's 300 + 300 clients by a pool of 4
connections, so the same starvation would happen at once; and with the default settings (no
per-host cap, as in nginx and Kong), 300 holders at once beside normal requests."""
from __future__ import annotations

import asyncio
import socket
import time

import yaml

from netutil import GatewayThread, LoopThread, free_port, http_get, make_config
from run_process import RunProcess

POOL = 4


def test_slow_body_and_non_reading_clients_leave_room_for_normal_requests(upstream):
    gw = GatewayThread(make_config(upstream.port),
                       pool_options={"max_per_host": POOL},
                       server_options={"send_timeout": 1.0, "body_buffer_size": 65536})
    slow, deaf = [], []
    try:
        for _ in range(5 * POOL):
            s = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\nx")
            slow.append(s)
        for _ in range(5 * POOL):
            s = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /big/200000000 HTTP/1.1\r\nHost: a\r\n\r\n")
            deaf.append(s)
        for s in slow:
            s.sendall(b"y")            # one more byte each: still far from a buffer's worth
        for i in range(10):
            status, _, body = http_get(gw.port, "/echo/normal%d" % i, timeout=25)
            assert status == 200
        # the trickling bodies never reached the upstream
        assert not [seen for seen in upstream.seen if seen[0] in (b"POST", "POST")]
    finally:
        for s in slow + deaf:
            s.close()
        gw.stop()


class HoldingUpstream:
    """A loopback upstream for the default-settings test below: /big streams an answer without
    end (with flow control: a paused reader pauses it), /upload reads a body to its end, /ok
    answers at once. `open` counts its connections; `reached(n)` is set once n were open at
    the same time."""

    def __init__(self):
        self.lt = LoopThread()
        self.port = free_port()
        self.open = 0
        self.peak = 0
        self.lt.call(self._start())

    async def _start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                 backlog=2048)

    async def _serve(self, reader, writer):
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                if path == b"/big":
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n")
                    piece = b"x" * 65536
                    while True:
                        writer.write(piece)
                        await writer.drain()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError, ValueError):
            pass
        finally:
            self.open -= 1
            writer.close()

    def peak_open(self) -> int:
        async def peak():
            return self.peak
        return self.lt.call(peak())

    def stop(self):
        async def stop():
            self.server.close()
        self.lt.call(stop())
        self.lt.stop()


def test_default_settings_keep_answering_under_300_connection_holders(tmp_path):
    """The issue's test, scaled to half with the gateway's default settings (`jqgate run`, no
    pool options): 200 clients that send a buffer's worth of a 100 KB body and then stall (each
    then holds an upstream connection until body_min_rate cuts it), and 100 that ask for an
    endless answer and never read it (each holds one until send_timeout, 60 s). Together they
    hold 300 connections to one upstream host -- more than the old per-host cap of 256 allowed
    open at once, which queued everyone else behind them -- while ordinary requests to the same
    host are answered, each before its own 20 s timeout."""
    up = HoldingUpstream()
    config = tmp_path / "kong.yaml"
    config.write_text(yaml.safe_dump({
        "_format_version": "3.0",
        "services": [{"name": "s", "url": "http://127.0.0.1:%d" % up.port}],
        "routes": [{"name": "r", "service": "s", "paths": ["/"]}]}))
    gw = RunProcess(config)
    holders = []
    try:
        for _ in range(100):
            s = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
            holders.append(s)
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"
                      + b"y" * 70000)        # past body_buffer_size (64 KiB): it streams
            holders.append(s)
        # all 300 held at once (a bound on attempts, not a timing assertion)
        for _ in range(600):
            if up.peak_open() >= 300:
                break
            time.sleep(0.025)
        assert up.peak_open() >= 300, up.peak_open()
        for i in range(10):
            status, _, body = http_get(gw.port, "/ok", timeout=20)
            assert (status, body) == (200, b"ok"), (i, status, body)
    finally:
        for s in holders:
            s.close()
        gw.stop()
        up.stop()
