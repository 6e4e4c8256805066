"""The C scanners for message heads (csrc/http_head.c) take only heads that
llhttp also accepts, and read them the same way; everything else they leave to llhttp."""
from __future__ import annotations

import httptools
import pytest
from hypothesis import given, settings, strategies as st

from hypothesis_budget import examples

from jqgate._core.core import scan_request_head_of, scan_response_head_of


class _Reader:
    """llhttp's reading of a response, through httptools."""

    def __init__(self, data: bytes):
        self.headers, self.body, self.complete = [], b"", 0
        self.parser = httptools.HttpResponseParser(self)
        self.parser.feed_data(data)

    def on_header(self, name, value):
        self.headers.append((name, value))

    def on_body(self, body):
        self.body += body

    def on_headers_complete(self):
        self.status = self.parser.get_status_code()

    def on_message_complete(self):
        self.complete += 1
        self.keep_alive = self.parser.should_keep_alive()   # as the pool asks it


def test_a_plain_head():
    data = (b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5\r\nX-Empty:\r\nX-Tabs:\t a b\t \r\n\r\nhello")
    status, fields, head_len, length, close = scan_response_head_of(data)
    assert (status, head_len, length, close) == (200, len(data) - 5, 5, False)
    assert fields == [(b"Server", b"nginx"), (b"Content-Type", b"application/json"),
                      (b"Content-Length", b"5"), (b"X-Empty", b""), (b"X-Tabs", b"a b\t ")]


@pytest.mark.parametrize("data, length, close", [
    (b"HTTP/1.1 204 No Content\r\n\r\n", -1, False),
    (b"HTTP/1.1 304 \r\nETag: x\r\n\r\n", -1, False),
    (b"HTTP/1.1 200 OK\r\nconnection: Close\r\ncontent-length: 00\r\n\r\n", 0, True),
    (b"HTTP/1.1 404 Not Found\r\nConnection: keep-alive\r\nContent-Length: 9\r\n\r\n", 9, False),
    (b"HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nContent-Length: 1\r\n\r\n", 1, False),
])
def test_heads_it_takes(data, length, close):
    got = scan_response_head_of(data)
    assert got is not None and got[2] == len(data)
    assert (got[3], got[4]) == (length, close)


@pytest.mark.parametrize("name", [b"content-length", b"CONTENT-LENGTH", b"cOnTeNt-lEnGtH"])
def test_framing_names_are_known_in_any_case(name):
    """The scanner folds a name's case eight bytes at a time (csrc/http_head.c name_is)."""
    got = scan_response_head_of(b"HTTP/1.1 200 OK\r\n" + name + b": 3\r\n\r\nabc")
    assert got is not None and got[3] == 3


@pytest.mark.parametrize("name", [b"Content_Length", b"Content^Length", b"Content-Lengtx",
                                  b"Content-Length~", b"Connection_", b"Connectio^"])
def test_names_that_fold_near_a_framing_name_are_not_it(name):
    """Tokens one case-fold away from a framing name are other fields: with no Content-Length
    the answer is close-delimited, which the scanner leaves to llhttp; as an extra field beside
    one, it is kept like any other."""
    assert scan_response_head_of(b"HTTP/1.1 200 OK\r\n" + name + b": 3\r\n\r\nabc") is None
    got = scan_response_head_of(b"HTTP/1.1 200 OK\r\n" + name + b": close\r\n"
                                b"Content-Length: 2\r\n\r\nab")
    assert got is not None and got[3] == 2 and got[4] is False
    assert got[1][0] == (name, b"close")


@pytest.mark.parametrize("data", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",                       # head not complete
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r",
    b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n",                   # only HTTP/1.1
    b"HTTP/1.1 100 Continue\r\n\r\n",                                   # interim
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    b"HTTP/1.1 200\r\nContent-Length: 5\r\n\r\n",                       # no SP after status
    b"HTTP/1.1 2000 OK\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 600 OK\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\n",                                          # close-delimited
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5 \r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n",
    b"HTTP/1.1 204 OK\r\nContent-Length: 0\r\n\r\n",                   # length on a bodiless status
    b"HTTP/1.1 200 OK\r\nConnection: upgrade\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",                  # space before the colon
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n c\r\n\r\n",    # obs-fold
    b"HTTP/1.1 200 OK\nContent-Length: 5\n\n",                          # bare LF
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\rc\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\x7f\r\n\r\n",      # DEL
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\x00\r\n\r\n",
    b"HTTP/1.1 200 O\x01K\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX\xe9: b\r\n\r\n",        # non-token name
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n: b\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 64 + b"Content-Length: 5\r\n\r\n",  # over 64 fields
])
def test_heads_it_leaves_to_llhttp(data):
    assert scan_response_head_of(data) is None


# Mostly valid parts, so that about half the heads are taken and compared, with the odd
# part that must make the scanner step aside.
_NAMES = st.one_of(st.sampled_from([b"Server", b"X-A", b"Content-Type", b"Connection",
                                    b"!#$%&'*+-.^_`|~09azAZ"]),
                   st.sampled_from([b"Content-Length", b"Transfer-Encoding", b"Upgrade",
                                    b"x y", b"X\xe9", b"", b"Content-Length "]))
_VALUES = st.one_of(st.sampled_from([b"close", b"keep-alive", b"text/plain", b"a\tb ", b""]),
                    st.binary(max_size=6))
_LINE_ENDS = st.sampled_from([b"\r\n"] * 40 + [b"\n", b"\r", b"\r\n ", b"\n\r"])


@st.composite
def _heads(draw):
    version = draw(st.sampled_from([b"HTTP/1.1"] * 20 + [b"HTTP/1.0", b"http/1.1", b"HTTP/2.0"]))
    status = draw(st.sampled_from([b"200"] * 10 + [b"204", b"304", b"404", b"503", b"100",
                                                   b"101", b"099", b"600", b"20x"]))
    reason = draw(st.sampled_from([b" OK"] * 10 + [b" ", b"", b" Not\tFound", b" \x80", b" \x7f"]))
    lines = [version + b" " + status + reason]
    for _ in range(draw(st.integers(0, 4))):
        sep = draw(st.sampled_from([b": "] * 10 + [b":", b":\t ", b" :"]))
        lines.append(draw(_NAMES) + sep + draw(_VALUES))
    if draw(st.integers(0, 9)):
        lines.insert(draw(st.integers(1, len(lines))),
                     b"Content-Length: " + draw(st.sampled_from([b"0", b"7", b"00", b"12"])))
    ends = [draw(_LINE_ENDS) for _ in lines]
    head = b"".join(line + end for line, end in zip(lines, ends)) + b"\r\n"
    return head + draw(st.binary(max_size=12))


@settings(max_examples=examples(3000))
@given(_heads())
def test_whatever_it_takes_llhttp_reads_the_same_way(data):
    got = scan_response_head_of(data)
    if got is None:
        return
    status, fields, head_len, length, close = got
    head = data[:head_len]
    body = b"b" * max(length, 0)
    seen = _Reader(head + body)           # would raise if llhttp refused the head
    assert seen.status == status
    assert seen.headers == fields
    assert seen.keep_alive == (not close)
    assert seen.complete == 1 and seen.body == body


# -- requests ---------------------------------------------------------------------------------

class _RequestReader:
    """llhttp's reading of a request, through httptools."""

    def __init__(self, data: bytes):
        self.headers, self.url, self.body, self.complete = [], b"", b"", 0
        self.parser = httptools.HttpRequestParser(self)
        self.parser.feed_data(data)

    def on_url(self, url):
        self.url += url

    def on_header(self, name, value):
        self.headers.append((name, value))

    def on_body(self, body):
        self.body += body

    def on_message_complete(self):
        self.complete += 1
        self.method = self.parser.get_method()
        self.version = self.parser.get_http_version()
        self.keep_alive = self.parser.should_keep_alive()


def test_a_plain_request():
    data = b"GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\nGET /next"
    method, target, fields, head_len = scan_request_head_of(data)
    assert (method, target, head_len) == (b"GET", b"/a/b?x=1&y=%20", len(data) - 9)
    assert fields == [(b"Host", b"example.com"), (b"Accept", b"*/*")]


@pytest.mark.parametrize("data", [
    b"GET / HTTP/1.1\r\nHost: a\r\n",                                     # head not complete
    b"GET / HTTP/1.0\r\nHost: a\r\n\r\n",                                 # only HTTP/1.1
    b"get / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"PROPFIND / HTTP/1.1\r\nHost: a\r\n\r\n",                            # not a common method
    b"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",                         # absolute-form
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",       # bodies
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",           # the last request
    b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",                 # obs-fold
    b"GET / HTTP/1.1\nHost: a\n\n",                                       # bare LF
])
def test_requests_it_leaves_to_llhttp(data):
    assert scan_request_head_of(data) is None


_TARGET_BYTES = st.binary(max_size=10).map(
    lambda b: bytes(0x21 + c % 0x5f for c in b))        # every visible ASCII byte
_REQUEST_NAMES = st.one_of(
    st.sampled_from([b"Host", b"Accept", b"X-A", b"User-Agent", b"Connection"]),
    st.sampled_from([b"Content-Length", b"Transfer-Encoding", b"Expect", b"Upgrade", b"x y",
                     b"X\xe9", b""]))


@st.composite
def _requests(draw):
    method = draw(st.sampled_from([b"GET"] * 8 + [b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE",
                                                  b"OPTIONS", b"CONNECT", b"get", b"GETS"]))
    target = draw(st.sampled_from([b"/"] * 8 + [b"", b"*", b"http://a"])) + draw(_TARGET_BYTES)
    if draw(st.integers(0, 9)) == 0:
        target += draw(st.sampled_from([b" ", b"\x80", b"\x00", b"\t"]))
    version = draw(st.sampled_from([b"HTTP/1.1"] * 20 + [b"HTTP/1.0", b"HTTP/1.2"]))
    lines = [method + b" " + target + b" " + version]
    for _ in range(draw(st.integers(0, 4))):
        sep = draw(st.sampled_from([b": "] * 10 + [b":", b":\t ", b" :"]))
        lines.append(draw(_REQUEST_NAMES) + sep + draw(_VALUES))
    ends = [draw(_LINE_ENDS) for _ in lines]
    head = b"".join(line + end for line, end in zip(lines, ends)) + b"\r\n"
    return head + draw(st.sampled_from([b"", b"GET / HTTP/1.1\r\n\r\n", b"x"]))


@settings(max_examples=examples(3000))
@given(_requests())
def test_whatever_request_it_takes_llhttp_reads_the_same_way(data):
    got = scan_request_head_of(data)
    if got is None:
        return
    method, target, fields, head_len = got
    seen = _RequestReader(data[:head_len])    # would raise if llhttp refused the head
    assert seen.complete == 1 and seen.body == b""
    assert (seen.method, seen.url, seen.headers) == (method, target, fields)
    assert (seen.version, seen.keep_alive) == ("1.1", True)


# The field-line scan finds the CR and checks the bytes before it in one walk, eight bytes at a
# time (csrc/http_head.c line_end): a control or DEL at any offset of a word, and a lone CR or
# LF, must still send the head to llhttp; an HTAB anywhere is still a value byte.
@pytest.mark.parametrize("bad", [b"\x00", b"\x01", b"\x7f", b"\r", b"\n", b"\x1f"])
@pytest.mark.parametrize("at", range(0, 19))
def test_a_control_at_any_offset_of_a_long_value_is_left_to_llhttp(bad, at):
    value = bytearray(b"abcdefghijklmnopqrs")
    value[at:at + 1] = bad
    data = b"HTTP/1.1 200 OK\r\nX-Long: " + bytes(value) + b"\r\nContent-Length: 0\r\n\r\n"
    assert scan_response_head_of(data) is None
    request = b"GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + bytes(value) + b"\r\n\r\n"
    assert scan_request_head_of(request) is None


@pytest.mark.parametrize("at", range(0, 19))
def test_an_htab_at_any_offset_of_a_long_value_is_taken(at):
    value = bytearray(b"abcdefghijklmnopqrs")
    value[at:at + 1] = b"\t"
    data = b"HTTP/1.1 200 OK\r\nX-Long: " + bytes(value) + b"\r\nContent-Length: 0\r\n\r\n"
    got = scan_response_head_of(data)
    assert got is not None and (b"X-Long", bytes(value).lstrip(b"\t")) in got[1]
