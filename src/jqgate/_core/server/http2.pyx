# HTTP/2 to clients: one Http2ServerProtocol per connection, framing, HPACK and flow control by
# libnghttp2 (linked statically, see setup.py) driven through its server callbacks, each stream
# handed to the SAME handler as an HTTP/1.1 request (routing, DataKit plan, call nodes, the
# upstream pool over HTTP/1.1 keep-alive).
#
# The seam: a stream becomes an HttpRequest (http_version "2", the pseudo-headers turned into
# method / target / host) and an Http2Responder, the Responder whose send/start/write/end put
# HEADERS and DATA frames on its stream instead of HTTP/1.1 bytes on the socket. The
# HTTP/1.1 classes are untouched on their hot path: Responder's methods were already virtual
# (cpdef / cdef on a non-final class); the protocol subclasses HttpServerProtocol so the
# server's connection set, drain and access log take it as one of theirs.
#
# How nghttp2 is driven: bytes read go to nghttp2_session_mem_recv2, whose callbacks build the
# streams (on_begin_headers, on_header, on_frame_recv, on_data_chunk_recv, on_stream_close);
# what it has to send is taken with nghttp2_session_mem_send2 into one C buffer and written
# once per loop turn. A response body is a data provider reading the stream's pending bytes:
# nghttp2 takes them as the client's windows allow, so flow control and DATA framing are its
# own; with nothing pending the provider defers and a write resumes it. A pending piece of
# H2_NO_COPY_MIN bytes or more is not copied: nghttp2 hands us the DATA frame's header
# (send_data callback) and the piece follows it in the same writelines. Response heads are
# nghttp2_nv arrays (a relayed one points into the upstream's bytes); nghttp2 copies them and
# lower-cases the names. Request fields are sorted as the header callback gets them
# (_take_field), one Python object per name and value. Request bodies are acknowledged by hand
# (no automatic WINDOW_UPDATE): nghttp2_session_consume once the bytes are read or buffered
# within the high-water mark, so a slow consumer holds the client back.
#
# Which protocol a connection speaks is decided per listener (listener_protocol_factory):
# a listener whose ServerSettings has http2 set answers h2c with prior knowledge (the client
# preface "PRI * HTTP/2.0...") and HTTP/1.1 on plaintext, ALPN "h2" or "http/1.1" on TLS.
#
# Limits (Http2Limits, each with nginx's / Kong's default where there is one):
#   max_concurrent_streams 128   SETTINGS_MAX_CONCURRENT_STREAMS (nginx
#                                http2_max_concurrent_streams); a stream over it is refused
#                                alone with RST_STREAM REFUSED_STREAM, as nginx does
#   max_header_list_size None    SETTINGS_MAX_HEADER_LIST_SIZE, decoded bytes of one header
#                                block (HPACK bombs); None = the server's max_header_bytes
#                                (32 KiB). Over it: GOAWAY ENHANCE_YOUR_CALM
#   max_continuation_frames 64   CONTINUATION frames in one header block (CVE-2024-27316
#                                floods; nghttp2's max_continuations): GOAWAY PROTOCOL_ERROR
#   initial_window_size 65535    bytes a client may send on one stream before we acknowledge
#   max_resets 200, reset_interval 10.0 s
#                                client RST_STREAMs per connection per interval
#                                (CVE-2023-44487 rapid reset): one more and the connection
#                                gets GOAWAY ENHANCE_YOUR_CALM and is closed
# The server's own limits hold per stream as on HTTP/1.1: max_uri_bytes (414),
# max_body_bytes (413), body_buffer_size (a body up to it is handed over whole),
# body_timeout (408 / stream reset), send_timeout (a stream the client's window keeps shut
# is cancelled), keepalive_timeout (a connection without streams is closed with GOAWAY).

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from libc.string cimport memcpy, memcmp
from jqgate._core.includes.nghttp2 cimport *

cdef bytes H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
cdef Py_ssize_t H2_PENDING_HIGH_WATER = 65536   # unsent bytes of one stream before its producer pauses
# A response body piece at least this long goes to the socket by reference, not copied into a
# DATA frame and out again (the DATA frame header is written before it); shorter ones are
# cheaper copied than written as one more piece.
cdef Py_ssize_t H2_NO_COPY_MIN = 4096
# The flush buffer a connection keeps between flushes; a larger one is freed after the write.
cdef size_t H2_OUT_KEEP = 16384
# RFC 9113 6.5.2: a header list's size counts 32 bytes of overhead per field.
cdef Py_ssize_t H2_FIELD_OVERHEAD = 32


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


# -- nghttp2's callbacks: each hands over to the protocol its user_data names --------------------
# An exception must not cross the C library: each is logged and fails the connection.

cdef int _cb_begin_headers(nghttp2_session* session, const nghttp2_frame* frame,
                           void* user_data) noexcept:
    cdef Http2ServerProtocol p = <Http2ServerProtocol>user_data
    cdef _H2Stream s
    if frame.hd.type != NGHTTP2_HEADERS or frame.headers.cat != NGHTTP2_HCAT_REQUEST:
        return 0
    try:
        s = _H2Stream.__new__(_H2Stream)
        s.stream_id = frame.hd.stream_id
        s.fields = []
        s.pending = []
        p._streams[s.stream_id] = s
        # Header blocks do not interleave (RFC 9113 6.10): the header callbacks that follow
        # are this stream's, no lookup each.
        p._head_stream = s
        return 0
    except BaseException:
        return _callback_failed(p)


cdef int _cb_header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                    size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                    void* user_data) noexcept:
    cdef Http2ServerProtocol p = <Http2ServerProtocol>user_data
    cdef _H2Stream s
    if frame.hd.type != NGHTTP2_HEADERS or frame.headers.cat != NGHTTP2_HCAT_REQUEST:
        return 0            # request trailers are not forwarded (as on HTTP/1.1)
    try:
        s = p._head_stream
        if s is None or s.stream_id != frame.hd.stream_id:
            s = p._streams.get(frame.hd.stream_id)
            if s is None:
                return 0
        s.field_bytes += <Py_ssize_t>(namelen + valuelen) + H2_FIELD_OVERHEAD
        if s.field_bytes > p._header_list_size:
            # An HPACK bomb (or just too much): a few bytes on the wire decode to this.
            _server_log.info("http2 connection from %s: header list over %d bytes, closing",
                             p.client_ip, p._header_list_size)
            nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM)
            p._dead = True
            return NGHTTP2_ERR_CALLBACK_FAILURE
        _take_field(s, <const char*>name, namelen, <const char*>value, valuelen)
        return 0
    except BaseException:
        return _callback_failed(p)


cdef inline bint _is(const char* s, size_t n, const char* name, size_t name_len) noexcept:
    return n == name_len and memcmp(s, name, n) == 0


cdef int _take_field(_H2Stream s, const char* name, size_t namelen, const char* value,
                     size_t valuelen) except -1:
    """One request field, sorted as it arrives: pseudo-headers and cookies to the stream, the
    rest to its field list as HTTP/1.1 holds them, what _check_head refuses noted. nghttp2
    checked the fields already (RFC 9113 8.2: lower-case names, no connection fields,
    pseudo-headers first and once, no TE but "trailers") and refused the stream otherwise."""
    cdef bytes v
    if namelen and name[0] == 58:        # ':'
        if _is(name, namelen, b":method", 7):
            s.method = PyBytes_FromStringAndSize(value, valuelen)
        elif _is(name, namelen, b":path", 5):
            s.path = PyBytes_FromStringAndSize(value, valuelen)
        elif _is(name, namelen, b":authority", 10):
            s.authority = PyBytes_FromStringAndSize(value, valuelen)
        return 0                # :scheme: the listener says which
    v = PyBytes_FromStringAndSize(value, valuelen)
    if _is(name, namelen, b"cookie", 6):
        # HTTP/2 splits cookies into fields; HTTP/1.1 upstreams expect one (RFC 9113 8.2.3).
        s.cookie = v if s.cookie is None else s.cookie + b"; " + v
        return 0
    cdef int kind = header_kind_at(name, namelen)
    cdef size_t i
    if kind == HK_HOST:
        s.n_host += 1
        if s.n_host == 1:
            s.host = v
    elif kind == HK_EXPECT and not s.head_status:
        if v.lower() != b"100-continue":
            s.head_status = 417
        else:
            s.expect_continue = True
    elif kind == HK_CONTENT_LENGTH and not s.head_status:
        if valuelen == 0:
            s.head_status = 400
        for i in range(valuelen):
            if not 48 <= value[i] <= 57:     # '0' .. '9'
                s.head_status = 400
                break
    s.fields.append((PyBytes_FromStringAndSize(name, namelen), v))
    return 0


cdef int _cb_frame_recv(nghttp2_session* session, const nghttp2_frame* frame,
                        void* user_data) noexcept:
    cdef Http2ServerProtocol p = <Http2ServerProtocol>user_data
    cdef _H2Stream s
    cdef uint8_t t = frame.hd.type
    cdef bint end_stream = frame.hd.flags & NGHTTP2_FLAG_END_STREAM
    try:
        if t == NGHTTP2_DATA:
            if end_stream:
                p._on_stream_end(frame.hd.stream_id)
        elif t == NGHTTP2_HEADERS:
            if frame.headers.cat == NGHTTP2_HCAT_REQUEST:
                s = p._head_stream
                p._head_stream = None
                if s is None or s.stream_id != frame.hd.stream_id:
                    s = p._streams.get(frame.hd.stream_id)
                if s is not None:
                    p._on_request(s, end_stream)
            elif end_stream:            # trailers end the body
                p._on_stream_end(frame.hd.stream_id)
        elif t == NGHTTP2_RST_STREAM:
            p._on_reset(frame.hd.stream_id)
        elif t == NGHTTP2_SETTINGS:
            if frame.hd.flags & NGHTTP2_FLAG_ACK:
                p._on_settings_ack()
        elif t == NGHTTP2_GOAWAY:
            # The client is going: the streams it started finish, then we close.
            p._drain()
        return 0
    except BaseException:
        return _callback_failed(p)


cdef int _cb_frame_send(nghttp2_session* session, const nghttp2_frame* frame,
                        void* user_data) noexcept:
    cdef Http2ServerProtocol p = <Http2ServerProtocol>user_data
    cdef _H2Stream s
    if not frame.hd.flags & NGHTTP2_FLAG_END_STREAM:
        return 0
    if frame.hd.type != NGHTTP2_DATA and frame.hd.type != NGHTTP2_HEADERS:
        return 0
    try:
        s = p._streams.get(frame.hd.stream_id)
        if s is not None and s.reset_after_end and not s.reset:
            # Our answer is out but the client is still sending a body nobody reads: tell it
            # to stop (RFC 9113 8.1).
            s.reset = True
            nghttp2_session_submit_rst_stream_no_error(session, s.stream_id)
        return 0
    except BaseException:
        return _callback_failed(p)


cdef inline int nghttp2_session_submit_rst_stream_no_error(nghttp2_session* session,
                                                           int32_t sid) noexcept:
    return nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, sid, NGHTTP2_NO_ERROR)


cdef int _cb_data_chunk(nghttp2_session* session, uint8_t flags, int32_t stream_id,
                        const uint8_t* data, size_t length, void* user_data) noexcept:
    cdef Http2ServerProtocol p = <Http2ServerProtocol>user_data
    try:
        p._on_data(stream_id, PyBytes_FromStringAndSize(<char*>data, length), <int>length)
        return 0
    except BaseException:
        return _callback_failed(p)


cdef int _cb_stream_close(nghttp2_session* session, int32_t stream_id, uint32_t error_code,
                          void* user_data) noexcept:
    cdef Http2ServerProtocol p = <Http2ServerProtocol>user_data
    try:
        p._on_stream_close(stream_id)
        return 0
    except BaseException:
        return _callback_failed(p)


cdef nghttp2_ssize _cb_read_body(nghttp2_session* session, int32_t stream_id, uint8_t* buf,
                                 size_t length, uint32_t* data_flags,
                                 nghttp2_data_source* source, void* user_data) noexcept:
    """The data provider of every response body: what the stream has pending, as much as
    nghttp2 asks for (its windows and frame size already applied)."""
    cdef Http2ServerProtocol p = <Http2ServerProtocol>user_data
    cdef _H2Stream s
    cdef bint eof = False
    cdef Py_ssize_t n
    try:
        s = p._streams.get(stream_id)
        if s is None or s.reset:
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE
        if s.pending and PyBytes_GET_SIZE(<bytes>s.pending[0]) - s.pending_at >= H2_NO_COPY_MIN:
            n = p._take_piece(s, length, &eof)
            data_flags[0] |= NGHTTP2_DATA_FLAG_NO_COPY      # _cb_send_data writes it
        else:
            n = p._take(s, buf, length, &eof)
        if eof:
            data_flags[0] |= NGHTTP2_DATA_FLAG_EOF
        elif n == 0:
            s.deferred = True
            return NGHTTP2_ERR_DEFERRED
        return n
    except BaseException:
        _server_log.error("http2 data source failed\n%s", _traceback.format_exc())
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE


cdef int _cb_send_data(nghttp2_session* session, nghttp2_frame* frame, const uint8_t* framehd,
                       size_t length, nghttp2_data_source* source, void* user_data) noexcept:
    """A DATA frame whose payload _cb_read_body left uncopied: its 9-byte header into the
    flush buffer, then the piece itself as the next piece of the write (no padding: we set
    no padding callback)."""
    cdef Http2ServerProtocol p = <Http2ServerProtocol>user_data
    cdef _H2Stream s
    try:
        s = p._streams.get(frame.hd.stream_id)
        if s is None or s.nocopy is None:
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE    # nghttp2 resets that stream
        piece = s.nocopy
        s.nocopy = None
        p._out_add(<const char*>framehd, 9)
        p._out_cut()
        p._out_pieces.append(piece)
        return 0
    except BaseException:
        return _callback_failed(p)


cdef int _callback_failed(Http2ServerProtocol p) noexcept:
    try:
        _server_log.error("http2 connection from %s: callback failed\n%s", p.client_ip,
                          _traceback.format_exc())
        p._dead = True
    except BaseException:
        pass
    return NGHTTP2_ERR_CALLBACK_FAILURE


cdef nghttp2_session_callbacks* _callbacks = NULL


cdef nghttp2_session_callbacks* _server_callbacks() except NULL:
    """One callbacks table for every connection (nghttp2 copies it into each session)."""
    global _callbacks
    if _callbacks is NULL:
        if nghttp2_session_callbacks_new(&_callbacks) != 0:
            raise MemoryError()
        nghttp2_session_callbacks_set_on_begin_headers_callback(_callbacks, _cb_begin_headers)
        nghttp2_session_callbacks_set_on_header_callback(_callbacks, _cb_header)
        nghttp2_session_callbacks_set_on_frame_recv_callback(_callbacks, _cb_frame_recv)
        nghttp2_session_callbacks_set_on_frame_send_callback(_callbacks, _cb_frame_send)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(_callbacks, _cb_data_chunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(_callbacks, _cb_stream_close)
        nghttp2_session_callbacks_set_send_data_callback(_callbacks, _cb_send_data)
    return _callbacks


# -- response heads as nghttp2_nv arrays --------------------------------------------------------
# nghttp2 copies the fields on submit and lower-cases the names as it copies (nghttp2_nv_array_
# copy): names go in as the upstream or the handler spelled them, values as they are.

# A relayed head's fields go in a stack array; a longer one (the scanner takes at most 64
# upstream fields, the handler's extra ones come on top) in one from the heap.
cdef enum:
    H2_STACK_FIELDS = 80


cdef inline bint _h2_forbidden_at(const char* name, Py_ssize_t n) noexcept:
    """A field HTTP/2 forbids in a message (RFC 9113 8.2.2: the connection's business, not a
    stream's), by the name table of the HTTP/1.1 path."""
    cdef int kind = header_kind_at(name, n)
    return kind == HK_CONNECTION or kind == HK_KEEP_ALIVE or kind == HK_TRANSFER_ENCODING \
        or kind == HK_UPGRADE or kind == HK_TE \
        or (kind == HK_PROXY_ANY and n == 16 and _names_equal(name, b"proxy-connection", 16))


cdef inline void _nv(nghttp2_nv* nv, const char* name, size_t namelen, const char* value,
                     size_t valuelen, uint8_t flags) noexcept:
    nv.name = <uint8_t*>name
    nv.namelen = namelen
    nv.value = <uint8_t*>value
    nv.valuelen = valuelen
    nv.flags = flags


cdef inline size_t _nv_bytes(nghttp2_nv* nv, bytes name, bytes value, uint8_t flags) noexcept:
    """A field from two bytes objects the caller keeps alive until the submit."""
    _nv(nv, PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name), PyBytes_AS_STRING(value),
        PyBytes_GET_SIZE(value), flags)
    return 1


cdef size_t _c_digits(char* out, long long v) noexcept:
    """v >= 0 in decimal into out (20 bytes at least); its length."""
    cdef char tmp[24]
    cdef size_t n = 0, i
    while True:
        tmp[n] = <char>(48 + v % 10)
        n += 1
        v //= 10
        if v == 0:
            break
    for i in range(n):
        out[i] = tmp[n - 1 - i]
    return n


cdef int _submit_nv(nghttp2_session* session, int sid, const nghttp2_nv* nva, size_t n,
                    bint with_body, bint informational) noexcept:
    """HEADERS for stream sid; with_body: DATA follows from the stream's pending bytes (the
    data provider). 0, or nghttp2's error."""
    cdef nghttp2_data_provider2 provider
    cdef int rv
    if informational:
        rv = nghttp2_submit_headers(session, NGHTTP2_FLAG_NONE, sid, NULL, nva, n, NULL)
    elif with_body:
        provider.source.ptr = NULL
        provider.read_callback = _cb_read_body
        rv = nghttp2_submit_response2(session, sid, nva, n, &provider)
    else:
        rv = nghttp2_submit_response2(session, sid, nva, n, NULL)
    return 0 if rv >= 0 else rv


cdef int _submit_head(nghttp2_session* session, int sid, list head, bint with_body,
                      bint informational) except -1:
    """_submit_nv from (name, value) byte pairs."""
    cdef Py_ssize_t n = len(head), i = 0
    cdef nghttp2_nv* nva = <nghttp2_nv*>PyMem_Malloc(n * sizeof(nghttp2_nv) + 1)
    cdef int rv
    if nva is NULL:
        raise MemoryError()
    try:
        for item in head:
            _nv_bytes(&nva[i], <bytes>(<tuple>item)[0], <bytes>(<tuple>item)[1],
                      NGHTTP2_NV_FLAG_NONE)
            i += 1
        rv = _submit_nv(session, sid, nva, n, with_body, informational)
    finally:
        PyMem_Free(nva)
    return rv


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
            name = <bytes>pair[0]
            if not _h2_forbidden_at(PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name)):
                out.append(pair)        # nghttp2 lower-cases the name (see _nv)
        self._h2_framing(out, status, content_length)
        return out

    cdef void _h2_framing(self, list out, int status, long long content_length):
        cdef HttpRequest req = self.request
        cdef ServerSettings st = self._h2.settings
        if st.request_id_header is not None:
            out.append((st.request_id_header, req.request_id))
        self._no_body = req.method == b"HEAD" or status == 204 or status == 304 or status < 200
        if content_length >= 0 and not (status == 204 or status == 304 or status < 200):
            out.append((b"content-length", write_int(content_length)))

    cdef size_t _h2_framing_nv(self, void* nva_, size_t n, int status, long long content_length,
                               char* length_text):
        """_h2_framing into nva from index n (length_text: 24 bytes for Content-Length's
        digits); the new count."""
        cdef nghttp2_nv* nva = <nghttp2_nv*>nva_
        cdef HttpRequest req = self.request
        cdef ServerSettings st = self._h2.settings
        if st.request_id_header is not None:
            # Unique to each answer: indexing it in HPACK's table would only evict the fields
            # that do repeat.
            n += _nv_bytes(&nva[n], st.request_id_header, req.request_id,
                           NGHTTP2_NV_FLAG_NO_INDEX)
        self._no_body = req.method == b"HEAD" or status == 204 or status == 304 or status < 200
        if content_length >= 0 and not (status == 204 or status == 304 or status < 200):
            _nv(&nva[n], b"content-length", 14, length_text, _c_digits(length_text,
                content_length), NGHTTP2_NV_FLAG_NONE)
            n += 1
        return n

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
        # The nghttp2_nv array straight from the scanned head: its fields point into src (the
        # upstream's bytes, alive until the submit copies them), no Python object per field.
        cdef nghttp2_nv stack_nva[H2_STACK_FIELDS]
        cdef nghttp2_nv* nva = stack_nva
        cdef size_t cap = scanned_head.n_fields + len(extra) + 3, n = 1
        cdef char status_text[24]
        cdef char length_text[24]
        cdef const jqg_field* f
        cdef int i
        cdef unsigned int vlen
        cdef tuple pair
        cdef list held = None       # pairs _write_pair had to build: alive until the submit
        if cap > H2_STACK_FIELDS:
            nva = <nghttp2_nv*>PyMem_Malloc(cap * sizeof(nghttp2_nv))
            if nva is NULL:
                raise MemoryError()
        try:
            _nv(&nva[0], b":status", 7, status_text, _c_digits(status_text, status),
                NGHTTP2_NV_FLAG_NONE)
            for i in range(scanned_head.n_fields):
                f = &scanned_head.fields[i]
                if not keep[i] or _h2_forbidden_at(src + f.name_at, f.name_len):
                    continue
                # The scanner keeps a value's trailing whitespace (as llhttp does); HTTP/2
                # forbids it (RFC 9113 8.2.1) and clients refuse the answer for it.
                vlen = f.value_len
                while vlen and (src[f.value_at + vlen - 1] == 32 or src[f.value_at + vlen - 1] == 9):
                    vlen -= 1
                _nv(&nva[n], src + f.name_at, f.name_len, src + f.value_at, vlen,
                    NGHTTP2_NV_FLAG_NONE)
                n += 1
            for item in extra:
                pair = _write_pair(item)
                if pair is not item:
                    if held is None:
                        held = []
                    held.append(pair)
                if not _h2_forbidden_at(PyBytes_AS_STRING(<bytes>pair[0]),
                                        PyBytes_GET_SIZE(<bytes>pair[0])):
                    n += _nv_bytes(&nva[n], <bytes>pair[0], <bytes>pair[1], NGHTTP2_NV_FLAG_NONE)
            n = self._h2_framing_nv(nva, n, status, content_length, length_text)
            self.started = True
            self.status = status
            self._h2._send_nv(self._stream, nva, n, False)
        finally:
            if nva != stack_nva:
                PyMem_Free(nva)
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
        self._header_list_size = lim.max_header_list_size or st.max_header_bytes
        cdef nghttp2_option* option = NULL
        cdef nghttp2_session* session = NULL
        if nghttp2_option_new(&option) != 0:
            raise MemoryError()
        # Request bodies are acknowledged as they are read (Http2RequestBody), not on arrival.
        nghttp2_option_set_no_auto_window_update(option, 1)
        nghttp2_option_set_max_continuations(option, lim.max_continuation_frames)
        # Our own rapid-reset budget (_on_reset) decides; nghttp2's is kept above it.
        nghttp2_option_set_stream_reset_rate_limit(option, max(1000, 2 * lim.max_resets + 2), 33)
        rv = nghttp2_session_server_new2(&session, _server_callbacks(), <void*>self, option)
        nghttp2_option_del(option)
        if rv != 0:
            raise MemoryError()
        self._session = session
        cdef nghttp2_settings_entry iv[3]
        iv[0].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS
        iv[0].value = lim.max_concurrent_streams
        iv[1].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE
        iv[1].value = self._header_list_size
        iv[2].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE
        iv[2].value = lim.initial_window_size
        nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, iv, 3)
        self._flush()

    def __dealloc__(self):
        if self._session is not NULL:
            nghttp2_session_del(<nghttp2_session*>self._session)
            self._session = NULL
        PyMem_Free(self._out)
        self._out = NULL

    def connection_lost(self, exc):
        self._abandon_streams()
        HttpServerProtocol.connection_lost(self, exc)
        self._streams = {}
        self._head_stream = None
        # The session goes with the connection: nothing is sent or received any more.
        if self._session is not NULL:
            nghttp2_session_del(<nghttp2_session*>self._session)
            self._session = NULL

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
        if self._dead or self._session is NULL:
            return
        self._last_read = mono_now()
        self._in_receive = True
        cdef nghttp2_ssize rv
        try:
            rv = nghttp2_session_mem_recv2(<nghttp2_session*>self._session,
                                           <const uint8_t*>PyBytes_AS_STRING(data),
                                           PyBytes_GET_SIZE(data))
        finally:
            self._in_receive = False
        if rv < 0:
            # A fatal error: nghttp2 sends nothing by itself for these, so the GOAWAY is ours
            # (a callback that failed on purpose queued its own code first).
            if rv == NGHTTP2_ERR_FLOODED:
                code = NGHTTP2_ENHANCE_YOUR_CALM
            elif rv == NGHTTP2_ERR_CALLBACK_FAILURE:
                code = NGHTTP2_INTERNAL_ERROR
            else:
                code = NGHTTP2_PROTOCOL_ERROR
            if self._session is not NULL:
                nghttp2_session_terminate_session(<nghttp2_session*>self._session, code)
            _server_log.info("http2 connection from %s closed: %s", self.client_ip,
                             nghttp2_strerror(<int>rv).decode())
            self._fail_connection()
            return
        self._flush()

    # -- requests ------------------------------------------------------------------------------

    cdef void _on_request(self, _H2Stream s, bint ended):
        cdef ServerSettings st = self.settings
        cdef int sid = s.stream_id
        cdef HttpRequest req = self._begin_request()
        self._cur = None        # HTTP/1.1's "request being read"; streams are ours
        req.http_version = "2"
        req.keep_alive = True
        req._headers_done = True
        # The header callback sorted the fields already (_take_field).
        cdef list fields = s.fields
        s.fields = None
        if s.cookie is not None:
            fields.append((b"cookie", s.cookie))
        if s.n_host:
            req.host = s.host
            req._n_host = s.n_host
        elif s.authority is not None:
            fields.insert(0, (b"host", s.authority))
            req.host = s.authority
            req._n_host = 1
        req.set_headers(fields)
        req.method = s.method
        req.target = s.path if s.path is not None else b""
        s.req = req
        s.last_data = req.start_time
        req.request_id = write_new_request_id()
        cdef int status = self._check_head(s, req)
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
                _submit_head(<nghttp2_session*>self._session, sid, [(b":status", b"100")],
                             False, True)
        else:
            self._dispatch_stream(s)

    cdef int _check_head(self, _H2Stream s, HttpRequest req) except -1:
        """What HTTP/1.1's _head_complete refuses, for a stream: 0 when it may go on."""
        cdef ServerSettings st = self.settings
        cdef bytes method = s.method, path = s.path
        if method is None or path is None:
            return 400          # CONNECT (no :path) is not proxied; nghttp2 refused the rest
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
        if s.head_status:
            return s.head_status            # a bad Expect (417) or Content-Length (400)
        req._expect_continue = s.expect_continue
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
        """The response head; `end`: no body follows (END_STREAM on the HEADERS)."""
        if s.reset or self._session is NULL:
            return
        rv = _submit_head(<nghttp2_session*>self._session, s.stream_id, headers, not end, False)
        self._sent_head(s, rv, end)

    cdef void _send_nv(self, _H2Stream s, const void* nva, size_t n, bint end):
        """_send_headers from an nghttp2_nv array."""
        if s.reset or self._session is NULL:
            return
        rv = _submit_nv(<nghttp2_session*>self._session, s.stream_id, <const nghttp2_nv*>nva,
                        n, not end, False)
        self._sent_head(s, rv, end)

    cdef void _sent_head(self, _H2Stream s, int rv, bint end):
        if rv != 0:
            _server_log.info("http2 stream %d: response not sent: %s", s.stream_id,
                             nghttp2_strerror(rv).decode())
            s.reset = True
        if end:
            s.ended = True
        self._wrote()

    cdef void _send_data(self, _H2Stream s, bytes data, bint end):
        if s.reset or self._session is NULL:
            return
        if not s.pending_bytes:
            s.blocked_since = mono_now()
            self._arm_timer(self.settings.send_timeout)
        s.pending.append(data)
        s.pending_bytes += len(data)
        if end:
            s.end_pending = True
        self._resume(s)
        if s.pending_bytes >= H2_PENDING_HIGH_WATER:
            self._pause_producer(s)
        self._wrote()

    cdef void _end_stream(self, _H2Stream s):
        if s.reset or s.ended or self._session is NULL:
            return
        s.end_pending = True
        self._resume(s)
        self._wrote()

    cdef void _resume(self, _H2Stream s):
        """New bytes (or the end) for a data source that had said "nothing yet"."""
        if s.deferred:
            s.deferred = False
            nghttp2_session_resume_data(<nghttp2_session*>self._session, s.stream_id)

    cdef Py_ssize_t _take(self, _H2Stream s, unsigned char* buf, size_t length, bint* eof):
        """Copy up to `length` pending bytes into a DATA frame nghttp2 is building."""
        cdef Py_ssize_t n = 0, k
        cdef bytes chunk
        while s.pending and <size_t>n < length:
            chunk = <bytes>s.pending[0]
            k = min(<Py_ssize_t>length - n, PyBytes_GET_SIZE(chunk) - s.pending_at)
            memcpy(buf + n, PyBytes_AS_STRING(chunk) + s.pending_at, k)
            n += k
            s.pending_at += k
            if s.pending_at == PyBytes_GET_SIZE(chunk):
                s.pending.pop(0)
                s.pending_at = 0
        self._took(s, n, eof)
        return n

    cdef Py_ssize_t _take_piece(self, _H2Stream s, size_t length, bint* eof):
        """_take without the copy: up to `length` bytes of the first pending chunk, kept in
        s.nocopy for _cb_send_data (a memoryview when it is part of the chunk)."""
        cdef bytes chunk = <bytes>s.pending[0]
        cdef Py_ssize_t at = s.pending_at
        cdef Py_ssize_t n = min(<Py_ssize_t>length, PyBytes_GET_SIZE(chunk) - at)
        if at == 0 and n == PyBytes_GET_SIZE(chunk):
            s.nocopy = chunk
        else:
            s.nocopy = memoryview(chunk)[at:at + n]
        s.pending_at += n
        if s.pending_at == PyBytes_GET_SIZE(chunk):
            s.pending.pop(0)
            s.pending_at = 0
        self._took(s, n, eof)
        return n

    cdef void _took(self, _H2Stream s, Py_ssize_t n, bint* eof):
        """Bookkeeping once nghttp2 took n pending bytes of s into a DATA frame."""
        s.pending_bytes -= n
        if n:
            s.blocked_since = mono_now() if s.pending_bytes else 0
        if not s.pending and s.end_pending:
            eof[0] = True
            s.ended = True
        if s.producer_paused and s.pending_bytes < H2_PENDING_HIGH_WATER \
                and not self._write_paused:
            self._resume_producer(s)

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
        if s.body is not None and not s.body.eof and not s.reset and self._session is not NULL:
            # Answered before the whole request arrived: the client may stop sending
            # (RFC 9113 8.1); what it sent meanwhile is dropped. RST_STREAM NO_ERROR once the
            # answer's END_STREAM is out (_cb_frame_send).
            s.body._fail(400, "answered before the request body ended")
            s.reset_after_end = True
        self._forget_if_done(s)
        self._wrote()

    cdef void _response_aborted(self, Responder resp):
        cdef Http2Responder r = <Http2Responder>resp
        cdef _H2Stream s = r._stream
        self._log(r.request, r)
        _release_handler_state(r.request, r)
        if not s.reset:
            self._reset_stream(s, NGHTTP2_INTERNAL_ERROR)
        self._forget_if_done(s)
        self._wrote()

    cdef void _reset_stream(self, _H2Stream s, int code):
        s.reset = True
        s.ended = True
        s.pending = []
        s.pending_at = 0
        s.pending_bytes = 0
        if self._session is not NULL:
            nghttp2_submit_rst_stream(<nghttp2_session*>self._session, NGHTTP2_FLAG_NONE,
                                      s.stream_id, code)
        self._wrote()

    cdef void _forget_if_done(self, _H2Stream s):
        """Drop what the stream holds once its answer is complete; nghttp2 closes the stream
        itself (_on_stream_close) when both sides have ended it."""
        if s.ended and (s.resp is None or s.resp.finished):
            if s.body is not None:
                s.body._h2 = None
            s.req = None
            s.resp = None
            s.body = None

    cdef void _on_stream_close(self, int sid):
        cdef _H2Stream s = self._streams.pop(sid, None)
        if s is None:
            return
        if s is self._head_stream:
            self._head_stream = None
        if not s.reset and not (s.ended and (s.resp is None or s.resp.finished)):
            self._cancel_stream(s, "stream closed")
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
            self._goaway(NGHTTP2_ENHANCE_YOUR_CALM)

    cdef void _on_settings_ack(self):
        # See includes/nghttp2.pxd: the acknowledged limit would make the stream over it a
        # connection error; left at "unlimited", nghttp2 goes on refusing that stream alone
        # against the value we advertised.
        if self._session is not NULL:
            (<nghttp2_session*>self._session).local_settings.max_concurrent_streams = 0xffffffff

    cdef void _cancel_stream(self, _H2Stream s, str why):
        """The stream is gone (reset by the client, or the connection failed): the handler's
        work is abandoned as on a vanished HTTP/1.1 client."""
        s.reset = True
        s.ended = True
        s.pending = []
        s.pending_at = 0
        s.pending_bytes = 0
        if s.body is not None:
            s.body._fail(400, why)
        cdef Http2Responder resp = s.resp
        if resp is not None and not resp.finished:
            if resp.producer is not None:
                resp.producer.client_gone()
            if not resp.finished:
                resp.abort()

    cdef void _abandon_streams(self):
        cdef _H2Stream s
        for s in list(self._streams.values()):
            if not s.reset:
                self._cancel_stream(s, "client closed the connection")

    cdef void _goaway(self, int code):
        """GOAWAY with `code`: every stream is abandoned, the connection closed."""
        if self._session is not NULL and not self._goaway_sent:
            self._goaway_sent = True
            nghttp2_session_terminate_session(<nghttp2_session*>self._session, code)
        self._dead = True
        self._abandon_streams()
        if not self._in_receive:
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
        connection closes once they have (nghttp2 ignores streams opened after it)."""
        if self._session is NULL or self.transport is None:
            return
        cdef nghttp2_session* session = <nghttp2_session*>self._session
        if not self._goaway_sent:
            self._goaway_sent = True
            nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE,
                                  nghttp2_session_get_last_proc_stream_id(session),
                                  NGHTTP2_NO_ERROR, NULL, 0)
            self._wrote()
        if not self._in_receive:
            self._close_when_idle()

    cdef void _close_when_idle(self):
        if not self._streams and not self._in_receive:
            self._flush()
            self._close_transport()

    cdef bint _busy(self):
        return bool(self._streams)

    # -- writing -------------------------------------------------------------------------------

    cdef void _acknowledge(self, int sid, int n):
        """WINDOW_UPDATE for n bytes the client sent on stream sid (the connection's window
        only, when the stream is gone)."""
        if n <= 0 or self._session is NULL or self._goaway_sent and self._dead:
            return
        nghttp2_session_consume(<nghttp2_session*>self._session, sid, n)
        self._wrote()

    cdef void _wrote(self):
        """Frames are queued: send them at the end of this loop iteration (one socket write
        for a head and its body), or after the bytes being received are processed."""
        if self._in_receive or self._flush_scheduled:
            return
        self._flush_scheduled = True
        self.loop.call_soon(self._flush_soon)

    def _flush_soon(self):
        self._flush_scheduled = False
        self._flush()

    cdef void _flush(self):
        """Everything nghttp2 has to send, in one write; the connection is closed once nghttp2
        is done with it (after a GOAWAY that ends it)."""
        if self._session is NULL or self._in_receive:
            return
        cdef nghttp2_session* session = <nghttp2_session*>self._session
        cdef const uint8_t* data
        cdef nghttp2_ssize n
        cdef list pieces
        self._out_len = 0
        self._out_pieces = None
        self._in_receive = True         # callbacks run from mem_send too: no flush from there
        try:
            while True:
                n = nghttp2_session_mem_send2(session, &data)
                if n <= 0:
                    break
                self._out_add(<const char*>data, n)
        finally:
            self._in_receive = False
        cdef bint writable = self.transport is not None and not self._closing
        if self._out_pieces is not None:
            self._out_cut()
            pieces = self._out_pieces
            self._out_pieces = None
            if writable:
                self.transport.writelines(pieces)
        elif self._out_len and writable:
            self._transport_write(PyBytes_FromStringAndSize(self._out, self._out_len))
        self._out_len = 0
        if self._out_cap > H2_OUT_KEEP:
            PyMem_Free(self._out)
            self._out = NULL
            self._out_cap = 0
        if n < 0 or (not nghttp2_session_want_read(session)
                     and not nghttp2_session_want_write(session)):
            self._dead = True
            self._abandon_streams()
            self._close_transport()
        elif self._goaway_sent and not self._streams:
            self._close_transport()

    cdef int _out_add(self, const char* data, size_t n) except -1:
        cdef size_t cap = self._out_cap
        cdef char* grown
        if self._out_len + n > cap:
            cap = max(self._out_len + n, 2 * cap, 4096)
            grown = <char*>PyMem_Realloc(self._out, cap)
            if grown is NULL:
                raise MemoryError()
            self._out = grown
            self._out_cap = cap
        memcpy(self._out + self._out_len, data, n)
        self._out_len += n
        return 0

    cdef void _out_cut(self):
        """What _out holds becomes the next piece of the write."""
        if self._out_pieces is None:
            self._out_pieces = []
        if self._out_len:
            self._out_pieces.append(PyBytes_FromStringAndSize(self._out, self._out_len))
            self._out_len = 0

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
            self._goaway(NGHTTP2_NO_ERROR)
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
            if s.pending_bytes and s.blocked_since and st.send_timeout > 0 \
                    and now >= s.blocked_since + st.send_timeout:
                self._reset_stream(s, NGHTTP2_CANCEL)
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
