# HTTP/2 to clients: one Http2ServerProtocol per connection, framing, HPACK and flow control by
# the `h2` library (python-hyper), each stream handed to the SAME handler as an HTTP/1.1
# request (routing, DataKit plan, call nodes, the upstream pool over HTTP/1.1 keep-alive).
#
# The seam: a stream becomes an HttpRequest (http_version "2", the pseudo-headers turned into
# method / target / host) and an Http2Responder, the Responder whose send/start/write/end put
# HEADERS and DATA frames on its stream instead of HTTP/1.1 bytes on the socket. The
# HTTP/1.1 classes are untouched on their hot path: Responder's methods were already virtual
# (cpdef / cdef on a non-final class); the protocol subclasses HttpServerProtocol so the
# server's connection set, drain and access log take it as one of theirs.
#
# Which protocol a connection speaks is decided per listener (listener_protocol_factory):
# a listener whose ServerSettings has http2 set answers h2c with prior knowledge (the client
# preface "PRI * HTTP/2.0...") and HTTP/1.1 on plaintext, ALPN "h2" or "http/1.1" on TLS.
#
# Limits (Http2Limits, each with nginx's / Kong's default where there is one):
#   max_concurrent_streams 128   SETTINGS_MAX_CONCURRENT_STREAMS (nginx
#                                http2_max_concurrent_streams); a client over it breaks the
#                                protocol: GOAWAY PROTOCOL_ERROR
#   max_header_list_size None    SETTINGS_MAX_HEADER_LIST_SIZE, decoded bytes of one header
#                                block (HPACK bombs); None = the server's max_header_bytes
#                                (32 KiB). Over it: GOAWAY ENHANCE_YOUR_CALM
#   max_continuation_frames 64   CONTINUATION frames in one header block (h2's own bound,
#                                CVE-2024-27316 floods): GOAWAY PROTOCOL_ERROR
#   initial_window_size 65535    bytes a client may send on one stream before we acknowledge
#   max_resets 200, reset_interval 10.0 s
#                                client RST_STREAMs per connection per interval
#                                (CVE-2023-44487 rapid reset): one more and the connection
#                                gets GOAWAY ENHANCE_YOUR_CALM and is closed
# The server's own limits hold per stream as on HTTP/1.1: max_uri_bytes (414),
# max_body_bytes (413), body_buffer_size (a body up to it is handed over whole),
# body_timeout (408 / stream reset), send_timeout (a stream the client's window keeps shut
# is cancelled), keepalive_timeout (a connection without streams is closed with GOAWAY).

import h2.config as _h2_config
import h2.connection as _h2_connection
import h2.events as _h2_events
import h2.exceptions as _h2_exceptions
import h2.settings as _h2_settings
from h2.errors import ErrorCodes as _H2Errors
from hpack import Encoder as _HpackEncoder
from hyperframe.frame import GoAwayFrame as _GoAwayFrame

cdef bytes H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# Response fields HTTP/2 forbids (RFC 9113 8.2.2): the connection's business, not a stream's.
cdef frozenset _H2_HOP_BY_HOP = frozenset([b"connection", b"keep-alive", b"proxy-connection",
                                           b"transfer-encoding", b"upgrade", b"te"])
cdef Py_ssize_t H2_PENDING_HIGH_WATER = 65536   # unsent bytes of one stream before its producer pauses


class _LiteralEncoder(_HpackEncoder):
    """HPACK without Huffman coding of literals: hpack's Huffman coder is pure Python and cost
    more than the rest of a response head; repeated fields go as table indexes either way."""

    def encode(self, headers, huffman=False):
        return _HpackEncoder.encode(self, headers, huffman=False)


cdef class Http2Limits:
    """The HTTP/2 limits of a listener (see the module comment for each default)."""

    def __init__(self, max_concurrent_streams=128, max_header_list_size=None,
                 max_continuation_frames=64, initial_window_size=65535, max_resets=200,
                 reset_interval=10.0):
        if max_concurrent_streams < 1:
            raise ValueError("http2 max_concurrent_streams must be at least 1")
        if not 0 < initial_window_size < 2 ** 31:
            raise ValueError("http2 initial_window_size must be 1 .. 2^31-1")
        if max_header_list_size is not None and max_header_list_size < 1:
            raise ValueError("http2 max_header_list_size must be positive")
        if max_continuation_frames < 1:
            raise ValueError("http2 max_continuation_frames must be at least 1")
        self.max_concurrent_streams = max_concurrent_streams
        self.max_header_list_size = max_header_list_size
        self.max_continuation_frames = max_continuation_frames
        self.initial_window_size = initial_window_size
        self.max_resets = max_resets
        self.reset_interval = reset_interval


def http2_limits_of(http2):
    """ServerSettings(http2=...): False/None = HTTP/1.1 only, True = the defaults, a dict of
    Http2Limits options, or an Http2Limits."""
    if http2 is None or http2 is False:
        return None
    if http2 is True:
        return Http2Limits()
    if isinstance(http2, Http2Limits):
        return http2
    if isinstance(http2, dict):
        return Http2Limits(**http2)
    raise TypeError("http2 must be a bool, a dict of limits or an Http2Limits, got %r" % (http2,))


# -- one stream ------------------------------------------------------------------------------

@cython.final
cdef class _H2Stream:
    """A request stream: what was parsed, the answer being written, its unsent bytes."""


cdef class Http2RequestBody(RequestBody):
    """A stream's request body. Flow control is the back-pressure: received bytes are
    acknowledged (WINDOW_UPDATE) while what nobody reads yet stays within the high-water
    mark and the consumer has not paused; held back otherwise, so a client can have at most a
    window's worth more in flight."""

    cdef void _feed(self, bytes data):
        RequestBody._feed(self, data)
        self._unacked += len(data)
        self._maybe_ack()

    cdef void _maybe_ack(self):
        if self._unacked and not self._consumer_paused and self._buffered <= self._high_water \
                and self._h2 is not None:
            n = self._unacked
            self._unacked = 0
            self._h2._acknowledge(self._stream_id, n)

    def pipe(self, BodyConsumer consumer):
        RequestBody.pipe(self, consumer)
        self._maybe_ack()

    def pause(self):
        self._consumer_paused = True

    def resume(self):
        self._consumer_paused = False
        self._maybe_ack()


cdef class Http2Responder(Responder):
    """A Responder writing frames on one stream. Framing is HTTP/2's: no Connection,
    Transfer-Encoding or chunking; Content-Length when the length is known."""

    cdef list _h2_head(self, int status, list headers, long long content_length):
        cdef HttpRequest req = self.request
        cdef list out = [(b":status", write_int(status))]
        cdef tuple pair
        cdef bytes name
        for item in headers:
            pair = _write_pair(item)
            name = (<bytes>pair[0]).lower()
            if name in _H2_HOP_BY_HOP:
                continue
            out.append((name, pair[1]))
        self._h2_framing(out, status, content_length)
        return out

    cdef void _h2_framing(self, list out, int status, long long content_length):
        cdef HttpRequest req = self.request
        cdef ServerSettings st = self._h2.settings
        if st.request_id_header is not None:
            out.append((st.request_id_header.lower(), req.request_id))
        self._no_body = req.method == b"HEAD" or status == 204 or status == 304 or status < 200
        if content_length >= 0 and not (status == 204 or status == 304 or status < 200):
            out.append((b"content-length", write_int(content_length)))

    cpdef send(self, int status, list headers, bytes body=b""):
        if self.started:
            raise RuntimeError("response already started")
        cdef list head = self._h2_head(status, headers, len(body))
        self.started = True
        self.status = status
        cdef bint no_body = self._no_body or not body
        self._h2._send_headers(self._stream, head, no_body)
        if not no_body:
            self._h2._send_data(self._stream, body, True)
            self.bytes_sent += len(body)
        self._finish()

    cpdef start(self, int status, list headers, long long content_length=-1):
        if self.started:
            raise RuntimeError("response already started")
        cdef list head = self._h2_head(status, headers, content_length)
        self.started = True
        self.status = status
        self._h2._send_headers(self._stream, head, False)

    cdef int start_relayed(self, int status, const char* src, const unsigned char* keep,
                           list extra, long long content_length) except -1:
        """start() with the scanned upstream head's kept fields (see Responder)."""
        if self.started:
            raise RuntimeError("response already started")
        cdef list out = [(b":status", write_int(status))]
        cdef const jqg_field* f
        cdef int i
        cdef bytes name
        for i in range(scanned_head.n_fields):
            if keep[i]:
                f = &scanned_head.fields[i]
                name = src[f.name_at:f.name_at + f.name_len].lower()
                if name not in _H2_HOP_BY_HOP:
                    out.append((name, src[f.value_at:f.value_at + f.value_len]))
        for item in extra:
            pair = _write_pair(item)
            name = (<bytes>pair[0]).lower()
            if name not in _H2_HOP_BY_HOP:
                out.append((name, pair[1]))
        self._h2_framing(out, status, content_length)
        self.started = True
        self.status = status
        self._h2._send_headers(self._stream, out, False)
        return 0

    cpdef write(self, bytes data):
        if self.finished or self._no_body or not data:
            return
        self.bytes_sent += len(data)
        self._h2._send_data(self._stream, data, False)

    cpdef flush(self):
        pass            # start() sent the HEADERS frame already

    cpdef end(self):
        if self.finished:
            return
        self._h2._end_stream(self._stream)
        self._finish()

    @property
    def closing(self):
        return self._close or self._stream.reset

    @property
    def client_gone(self):
        return self._h2.transport is None or self._stream.reset


# -- the connection ----------------------------------------------------------------------------

cdef class Http2ServerProtocol(HttpServerProtocol):
    """asyncio.Protocol for one HTTP/2 client connection (see the module comment)."""

    def connection_made(self, transport):
        HttpServerProtocol.connection_made(self, transport)
        self.parser = None
        self._feed = None
        cdef ServerSettings st = self.settings
        self._limits = st.http2 if st.http2 is not None else Http2Limits()
        self._streams = {}
        self._resets_since = mono_now()
        cdef Http2Limits lim = self._limits
        header_list = lim.max_header_list_size or st.max_header_bytes
        # What clients send is validated by h2 (it goes on to HTTP/1.1 upstreams); what we send
        # is built here from validated heads, lower-cased and without connection fields, so
        # h2's second pass over it (a third of the per-stream cost) is skipped.
        conn = _h2_connection.H2Connection(config=_h2_config.H2Configuration(
            client_side=False, header_encoding=None, validate_inbound_headers=True,
            normalize_inbound_headers=True, validate_outbound_headers=False,
            normalize_outbound_headers=False))
        conn.encoder = _LiteralEncoder()
        # Initial values are in force at once (not only once the client acknowledges them):
        # a client that ignores them breaks the protocol from its first frame.
        conn.local_settings = _h2_settings.Settings(client=False, initial_values={
            _h2_settings.SettingCodes.MAX_CONCURRENT_STREAMS: lim.max_concurrent_streams,
            _h2_settings.SettingCodes.MAX_HEADER_LIST_SIZE: header_list,
            _h2_settings.SettingCodes.INITIAL_WINDOW_SIZE: lim.initial_window_size,
            _h2_settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 0,
        })
        conn.decoder.max_header_list_size = header_list
        conn.max_inbound_frame_size = conn.local_settings.max_frame_size
        self._conn = conn
        conn.initiate_connection()
        self._flush()

    def connection_lost(self, exc):
        self._abandon_streams()
        HttpServerProtocol.connection_lost(self, exc)
        self._streams = {}

    def pause_writing(self):
        HttpServerProtocol.pause_writing(self)   # arms the send timer
        # A client that sends without reading (PING or SETTINGS floods, CVE-2019-9512/9515)
        # would grow our write buffer with the acknowledgements: read nothing until it reads.
        self._pause(PAUSE_WRITE)
        cdef _H2Stream s
        for s in list(self._streams.values()):
            self._pause_producer(s)

    def resume_writing(self):
        self._write_paused = False
        self._unpause(PAUSE_WRITE)
        cdef _H2Stream s
        for s in list(self._streams.values()):
            if s.pending_bytes < H2_PENDING_HIGH_WATER:
                self._resume_producer(s)

    def data_received(self, bytes data):
        if self._dead or self._conn is None:
            return
        self._last_read = mono_now()
        self._in_receive = True
        try:
            try:
                events = self._conn.receive_data(data)
            except _h2_exceptions.ProtocolError as e:
                # h2 queued the GOAWAY with the error code (PROTOCOL_ERROR, FRAME_SIZE_ERROR,
                # ENHANCE_YOUR_CALM for an oversized header block, ...): send it, close.
                _server_log.info("http2 connection from %s closed: %s", self.client_ip, e)
                self._fail_connection()
                return
            for event in events:
                self._on_event(event)
                if self._dead:
                    break
        finally:
            self._in_receive = False
        self._flush()

    cdef void _on_event(self, event):
        t = type(event)
        if t is _h2_events.RequestReceived:
            self._on_request(event.stream_id, event.headers, event.stream_ended is not None)
        elif t is _h2_events.DataReceived:
            self._on_data(event.stream_id, event.data, event.flow_controlled_length)
        elif t is _h2_events.StreamEnded:
            self._on_stream_end(event.stream_id)
        elif t is _h2_events.WindowUpdated:
            self._on_window(event.stream_id)
        elif t is _h2_events.RemoteSettingsChanged:
            self._on_window(0)
        elif t is _h2_events.StreamReset:
            if event.remote_reset:
                self._on_reset(event.stream_id)
        elif t is _h2_events.ConnectionTerminated:
            # The client's GOAWAY. h2 sends nothing more after one (its connection state is
            # CLOSED), so the streams in flight cannot be answered: abandoned, and we close.
            self._goaway_sent = True
            self._fail_connection()
        elif t is _h2_events.TrailersReceived:
            pass            # request trailers are not forwarded (as on HTTP/1.1)

    # -- requests ------------------------------------------------------------------------------

    cdef void _on_request(self, int sid, list headers, bint ended):
        cdef ServerSettings st = self.settings
        if self._goaway_sent:
            # After our GOAWAY named the last stream we take: the client retries elsewhere.
            self._conn.reset_stream(sid, error_code=_H2Errors.REFUSED_STREAM)
            return
        cdef HttpRequest req = self._begin_request()
        self._cur = None        # HTTP/1.1's "request being read"; streams are ours
        req.http_version = "2"
        req.keep_alive = True
        req._headers_done = True
        cdef list fields = []
        cdef bytes method = None, path = None, authority = None, scheme = None, cookie = None
        cdef bytes name, value
        cdef bint has_host = False
        for item in headers:
            name = <bytes>(<tuple>item)[0]
            value = <bytes>(<tuple>item)[1]
            if name[:1] == b":":
                if name == b":method":
                    method = value
                elif name == b":path":
                    path = value
                elif name == b":authority":
                    authority = value
                elif name == b":scheme":
                    scheme = value
            elif name == b"cookie":
                # HTTP/2 splits cookies into fields; HTTP/1.1 upstreams expect one (RFC 9113
                # 8.2.3).
                cookie = value if cookie is None else cookie + b"; " + value
            else:
                if name == b"host":
                    has_host = True
                    _note_host(req, name, value)
                fields.append((name, value))
        if cookie is not None:
            fields.append((b"cookie", cookie))
        if not has_host and authority is not None:
            fields.insert(0, (b"host", authority))
            req.host = authority
            req._n_host = 1
        req.headers = fields
        req.method = method
        req.target = path if path is not None else b""
        cdef _H2Stream s = _H2Stream.__new__(_H2Stream)
        s.stream_id = sid
        s.req = req
        s.pending = []
        s.last_data = req.start_time
        self._streams[sid] = s
        req.request_id = write_new_request_id()
        cdef int status = self._check_head(req, method, path)
        if status:
            self._refuse(s, status, _H2_REFUSALS.get(status, "Bad request"))
            return
        if not ended:
            body = Http2RequestBody()
            body._h2 = self
            body._stream_id = sid
            if st.body_buffer_size > SRV_BODY_HIGH_WATER:
                body._high_water = st.body_buffer_size
            s.body = body
            req._body = body
            self._arm_timer(st.body_timeout)
            length = req.header(b"content-length")
            if length is not None and st.max_body_bytes > 0 and int(length) > st.max_body_bytes:
                self._refuse(s, 413, "Request Entity Too Large")
                return
            if req._expect_continue:
                # the client waits for this before it sends the body (RFC 9110 10.1.1)
                req._continue_sent = True
                self._conn.send_headers(sid, [(b":status", b"100")])
        else:
            self._dispatch_stream(s)

    cdef int _check_head(self, HttpRequest req, bytes method, bytes path) except -1:
        """What HTTP/1.1's _head_complete refuses, for a stream: 0 when it may go on."""
        cdef ServerSettings st = self.settings
        if method is None or path is None:
            return 400          # CONNECT (no :path) is not proxied; h2 refused the rest
        if len(path) > st.max_uri_bytes:
            return 414
        if req._n_host > 1:
            return 400
        cdef Py_ssize_t q = path.find(b"?")
        if q >= 0:
            req.path = path[:q]
            req.query = path[q + 1:]
        else:
            req.path = path
            req.query = b""
        if not path.startswith(b"/") and not (path == b"*" and method == b"OPTIONS"):
            return 400
        if len(req.host) > 0 and not authority_is_valid(req.host):
            return 400
        for item in req.headers:
            kind = header_kind(<bytes>(<tuple>item)[0])
            if kind == HK_EXPECT:
                if (<bytes>(<tuple>item)[1]).lower() != b"100-continue":
                    return 417
                req._expect_continue = True
            elif kind == HK_CONTENT_LENGTH:
                if not (<bytes>(<tuple>item)[1]).isdigit():
                    return 400
        return 0

    cdef void _on_data(self, int sid, bytes data, int flow_len):
        cdef _H2Stream s = self._streams.get(sid)
        if s is None or s.body is None or s.reset or s.body.eof or s.body.error is not None:
            # A stream we answered early or gave up: its bytes are dropped, but the
            # connection's window must not shrink for them.
            self._acknowledge(sid, flow_len)
            return
        cdef ServerSettings st = self.settings
        cdef Http2RequestBody body = s.body
        if st.max_body_bytes > 0 and body.received + len(data) > st.max_body_bytes:
            self._acknowledge(sid, flow_len)
            if s.dispatched:
                body._fail(413, "Request Entity Too Large")
            else:
                self._refuse(s, 413, "Request Entity Too Large")
            return
        body._unacked += flow_len - len(data)       # padding counts against the window too
        s.last_data = self._last_read
        body._feed(data)
        if not s.dispatched and body.received > st.body_buffer_size:
            self._dispatch_stream(s)

    cdef void _on_stream_end(self, int sid):
        cdef _H2Stream s = self._streams.get(sid)
        if s is None or s.body is None:
            return
        s.body._feed_eof()
        if not s.dispatched and not s.reset and s.resp is None:
            self._dispatch_stream(s)

    cdef void _dispatch_stream(self, _H2Stream s):
        cdef HttpRequest req = s.req
        cdef Http2RequestBody rb = s.body
        s.dispatched = True
        if rb is None:
            req.body = b""
        elif rb.eof:
            req.body = rb._take_all()
            rb._maybe_ack()
        else:
            req.body = None
            req.body_stream = rb
        cdef Http2Responder resp = Http2Responder.__new__(Http2Responder)
        resp._proto = self
        resp._h2 = self
        resp._stream = s
        resp.request = req
        s.resp = resp
        self.settings.n_requests += 1
        try:
            self.settings._handler.handle(req, resp)
        except BaseException:
            _server_log.error("request %s: handler failed\n%s", req.request_id.decode(),
                              _traceback.format_exc())
            if resp.finished:
                return
            if not resp.started:
                resp.send_error(500, "An unexpected error occurred")
            else:
                resp.abort()

    cdef void _refuse(self, _H2Stream s, int status, str message):
        """The gateway's own answer to a stream it will not hand to the handler."""
        s.dispatched = True
        cdef Http2Responder resp = Http2Responder.__new__(Http2Responder)
        resp._proto = self
        resp._h2 = self
        resp._stream = s
        resp.request = s.req
        s.resp = resp
        resp.send_error(status, message)

    # -- answers -------------------------------------------------------------------------------

    cdef void _send_headers(self, _H2Stream s, list headers, bint end):
        if s.reset or self._conn is None:
            return
        self._conn.send_headers(s.stream_id, headers, end_stream=end)
        if end:
            s.ended = True
        self._wrote()

    cdef void _send_data(self, _H2Stream s, bytes data, bint end):
        if s.reset or self._conn is None:
            return
        s.pending.append(data)
        s.pending_bytes += len(data)
        if end:
            s.end_pending = True
        self._pump(s)
        if s.pending_bytes >= H2_PENDING_HIGH_WATER:
            self._pause_producer(s)
        self._wrote()

    cdef void _end_stream(self, _H2Stream s):
        if s.reset or s.ended or self._conn is None:
            return
        s.end_pending = True
        self._pump(s)
        self._wrote()

    cdef void _pump(self, _H2Stream s):
        """Send what the client's windows allow; the rest waits for WINDOW_UPDATE."""
        conn = self._conn
        cdef int sid = s.stream_id
        cdef Py_ssize_t window, n, frame = conn.max_outbound_frame_size
        cdef bytes chunk
        while s.pending:
            window = conn.local_flow_control_window(sid)
            if window <= 0:
                break
            chunk = <bytes>s.pending[0]
            n = min(len(chunk), window, frame)
            if n < len(chunk):
                conn.send_data(sid, chunk[:n])
                s.pending[0] = chunk[n:]
            else:
                s.pending.pop(0)
                conn.send_data(sid, chunk, end_stream=s.end_pending and not s.pending)
                if s.end_pending and not s.pending:
                    s.ended = True
            s.pending_bytes -= n
        if s.pending:
            if s.blocked_since == 0:
                s.blocked_since = mono_now()
                self._arm_timer(self.settings.send_timeout)
        else:
            s.blocked_since = 0
            if s.end_pending and not s.ended:
                conn.end_stream(sid)
                s.ended = True
        if s.ended:
            self._forget_if_done(s)
        elif s.producer_paused and s.pending_bytes < H2_PENDING_HIGH_WATER \
                and not self._write_paused:
            self._resume_producer(s)

    cdef void _on_window(self, int sid):
        cdef _H2Stream s
        if sid != 0:
            s = self._streams.get(sid)
            if s is not None and s.pending and not s.reset:
                self._pump(s)
            return
        for s in list(self._streams.values()):
            if s.pending and not s.reset:
                self._pump(s)

    cdef void _pause_producer(self, _H2Stream s):
        if s.producer_paused or s.resp is None or s.resp.producer is None:
            return
        s.producer_paused = True
        s.resp.producer.pause_producing()

    cdef void _resume_producer(self, _H2Stream s):
        if not s.producer_paused:
            return
        s.producer_paused = False
        if s.resp is not None and s.resp.producer is not None:
            s.resp.producer.resume_producing()

    cdef void _response_done(self, Responder resp):
        """The handler's answer is complete (its bytes may still wait for the client's window):
        log it, release what the handler hung on it."""
        cdef Http2Responder r = <Http2Responder>resp
        cdef _H2Stream s = r._stream
        self._log(r.request, r)
        _release_handler_state(r.request, r)
        if s.body is not None and not s.body.eof and not s.reset and self._conn is not None:
            # Answered before the whole request arrived: the client may stop sending
            # (RFC 9113 8.1); what it sent meanwhile is dropped.
            s.body._fail(400, "answered before the request body ended")
            if s.ended:
                self._reset_stream(s, _H2Errors.NO_ERROR)
        self._forget_if_done(s)
        self._wrote()

    cdef void _response_aborted(self, Responder resp):
        cdef Http2Responder r = <Http2Responder>resp
        cdef _H2Stream s = r._stream
        self._log(r.request, r)
        _release_handler_state(r.request, r)
        if not s.reset:
            self._reset_stream(s, _H2Errors.INTERNAL_ERROR)
        self._forget_if_done(s)
        self._wrote()

    cdef void _reset_stream(self, _H2Stream s, int code):
        s.reset = True
        s.ended = True
        s.pending = []
        s.pending_bytes = 0
        if self._conn is not None:
            try:
                self._conn.reset_stream(s.stream_id, error_code=code)
            except _h2_exceptions.StreamClosedError:
                pass        # both sides had ended it already

    cdef void _forget_if_done(self, _H2Stream s):
        if s.ended and (s.resp is None or s.resp.finished):
            if self._streams.get(s.stream_id) is s:
                del self._streams[s.stream_id]
            if s.body is not None:
                s.body._h2 = None
            s.req = None
            s.resp = None
            s.body = None
            if not self._streams:
                self._idle_since = mono_now()
                if self._goaway_sent or self.settings.draining:
                    self._close_when_idle()

    # -- resets, attacks, errors -----------------------------------------------------------------

    cdef void _on_reset(self, int sid):
        cdef double now = mono_now()
        cdef Http2Limits lim = self._limits
        if now - self._resets_since > lim.reset_interval:
            self._resets_since = now
            self._resets = 0
        self._resets += 1
        cdef _H2Stream s = self._streams.get(sid)
        if s is not None:
            self._cancel_stream(s, "client reset the stream")
        if self._resets > lim.max_resets:
            # CVE-2023-44487: opening and resetting streams costs the client nothing and the
            # gateway a request each; past the budget the connection goes.
            _server_log.warning("http2 connection from %s: %d stream resets in %.0f s, closing",
                                self.client_ip, self._resets, lim.reset_interval)
            self._goaway(_H2Errors.ENHANCE_YOUR_CALM)

    cdef void _cancel_stream(self, _H2Stream s, str why):
        """The stream is gone (reset by the client, or the connection failed): the handler's
        work is abandoned as on a vanished HTTP/1.1 client."""
        s.reset = True
        s.ended = True
        s.pending = []
        s.pending_bytes = 0
        if s.body is not None:
            s.body._fail(400, why)
        cdef Http2Responder resp = s.resp
        if resp is not None and not resp.finished:
            if resp.producer is not None:
                resp.producer.client_gone()
            if not resp.finished:
                resp.abort()
        elif resp is None:
            self._forget_if_done(s)

    cdef void _abandon_streams(self):
        cdef _H2Stream s
        for s in list(self._streams.values()):
            if not s.reset:
                self._cancel_stream(s, "client closed the connection")

    cdef void _goaway(self, int code):
        """GOAWAY with `code`: every stream is abandoned, the connection closed."""
        if self._conn is not None and not self._goaway_sent:
            self._goaway_sent = True
            self._conn.close_connection(error_code=code)
        self._dead = True
        self._abandon_streams()
        self._flush()
        self._close_transport()

    cdef void _fail_connection(self):
        self._goaway_sent = True
        self._dead = True
        self._abandon_streams()
        self._flush()
        self._close_transport()

    cdef void _drain(self):
        """Graceful shutdown: GOAWAY naming the last stream we took; those finish, the
        connection closes once they have."""
        if self._conn is None or self.transport is None:
            return
        if not self._goaway_sent:
            # Written by hand: h2's close_connection() moves its state machine to CLOSED, after
            # which it refuses to send anything, so the streams in flight could not finish.
            self._goaway_sent = True
            self._flush()
            frame = _GoAwayFrame(0)
            frame.last_stream_id = self._conn.highest_inbound_stream_id
            frame.error_code = _H2Errors.NO_ERROR
            self._transport_write(frame.serialize())
        self._close_when_idle()

    cdef void _close_when_idle(self):
        if not self._streams:
            self._flush()
            self._close_transport()

    cdef bint _busy(self):
        return bool(self._streams)

    # -- writing -------------------------------------------------------------------------------

    cdef void _acknowledge(self, int sid, int n):
        """WINDOW_UPDATE for n bytes the client sent on stream sid (h2 updates only the
        connection's window when the stream is closed)."""
        if n <= 0 or self._conn is None or self._goaway_sent and self._dead:
            return
        self._conn.acknowledge_received_data(n, sid)
        self._wrote()

    cdef void _wrote(self):
        """Frames are queued: send them now, or at the end of this loop iteration when more
        are likely to follow (one socket write for a head and its body)."""
        if self._in_receive or self._flush_scheduled:
            return
        self._flush_scheduled = True
        self.loop.call_soon(self._flush_soon)

    def _flush_soon(self):
        self._flush_scheduled = False
        self._flush()

    cdef void _flush(self):
        if self._conn is None:
            return
        data = self._conn.data_to_send()
        if data and self.transport is not None and not self._closing:
            self._transport_write(data)

    cdef void _close_transport(self):
        # No lingering close: a GOAWAY has told the client where we stopped.
        if self.transport is None or self._closing:
            return
        self._closing = True
        self.transport.close()

    def _on_timer(self):
        """Keep-alive (no streams), body gaps, and streams the client's window keeps shut."""
        self._timer = None
        if self.transport is None:
            return
        cdef ServerSettings st = self.settings
        cdef double now = mono_now()
        cdef _H2Stream s
        if self._write_paused and st.send_timeout > 0 \
                and now >= self._write_paused_since + st.send_timeout:
            self._goaway(_H2Errors.NO_ERROR)
            return
        if not self._streams:
            if st.keepalive_timeout > 0 and now >= self._idle_since + st.keepalive_timeout:
                self._drain()
                return
            self._arm_timer_until(self._idle_since, st.keepalive_timeout)
            return
        for s in list(self._streams.values()):
            if s.reset:
                continue
            if s.blocked_since and st.send_timeout > 0 \
                    and now >= s.blocked_since + st.send_timeout:
                self._reset_stream(s, _H2Errors.CANCEL)
                self._cancel_stream(s, "send timeout")
            elif s.body is not None and not s.body.eof and s.body.error is None \
                    and s.body._unacked == 0 and not s.body._consumer_paused \
                    and st.body_timeout > 0 and now >= s.last_data + st.body_timeout:
                # Only while the client's window is open: a body we stopped acknowledging
                # is waiting on us, not on the client.
                if s.dispatched:
                    s.body._fail(408, "Request timeout")
                else:
                    self._refuse(s, 408, "Request timeout")
        self._flush()
        self._arm_timer(self._check_interval())

    cdef double _check_interval(self):
        """How often streams are looked at: a second, or sooner for shorter timeouts."""
        cdef ServerSettings st = self.settings
        cdef double every = 1.0
        if 0 < st.body_timeout < every:
            every = st.body_timeout
        if 0 < st.send_timeout < every:
            every = st.send_timeout
        return every


cdef dict _H2_REFUSALS = {400: "Bad request", 414: "Request-URI too large",
                          417: "Expectation failed", 413: "Request Entity Too Large"}


# -- which protocol a connection speaks ---------------------------------------------------------

cdef class _ProtocolNegotiation:
    """The first protocol of every connection on an http2 listener: picks HTTP/2 or HTTP/1.1
    (ALPN on TLS, the client preface on plaintext), hands the transport over and is gone."""

    def __init__(self, ServerSettings settings, loop):
        self.settings = settings
        self.loop = loop
        self._seen = b""

    def connection_made(self, transport):
        self.transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self._hand_over(ssl_object.selected_alpn_protocol() == "h2", b"")
            return
        # A client that connects and says nothing is closed like an idle keep-alive one.
        if self.settings.keepalive_timeout > 0:
            self._timer = self.loop.call_later(self.settings.keepalive_timeout, transport.close)

    def data_received(self, bytes data):
        self._seen += data
        cdef Py_ssize_t n = min(len(self._seen), len(H2_PREFACE))
        if self._seen[:n] != H2_PREFACE[:n]:
            self._hand_over(False, self._seen)
        elif n == len(H2_PREFACE):
            self._hand_over(True, self._seen)

    def eof_received(self):
        return False

    def connection_lost(self, exc):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.transport = None

    cdef void _hand_over(self, bint http2, bytes data):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        transport = self.transport
        self.transport = None
        proto = Http2ServerProtocol(self.settings, self.loop) if http2 \
            else HttpServerProtocol(self.settings, self.loop)
        transport.set_protocol(proto)
        proto.connection_made(transport)
        if data:
            proto.data_received(data)


ALPN_PROTOCOLS = ["h2", "http/1.1"]


def listener_protocol_factory(ServerSettings settings, loop, http2=None):
    """The protocol factory for loop.create_server: HTTP/1.1 alone, or HTTP/2 too (`http2`
    true for this listener; None: when settings.http2 is set). A TLS listener that says http2
    must offer ALPN_PROTOCOLS on its SSLContext (and on every context an SNI callback switches
    to: jqgate.tls does)."""
    if not (settings.http2 is not None if http2 is None else http2):
        return lambda: HttpServerProtocol(settings, loop)
    return lambda: _ProtocolNegotiation(settings, loop)
