"""Heads whose fields stay in place: a request head the C scanner read keeps its fields as
offsets into the read (HttpRequest.header_list makes the list only when asked), and the proxy
copies the ones that go upstream straight from there. Whatever read a head, the upstream, the
handler and the client must see the same thing: each test sends the same fields once as a head
the scanner takes and once as one it leaves to llhttp (a `Connection: close` request), and
compares."""
from __future__ import annotations

import json
import socket

import pytest

from netutil import GatewayThread, ServerThread, make_config, parse_responses


@pytest.fixture
def gateway(upstream):
    g = GatewayThread(make_config(upstream.port))
    yield g
    g.stop()


def exchange(port: int, data: bytes, n: int) -> list:
    """Send data on one connection; the first n responses (each framed by Content-Length)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        got = b""
        while True:
            answers = parse_responses(got)
            if len(answers) >= n and all(
                    len(a["body"]) == int(dict((k.lower(), v) for k, v in a["headers"])
                                          .get(b"content-length", b"0"))
                    for a in answers[:n]):
                return answers[:n]
            piece = s.recv(65536)
            if not piece:
                return answers
            got += piece


def request(fields: list, close: bool, path: bytes = b"/echo") -> bytes:
    lines = [b"GET %s HTTP/1.1" % path] + [b"%s: %s" % f for f in fields]
    if close:
        lines.append(b"Connection: close")      # the scanner leaves such a head to llhttp
    return b"\r\n".join(lines) + b"\r\n\r\n"


def upstream_saw(answer) -> list:
    """The fields the echo upstream received, without the ones unique to each request."""
    doc = json.loads(answer["body"])
    return [(k, v) for k, v in doc["headers"] if k.lower() != "x-kong-request-id"]


SPOOFED = [(b"Host", b"example.com:8443"), (b"User-Agent", b"kept/1"),
           (b"Keep-Alive", b"timeout=5"), (b"TE", b"trailers"),
           (b"Proxy-Authorization", b"secret"), (b"X-Real-IP", b"6.6.6.6"),
           (b"X-Kong-Request-Id", b"spoofed"), (b"X-Forwarded-Proto", b"gopher"),
           (b"Via", b"1.0 edge"), (b"X-Tab", b"\tlead"), (b"x-lower", b"case kept")]


@pytest.mark.parametrize("extra", [[], [(b"X-Forwarded-For", b"10.0.0.1")],
                                   [(b"Connection", b"keep-alive")]],
                         ids=["plain", "forwarded-for", "keep-alive"])
def test_upstream_sees_the_same_fields_whichever_reader_read_the_head(gateway, extra):
    fields = SPOOFED + extra
    kept = exchange(gateway.port, request(fields, close=False), 1)[0]
    listed = exchange(gateway.port, request(fields, close=True), 1)[0]
    assert kept["status"] == listed["status"] == 200
    seen = upstream_saw(kept)
    assert seen == upstream_saw(listed)
    names = [k.lower() for k, _ in seen]
    # the client's own fields first, in their order and casing; the proxy's after them
    assert seen[:4] == [("User-Agent", "kept/1"), ("Via", "1.0 edge"), ("X-Tab", "lead"),
                        ("x-lower", "case kept")]
    for gone in ("keep-alive", "te", "proxy-authorization", "connection"):
        assert gone not in names
    assert dict((k.lower(), v) for k, v in seen)["x-real-ip"] == "127.0.0.1"
    assert dict((k.lower(), v) for k, v in seen)["x-forwarded-proto"] == "http"
    assert dict((k.lower(), v) for k, v in seen)["x-forwarded-host"] == "example.com"
    assert dict((k.lower(), v) for k, v in seen)["x-forwarded-for"] == \
        ("10.0.0.1, 127.0.0.1" if extra and extra[0][0] == b"X-Forwarded-For" else "127.0.0.1")


def test_a_head_with_more_fields_than_are_kept_in_place_is_listed(gateway):
    """Over HEAD_KEPT_FIELDS (16) the scanner's fields are read into a list at once."""
    fields = [(b"Host", b"a")] + [(b"X-F%02d" % i, b"v%d" % i) for i in range(20)]
    kept = exchange(gateway.port, request(fields, close=False), 1)[0]
    listed = exchange(gateway.port, request(fields, close=True), 1)[0]
    assert upstream_saw(kept) == upstream_saw(listed)
    assert [k for k, _ in upstream_saw(kept)][:20] == ["X-F%02d" % i for i in range(20)]


def test_pipelined_heads_in_one_read_keep_their_own_fields(gateway):
    """Requests that arrive in one read share that bytes object; each keeps its own spans."""
    data = b"".join(request([(b"Host", b"h%d" % i), (b"X-Which", b"%d" % i)], close=False)
                    for i in range(3))
    answers = exchange(gateway.port, data, 3)
    for i, answer in enumerate(answers):
        seen = dict((k.lower(), v) for k, v in upstream_saw(answer))
        assert seen["x-which"] == str(i)
        assert seen["x-forwarded-host"] == "h%d" % i


def _echo_fields(req, resp):
    """A handler that answers with the request's fields as it reads them."""
    body = json.dumps([[k.decode("latin-1"), v.decode("latin-1")]
                       for k, v in req.headers]).encode()
    resp.send(200, [(b"Content-Type", b"application/json")], body)


def _replacing_handler(req, resp):
    """A handler that replaces the fields, then reads them back."""
    req.headers = [(b"X-New", req.header("x-old") or b"none")]
    body = json.dumps([[k.decode(), v.decode()] for k, v in req.headers]).encode()
    resp.send(200, [], body)


def test_handler_reads_the_same_fields_whichever_reader_read_the_head():
    srv = ServerThread(_echo_fields)
    try:
        fields = [(b"Host", b"a:1"), (b"X-A", b"1"), (b"x-b", b"\t two words"),
                  (b"X-Empty", b""), (b"X-Latin", b"caf\xe9")]
        kept = exchange(srv.port, request(fields, close=False), 1)[0]
        listed = exchange(srv.port, request(fields, close=True), 1)[0]
        got = json.loads(kept["body"])
        assert got == [["Host", "a:1"], ["X-A", "1"], ["x-b", "two words"], ["X-Empty", ""],
                       ["X-Latin", "caf\xe9"]]
        assert json.loads(listed["body"]) == got + [["Connection", "close"]]
    finally:
        srv.stop()


def test_handler_may_replace_the_fields_of_a_scanned_head():
    srv = ServerThread(_replacing_handler)
    try:
        answer = exchange(srv.port, request([(b"Host", b"a"), (b"X-Old", b"o")], close=False),
                          1)[0]
        assert json.loads(answer["body"]) == [["X-New", "o"]]
    finally:
        srv.stop()
