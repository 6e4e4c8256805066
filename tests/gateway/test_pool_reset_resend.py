"""A reset before any answer byte on a reused upstream connection sends the request again, POST
included (issue 19, item 2): Linux answers close() with unread data in the socket (or data that
arrives after close()) with a reset, while a peer that read the request and then closed sends a
FIN. So a reset, where no FIN came first, proves the peer's application never read the whole
request, and the pool sends it once more on a fresh connection -- without spending the
service's `retries` (0 here). A FIN before any answer byte keeps the old rule: a POST goes
again only when not one of its bytes was acknowledged (test_pool_idle_close.py).

Each test's upstream is a real loopback server that answers a first POST on a connection the
gateway pools, then does something to the second POST the gateway writes on that connection."""
from __future__ import annotations

import select
import socket
import ssl
import struct
import threading

from netutil import GatewayThread, http_get, make_config
from tls_certs import CertAuthority


def _read_request(sock: socket.socket) -> tuple[bytes, bytes]:
    """One request with a Content-Length body, read whole: (request line, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        assert piece, "the gateway closed the connection mid-request"
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head.split(b"\r\n")[0], body


def _answer(sock: socket.socket, status: bytes, body: bytes) -> None:
    sock.sendall(b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body))


class PoolingPeer:
    """A loopback upstream: on the first connection it answers one POST (the gateway pools the
    connection), then hands the connection to `second(sock, seen)` when the gateway writes the
    next request on it; every later connection is served normally (201, the body echoed).
    `seen` lists each request read whole, as (connection number, request line, body)."""

    def __init__(self, second, sent_again=True, tls=None):
        self.sent_again = sent_again    # False: the request must not come again; not waited for
        self.tls = tls                  # an ssl.SSLContext: the upstream speaks https
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.seen: list[tuple[int, bytes, bytes]] = []
        self.second = second
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _accept(self) -> socket.socket:
        sock, _ = self.lsock.accept()
        return self.tls.wrap_socket(sock, server_side=True) if self.tls else sock

    def _run(self):
        first = self._accept()
        self.seen.append((1,) + _read_request(first))
        _answer(first, b"200 OK", b"first")
        # Blocks until the gateway wrote its next request on the pooled connection, leaving it
        # unread (poll, not select: the suite may hold more than FD_SETSIZE descriptors).
        readable = select.poll()
        readable.register(first, select.POLLIN)
        readable.poll()
        self.second(first, self.seen)
        if not self.sent_again:
            return
        again = self._accept()
        self.seen.append((2,) + _read_request(again))
        _answer(again, b"201 Created", self.seen[-1][2])
        again.close()

    def stop(self):
        self.thread.join(30)
        self.lsock.close()


def _two_posts(peer: PoolingPeer):
    """POST /first (pooled), then POST /second on the same upstream connection; returns the
    second's (status, body) and the pool's stats."""
    # no retries to hide behind
    gw = GatewayThread(make_config(peer.port, retries=0, protocol="https", tls_verify=False)
                       if peer.tls else make_config(peer.port, retries=0))
    try:
        status, _, body = http_get(gw.port, "/first", method="POST", body=b"one")
        assert (status, body) == (200, b"first")
        status, _, body = http_get(gw.port, "/second", method="POST", body=b"second-body")
        return status, body, gw.running.pool.stats
    finally:
        gw.stop()
        peer.stop()


def test_a_post_the_peer_closed_unread_is_sent_again_and_answered_once():
    """The peer closes with the second POST unread in its socket: its TCP resets the
    connection. Before the fix: 502 (a POST was sent again only when its bytes were
    unacknowledged when a FIN came, and here no FIN comes)."""
    peer = PoolingPeer(lambda sock, seen: sock.close())
    status, body, stats = _two_posts(peer)
    assert (status, body) == (201, b"second-body")
    assert peer.seen == [(1, b"POST /first HTTP/1.1", b"one"),
                         (2, b"POST /second HTTP/1.1", b"second-body")]   # read once
    assert stats["replayed_reset"] == 1
    assert stats["replayed_unsent"] == 0


def test_a_post_the_peer_read_before_closing_is_not_sent_again():
    """The peer reads the whole second POST, then closes (a FIN: nothing unread). It may have
    acted on it, so it is not sent again: 502."""
    peer = PoolingPeer(_read_then_close, sent_again=False)
    status, _, stats = _two_posts(peer)
    assert status == 502
    assert peer.seen == [(1, b"POST /first HTTP/1.1", b"one"),
                         (1, b"POST /second HTTP/1.1", b"second-body")]
    assert stats["replayed_reset"] == 0
    assert stats["replayed_unsent"] == 0
    assert stats["retried"] == 0


def test_a_post_the_peer_read_and_then_reset_is_sent_again_the_rules_known_limit():
    """The rule's known limit (docs/limits-and-safety.md): a peer that reads the whole request
    and then resets the connection on purpose (SO_LINGER 0), or crashes in a way that makes its
    TCP reset, looks exactly like one that never read it -- the request is sent again and the
    peer sees it twice. Kong's nginx would answer 502 here; a reset is what servers send for
    unread requests, so the rule trades this rare case for the common one."""
    def read_then_reset(sock, seen):
        seen.append((1,) + _read_request(sock))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    peer = PoolingPeer(read_then_reset)
    status, body, stats = _two_posts(peer)
    assert (status, body) == (201, b"second-body")
    assert peer.seen == [(1, b"POST /first HTTP/1.1", b"one"),
                         (1, b"POST /second HTTP/1.1", b"second-body"),
                         (2, b"POST /second HTTP/1.1", b"second-body")]   # twice: the limit
    assert stats["replayed_reset"] == 1



def _read_then_close(sock, seen):
    seen.append((1,) + _read_request(sock))
    if isinstance(sock, ssl.SSLSocket):
        sock.settimeout(10)
        sock = sock.unwrap()            # TLS's own close first: close_notify, then the FIN
    sock.close()


def _tls_context(tmp_path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*CertAuthority().leaf_files(tmp_path, "localhost"))
    return context


def test_over_tls_a_post_the_peer_closed_unread_is_sent_again(tmp_path):
    """The rule holds under TLS: the reset is TCP's, below the TLS layer (and a reset after
    the peer's FIN is reported as EPIPE, not ECONNRESET, so a TLS close that crosses the
    gateway's close_notify cannot pass for one)."""
    peer = PoolingPeer(lambda sock, seen: sock.close(), tls=_tls_context(tmp_path))
    status, body, stats = _two_posts(peer)
    assert (status, body) == (201, b"second-body")
    assert [entry[0] for entry in peer.seen] == [1, 2]
    assert stats["replayed_reset"] == 1


def test_over_tls_a_post_the_peer_read_before_closing_is_not_sent_again(tmp_path):
    peer = PoolingPeer(_read_then_close, sent_again=False, tls=_tls_context(tmp_path))
    status, _, stats = _two_posts(peer)
    assert status == 502
    assert peer.seen == [(1, b"POST /first HTTP/1.1", b"one"),
                         (1, b"POST /second HTTP/1.1", b"second-body")]
    assert stats["replayed_reset"] == 0
    assert stats["retried"] == 0
