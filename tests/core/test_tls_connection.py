"""jqgate._core.tls.TLSConnection between a real TLS client (Python's ssl over memory BIOs) and a
recording TCP transport, so each of its duties is seen exactly: the handshake and the server
name (handed to `choose`), the HTTP protocol made only once the handshake is done, records both
ways, writelines as one record, pauses in both directions passed on, records that arrive while
the HTTP protocol has paused its reading handed over on resume (on the next loop turn), the
client's close_notify as end of input and answered with the server's, garbage refused."""
from __future__ import annotations

import asyncio
import ssl

import pytest

from tls_certs import CertAuthority

core = pytest.importorskip("jqgate._core.tls")
CA = CertAuthority()


class RecordingTransport:
    def __init__(self):
        self.written = []
        self.reading = True
        self.closed = self.aborted = False
        self.buffered = 0

    def write(self, data):
        self.written.append(bytes(data))

    def pause_reading(self):
        self.reading = False

    def resume_reading(self):
        self.reading = True

    def close(self):
        self.closed = True

    def abort(self):
        self.aborted = True

    def is_closing(self):
        return self.closed or self.aborted

    def get_write_buffer_size(self):
        return self.buffered

    def get_extra_info(self, name, default=None):
        return ("127.0.0.1", 4242) if name == "peername" else default


class RecordingProtocol:
    def __init__(self):
        self.transport = None
        self.received = []
        self.events = []

    def connection_made(self, transport):
        self.transport = transport
        self.events.append("made")

    def data_received(self, data):
        self.received.append(data)

    def eof_received(self):
        self.events.append("eof")

    def connection_lost(self, exc):
        self.events.append("lost")

    def pause_writing(self):
        self.events.append("pause_writing")

    def resume_writing(self):
        self.events.append("resume_writing")


@pytest.fixture(scope="module")
def contexts(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls-conn")
    cert, key = CA.leaf_files(d, "default.test")
    default = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    default.load_cert_chain(cert, key)
    default.set_alpn_protocols(["h2", "http/1.1"])
    cert, key = CA.leaf_files(d, "api.test")
    chosen = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    chosen.load_cert_chain(cert, key)
    chosen.set_alpn_protocols(["h2", "http/1.1"])
    return default, chosen


class Pair:
    """A TLSConnection and a client, with the bytes between them moved by hand."""

    def __init__(self, contexts, name="api.test"):
        default, chosen = contexts
        self.loop = asyncio.new_event_loop()
        self.asked = []
        self.apps = []

        def choose(server_name):
            self.asked.append(server_name)
            return chosen if server_name == "api.test" else None

        def app_factory():
            self.apps.append(RecordingProtocol())
            return self.apps[-1]

        listener = core.TLSListener(app_factory, default, choose, self.loop, 30.0)
        self.conn = listener()
        self.tcp = RecordingTransport()
        self.conn.connection_made(self.tcp)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        self.cin, self.cout = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.client = ctx.wrap_bio(self.cin, self.cout, server_hostname=name)

    def to_server(self):
        data = self.cout.read()
        if data:
            self.conn.data_received(data)

    def to_client(self):
        for piece in self.tcp.written:
            self.cin.write(piece)
        self.tcp.written.clear()

    def handshake(self):
        for _ in range(10):
            try:
                self.client.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.to_server()
                self.to_client()
        self.to_server()        # the client's Finished
        self.to_client()        # the session tickets

    def client_read(self):
        out = b""
        while True:
            try:
                piece = self.client.read(65536)
            except ssl.SSLWantReadError:
                return out
            if not piece:               # the server's close_notify
                return out
            out += piece

    def close(self):
        self.conn.connection_lost(None)
        self.loop.close()


def test_handshake_server_name_and_alpn(contexts):
    p = Pair(contexts)
    assert p.apps == []                         # no HTTP protocol before the handshake is done
    p.handshake()
    assert p.asked == ["api.test"]
    [app] = p.apps
    assert app.events == ["made"] and app.transport is p.conn
    info = p.conn.get_extra_info("ssl_object")
    assert info.jqgate_sni == "api.test"
    assert info.selected_alpn_protocol() == "h2" == p.client.selected_alpn_protocol()
    assert info.version() == p.client.version() == "TLSv1.3"
    assert p.conn.get_extra_info("sslcontext") is contexts[1]     # switched by the name
    assert p.conn.get_extra_info("peername") == ("127.0.0.1", 4242)
    assert p.client.getpeercert(binary_form=True) is not None
    p.close()


def test_records_both_ways_and_writelines_as_one_record(contexts):
    p = Pair(contexts)
    p.handshake()
    app = p.apps[0]
    p.client.write(b"GET / HTTP/1.1\r\n\r\n")
    p.client.write(b"GET /2 HTTP/1.1\r\n\r\n")
    p.to_server()
    assert b"".join(app.received) == b"GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"
    assert len(app.received) == 1               # what one read brought: one data_received
    p.conn.writelines([b"HTTP/1.1 200 OK\r\n", b"Content-Length: 2\r\n\r\n", b"ok"])
    assert len(p.tcp.written) == 1
    p.to_client()
    assert p.client_read() == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    p.close()
    assert app.events[-1] == "lost"


def test_pauses_are_passed_on(contexts):
    p = Pair(contexts)
    p.handshake()
    app = p.apps[0]
    p.conn.pause_writing()
    p.conn.resume_writing()
    assert app.events[-2:] == ["pause_writing", "resume_writing"]
    p.conn.pause_reading()
    assert not p.tcp.reading and not p.conn.is_reading()
    p.client.write(b"held back")
    p.to_server()                               # arrives while paused: kept, not handed over
    assert app.received == []
    p.conn.resume_reading()
    assert p.tcp.reading and app.received == []     # handed over on the next loop turn
    p.loop.run_until_complete(asyncio.sleep(0))
    assert app.received == [b"held back"]
    p.close()


def test_close_notify_both_ways(contexts):
    p = Pair(contexts)
    p.handshake()
    app = p.apps[0]
    with pytest.raises(ssl.SSLWantReadError):
        p.client.unwrap()                       # the client's close_notify
    p.to_server()
    assert "eof" in app.events and p.tcp.closed
    p.to_client()
    p.client.unwrap()                           # the server's close_notify came back
    p.close()


def test_close_sends_close_notify(contexts):
    p = Pair(contexts)
    p.handshake()
    p.conn.close()
    assert p.tcp.closed and p.conn.is_closing()
    p.conn.write(b"too late")                   # ignored after close
    p.to_client()
    assert p.client_read() == b""               # end of the server's data
    p.client.unwrap()       # completes at once: the server's close_notify is in (else WantRead)
    p.close()


def test_garbage_instead_of_a_client_hello(contexts):
    p = Pair(contexts)
    p.conn.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert p.tcp.closed and p.apps == []
    p.close()
