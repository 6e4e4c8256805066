"""Kong's route `request_buffering` and `response_buffering`, observed from a real upstream.

  - request_buffering false: the upstream gets the request while the client is still sending
    its body (streamed from the first byte); true (the default): only once the body is in
    (up to the server's body_buffer_size, 64 KiB; a larger body streams after that much).
  - response_buffering true (the default): the upstream's answer is read ahead of a client
    that does not read, up to the proxy's response_buffer_size, so the upstream finishes
    sending first; a larger answer still arrives whole once the client reads.
Orderings are observed with events, never with sleeps.
"""
from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from jqgate.config.model import Route
from netutil import GatewayThread, LoopThread, free_port, make_config


class RecordingUpstream:
    """Sets `head_seen` when a request head arrives, reads the body, answers 200 with
    `answer_size` bytes and sets `answer_sent` once they all left its socket."""

    def __init__(self, answer_size=2):
        self.answer_size = answer_size
        self.head_seen = threading.Event()
        self.answer_sent = threading.Event()
        self.body_lengths = []
        self.lt = LoopThread()
        self.port = free_port()
        self.lt.call(self._start())

    async def _start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.head_seen.set()
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            self.body_lengths.append(len(body))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % self.answer_size)
            piece = b"y" * 65536
            left = self.answer_size
            while left:
                writer.write(piece[:min(left, len(piece))])
                left -= min(left, len(piece))
                await writer.drain()
            self.answer_sent.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def stop(self):
        async def stop():
            self.server.close()
        self.lt.call(stop())
        self.lt.stop()


def route_config(port, **route):
    return make_config(port, routes=[Route(name="r", id="r", service_id="svc-id", paths=["/"],
                                           **route)])


def read_response(sock) -> tuple[bytes, int]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0]
                 .split(b":")[1])
    while len(rest) < length:
        chunk = sock.recv(1 << 20)
        assert chunk
        rest += chunk
    return head, len(rest)


@pytest.mark.parametrize("buffered", [False, True])
def test_request_buffering(buffered):
    up = RecordingUpstream()
    g = GatewayThread(route_config(up.port, request_buffering=buffered))
    try:
        with socket.create_connection(("127.0.0.1", g.port), timeout=30) as s:
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"a" * 10)
            if not buffered:
                # streamed: the upstream has the request before the body is complete
                assert up.head_seen.wait(30)
            s.sendall(b"b" * 990)
            sent_rest = True
            head, n = read_response(s)
        assert head.startswith(b"HTTP/1.1 200") and sent_rest
        assert up.body_lengths == [1000]
    finally:
        g.stop()
        up.stop()


def test_request_buffering_true_holds_the_request_until_the_body_is_in():
    """The default: the upstream's head_seen is set only after the client sent the rest (the
    gateway cannot have forwarded a request it did not dispatch). Observed as an ordering:
    the event is clear when the client sends the rest, because the upstream is only reached
    once the gateway has the whole body."""
    up = RecordingUpstream()
    g = GatewayThread(route_config(up.port))
    try:
        with socket.create_connection(("127.0.0.1", g.port), timeout=30) as s:
            # a first, complete request proves the connection is dispatched at all
            s.sendall(b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            assert read_response(s)[0].startswith(b"HTTP/1.1 200")
            up.head_seen.clear()
            s.sendall(b"POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"a" * 10)
            # a third connection's complete request goes through while the second waits
            with socket.create_connection(("127.0.0.1", g.port), timeout=30) as other:
                other.sendall(b"GET /third HTTP/1.1\r\nHost: x\r\n\r\n")
                assert read_response(other)[0].startswith(b"HTTP/1.1 200")
            assert up.body_lengths == [3, 0]        # /second never reached the upstream yet
            s.sendall(b"b" * 990)
            assert read_response(s)[0].startswith(b"HTTP/1.1 200")
        assert up.body_lengths == [3, 0, 1000]
    finally:
        g.stop()
        up.stop()


def test_response_buffering_reads_the_answer_ahead_of_a_client_that_does_not_read():
    """A 24 MiB answer, response_buffer_size 64 MiB: the upstream finishes sending while the
    client has read nothing (more than the sockets' kernel buffers hold: with
    response_buffering false the upstream stays blocked until the client reads)."""
    up = RecordingUpstream(answer_size=24 * 1024 * 1024)
    g = GatewayThread(route_config(up.port),
                      proxy_options={"response_buffer_size": 64 * 1024 * 1024})
    try:
        with socket.create_connection(("127.0.0.1", g.port), timeout=60) as s:
            s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            assert up.answer_sent.wait(60)
            head, n = read_response(s)
        assert head.startswith(b"HTTP/1.1 200") and n == 24 * 1024 * 1024
    finally:
        g.stop()
        up.stop()


@pytest.mark.parametrize("buffering", [True, False])
def test_an_answer_larger_than_the_read_ahead_arrives_whole(buffering):
    up = RecordingUpstream(answer_size=8 * 1024 * 1024)
    g = GatewayThread(route_config(up.port, response_buffering=buffering),
                      proxy_options={"response_buffer_size": 256 * 1024})
    try:
        with socket.create_connection(("127.0.0.1", g.port), timeout=60) as s:
            s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            head, n = read_response(s)
        assert head.startswith(b"HTTP/1.1 200") and n == 8 * 1024 * 1024
        assert up.answer_sent.wait(30)
    finally:
        g.stop()
        up.stop()
