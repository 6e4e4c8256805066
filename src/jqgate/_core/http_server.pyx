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

cdef enum:
    SRV_BODY_HIGH_WATER = 262144     # unread request-body bytes before we stop reading
    SRV_PIPELINE_DEPTH = 16          # queued pipelined requests before we stop reading

cdef enum PauseReason:
    PAUSE_BODY = 1        # a request body is buffered and nobody reads it yet
    PAUSE_CONSUMER = 2    # the body consumer asked (its upstream is slow)
    PAUSE_PIPELINE = 4    # too many pipelined requests queued
    PAUSE_DEAD = 8        # a parse error: we read nothing more
    PAUSE_WRITE = 16      # the client does not read our answers: take no new requests

cdef bytes _SERVER_HEADER_NAME = b"Server"


class _LimitExceeded(Exception):
    """Raised from a parser callback to stop parsing with an HTTP status."""

    def __init__(self, status, message):
        self.status = status
        self.message = message


cdef class ServerSettings:
    """Everything a connection needs, shared by all connections of a server."""
    cdef public object handler
    cdef public RequestHandler _handler
    cdef public int max_uri_bytes
    cdef public int max_header_bytes
    cdef public long long max_body_bytes       # 0 = unlimited (Kong's default)
    cdef public int body_buffer_size
    cdef public double header_timeout
    cdef public double body_timeout
    cdef public double keepalive_timeout
    cdef public bytes server_header            # on the gateway's own answers; None = off
    cdef public bytes request_id_header
    cdef public str scheme
    cdef public object access_log              # callable(req, resp) or None
    cdef public set connections
    cdef public bint draining
    cdef public long long n_requests

    def __init__(self, handler, max_uri_bytes=8192, max_header_bytes=32768, max_body_bytes=0,
                 body_buffer_size=65536, header_timeout=60.0, body_timeout=60.0,
                 keepalive_timeout=60.0, server_header=b"jqgate/0.1.0",
                 request_id_header=b"X-Kong-Request-Id", scheme="http", access_log=None):
        self.handler = handler
        self._handler = handler if isinstance(handler, RequestHandler) else _CallableHandler(handler)
        self.max_uri_bytes = max_uri_bytes
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.body_buffer_size = body_buffer_size
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.keepalive_timeout = keepalive_timeout
        self.server_header = server_header
        self.request_id_header = request_id_header
        self.scheme = scheme
        self.access_log = access_log
        self.connections = set()
        self.draining = False

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
            if proto._active is not None or proto._cur is not None or proto._queue:
                n += 1
        return n


cdef class RequestHandler:
    """Base of Cython handlers: override handle() (cpdef, so C callers skip Python dispatch)."""

    cpdef handle(self, HttpRequest req, Responder resp):
        resp.send_error(404, "no Route matched with those values")


cdef class _CallableHandler(RequestHandler):
    cdef object fn

    def __init__(self, fn):
        self.fn = fn

    cpdef handle(self, HttpRequest req, Responder resp):
        self.fn(req, resp)


cdef class BodyConsumer:
    """Receives a streamed request body (RequestBody.pipe)."""

    cdef void on_body_data(self, bytes data):
        pass

    cdef void on_body_end(self):
        pass

    cdef void on_body_error(self, int status, str message):
        pass


cdef class ResponseProducer:
    """Whoever feeds a Responder: told when the client socket is full / drained / gone."""

    cdef void pause_producing(self):
        pass

    cdef void resume_producing(self):
        pass

    cdef void client_gone(self):
        pass


cdef class HttpRequest:
    """One parsed request. Headers keep arrival order and original casing."""
    cdef public bytes method
    cdef public bytes target          # raw request-target
    cdef public bytes path
    cdef public bytes query           # without the '?'; b"" when none
    cdef public str http_version      # "1.1" | "1.0"
    cdef public list headers
    cdef public bytes host            # Host header value (first), b"" when absent
    cdef public str client_ip
    cdef public int client_port
    cdef public int server_port
    cdef public str scheme
    cdef public bytes request_id
    cdef public object body           # bytes when buffered, None when streamed
    cdef public RequestBody body_stream
    cdef public bint keep_alive
    cdef public double start_time     # loop.time() at the first byte
    cdef public object ctx            # free slot for the gateway (route match, plan state, ...)
    # parsing state
    cdef bint _headers_done
    cdef bint _large                  # Content-Length above the buffering size
    cdef bint _expect_continue
    cdef bint _continue_sent
    cdef RequestBody _body            # None when the request has no body
    cdef int _n_host

    def header(self, name, default=None):
        """First value of a header (case-insensitive name, bytes or str)."""
        if isinstance(name, str):
            name = name.encode()
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def __repr__(self):
        return "<HttpRequest %s %s>" % (self.method, self.target)


cdef class RequestBody:
    """A request body that arrives while the handler runs. Unread data is buffered up to
    SRV_BODY_HIGH_WATER, then the connection stops reading until the consumer catches up."""
    cdef HttpServerProtocol _proto
    cdef list _buffer
    cdef Py_ssize_t _buffered
    cdef public long long received
    cdef public bint eof
    cdef public int error_status
    cdef public str error
    cdef BodyConsumer _consumer

    def __init__(self):
        self._buffer = []

    cdef void _feed(self, bytes data):
        self.received += len(data)
        if self._consumer is not None and not self._buffer:
            self._consumer.on_body_data(data)
            return
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered > SRV_BODY_HIGH_WATER and self._proto is not None:
            self._proto._pause(PAUSE_BODY)

    cdef void _feed_eof(self):
        self.eof = True
        if self._consumer is not None and not self._buffer:
            self._consumer.on_body_end()

    cdef void _fail(self, int status, str message):
        if self.eof or self.error is not None:
            return
        self.error_status = status
        self.error = message
        if self._consumer is not None:
            self._consumer.on_body_error(status, message)

    cdef bytes _take_all(self):
        cdef bytes data = b"".join(self._buffer)
        self._buffer = []
        self._buffered = 0
        return data

    def pipe(self, BodyConsumer consumer):
        """Deliver everything (buffered first) to `consumer`."""
        self._consumer = consumer
        cdef bytes chunk
        while self._buffer and self._consumer is consumer:
            chunk = self._buffer.pop(0)
            self._buffered -= len(chunk)
            consumer.on_body_data(chunk)
        if self._proto is not None:
            self._proto._unpause(PAUSE_BODY)
        if self.error is not None:
            consumer.on_body_error(self.error_status, self.error)
        elif self.eof:
            consumer.on_body_end()

    def read_all(self, callback, long long limit=0):
        """Collect the whole body; callback(bytes), or callback(None) on error / over limit."""
        self.pipe(_BodyCollector(callback, limit, self))

    def pause(self):
        if self._proto is not None:
            self._proto._pause(PAUSE_CONSUMER)

    def resume(self):
        if self._proto is not None:
            self._proto._unpause(PAUSE_CONSUMER)


cdef class _BodyCollector(BodyConsumer):
    cdef object callback
    cdef list parts
    cdef long long size
    cdef long long limit
    cdef RequestBody body

    def __init__(self, callback, long long limit, RequestBody body):
        self.callback = callback
        self.parts = []
        self.limit = limit
        self.body = body

    cdef void on_body_data(self, bytes data):
        if self.parts is None:
            return
        self.size += len(data)
        if self.limit and self.size > self.limit:
            self.parts = None
            cb = self.callback
            self.callback = None
            if cb is not None:
                cb(None)
            return
        self.parts.append(data)

    cdef void on_body_end(self):
        cb = self.callback
        self.callback = None
        if cb is not None:
            cb(b"".join(self.parts))

    cdef void on_body_error(self, int status, str message):
        cb = self.callback
        self.callback = None
        if cb is not None:
            cb(None)


cdef class Responder:
    """Writes one response, in order, on its connection (see the module comment)."""
    cdef HttpServerProtocol _proto
    cdef public HttpRequest request
    cdef public int status
    cdef public bint started
    cdef public bint finished
    cdef public long long bytes_sent
    cdef public ResponseProducer producer
    cdef public object log_extra      # whatever the handler wants in the access log
    cdef bint _chunked
    cdef bint _no_body
    cdef bint _close
    cdef bytes _head_buf   # head from start(), written with the first body bytes (one send)

    cdef list _framing(self, int status, long long content_length):
        """Framing + connection headers the server owns."""
        cdef HttpRequest req = self.request
        cdef HttpServerProtocol proto = self._proto
        cdef list extra = []
        if proto.settings.request_id_header is not None:
            extra.append((proto.settings.request_id_header, req.request_id))
        self._no_body = req.method == b"HEAD" or status == 204 or status == 304 or status < 200
        if status == 204 or status == 304 or status < 200:
            pass
        elif content_length >= 0:
            extra.append((b"Content-Length", b"%d" % content_length))
        elif req.http_version == "1.1":
            self._chunked = not self._no_body
            extra.append((b"Transfer-Encoding", b"chunked"))
        else:
            self._close = True      # HTTP/1.0 without a length: the close ends the body
        if (not req.keep_alive or proto.settings.draining or proto._dead
                or (req._body is not None and not req._body.eof)):
            # An unread request body can't be skipped safely: close after this response.
            self._close = True
        if self._close:
            extra.append((b"Connection", b"close"))
        elif req.http_version == "1.0":
            extra.append((b"Connection", b"keep-alive"))
        return extra

    cpdef send(self, int status, list headers, bytes body=b""):
        """The whole response at once."""
        if self.started:
            raise RuntimeError("response already started")
        self.started = True
        self.status = status
        cdef list extra = self._framing(status, len(body))
        cdef bytes head = write_head(status, headers, extra)
        if self._no_body or not body:
            self._proto._write(head)
        elif len(body) < 16384:
            self._proto._write(head + body)
        else:
            self._proto._write(head)
            self._proto._write(body)
        self.bytes_sent += len(head) + (0 if self._no_body else len(body))
        self._finish()

    cpdef send_error(self, int status, str message, list headers=None):
        """The gateway's own answer, Kong-shaped: JSON {"message", "request_id"}."""
        if self.started:
            self.abort()
            return
        cdef list h = [(b"Content-Type", b"application/json; charset=utf-8"),
                       (b"Date", write_http_date())]
        if self._proto.settings.server_header is not None:
            h.append((_SERVER_HEADER_NAME, self._proto.settings.server_header))
        if headers:
            h.extend(headers)
        self.send(status, h, write_error_body(message, self.request.request_id))

    cpdef start(self, int status, list headers, long long content_length=-1):
        """Send the head; the body follows with write() and end()."""
        if self.started:
            raise RuntimeError("response already started")
        self.started = True
        self.status = status
        cdef bytes head = write_head(status, headers, self._framing(status, content_length))
        self.bytes_sent += len(head)
        self._head_buf = head

    cpdef write(self, bytes data):
        if self.finished or self._no_body or not data:
            return
        self.bytes_sent += len(data)
        cdef bytes head = self._head_buf
        if self._chunked:
            if head is not None:
                self._head_buf = None
                self._proto._writelines([head, b"%x\r\n" % len(data), data, b"\r\n"])
            else:
                self._proto._writelines([b"%x\r\n" % len(data), data, b"\r\n"])
        elif head is not None:
            self._head_buf = None
            if len(data) < 16384:
                self._proto._write(head + data)
            else:
                self._proto._writelines([head, data])
        else:
            self._proto._write(data)

    cpdef flush(self):
        """Write a head that start() kept back (write() and end() do this themselves)."""
        if self._head_buf is not None:
            self._proto._write(self._head_buf)
            self._head_buf = None

    cpdef end(self):
        if self.finished:
            return
        cdef bytes head = self._head_buf
        self._head_buf = None
        if self._chunked:
            self._proto._write(b"0\r\n\r\n" if head is None else head + b"0\r\n\r\n")
        elif head is not None:
            self._proto._write(head)
        self._finish()

    cpdef abort(self):
        """Give up on this response: the client sees the connection close."""
        if self.finished:
            return
        self.finished = True
        self._close = True
        self._head_buf = None
        self._proto._response_aborted(self)

    cdef void _finish(self):
        self.finished = True
        self._proto._response_done(self)

    @property
    def closing(self):
        return self._close

    @property
    def client_gone(self):
        return self._proto.transport is None


cdef class HttpServerProtocol:
    """asyncio.Protocol for one client connection. States: reading a request (self._cur),
    requests waiting for their turn (self._queue), the request being answered (self._active)."""
    cdef public ServerSettings settings
    cdef object loop
    cdef public object transport
    cdef object parser
    cdef str client_ip
    cdef int client_port
    cdef int server_port
    cdef HttpRequest _cur
    cdef object _queue
    cdef HttpRequest _active
    cdef Responder _active_resp
    cdef int _paused
    cdef bint _write_paused
    cdef bint _dead                 # a parse error: answer what's queued, then close
    cdef int _err_status
    cdef str _err_message
    cdef Py_ssize_t _head_bytes
    cdef bytes _url
    cdef object _timer
    cdef double _idle_since
    cdef double _last_read
    cdef int _header_budget
    cdef bint _lingering
    cdef bint _eof                  # the client half-closed: no more requests will come
    cdef bint _in_dispatch
    cdef bint _closing              # we decided to close: dispatch nothing more

    def __init__(self, ServerSettings settings, loop=None):
        self.settings = settings
        self.loop = loop if loop is not None else _asyncio.get_event_loop()
        self._queue = _deque()

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
        self.parser = _httptools.HttpRequestParser(self)
        self._idle_since = self.loop.time()
        self._arm_timer(self.settings.keepalive_timeout)
        if self.settings.draining:
            self._close_transport()

    def connection_lost(self, exc):
        self.settings.connections.discard(self)
        self.transport = None
        self.parser = None          # it holds our bound methods: break the cycle
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        cdef HttpRequest req = self._cur
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
        if self._active_resp is not None and self._active_resp.producer is not None:
            self._active_resp.producer.pause_producing()

    def resume_writing(self):
        self._write_paused = False
        if self._active_resp is not None and self._active_resp.producer is not None:
            self._active_resp.producer.resume_producing()
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
            return
        self._last_read = self.loop.time()
        cdef HttpRequest cur = self._cur
        if cur is None or not cur._headers_done:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
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
        except _httptools.HttpParserUpgrade:
            # Upgrade / CONNECT: not proxied. The request was answered (or will be) as a plain
            # request; whatever follows on the socket is not HTTP/1.1 we can parse.
            self._dead = True
            self._pause(PAUSE_DEAD)
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
        cdef HttpRequest req = HttpRequest()
        req.headers = []
        req.start_time = self.loop.time()
        req.client_ip = self.client_ip
        req.client_port = self.client_port
        req.server_port = self.server_port
        req.scheme = self.settings.scheme
        req.host = b""
        self._cur = req
        self._url = b""
        self._header_budget = self.settings.max_header_bytes
        if not self._queue and self._active is None:
            self._arm_timer(self.settings.header_timeout)

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
        req.headers.append((name, value))
        if len(name) == 4 and name.lower() == b"host":
            req._n_host += 1
            if req._n_host == 1:
                req.host = value

    def on_headers_complete(self):
        cdef HttpRequest req = self._cur
        cdef ServerSettings st = self.settings
        parser = self.parser
        req._headers_done = True
        self._head_bytes = 0
        req.method = parser.get_method()
        req.http_version = parser.get_http_version()
        req.keep_alive = parser.should_keep_alive()
        req.target = self._url
        self._url = b""
        cdef bytes url = req.target
        cdef Py_ssize_t q = url.find(b"?")
        if q >= 0:
            req.path = url[:q]
            req.query = url[q + 1:]
        else:
            req.path = url
            req.query = b""
        if req.http_version != "1.1" and req.http_version != "1.0":
            raise _LimitExceeded(400, "Bad request")
        if req._n_host > 1 or (req._n_host == 0 and req.http_version == "1.1"):
            raise _LimitExceeded(400, "Bad request")
        if url[:1] != b"/":
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
        cdef long long length = -1
        cdef bint chunked = False
        cdef bytes lname
        for name, value in req.headers:
            lname = name.lower()
            if lname == b"content-length":
                length = int(value)
            elif lname == b"transfer-encoding":
                # llhttp accepts "gzip, chunked"; we would forward it de-chunked but still
                # gzip-coded without saying so. Only plain chunked is taken.
                if value.strip().lower() != b"chunked":
                    raise _LimitExceeded(501, "Not implemented")
                chunked = True
            elif lname == b"expect":
                if value.lower() == b"100-continue":
                    req._expect_continue = True
                else:
                    raise _LimitExceeded(417, "Expectation failed")
        if st.max_body_bytes > 0 and length > st.max_body_bytes:
            raise _LimitExceeded(413, "Request Entity Too Large")
        if chunked or length > 0:
            req._body = RequestBody()
            req._body._proto = self
            req._large = length > st.body_buffer_size
        req.request_id = write_new_request_id()
        self._queue.append(req)
        if len(self._queue) >= SRV_PIPELINE_DEPTH:
            self._pause(PAUSE_PIPELINE)
        self._maybe_dispatch()

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
            self._maybe_dispatch()

    def on_message_complete(self):
        cdef HttpRequest req = self._cur
        self._cur = None
        if req._body is not None:
            req._body._feed_eof()
        self._maybe_dispatch()

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
                    return      # small so far: wait to hand the handler the whole body
            self._queue.popleft()
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
        cdef Responder resp = Responder()
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
        if resp._close or self.transport is None:
            self._close_transport()
            return
        self._idle_since = self.loop.time()
        if self._queue or self._dead:
            self._maybe_dispatch()
        elif (self.settings.draining or self._eof) and self._cur is None:
            self._close_transport()

    cdef void _response_aborted(self, Responder resp):
        if resp is self._active_resp:
            self._active = None
            self._active_resp = None
            self._log(resp.request, resp)
        if self.transport is not None:
            self.transport.abort()

    cdef void _log(self, HttpRequest req, Responder resp):
        if self.settings.access_log is not None:
            try:
                self.settings.access_log(req, resp)
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
        cdef HttpRequest req = HttpRequest()
        req.method = b""
        req.http_version = "1.1"
        req.keep_alive = False
        req.headers = []
        req.target = b""
        req.path = b""
        req.query = b""
        req.host = b""
        req.client_ip = self.client_ip
        req.client_port = self.client_port
        req.server_port = self.server_port
        req.scheme = self.settings.scheme
        req.start_time = self.loop.time()
        req.request_id = write_new_request_id()
        cdef Responder resp = Responder()
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
            self._last_read = self.loop.time()
            self.transport.resume_reading()

    cdef void _write(self, bytes data):
        if self.transport is not None:
            self.transport.write(data)

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

    cdef void _drain(self):
        if self._active is None and self._cur is None and not self._queue:
            self._close_transport()

    cdef void _arm_timer(self, double delay):
        if self._timer is None and delay > 0:
            self._timer = self.loop.call_later(delay, self._on_timer)

    def _on_timer(self):
        """One timer per connection, checked against timestamps: keep-alive idle, headers
        taking too long, or a body that stopped arriving while we were reading it."""
        self._timer = None
        if self.transport is None:
            return
        cdef ServerSettings st = self.settings
        cdef double now = self.loop.time()
        cdef double deadline
        cdef HttpRequest cur = self._cur
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
        else:
            deadline = now + min(st.body_timeout, 1.0)   # waiting on the handler: look again
        self._timer = self.loop.call_later(max(deadline - now, 0.05), self._on_timer)

    cdef void _timeout_error(self):
        # A body streaming to the handler fails there (the handler answers); otherwise 408.
        self._protocol_error(408, "Request timeout")
