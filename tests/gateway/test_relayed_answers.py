"""Odd upstream answers are refused with 502, never relayed (issue 19, item 6): transfer codings
other than chunked, statuses outside 100-599, an unrequested 101, a head over the pool's limit
(read whole in one go or in pieces, by either reader), a field the validator refuses."""
from __future__ import annotations

import asyncio

import pytest

from netutil import GatewayThread, LoopThread, free_port, http_get, make_config

BIG_HEAD = b"".join(b"X-Filler-%05d: %s\r\n" % (i, b"v" * 80) for i in range(1100))  # ~100 KB

ANSWERS = {
    "/gzip-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                     b"5\r\nhello\r\n0\r\n\r\n",
    "/gzip-then-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "/status-600": b"HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok",
    "/status-999": b"HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nok",
    "/status-101": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   b"Connection: Upgrade\r\n\r\n",
    "/big-head-plain": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + BIG_HEAD + b"\r\nok",
    "/big-head-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + BIG_HEAD
                         + b"\r\n2\r\nok\r\n0\r\n\r\n",
    "/control-in-value": b"HTTP/1.1 200 OK\r\nX-V: a\x01b\r\nContent-Length: 2\r\n\r\nok",
    "/del-in-value": b"HTTP/1.1 200 OK\r\nX-V: a\x7fb\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"2\r\nok\r\n0\r\n\r\n",
    "/fine-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "/fine-continue": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
}


class CannedUpstream:
    """Answers each request with the canned bytes for its path, in one write, then closes."""

    def __init__(self):
        self.lt = LoopThread()
        self.port = free_port()
        self.lt.call(self._start())

    async def _start(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            writer.write(ANSWERS[path])
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, KeyError):
            pass
        finally:
            writer.close()

    def stop(self):
        async def stop():
            self.server.close()
        self.lt.call(stop())
        self.lt.stop()


@pytest.fixture(scope="module")
def gateway():
    up = CannedUpstream()
    gw = GatewayThread(make_config(up.port))
    yield gw
    gw.stop()
    up.stop()


@pytest.mark.parametrize("path", ["/gzip-chunked", "/gzip-then-chunked", "/status-600",
                                  "/status-999", "/status-101", "/big-head-plain",
                                  "/big-head-chunked", "/control-in-value", "/del-in-value"])
def test_an_odd_answer_is_a_502(gateway, path):
    status, headers, body = http_get(gateway.port, path)
    assert status == 502, (status, headers, body)
    assert b"invalid response" in body


@pytest.mark.parametrize("path", ["/fine-chunked", "/fine-continue"])
def test_the_answers_beside_them_are_relayed(gateway, path):
    status, _, body = http_get(gateway.port, path)
    assert (status, body) == (200, b"ok")
