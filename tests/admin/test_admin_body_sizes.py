"""Every `POST /config` body up to the Admin API's limit is answered (issue 15 item 3): 600,000
and 1,000,000 bytes once never were, because the server stopped reading at its 256 KiB
unread-body mark while it waited to hand the Admin API the whole (≤ 1 MiB) body.

The sizes sweep each buffer boundary on the way (the server's 256 KiB high-water mark, the
Admin API's 1 MiB buffering size, the 64 MiB limit), sent with a Content-Length and chunked."""
from __future__ import annotations

import json
import socket
import threading

import httptools
import pytest

from adminutil import AdminGateway, declarative
from jqgate.admin.server import MAX_ADMIN_BODY
from netutil import Upstream

HIGH_WATER = 262144              # server/request.pyx SRV_BODY_HIGH_WATER
ADMIN_BUFFER = 1024 * 1024       # admin/server.py start_admin body_buffer_size

SIZES = sorted({n + d for n in (65536, HIGH_WATER, ADMIN_BUFFER) for d in (-1, 0, 1)}
               | {300_000, 600_000, 1_000_000, 1_100_000, 4 * ADMIN_BUFFER,
                  MAX_ADMIN_BODY - 1, MAX_ADMIN_BODY})


@pytest.fixture(scope="module")
def upstream():
    """Module-scoped (overrides conftest's per-test one): the module's one gateway points at it."""
    u = Upstream()
    yield u
    u.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory, upstream):
    g = AdminGateway(tmp_path_factory.mktemp("sizes"), declarative(upstream.port))
    yield g
    g.stop()


def config_of_size(upstream_port: int, size: int) -> bytes:
    """A valid declarative configuration, padded with JSON whitespace to exactly `size`."""
    doc = json.dumps(declarative(upstream_port)).encode()
    assert size >= len(doc)
    return doc + b" " * (size - len(doc))


def post(port: int, body: bytes, chunked: bool, send_body: bool = True) -> tuple[int, bytes]:
    """(status, body) of one POST /config; the body is sent from a thread while the answer is
    read, so an early answer (413) is read even while the client is still sending."""
    head = b"POST /config HTTP/1.1\r\nHost: admin\r\nContent-Type: application/json\r\n"
    head += (b"Transfer-Encoding: chunked\r\n\r\n" if chunked
             else b"Content-Length: %d\r\n\r\n" % len(body))
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        def send():
            try:
                s.sendall(head)
                if not send_body:
                    return
                if not chunked:
                    s.sendall(body)
                    return
                for at in range(0, len(body), 100_000):
                    part = body[at:at + 100_000]
                    s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
                s.sendall(b"0\r\n\r\n")
            except OSError:
                pass        # refused before the end: the answer is already on its way
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        done = []

        class Answer:
            def __init__(self):
                self.body = b""

            def on_body(self, data):
                self.body += data

            def on_message_complete(self):
                done.append(True)

        answer = Answer()
        parser = httptools.HttpResponseParser(answer)
        while not done:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            parser.feed_data(data)
        sender.join(120)
        assert done, "no answer to a %d-byte body" % len(body)
        return parser.get_status_code(), answer.body


@pytest.mark.parametrize("size", SIZES)
def test_every_size_up_to_the_limit_is_answered(gw, upstream, size):
    status, answer = post(gw.admin_port, config_of_size(upstream.port, size), chunked=False)
    assert status == 201, answer


@pytest.mark.parametrize("size", [HIGH_WATER + 1, 600_000, ADMIN_BUFFER, ADMIN_BUFFER + 1,
                                  2 * ADMIN_BUFFER])
def test_chunked_bodies_across_the_boundaries_are_answered(gw, upstream, size):
    status, answer = post(gw.admin_port, config_of_size(upstream.port, size), chunked=True)
    assert status == 201, answer


def test_over_the_limit_is_413_before_the_body_is_read(gw, upstream):
    body = config_of_size(upstream.port, MAX_ADMIN_BODY + 1)
    status, _ = post(gw.admin_port, body, chunked=False, send_body=False)
    assert status == 413
    assert gw.admin("GET", "/status")[0] == 200       # and the Admin API still answers


def test_a_chunked_body_over_the_limit_is_413(gw, upstream):
    status, _ = post(gw.admin_port, config_of_size(upstream.port, MAX_ADMIN_BODY + 1), True)
    assert status == 413
    assert gw.admin("GET", "/status")[0] == 200
