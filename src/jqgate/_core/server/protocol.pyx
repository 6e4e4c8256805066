# The HTTP/1.1 server: one HttpServerProtocol per client connection, on uvloop, parsing with
# llhttp (httptools.HttpRequestParser) in its strict mode.
#
# Handler interface (what the gateway / DataKit executor plugs in):
#
#   settings = ServerSettings(handler)          # handler: a RequestHandler subclass, or any
#                                               # callable handler(request, responder)
#   loop.create_server(lambda: HttpServerProtocol(settings), sock=...)
#
#   handler.handle(req: HttpRequest, resp: Responder) is called once per request, in arrival
#   order, never two at a time on one connection (pipelined requests wait their turn). It may
#   answer at once or later (from an upstream callback); it must eventually call
#     resp.send(status, headers, body)                      -- whole answer at once, or
#     resp.start(status, headers, content_length=-1)        -- head (length unknown -> chunked)
#       resp.write(chunk) ... resp.end()                    -- then the body, streamed
#       resp.flush()                                        -- start() keeps the head back so
#                                                              it leaves with the first body
#                                                              bytes; flush() sends it alone
#     resp.send_error(status, message)                      -- the gateway's own JSON error
#     resp.abort()                                          -- give up: close the connection
#   Framing headers (Content-Length, Transfer-Encoding, Connection) are the responder's job: the
#   handler must not pass hop-by-hop headers. X-Kong-Request-Id is added to every response.
#
#   The request body: when the whole body arrives within settings.body_buffer_size bytes, the
#   handler sees it in req.body (bytes; b"" when none) and req.body_stream is None. Otherwise
#   (dispatched only once that many bytes arrived, so a trickling client holds nothing)
#   req.body is None and req.body_stream is a RequestBody to read with
#     body_stream.pipe(consumer)   -- consumer: a BodyConsumer (on_body_data/end/error), or
#     body_stream.read_all(cb)     -- cb(bytes) once complete, cb(None) if the body failed.
#   Back-pressure: a slow consumer calls body_stream.pause()/resume(); a slow client socket is
#   reported to resp.producer (a ResponseProducer) through pause_producing()/resume_producing(),
#   and a vanished client through client_gone().
#
# Errors never leak: a handler exception is logged and answered with a JSON 500 (or the
# connection is closed when the head was already sent). Malformed requests (anything llhttp's
# strict mode rejects: CL+TE, duplicate Content-Length, bad chunk sizes, obs-fold, bare LF,
# invalid header bytes) get 400 and the connection is closed; they never reach the handler
# unless their body was already streaming, in which case the handler's body consumer sees
# on_body_error() and the upstream request is abandoned.

import logging as _logging
import traceback as _traceback
from collections import deque as _deque

_server_log = _logging.getLogger("jqgate.server")

cdef class AccessObserver:
    """An access_log the server calls as a C method (RequestObserver in observe/metrics.pyx)
    instead of through a Python call; any other callable works too."""

    cdef int observe(self, HttpRequest req, Responder resp) except -1:
        return 0


cdef class ServerSettings:
    """Everything a connection needs, shared by all connections of a server.

    Limits (each failing only its own request; defaults as nginx / Kong):
      max_uri_bytes 8192 (414), max_header_bytes 32768 for the whole head (431),
      max_body_bytes 0 = unlimited, Kong's default (413), body_buffer_size 65536: a body up to
      this size is handed to the handler whole, a larger one streams.
    Timeouts, in seconds (408 and the connection closed; a body already streaming to the
    handler fails there instead, and its upstream request is abandoned):
      header_timeout 60: the whole request head, from its first byte (a deadline, not a gap:
        a head that keeps dripping meets it too);
      body_timeout 60: the longest gap between two reads of the request body, nginx's
        client_body_timeout (while the gateway itself has stopped reading, the gap is not
        the client's and is not counted);
      keepalive_timeout 60: an idle keep-alive connection.
    A large body (over body_buffer_size) streams to the handler, which then holds an upstream
    connection for it; so from then on it must keep a minimum rate: at least body_min_rate
    bytes per second (default 1024; 0 = off) over each body_min_rate_window seconds (default
    10) during which the gateway was reading it. Below it the body fails like a timed-out one
    (408, its upstream request abandoned and that connection closed), so a client that sends a
    buffer's worth fast and then trickles holds an upstream connection for a window, not for
    as long as it likes (Apache's mod_reqtimeout MinRate; nginx has only the gap timeout).
    http2 (False): this listener also speaks HTTP/2 -- True, a dict of Http2Limits options or
      an Http2Limits; the listener's protocol factory is listener_protocol_factory
      (server/http2.pyx)."""

    def __init__(self, handler, max_uri_bytes=8192, max_header_bytes=32768, max_body_bytes=0,
                 body_buffer_size=65536, header_timeout=60.0, body_timeout=60.0,
                 keepalive_timeout=60.0, server_header=b"jqgate/0.1.0",
                 request_id_header=b"X-Kong-Request-Id", scheme="http", access_log=None,
                 send_timeout=60.0, body_min_rate=1024.0, body_min_rate_window=10.0,
                 http2=False):
        if body_min_rate < 0 or body_min_rate_window <= 0:
            raise ValueError("body_min_rate must be >= 0 and body_min_rate_window > 0")
        self.handler = handler
        self._handler = handler if isinstance(handler, RequestHandler) else _CallableHandler(handler)
        self.max_uri_bytes = max_uri_bytes
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.body_buffer_size = body_buffer_size
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.body_min_rate = body_min_rate
        self.body_min_rate_window = body_min_rate_window
        self.keepalive_timeout = keepalive_timeout
        # nginx's send_timeout (60 s): a client that stops reading its answer has the
        # connection closed, and whatever fed the answer (an upstream connection) released.
        self.send_timeout = send_timeout
        self.server_header = server_header
        self.request_id_header = request_id_header
        self.scheme = scheme
        self.access_log = access_log
        self.connections = set()
        self.draining = False
        self.http2 = http2_limits_of(http2)

    @property
    def access_log(self):
        return self._access_log

    @access_log.setter
    def access_log(self, access_log):
        self._access_log = access_log
        self._observer = access_log if isinstance(access_log, AccessObserver) else None

    def drain(self):
        """Graceful shutdown: idle connections close now, busy ones after their response."""
        self.draining = True
        cdef HttpServerProtocol proto
        for proto in list(self.connections):
            proto._drain()

    @property
    def busy(self):
        """Connections with a request in progress."""
        cdef HttpServerProtocol proto
        cdef int n = 0
        for proto in self.connections:
            if proto._busy():
                n += 1
        return n


cdef inline void _release_handler_state(HttpRequest req, Responder resp):
    """Once the answer is logged the server forgets what the handler hung on the request and
    the responder. The handler's objects point back at both (a proxied call holds its
    responder, a DataKit flow its request), so keeping them would leave a reference cycle per
    request for the cyclic collector; dropped here, everything is freed by reference count."""
    resp.producer = None
    resp.log_extra = None
    req.ctx = None


cdef inline void _note_host(HttpRequest req, bytes name, bytes value) noexcept:
    """Counts Host fields (more than one is a 400) and keeps the first one's value."""
    if header_kind(name) == HK_HOST:
        req._n_host += 1
        if req._n_host == 1:
            req.host = value


cdef void _keep_raw_fields(HttpRequest req, bytes data, Py_ssize_t at):
    """The scanned head's fields (their offsets already in req._raw_fields) stay where they
    are, in the read (`data`, the head from `at`): the request holds that bytes object, and a
    list of (name, value) is made only if a handler reads req.headers (header_list). What the
    server itself needs of them, Host, is read here. (The read is shared by the requests
    pipelined in it; it lives until the last of them is answered.)"""
    cdef const char* buf = PyBytes_AS_STRING(data) + at
    cdef const jqg_field* f
    cdef int i
    req._raw = data
    req._raw_at = at
    for i in range(req._raw_fields.n):
        f = &req._raw_fields.at[i]
        if header_kind_at(buf + f.name_at, f.name_len) == HK_HOST:
            req._n_host += 1
            if req._n_host == 1:
                req.host = PyBytes_FromStringAndSize(buf + f.value_at, f.value_len)


cdef class RequestHandler:
    """Base of Cython handlers: override handle() (cpdef, so C callers skip Python dispatch)."""

    cpdef handle(self, HttpRequest req, Responder resp):
        resp.send_error(404, "no Route matched with those values")

    cdef bint streams_request_body(self, HttpRequest req):
        """Whether `req` goes to handle() now, its body to be read as it arrives, rather than
        once the whole body (or body_buffer_size of it) is in: Kong's route
        request_buffering = false (ProxyHandler)."""
        return False


cdef class _CallableHandler(RequestHandler):

    def __init__(self, fn):
        self.fn = fn

    cpdef handle(self, HttpRequest req, Responder resp):
        self.fn(req, resp)


cdef class HttpServerProtocol:
    """asyncio.Protocol for one client connection. States: reading a request (self._cur),
    requests waiting for their turn (self._queue), the request being answered (self._active)."""

    def __init__(self, ServerSettings settings, loop=None):
        self.settings = settings
        self.loop = loop if loop is not None else _asyncio.get_event_loop()
        self._queue = _deque()
        self._queue_append = self._queue.append
        self._queue_popleft = self._queue.popleft

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        self.settings.connections.add(self)
        peer = transport.get_extra_info("peername")
        if peer:
            self.client_ip = peer[0]
            self.client_port = peer[1]
        else:
            self.client_ip = ""
        sock = transport.get_extra_info("sockname")
        self.server_port = sock[1] if sock else 0
        self.client_ip_bytes = self.client_ip.encode()
        self.server_port_bytes = write_int(self.server_port)
        # One server may listen on plain and TLS sockets: the scheme is the connection's. The
        # TLS handshake is over by now (asyncio calls connection_made after it); jqgate.tls's
        # SNI callback left the server name the client asked for on the SSL object.
        self.scheme = self.settings.scheme
        self.sni = None
        tls = transport.get_extra_info("ssl_object")
        if tls is not None:
            self.scheme = "https"
            name = getattr(tls, "jqgate_sni", None)
            if name:
                self.sni = name.encode("ascii", "replace").lower()
        self.parser = _httptools.HttpRequestParser(self)
        self._feed = self.parser.feed_data
        self._transport_write = transport.write
        self._idle_since = mono_now()
        self._arm_timer(self.settings.keepalive_timeout)
        if self.settings.draining:
            self._close_transport()

    def connection_lost(self, exc):
        self.settings.connections.discard(self)
        self.transport = None
        if self._tunnel is not None:
            self._tunnel.close()
            self._tunnel = None
        self.parser = None          # it holds our bound methods: break the cycle
        self._feed = None
        self._transport_write = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        cdef HttpRequest req = self._cur
        self._cur = None            # its body points back at us: break the cycle
        self._rate_req = None       # the same request, if its body was streaming
        if req is not None and req._body is not None:
            req._body._fail(400, "client closed the connection")
        cdef Responder resp = self._active_resp
        if resp is not None and not resp.finished:
            if self._active._body is not None:
                self._active._body._fail(400, "client closed the connection")
            if resp.producer is not None:
                resp.producer.client_gone()
        self._queue.clear()

    def pause_writing(self):
        self._write_paused = True
        self._write_paused_since = mono_now()
        if self.settings.send_timeout > 0 and self._timer is not None:
            # The one timer may be set for later (keep-alive); _on_timer works from timestamps,
            # so moving it earlier changes nothing else.
            self._timer.cancel()
            self._timer = None
        self._arm_timer(self.settings.send_timeout)
        if self._active_resp is not None and self._active_resp.producer is not None:
            self._active_resp.producer.pause_producing()
        elif self._tunnel is not None:
            self._tunnel.client_full(True)

    def resume_writing(self):
        self._write_paused = False
        if self._active_resp is not None and self._active_resp.producer is not None:
            self._active_resp.producer.resume_producing()
        elif self._tunnel is not None:
            self._tunnel.client_full(False)
        if self._paused & PAUSE_WRITE:
            self._unpause(PAUSE_WRITE)
            self._maybe_dispatch()

    def eof_received(self):
        # Like nginx, EOF from the client means it went away: whatever is in progress is
        # abandoned (connection_lost tells the handler), and we close.
        self._eof = True
        return False

    def data_received(self, bytes data):
        if self._dead:
            if self._tunnel is not None:
                self._tunnel.from_client(data)
            return
        self._last_read = mono_now()
        cdef Py_ssize_t used
        if self._cur is None:
            used = self._scan_requests(data)
            if used == len(data) or self._dead:
                return
            if used:
                data = data[used:]
        cdef HttpRequest cur = self._cur
        if cur is None or not cur._headers_done:
            self._head_bytes += len(data)
        try:
            self._feed(data)
        except _LimitExceeded as e:
            self._protocol_error(e.status, e.message)
            return
        except _httptools.HttpParserCallbackError as e:
            cause = e.__context__
            if isinstance(cause, _LimitExceeded):
                self._protocol_error(cause.status, cause.message)
            else:
                self._internal_error(cause or e)
            return
        except _httptools.HttpParserUpgrade as e:
            # An upgrade request (CONNECT never gets here: 405 at its head). Whatever follows
            # on the socket is not HTTP/1.1: nothing more is parsed. If the handler proxies it
            # and the upstream answers 101, the socket becomes a tunnel (_start_tunnel) and
            # these bytes are its first; any other answer ends the connection after it.
            self._upgrade_rest = data[<Py_ssize_t>e.args[0]:] if e.args else b""
            self._dead = True
            self._pause(PAUSE_DEAD)
            self._maybe_dispatch()      # answered already: close (nothing else is queued)
            return
        except _httptools.HttpParserError as e:
            self._protocol_error(400, "Bad request")
            return
        cur = self._cur
        if cur is not None and not cur._headers_done \
                and self._head_bytes > self.settings.max_header_bytes:
            self._protocol_error(431, "Request header fields too large")

    # -- parser callbacks ------------------------------------------------------------------

    def on_message_begin(self):
        self._begin_request()._headers = []

    cdef HttpRequest _begin_request(self):
        cdef HttpRequest req = HttpRequest.__new__(HttpRequest)
        req.start_time = mono_now()
        req.client_ip = self.client_ip
        req.client_ip_bytes = self.client_ip_bytes
        req.client_port = self.client_port
        req.server_port = self.server_port
        req.server_port_bytes = self.server_port_bytes
        req.scheme = self.scheme
        if self.sni is not None:        # (None already: plain connections pay nothing)
            req.sni = self.sni
        req.host = b""
        self._cur = req
        self._url = b""
        self._header_budget = self.settings.max_header_bytes
        if self.settings.header_timeout > 0:
            self._arm_timer_until(req.start_time, self.settings.header_timeout)
        return req

    def on_url(self, bytes url):
        self._url += url
        if len(self._url) > self.settings.max_uri_bytes:
            raise _LimitExceeded(414, "Request-URI too large")

    def on_header(self, bytes name, bytes value):
        cdef HttpRequest req = self._cur
        self._header_budget -= len(name) + len(value) + 4
        if self._header_budget < 0:
            raise _LimitExceeded(431, "Request header fields too large")
        if req._headers_done:
            return          # trailers of a chunked body: not forwarded
        req._headers.append((name, value))
        _note_host(req, name, value)

    def on_headers_complete(self):
        parser = self.parser
        self._head_complete(self._cur, parser.get_method(), parser.get_http_version(),
                            parser.should_keep_alive(), self._url)

    cdef int _head_complete(self, HttpRequest req, bytes method, str http_version,
                            bint keep_alive, bytes url) except -1:
        """The request head is read (by llhttp or the scanner): check it, find its body's
        framing and queue it. Raises _LimitExceeded for a request we won't serve."""
        cdef ServerSettings st = self.settings
        req._headers_done = True
        self._head_bytes = 0
        req.method = method
        req.http_version = http_version
        req.keep_alive = keep_alive
        req.target = url
        self._url = b""
        cdef const char* start = <const char*>url
        cdef const char* mark = <const char*>memchr(start, 63, len(url))     # '?'
        cdef Py_ssize_t q
        if mark != NULL:
            q = mark - start
            req.path = write_slice(url, 0, q)
            req.query = write_slice(url, q + 1, len(url))
        else:
            req.path = url
            req.query = b""
        if req.http_version != "1.1" and req.http_version != "1.0":
            raise _LimitExceeded(400, "Bad request")
        if req._n_host > 1 or (req._n_host == 0 and req.http_version == "1.1"):
            raise _LimitExceeded(400, "Bad request")
        if len(url) == 0 or start[0] != 47:     # not origin-form ("/...")
            if method == b"CONNECT":
                raise _LimitExceeded(405, "CONNECT is not supported")    # nginx's answer
            if url[:7].lower() == b"http://" or url[:8].lower() == b"https://":
                # absolute-form: the authority replaces Host (RFC 9112 3.2.2)
                rest = url.split(b"//", 1)[1]
                slash = rest.find(b"/")
                req.host = rest[:slash] if slash >= 0 else rest
                req.path = rest[slash:] if slash >= 0 else b"/"
                q = req.path.find(b"?")
                if q >= 0:
                    req.path, req.query = req.path[:q], req.path[q + 1:]
            elif not (url == b"*" and req.method == b"OPTIONS"):
                raise _LimitExceeded(400, "Bad request")
        if (req._n_host == 1 or len(req.host) > 0) and not authority_is_valid(req.host):
            # Host (or the absolute-form authority) goes on to routing and X-Forwarded-Host:
            # only a real authority (RFC 3986), no path, userinfo, list or spaces.
            raise _LimitExceeded(400, "Bad request")
        cdef long long length = -1
        cdef bint chunked = False
        cdef int kind
        cdef bytes value
        cdef bytes connection = None
        cdef bint upgrade = False
        # A head the scanner read has none of the fields below but a plain Connection
        # (jqg_scan_request_head): its fields are left in place. The others: the (bytes, bytes)
        # tuples on_header (or scanned_fields) built, no check needed.
        cdef list fields = None if req.keeps_raw_fields() else req._headers
        if fields is not None:
            for item in fields:
                kind = header_kind(<bytes>(<tuple>item)[0])
                if kind == HK_OTHER:
                    continue
                value = <bytes>(<tuple>item)[1]
                if kind == HK_CONTENT_LENGTH:
                    length = int(value)
                elif kind == HK_TRANSFER_ENCODING:
                    # llhttp accepts "gzip, chunked"; we would forward it de-chunked but still
                    # gzip-coded without saying so. Only plain chunked is taken.
                    if value.strip().lower() != b"chunked":
                        raise _LimitExceeded(501, "Not implemented")
                    chunked = True
                elif kind == HK_EXPECT:
                    if value.lower() == b"100-continue":
                        req._expect_continue = True
                    else:
                        raise _LimitExceeded(417, "Expectation failed")
                elif kind == HK_UPGRADE:
                    upgrade = True
                elif kind == HK_CONNECTION:
                    connection = value if connection is None else connection + b"," + value
        if upgrade and connection is not None and b"upgrade" in connection.lower():
            req.upgrade = True          # llhttp's rule too: it stops parsing after this head
        if st.max_body_bytes > 0 and length > st.max_body_bytes:
            raise _LimitExceeded(413, "Request Entity Too Large")
        if chunked or length > 0:
            self._arm_timer(st.body_timeout)        # the gap before its first body bytes
            req._body = RequestBody()
            req._body._proto = self
            # _large stays off until body_buffer_size bytes have arrived: a request reaches
            # the handler (and takes an upstream connection) only with its whole body in hand,
            # or with a buffer's worth of it (nginx's proxy_request_buffering, bounded) -- a
            # client trickling a large body holds no upstream connection while it trickles.
            if st.body_buffer_size > SRV_BODY_HIGH_WATER:
                req._body._high_water = st.body_buffer_size   # read a buffer's worth unpaused
        req.request_id = write_new_request_id()
        self._queue_append(req)
        if len(self._queue) >= SRV_PIPELINE_DEPTH:
            self._pause(PAUSE_PIPELINE)
        self._maybe_dispatch()
        return 0

    def on_body(self, bytes body):
        cdef HttpRequest req = self._cur
        cdef RequestBody rb = req._body
        cdef ServerSettings st = self.settings
        if st.max_body_bytes > 0 and rb.received + len(body) > st.max_body_bytes:
            raise _LimitExceeded(413, "Request Entity Too Large")
        rb._feed(body)
        if (not req._large and rb.received > st.body_buffer_size
                and self._active is None and self._queue and self._queue[0] is req):
            req._large = True
            self._start_rate_window(req)
            self._maybe_dispatch()

    def on_message_complete(self):
        cdef HttpRequest req = self._cur
        self._cur = None
        if self._rate_req is req:
            self._rate_req = None       # nothing of the request outlives it here
        if req._body is not None:
            req._body._feed_eof()
        self._maybe_dispatch()

    # -- requests the scanner read (http/head.pyx) -----------------------------------------

    cdef Py_ssize_t _scan_requests(self, bytes data) except -1:
        """Takes the whole, plain, bodiless requests at the start of data the way the parser
        callbacks would, and returns how many bytes they used; llhttp reads the rest."""
        cdef const char* buf = data
        cdef Py_ssize_t at = 0, n = len(data)
        cdef ServerSettings st = self.settings
        cdef HttpRequest req
        cdef bytes url
        while at < n and self._cur is None and not self._dead and self.transport is not None:
            if not jqg_scan_request_head(buf + at, n - at, &scanned_head) \
                    or <Py_ssize_t>scanned_head.head_len > st.max_header_bytes \
                    or <Py_ssize_t>scanned_head.target_len > st.max_uri_bytes:
                break
            req = self._begin_request()
            if head_keep_fields(&req._raw_fields):
                _keep_raw_fields(req, data, at)
            else:
                req._headers = scanned_fields(data, at)
                for item in req._headers:
                    _note_host(req, <bytes>(<tuple>item)[0], <bytes>(<tuple>item)[1])
            url = buf[at + scanned_head.target_at:
                      at + scanned_head.target_at + scanned_head.target_len]
            method = _scanned_method(buf + at, scanned_head.method_len)
            at += scanned_head.head_len
            try:
                self._head_complete(req, method, "1.1", True, url)
            except _LimitExceeded as e:
                self._protocol_error(e.status, e.message)
                return n
            if self._cur is req:
                self._cur = None
                self._maybe_dispatch()
        return at

    # -- dispatching, in order -------------------------------------------------------------

    cdef void _maybe_dispatch(self):
        # Not re-entrant: a handler that answers at once finishes inside _dispatch, and its
        # _response_done lands here again; the outer loop picks the next request instead, so
        # a long pipeline of instant answers never deepens the stack.
        if self._in_dispatch:
            return
        self._in_dispatch = True
        try:
            self._dispatch_loop()
        finally:
            self._in_dispatch = False

    cdef void _dispatch_loop(self):
        cdef HttpRequest req
        cdef RequestBody rb
        while self._active is None and self.transport is not None and not self._closing:
            if self._write_paused and self._queue:
                # A pipelining client that does not read: answering more would only grow
                # our write buffer. Wait for resume_writing.
                self._pause(PAUSE_WRITE)
                return
            if not self._queue:
                if self._dead:
                    self._send_protocol_error()
                return
            req = self._queue[0]
            rb = req._body
            if rb is not None and not rb.eof and rb.error is None:
                if req._expect_continue and not req._continue_sent:
                    req._continue_sent = True
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                if not req._large:
                    if (rb.received <= self.settings.body_buffer_size
                            and not self.settings._handler.streams_request_body(req)):
                        return  # small so far: wait to hand the handler the whole body
                    req._large = True   # filled while an earlier request was answered
                    self._start_rate_window(req)
            self._queue_popleft()
            if self._paused & PAUSE_PIPELINE and len(self._queue) < SRV_PIPELINE_DEPTH // 2:
                self._unpause(PAUSE_PIPELINE)
            self._dispatch(req)

    cdef void _dispatch(self, HttpRequest req):
        cdef RequestBody rb = req._body
        if rb is None:
            req.body = b""
        elif rb.eof:
            req.body = rb._take_all()
            self._unpause(PAUSE_BODY)
        else:
            req.body = None
            req.body_stream = rb
        cdef Responder resp = Responder.__new__(Responder)
        resp._proto = self
        resp.request = req
        self._active = req
        self._active_resp = resp
        self.settings.n_requests += 1
        try:
            self.settings._handler.handle(req, resp)
        except BaseException as exc:
            _server_log.error("request %s: handler failed\n%s", req.request_id.decode(),
                              _traceback.format_exc())
            if resp.finished:
                return
            if not resp.started:
                resp._close = True
                resp.send_error(500, "An unexpected error occurred")
            else:
                resp.abort()

    cdef void _response_done(self, Responder resp):
        if resp is not self._active_resp:
            return
        cdef HttpRequest req = self._active
        self._active = None
        self._active_resp = None
        self._log(req, resp)
        _release_handler_state(req, resp)
        if resp._close or self.transport is None:
            self._close_transport()
            return
        self._idle_since = mono_now()
        if self._paused & (PAUSE_CONSUMER | PAUSE_BODY):
            # The finished request's consumer may have paused us and never resumed (its
            # upstream answered first): the next request must not find the socket deaf.
            self._unpause(PAUSE_CONSUMER | PAUSE_BODY)
        if self._queue or self._dead:
            self._maybe_dispatch()
        elif (self.settings.draining or self._eof) and self._cur is None:
            self._close_transport()

    cdef void _response_aborted(self, Responder resp):
        if resp is self._active_resp:
            self._active = None
            self._active_resp = None
            self._log(resp.request, resp)
            _release_handler_state(resp.request, resp)
        if self.transport is not None:
            self.transport.abort()

    cdef void _start_tunnel(self, Responder resp, Tunnel tunnel, bytes from_upstream):
        """The 101 went out (Responder.switch_protocols): log the request, then this socket
        belongs to `tunnel` (proxy/tunnel.pyx) until either side closes."""
        cdef HttpRequest req = self._active
        self._tunnel = tunnel
        self._active = None
        self._active_resp = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._log(req, resp)
        _release_handler_state(req, resp)
        rest = self._upgrade_rest
        self._upgrade_rest = None
        tunnel.start(from_upstream, rest)
        self._paused = 0
        if self.transport is not None:
            self.transport.resume_reading()

    cdef void _log(self, HttpRequest req, Responder resp):
        cdef ServerSettings st = self.settings
        if st._access_log is None:
            return
        try:
            if st._observer is not None:
                st._observer.observe(req, resp)
            else:
                st._access_log(req, resp)
        except Exception:
            _server_log.exception("access log failed")

    # -- errors ----------------------------------------------------------------------------

    cdef void _protocol_error(self, int status, str message):
        """A request we won't serve: answer `status` after what is already queued, close."""
        self._dead = True
        self._pause(PAUSE_DEAD)
        self._err_status = status
        self._err_message = message
        cdef HttpRequest cur = self._cur
        self._cur = None
        if cur is not None:
            if cur is self._active:
                # Its body was streaming to the handler: the handler answers (or aborts).
                cur._body._fail(status, message)
                self._err_status = 0
            else:
                try:
                    self._queue.remove(cur)
                except ValueError:
                    pass
        self._maybe_dispatch()

    cdef void _send_protocol_error(self):
        if self._err_status == 0:
            self._close_transport()
            return
        cdef HttpRequest req = HttpRequest.__new__(HttpRequest)
        req.method = b""
        req.http_version = "1.1"
        req.keep_alive = False
        req._headers = []
        req.target = b""
        req.path = b""
        req.query = b""
        req.host = b""
        req.client_ip = self.client_ip
        req.client_ip_bytes = self.client_ip_bytes
        req.client_port = self.client_port
        req.server_port = self.server_port
        req.server_port_bytes = self.server_port_bytes
        req.scheme = self.scheme
        req.sni = self.sni
        req.start_time = mono_now()
        req.request_id = write_new_request_id()
        cdef Responder resp = Responder.__new__(Responder)
        resp._proto = self
        resp.request = req
        self._active = req
        self._active_resp = resp
        status = self._err_status
        self._err_status = 0
        resp.send_error(status, self._err_message)

    cdef void _internal_error(self, exc):
        _server_log.error("connection error: %r", exc)
        self._protocol_error(500, "An unexpected error occurred")

    # -- flow control and timers -----------------------------------------------------------

    cdef void _pause(self, int reason):
        cdef int before = self._paused
        self._paused |= reason
        if before == 0 and self.transport is not None:
            self.transport.pause_reading()

    cdef void _unpause(self, int reason):
        if not (self._paused & reason):
            return
        self._paused &= ~reason
        if self._paused == 0 and self.transport is not None:
            self._last_read = mono_now()
            if self._rate_req is not None:
                self._start_rate_window(self._rate_req)   # the pause was not the client's
            self.transport.resume_reading()

    cdef void _write(self, bytes data):
        if self.transport is not None:
            self._transport_write(data)

    cdef void _writelines(self, list data):
        if self.transport is not None:
            self.transport.writelines(data)

    cdef void _close_transport(self):
        """Close after the written bytes are flushed. When the client may still be sending
        (a rejected request, an unread body), half-close and discard its bytes for a moment
        first: closing with unread data makes the kernel send RST, which can destroy our
        error response before the client reads it (nginx's lingering close)."""
        if self.transport is None or self._lingering:
            return
        self._closing = True
        cdef HttpRequest cur = self._cur
        if (self._dead or (cur is not None)) and self.transport.can_write_eof():
            self._lingering = True
            self._dead = True
            self.transport.write_eof()
            self._paused = 0
            self.transport.resume_reading()
            self.loop.call_later(2.0, self._linger_done)
        else:
            self.transport.close()

    def _linger_done(self):
        if self.transport is not None:
            self.transport.close()

    cdef bint _last_answer(self):
        """Whether the response being framed is the connection's last: after a malformed
        request (its 400 still to come counts as one more) or on drain, the requests already
        received are answered in order first, and only the final one says Connection: close.
        (Asked only once the connection is dead or draining.)"""
        return not self._queue and self._err_status == 0 and self._cur is None

    cdef bint _busy(self):
        return self._active is not None or self._cur is not None or bool(self._queue)

    cdef void _drain(self):
        if self._tunnel is not None:
            self._tunnel.close()
            return
        if self._active is None and self._cur is None and not self._queue:
            self._close_transport()

    cdef void _arm_timer(self, double delay):
        """Make sure the timer fires within `delay`. An armed timer that fires later is moved:
        a connection's keep-alive timer must not postpone the head or body deadline of the
        request that arrives on it (it did, by up to keepalive_timeout)."""
        if delay > 0:
            self._arm_timer_until(mono_now(), delay)

    cdef void _arm_timer_until(self, double now, double delay):
        cdef double at = now + delay
        if self._timer is not None:
            if self._timer_at <= at:
                return
            self._timer.cancel()
        self._timer_at = at
        self._timer = self.loop.call_later(at - mono_now(), self._on_timer)

    def _on_timer(self):
        """One timer per connection, checked against timestamps: keep-alive idle, headers
        taking too long, or a body that stopped arriving while we were reading it."""
        self._timer = None
        if self.transport is None or self._tunnel is not None:
            return              # a tunnel keeps its own idle timer
        cdef ServerSettings st = self.settings
        cdef double now = mono_now()
        cdef double deadline
        cdef HttpRequest cur = self._cur
        if self._write_paused and st.send_timeout > 0 \
                and now >= self._write_paused_since + st.send_timeout:
            self._send_timed_out()
            return
        if cur is None and self._active is None and not self._queue:
            deadline = self._idle_since + st.keepalive_timeout
            if now >= deadline:
                self._close_transport()
                return
        elif cur is not None and not cur._headers_done:
            deadline = cur.start_time + st.header_timeout
            if now >= deadline:
                self._timeout_error()
                return
        elif cur is not None and self._paused == 0:
            deadline = self._last_read + st.body_timeout
            if now >= deadline:
                self._timeout_error()
                return
            if cur is self._rate_req and st.body_min_rate > 0:
                if now >= self._rate_at + st.body_min_rate_window:
                    if cur._body.received - self._rate_bytes \
                            < st.body_min_rate * (now - self._rate_at):
                        self._timeout_error()       # too slow to hold an upstream connection
                        return
                    self._rate_at = now
                    self._rate_bytes = cur._body.received
                deadline = min(deadline, self._rate_at + st.body_min_rate_window)
        else:
            deadline = now + min(st.body_timeout, 1.0)   # waiting on the handler: look again
        if self._write_paused and st.send_timeout > 0:
            deadline = min(deadline, self._write_paused_since + st.send_timeout)
        self._timer_at = now + max(deadline - now, 0.05)
        self._timer = self.loop.call_later(self._timer_at - now, self._on_timer)

    cdef void _start_rate_window(self, HttpRequest req):
        """A large body started streaming to the handler (or reading resumed after the gateway
        paused it): its minimum rate is checked from now on (ServerSettings)."""
        if self.settings.body_min_rate <= 0 or req._body is None or req._body.eof:
            self._rate_req = None
            return
        self._rate_req = req
        self._rate_at = mono_now()
        self._rate_bytes = req._body.received
        self._arm_timer(self.settings.body_min_rate_window)

    cdef void _send_timed_out(self):
        """The client read nothing for send_timeout: its answer is abandoned (the handler hears
        client_gone, so a proxied upstream connection is released) and the connection closed."""
        cdef Responder resp = self._active_resp
        if resp is not None and not resp.finished:
            if resp.producer is not None:
                resp.producer.client_gone()
            resp.abort()
        elif self.transport is not None:
            self.transport.abort()

    cdef void _timeout_error(self):
        # A body streaming to the handler fails there (the handler answers); otherwise 408.
        self._protocol_error(408, "Request timeout")
