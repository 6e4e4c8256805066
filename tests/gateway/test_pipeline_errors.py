"""Pipelined requests ahead of a malformed one, or of a drain, are all answered in order before
the connection closes (issue 19, item 3)."""
from __future__ import annotations

import socket
import threading

import pytest

from netutil import ServerThread, header, parse_responses


def later_handler(loop_holder):
    """Answers each request from a later loop turn, as an upstream callback would."""
    def handle(req, resp):
        path = req.path

        def answer():
            resp.send(200, [(b"Content-Type", b"text/plain")], b"answer " + path)
        loop_holder[0].call_soon(answer)
    return handle


def read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


@pytest.fixture
def server():
    holder = [None]
    s = ServerThread(later_handler(holder))
    holder[0] = s.lt.loop
    yield s
    s.stop()


@pytest.mark.parametrize("n_valid", [1, 3, 20])
@pytest.mark.parametrize("bad", [
    b"GET /bad HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",           # llhttp refuses it
    b"GET /bad HTTP/1.1\r\nHost: a/../x\r\n\r\n",                       # Host check refuses it
])
def test_valid_requests_before_a_bad_one_are_answered_then_400(server, n_valid, bad):
    valid = b"".join(b"GET /r%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(n_valid))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(valid + bad)
        responses = parse_responses(read_until_closed(s))
    assert [r["status"] for r in responses] == [200] * n_valid + [400]
    assert [r["body"] for r in responses[:-1]] == [b"answer /r%d" % i for i in range(n_valid)]
    assert all(header(r, "Connection") is None for r in responses[:-1])
    assert header(responses[-1], "Connection") == b"close"


def test_drain_answers_the_pipelined_requests_already_received():
    held = []
    got_first = threading.Event()

    def handle(req, resp):
        held.append((req, resp))
        got_first.set()

    s = ServerThread(handle)
    try:
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            c.sendall(b"".join(b"GET /d%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(3)))
            assert got_first.wait(10)

            async def drain_then_answer():
                # Drain (SIGTERM) while the first is being answered and two wait their turn;
                # answering one dispatches the next, which lands in `held` at once.
                s.settings.drain()
                while held:
                    req, resp = held.pop(0)
                    resp.send(200, [], b"drained " + req.path)
            s.lt.call(drain_then_answer())
            responses = parse_responses(read_until_closed(c))
        assert [r["body"] for r in responses] == [b"drained /d0", b"drained /d1", b"drained /d2"]
        assert [header(r, "Connection") for r in responses] == [None, None, b"close"]
    finally:
        s.stop()
