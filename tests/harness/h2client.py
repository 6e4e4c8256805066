"""An HTTP/2 test client over a real socket: the `h2` library for the protocol, plus raw frame
writing and reading (hyperframe, hpack) for what a well-behaved client would never send and for
what h2 refuses to read (anything after a GOAWAY: its connection state is then CLOSED)."""
from __future__ import annotations

import socket
import ssl

import h2.config
import h2.connection
import h2.events
import h2.settings
from hpack import Decoder
from hyperframe.frame import Frame, HeadersFrame

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class H2Client:
    """One connection. request() opens a stream; response(sid) reads until that stream ends."""

    def __init__(self, port: int, *, host: str = "127.0.0.1", settings: dict | None = None,
                 tls: ssl.SSLContext | None = None, server_hostname: str = "localhost",
                 timeout: float = 20.0):
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname=server_hostname)
        self.sock = sock
        self.conn = h2.connection.H2Connection(config=h2.config.H2Configuration(
            client_side=True, header_encoding=None))
        if settings:
            self.conn.local_settings = h2.settings.Settings(client=True, initial_values=settings)
        self.conn.initiate_connection()
        self.flush()
        self.streams: dict[int, dict] = {}
        self.terminated = None          # the ConnectionTerminated event, once seen
        self.auto_ack = True

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path: str, method: str = "GET", headers=(), body: bytes | None = None,
                authority: str = "gw.test", end: bool = True) -> int:
        sid = self.conn.get_next_available_stream_id()
        fields = [(b":method", method.encode()), (b":scheme", b"http"),
                  (b":authority", authority.encode()), (b":path", path.encode())]
        fields += [(k.encode() if isinstance(k, str) else k, v.encode() if isinstance(v, str)
                    else v) for k, v in headers]
        self.streams[sid] = {"headers": None, "body": b"", "ended": False, "reset": None}
        self.conn.send_headers(sid, fields, end_stream=body is None and end)
        self.flush()
        if body is not None:
            self.send_body(sid, body, end=end)
        return sid

    def send_body(self, sid: int, body: bytes, end: bool = True):
        """Send within the server's windows, reading (and so receiving WINDOW_UPDATE) when they
        are shut."""
        view = memoryview(body)
        while view:
            window = min(self.conn.local_flow_control_window(sid),
                         self.conn.max_outbound_frame_size)
            if window <= 0:
                self.read_once()
                if self.streams[sid]["ended"] or self.streams[sid]["reset"] is not None:
                    return
                continue
            n = min(window, len(view))
            self.conn.send_data(sid, bytes(view[:n]))
            view = view[n:]
            self.flush()
        if end:
            self.conn.end_stream(sid)
            self.flush()

    def reset(self, sid: int, code: int = 8):
        self.conn.reset_stream(sid, error_code=code)
        self.flush()

    def read_once(self) -> list:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        events = self.conn.receive_data(data)
        for ev in events:
            sid = getattr(ev, "stream_id", None)
            st = self.streams.get(sid)
            if isinstance(ev, h2.events.ResponseReceived):
                st["headers"] = dict(ev.headers)
            elif isinstance(ev, h2.events.DataReceived):
                st["body"] += ev.data
                if self.auto_ack:
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, sid)
            elif isinstance(ev, h2.events.StreamEnded):
                st["ended"] = True
            elif isinstance(ev, h2.events.StreamReset):
                if st is not None:
                    st["reset"] = ev.error_code
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.terminated = ev
        self.flush()
        return events

    def response(self, sid: int) -> dict:
        """{"headers": {name: value}, "body": bytes, "ended", "reset": error code or None}."""
        st = self.streams[sid]
        while not st["ended"] and st["reset"] is None:
            if self.terminated is not None:
                raise ConnectionError("GOAWAY: %r" % (self.terminated,))
            self.read_once()
        return st

    def get(self, path: str, **kw) -> dict:
        return self.response(self.request(path, **kw))

    def read_until_goaway(self):
        """Read until the server's GOAWAY; returns the ConnectionTerminated event."""
        while self.terminated is None:
            self.read_once()
        return self.terminated

    def closed_by_server(self) -> bool:
        """Reads (discarding) until EOF; True when the server closed the connection."""
        try:
            while self.sock.recv(65536):
                pass
        except (ConnectionResetError, ssl.SSLError):
            pass
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class RawFrames:
    """Frames from a socket, parsed without h2's state machine; header blocks HPACK-decoded
    (every block of the connection goes through the one decoder, in order)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.decoder = Decoder()

    def next(self):
        """The next frame, or None at EOF. A HEADERS frame gets .decoded = [(name, value)]."""
        while True:
            if len(self.buf) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(self.buf[:9]))
                if len(self.buf) >= 9 + length:
                    frame.parse_body(memoryview(self.buf[9:9 + length]))
                    self.buf = self.buf[9 + length:]
                    if isinstance(frame, HeadersFrame):
                        frame.decoded = self.decoder.decode(frame.data, raw=True)
                    return frame
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                return None
            self.buf += data
