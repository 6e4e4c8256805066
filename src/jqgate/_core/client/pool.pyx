# The outbound HTTP/1.1 client: a keep-alive connection pool and one exchange per request.
#
# Shape (why it looks like this): the DataKit executor and the proxy path issue thousands of
# outbound requests per second; an asyncio Task/Future per request costs more than the request's
# own user-space work. So an exchange is a plain cdef object, the pool hands it to a connection,
# and the connection's protocol callbacks (data_received / connection_lost) complete it and call
# the caller's callback directly. Only *opening* a connection uses a coroutine (DNS + connect +
# TLS handshake through loop.create_connection); that cost is paid per connection, not per request.
#
# Order of events for one exchange:
#   send(ex, cb) -> serialise the head once -> idle connection (LIFO) | new connection | FIFO wait
#   -> ClientConnection.start(ex): write head (+ body) -> parse the response with llhttp
#   -> on_message_complete: ex.status/headers/body set, connection back to the pool (or closed),
#      then cb(ex) -- exactly once. cancel() closes the connection and suppresses the callback.
# Failures are values (ex.error_kind / ex.error), never exceptions out of the callback.
#
# Timeouts: ex.timeout bounds the whole exchange (0 = none); ex.connect_timeout bounds opening a
# connection and the wait for one in the per-host FIFO (so does the pool's queue_timeout); ex.read_timeout is the longest gap
# between response bytes, ex.write_timeout the longest time the socket may stay full (Kong's
# service timeouts). Limits: the response head (pool max_header_bytes) and, when buffered, the
# body (ex.max_body) -- over them the exchange fails with CERR_PROTOCOL.
# Pool keys are (scheme, host, port), plus (ssl_verify, server_hostname) for https so a
# connection opened without verification never serves a request that asked for it.
#
# Streaming (used by the proxy so big bodies never sit in memory whole):
#   * ex.sink (a ResponseSink): the head is reported through sink.on_head(ex), each body piece
#     through sink.on_data(ex, bytes); ex.body stays b"". The sink may call ex.pause_reading() /
#     ex.resume_reading() to apply back-pressure to the upstream socket.
#   * ex.stream_body = True: send() writes only the head; the caller then feeds ex.write(chunk)
#     and ex.write_eof(). Without a Content-Length header from the caller the body goes chunked.
#     ex.producer (a BodyProducer) is told to pause/resume when the upstream socket is full.

import asyncio as _asyncio
import collections as _collections
import socket as _socket
import ssl as _ssl
import httptools as _httptools


DEFAULT_MAX_CALL_RESPONSE_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_SERVICE_RESPONSE_BYTES = 10 * 1024 * 1024

cdef object _METHOD_HEAD = b"HEAD"
cdef frozenset _BODY_METHODS = frozenset([b"POST", b"PUT", b"PATCH"])


class _StrayBytes(Exception):
    """A message started after the answer, in the same read: the connection is retired."""


class _ClientLimit(Exception):
    """Raised from a parser callback to stop reading a response that is over a limit."""


cdef class ResponseSink:
    """Receives a streamed response (set ex.sink before send()). Subclass in Cython.

    on_head(ex) is called once the status line and headers are parsed (ex.status, ex.headers),
    on_data(ex, data) for each piece of body; the exchange's callback still ends it (with
    error_kind set if the upstream failed after the head) -- or, sent with callback None,
    the sink's own on_done(ex), which saves a Python call per exchange.

    A sink with takes_raw_head set may get a head the C scanner read (http/head.pyx) without
    its list of headers: ex.headers is None and ex.raw_head holds the read it starts; its
    fields are in scanned_head for the time of on_head only (scanned_fields() lists them)."""

    cdef void on_head(self, ClientExchange ex):
        pass

    cdef void on_data(self, ClientExchange ex, bytes data):
        pass

    cdef void on_flush(self, ClientExchange ex):
        """End of one read from the upstream socket: a good moment to write what was relayed."""
        pass

    cdef int on_done(self, ClientExchange ex) except -1:
        return 0

    cdef void on_switch(self, ClientExchange ex, ClientConnection conn, bytes rest):
        """The upstream answered an upgrade request (ex.upgrade) with 101: ex.status and
        ex.headers are its head, `conn` is out of the pool and the sink's to relay (a Tunnel)
        or close, `rest` what the upstream sent behind the head. The exchange is over (no
        on_done follows)."""
        conn._close()


cdef class BodyProducer:
    """Told to stop / restart feeding ex.write() when the upstream cannot take more body."""

    cdef void pause_producing(self):
        pass

    cdef void resume_producing(self):
        pass


cdef class ExchangeWaiter:
    """A pool callback the pool calls as a C method (the executor's call nodes are one: a
    Python-level call per answer built an argument tuple); any other callable works too."""

    cdef int exchange_done(self, object ex) except -1:
        return 0


cdef class PeerTracker:
    """Told once when an exchange sent to one of its peers ends (jqgate's Balancer, in
    proxy/balancer.pyx: least-connections counts open exchanges per peer, passive health checks
    count what the peer answered). `error_kind` is -1 for a cancelled exchange (nothing
    observed about the peer); `status` is 0 when no response head arrived."""
    cdef void exchange_ended(self, Py_ssize_t index, int status, int error_kind):
        pass


@cython.freelist(64)
@cython.auto_pickle(False)      # a live exchange (and its C array of kept fields) is not data
cdef class ClientExchange:
    """One outbound HTTP/1.1 request and its response. See the module comment for the order of
    events. Request fields are read at send(); `headers` and `body` are then replaced by the
    response's (the serialised request is kept internally for the one retry)."""


    def __init__(self, scheme="http", host="", port=80, method=b"GET", target=b"/",
                 headers=None, body=None, timeout=60.0):
        self.scheme = scheme
        self.host = host
        self.port = port
        self.method = method
        self.target = target
        self._headers = headers if headers is not None else []
        self.body = body
        self.timeout = timeout
        self.ssl_verify = True
        self.server_hostname = None
        self.idempotent = False
        self.status = 0
        self.error_kind = CERR_NONE
        self.error = ""
        self._pending = None

    property headers:
        """[(name, value)] bytes: the request's until send(), then the response's."""

        def __get__(self):
            return self.header_list()

        def __set__(self, list headers):
            self.set_headers(headers)

    cdef list header_list(self):
        """The fields as a list, made from a response head kept in place the first time."""
        if self._resp_raw is not None:
            self._headers = head_kept_list(&self._resp_fields, PyBytes_AS_STRING(self._resp_raw))
            self._resp_raw = None
        return self._headers

    cdef void set_headers(self, list headers):
        self._headers = headers
        self._resp_raw = None

    cdef bytes field_value(self, const char* lower_name, Py_ssize_t n):
        """The first value of a field (lower_name: n bytes, lower case), read in place from a
        kept response head; None when there is no such field."""
        if self._resp_raw is not None:
            return head_kept_value(&self._resp_fields, PyBytes_AS_STRING(self._resp_raw),
                                   lower_name, n)
        for item in self._headers:
            if len(<bytes>(<tuple>item)[0]) == n \
                    and _names_equal(<const char*><bytes>(<tuple>item)[0], lower_name, n):
                return <bytes>(<tuple>item)[1]
        return None

    def __repr__(self):
        return "<ClientExchange %s %s://%s:%d%s status=%d err=%d>" % (
            self.method, self.scheme, self.host, self.port, self.target, self.status,
            self.error_kind)

    # -- caller side -----------------------------------------------------------------------

    def cancel(self):
        """Abandon the exchange: its connection is closed (never pooled) and the callback is
        not called."""
        if self._done:
            return
        self._done = True
        self._cancelled = True
        self._stop_timer()
        if self.tracker is not None:
            self._end_tracking(-1)
        cdef ClientConnection conn = self._conn
        self._conn = None
        if conn is not None:
            conn._abandon()

    def write(self, bytes data):
        """Feed a piece of request body (stream_body mode)."""
        if self._done or not data:
            return
        if self._conn is not None and self._pending is None:
            self._conn._write_body(data)
            return
        if self._pending is None:
            self._pending = []
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size > CLIENT_BODY_HIGH_WATER:
            self._pause_producer()

    def write_eof(self):
        """End the streamed request body."""
        self._body_ended = True
        if self._done:
            return
        if self._conn is not None and self._pending is None:
            self._conn._write_body_eof()
        else:
            self._eof_pending = True

    def pause_reading(self):
        """Back-pressure from a ResponseSink: stop reading the upstream socket."""
        if self._conn is not None:
            self._conn._set_reading(False)

    def resume_reading(self):
        if self._conn is not None:
            self._conn._set_reading(True)

    # -- internal --------------------------------------------------------------------------

    cdef void _pause_producer(self):
        if self.producer is not None and not self._producer_paused:
            self._producer_paused = True
            self.producer.pause_producing()

    cdef void _resume_producer(self):
        if self.producer is not None and self._producer_paused:
            self._producer_paused = False
            self.producer.resume_producing()

    cdef void _end_tracking(self, int kind):
        cdef PeerTracker tracker = self.tracker
        self.tracker = None
        tracker.exchange_ended(self.tracker_index, self.status, kind)

    cdef void _stop_timer(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._wait_timer is not None:
            self._wait_timer.cancel()
            self._wait_timer = None

    def _on_wait_timeout(self):
        self._wait_timer = None
        if not self._done and self._conn is None:
            self._finish(CERR_TIMEOUT, "timed out waiting for a connection")

    cdef void _finish(self, int kind, str message):
        """Complete the exchange (success when kind == 0) and call the callback once."""
        if self._done:
            return
        self._done = True
        self._stop_timer()
        self._conn = None
        if self.tracker is not None:
            self._end_tracking(kind)
        if kind != CERR_NONE:
            self.error_kind = kind
            self.error = message
            if self.status == 0 or self.sink is None:
                # Before the head went to a sink, a failed exchange has no response.
                self.set_headers([])
                self.body = b""
        self._pending = None
        cb = self._callback
        self._callback = None
        if cb is None and self.sink is None:
            return
        try:
            if isinstance(cb, ExchangeWaiter):
                (<ExchangeWaiter>cb).exchange_done(self)
            elif cb is not None:
                cb(self)
            else:
                self.sink.on_done(self)
        except BaseException as exc:   # a buggy callback must not break the connection
            self._pool._report_callback_error(exc)

    def _on_total_timeout(self):
        self._timer = None
        if self._done:
            return
        cdef ClientConnection conn = self._conn
        if conn is not None:
            conn._fail_current(CERR_TIMEOUT, "upstream timed out")
        else:
            self._finish(CERR_TIMEOUT, "timed out waiting for a connection")


cdef class _HostSlot:
    """Per (scheme, host, port[, tls options]) state: idle connections (a LIFO stack), the
    number open or opening, and the FIFO of exchanges waiting for one."""

    def __init__(self, key, scheme, host, port, ssl, server_hostname):
        self.key = key
        self.scheme = scheme
        self.host = host
        self.port = port
        self.ssl = ssl
        self.server_hostname = server_hostname
        self.idle = []
        self.n_open = 0
        self.waiters = _collections.deque()


cdef inline ClientConnection _pool_take_last(list idle):
    """idle.pop(): Cython's pop calls the list's Python method whenever the list would shrink
    (with one or two idle connections, the usual case); a del of the last item does not."""
    cdef Py_ssize_t n = len(idle)
    cdef ClientConnection conn = <ClientConnection>idle[n - 1]
    del idle[n - 1]
    return conn


# max_per_host 0: no per-host cap (an int the open count never reaches)
cdef int NO_HOST_CAP = 2147483647


cdef class ConnectionPool:
    """Keep-alive HTTP/1.1 connections, one pool per process.

    send(ex, callback): callback(ex) exactly once (success or error), never after ex.cancel().

    Limits, each per key (scheme, host, port), with their defaults:
      max_per_host=0         open connections (idle and busy); further exchanges wait in a
                             FIFO queue. 0, the default: no per-host cap, as nginx and Kong
                             have none -- the busy connections are bounded by the requests in
                             flight (client connections), and only the idle ones are capped
                             (keepalive_pool_size). A cap lets a few hundred clients that stop
                             reading (held until the server's send_timeout) starve the rest.
      queue_limit=1024       exchanges waiting; one more fails at once with ERR_OVERLOAD (503)
      queue_timeout=60.0     seconds an exchange may wait for a connection (ERR_TIMEOUT, 504;
                             the exchange's connect_timeout bounds it too); 0 = no bound
      keepalive_pool_size=512     idle connections kept (Kong's upstream_keepalive_pool_size)
      keepalive_max_requests=1000 requests per connection, then it is closed (Kong's
                                  upstream_keepalive_max_requests); 0 = unlimited
      idle_timeout=60.0      seconds an idle connection is kept (Kong's
                             upstream_keepalive_idle_timeout)
    Idle connections are reused newest first, each checked on checkout for a peer that already
    closed it (a pending EOF or stray bytes: it is dropped, never written to). A request that
    still meets a closed connection (the peer closed between the check and the write) is sent
    again once on a new connection: an idempotent one when no answer byte came, any other
    only when its bytes provably never reached the peer (ClientConnection.eof_received).

    max_call_response_bytes (default 10 MiB): the largest response body a DataKit `call` node
    takes (a node's `max_response_size` overrides it). The body is held whole to decode it, so
    a bigger answer fails the call (the connection is closed, never pooled) instead of holding
    the memory; 0 = no limit.
    max_service_response_bytes (default 10 MiB): the same for the service's answer when a
    DataKit flow needs it whole (its response window, or a status set in the request window):
    over it the client gets 502 and the upstream connection is closed; 0 = no limit. A
    streamed (plain proxied) answer is not held, so it has no such limit."""


    def __init__(self, loop, max_per_host=0, idle_timeout=60.0, ssl_context=None,
                 max_header_bytes=65536, max_call_response_bytes=DEFAULT_MAX_CALL_RESPONSE_BYTES,
                 queue_limit=1024, queue_timeout=60.0, keepalive_pool_size=512,
                 keepalive_max_requests=1000,
                 max_service_response_bytes=DEFAULT_MAX_SERVICE_RESPONSE_BYTES):
        if max_per_host < 0 or queue_limit < 0 or keepalive_pool_size < 0 \
                or keepalive_max_requests < 0 or queue_timeout < 0 or idle_timeout < 0 \
                or max_call_response_bytes < 0 or max_service_response_bytes < 0:
            raise ValueError("connection pool limits must not be negative")
        self.loop = loop
        self.max_call_response_bytes = max_call_response_bytes
        self.max_service_response_bytes = max_service_response_bytes
        self.max_header_bytes = max_header_bytes
        self.max_per_host = max_per_host
        self.queue_limit = queue_limit
        self.queue_timeout = queue_timeout
        self.keepalive_pool_size = keepalive_pool_size
        self.keepalive_max_requests = keepalive_max_requests
        self.idle_timeout = idle_timeout
        self._slots = {}
        self._all = set()
        # ssl_context replaces the verifying default (tests pass one that trusts their CA).
        self._ssl_verify_ctx = ssl_context

    @property
    def max_per_host(self):
        """Open connections per host; 0 = no cap."""
        return 0 if self._host_cap == NO_HOST_CAP else self._host_cap

    @max_per_host.setter
    def max_per_host(self, int value):
        if value < 0:
            raise ValueError("max_per_host must not be negative")
        # 0 (no cap) as the largest int: the dispatch path compares as it always did
        self._host_cap = value if value > 0 else NO_HOST_CAP

    @property
    def stats(self):
        cdef int n_idle = 0
        cdef int n_open = 0
        cdef int n_wait = 0
        cdef _HostSlot slot
        for slot in self._slots.values():
            n_idle += len(slot.idle)
            n_open += slot.n_open
            n_wait += len(slot.waiters)
        return {"open": n_open, "idle": n_idle, "created": self.n_created,
                "reused": self.n_reused, "retried": self.n_retried,
                "requests": self.n_requests, "waiting": n_wait, "stale": self.n_stale,
                "overloaded": self.n_overloaded, "replayed_unsent": self.n_replayed_unsent,
                "replayed_reset": self.n_replayed_reset}

    cpdef send(self, ClientExchange ex, callback):
        ex._pool = self
        ex._callback = callback
        ex._done = False
        ex._cancelled = False
        ex.status = 0
        ex.error_kind = CERR_NONE
        ex.error = ""
        ex.body_over_limit = False
        ex.attempts = 0
        ex._fresh_only = False
        ex._body_started = False
        ex._pending_size = 0
        ex._eof_pending = False
        ex._body_ended = False
        ex._close_after = False
        ex._producer_paused = False
        self.n_requests += 1
        try:
            ex._head = _client_build_head(ex)
        except Exception as exc:
            ex._finish(CERR_PROTOCOL, "bad request for upstream: %s" % (exc,))
            return
        if ex.body is not None and not ex.stream_body:
            if not isinstance(ex.body, bytes):
                ex.body = bytes(ex.body)
        ex.set_headers([])   # from here on `headers` means the response's
        if self._closed:
            ex._finish(CERR_CONNECT, "connection pool is closed")
            return
        # The total timeout is a deadline, not a timer of its own: an exchange served at once
        # by a pooled connection has it checked by that connection's timer (_arm_gap_timer);
        # only one that must wait for a connection arms a timer (in _dispatch). A loop timer
        # per call cost ~3,000 instructions (call_later, then cancel).
        ex._deadline = mono_now() + ex.timeout if ex.timeout > 0 else 0
        self._dispatch(ex)

    cdef object _key_for(self, ClientExchange ex):
        if ex.scheme == "https":
            if ex.tunnel is None and ex.ssl_context is None:
                return (ex.scheme, ex.host, ex.port, ex.ssl_verify, ex.server_hostname)
            return (ex.scheme, ex.host, ex.port, ex.ssl_verify, ex.server_hostname,
                    ex.tunnel.key() if ex.tunnel is not None else None, ex.ssl_context)
        return (ex.scheme, ex.host, ex.port)

    cdef _HostSlot _slot_for(self, ClientExchange ex):
        # Most exchanges in a row go to the same service, whose host and scheme are the same
        # str objects each time: compared by identity first, without building the key.
        cdef _HostSlot slot = self._last_slot
        if slot is not None and ex.host is slot.host and ex.scheme is slot.scheme \
                and ex.port == slot.port and slot.ssl is None:
            return slot
        key = self._key_for(ex)
        slot = self._slots.get(key)
        if slot is None:
            ssl_ctx = None
            sni = None
            if ex.scheme == "https":
                if ex.ssl_context is not None and ex.ssl_verify:
                    ssl_ctx = ex.ssl_context
                else:
                    ssl_ctx = self._ssl_context(ex.ssl_verify)
                sni = ex.server_hostname or ex.host
            slot = _HostSlot(key, ex.scheme, ex.host, ex.port, ssl_ctx, sni)
            if ex.scheme == "https":
                slot.tunnel = ex.tunnel
            self._slots[key] = slot
        if slot.ssl is None:
            self._last_slot = slot
        return slot

    cdef object _ssl_context(self, bint verify):
        if verify:
            if self._ssl_verify_ctx is None:
                self._ssl_verify_ctx = _ssl.create_default_context()
            return self._ssl_verify_ctx
        if self._ssl_noverify_ctx is None:
            ctx = _ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = _ssl.CERT_NONE
            self._ssl_noverify_ctx = ctx
        return self._ssl_noverify_ctx

    cdef void _dispatch(self, ClientExchange ex):
        cdef _HostSlot slot = self._slot_for(ex)
        cdef ClientConnection conn
        if not ex._fresh_only:
            while slot.idle:
                conn = _pool_take_last(slot.idle)
                # (conn._transport_closing is its transport's is_closing, looked up once)
                if conn.state == CONN_IDLE and not conn._transport_closing() \
                        and not conn._peer_closed():
                    self.n_reused += 1
                    conn._start(ex, True)
                    return
                conn._close()
        if len(slot.waiters) >= self.queue_limit and slot.n_open >= self._host_cap \
                and not ex._fresh_only:
            self.n_overloaded += 1
            ex._finish(CERR_OVERLOAD, "too many requests waiting for a connection to %s:%d"
                       % (ex.host, ex.port))
            return
        slot.waiters.append(ex)
        if ex._deadline > 0 and ex._timer is None:
            ex._timer = self.loop.call_later(max(ex._deadline - mono_now(), 0.0),
                                             ex._on_total_timeout)
        cdef double wait = ex.connect_timeout
        if self.queue_timeout > 0 and (wait <= 0 or self.queue_timeout < wait):
            wait = self.queue_timeout
        if wait > 0 and ex._wait_timer is None:
            ex._wait_timer = self.loop.call_later(wait, ex._on_wait_timeout)
        if slot.n_open < self._host_cap or ex._fresh_only:
            self._open(slot, ex.connect_timeout)

    cdef void _open(self, _HostSlot slot, double connect_timeout):
        slot.n_open += 1
        self.n_created += 1
        conn = ClientConnection(self, slot)
        self._all.add(conn)
        self.loop.create_task(conn._connect(connect_timeout))

    cdef ClientExchange _next_waiter(self, _HostSlot slot):
        cdef ClientExchange ex
        while slot.waiters:
            ex = slot.waiters.popleft()
            if not ex._done:
                return ex
        return None

    cdef void _connection_ready(self, ClientConnection conn):
        """A new connection is up, or a used one became free: serve the oldest waiter."""
        cdef _HostSlot slot = conn.slot
        cdef ClientExchange ex = self._next_waiter(slot)
        if ex is not None:
            if conn.n_served > 0:
                if conn._peer_closed():
                    # It goes back to the head of the queue; connection_lost opens a new
                    # connection for it. (An idle one is checked when it is taken instead.)
                    slot.waiters.appendleft(ex)
                    conn._close()
                    return
                self.n_reused += 1
            conn._start(ex, conn.n_served > 0)
            return
        if self._closed or len(slot.idle) >= self.keepalive_pool_size:
            conn._close()
            return
        conn.state = CONN_IDLE
        conn.idle_since = mono_now()
        slot.idle.append(conn)
        if self._sweeper is None and self.idle_timeout > 0:
            self._sweeper = self.loop.call_later(self.idle_timeout / 2 + 0.01, self._sweep)

    cdef void _connect_failed(self, ClientConnection conn, int kind, str message):
        """Opening failed: the oldest waiter gets the error; capacity goes to the next one."""
        cdef _HostSlot slot = conn.slot
        self._forget(conn)
        cdef ClientExchange ex = self._next_waiter(slot)
        if ex is not None:
            ex._finish(kind, message)
        if slot.waiters and slot.n_open < self._host_cap and not self._closed:
            ex = slot.waiters[0]
            self._open(slot, ex.connect_timeout)

    cdef void _forget(self, ClientConnection conn):
        """The connection is gone: drop it from the books, let a waiter open a new one."""
        cdef _HostSlot slot = conn.slot
        if conn in self._all:
            self._all.discard(conn)
            slot.n_open -= 1
        if conn in slot.idle:
            slot.idle.remove(conn)

    cdef void _connection_closed(self, ClientConnection conn):
        cdef _HostSlot slot = conn.slot
        self._forget(conn)
        cdef ClientExchange ex
        if slot.waiters and slot.n_open < self._host_cap and not self._closed:
            ex = self._next_waiter(slot)
            if ex is not None:
                slot.waiters.appendleft(ex)
                self._open(slot, ex.connect_timeout)

    cdef void _retry(self, ClientExchange ex):
        self.n_retried += 1
        ex._fresh_only = True
        self._dispatch(ex)

    def _sweep(self):
        self._sweeper = None
        cdef double now = mono_now()
        cdef _HostSlot slot
        cdef ClientConnection conn
        cdef bint any_idle = False
        for slot in list(self._slots.values()):
            # idle is newest-last: expired connections are at the front.
            while slot.idle:
                conn = slot.idle[0]
                if now - conn.idle_since < self.idle_timeout:
                    break
                slot.idle.pop(0)
                conn._close()
            if slot.idle:
                any_idle = True
            elif slot.n_open == 0 and not slot.waiters:
                del self._slots[slot.key]     # hosts seen once don't accumulate
                if slot is self._last_slot:
                    self._last_slot = None
        if any_idle and not self._closed:
            self._sweeper = self.loop.call_later(self.idle_timeout / 2 + 0.01, self._sweep)

    def close(self):
        """Close every connection; waiting and running exchanges fail with CERR_RESET."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        cdef _HostSlot slot
        cdef ClientExchange ex
        cdef ClientConnection conn
        for slot in list(self._slots.values()):
            while True:
                ex = self._next_waiter(slot)
                if ex is None:
                    break
                ex._finish(CERR_RESET, "connection pool closed")
        for conn in list(self._all):
            conn._fail_current(CERR_RESET, "connection pool closed")
            conn._close()

    cdef void _report_callback_error(self, exc):
        ctx = {"message": "exception in ClientExchange callback", "exception": exc}
        self.loop.call_exception_handler(ctx)


cdef bytes _client_build_head(ClientExchange ex):
    """The request line and headers, serialised once (reused verbatim for the retry)."""
    cdef bytes target = ex.target or b"/"
    if ex.headers_ready and not ex.stream_body:
        if ex.body is not None:
            return write_request_head(ex.method, target, ex._headers, ex.head_fields,
                                      [(b"Content-Length", write_int(len(ex.body)))])
        if ex.method in _BODY_METHODS:
            return write_request_head(ex.method, target, ex._headers, ex.head_fields,
                                      [(b"Content-Length", b"0")])
        return write_request_head(ex.method, target, ex._headers, ex.head_fields, None)
    cdef list headers = ex._headers
    cdef list kept = None        # a filtered copy, made only when some header must go
    cdef bint has_host = False
    cdef bint has_length = False
    cdef bint has_te = False
    cdef bint skip
    cdef int kind
    cdef tuple pair
    cdef bytes name
    cdef bytes value
    cdef Py_ssize_t i
    for i in range(len(headers)):
        pair = _write_pair(headers[i])
        name = <bytes>pair[0]
        value = <bytes>pair[1]
        problem = header_field_problem(name, value)
        if problem is not None:
            raise ValueError(problem)
        kind = header_kind(name)
        skip = False
        if kind == HK_HOST:
            has_host = True
        elif kind == HK_CONTENT_LENGTH:
            has_length = ex.stream_body
            skip = not ex.stream_body      # recomputed from the body below
        elif kind == HK_TRANSFER_ENCODING:
            has_te = ex.stream_body
            skip = not ex.stream_body
        elif kind == HK_CONNECTION and value.lower().find(b"close") >= 0:
            ex._close_after = True      # the caller asked the peer to close: never pool it
        if skip:
            if kept is None:
                kept = headers[:i]
        elif kept is not None:
            kept.append(pair)
    cdef list extra = []
    if not has_host and ex.head_fields is None:
        extra.append((b"Host", _client_host_header(ex.scheme, ex.host, ex.port)))
    if ex.stream_body:
        if not has_length and not has_te:
            extra.append((b"Transfer-Encoding", b"chunked"))
    elif ex.body is not None:
        extra.append((b"Content-Length", write_int(len(ex.body))))
    elif ex.method in _BODY_METHODS:
        extra.append((b"Content-Length", b"0"))
    return write_request_head(ex.method, target, kept if kept is not None else headers,
                              ex.head_fields, extra)


# The last Host value built: a call node sends to the same host and port request after request
# (formatting it cost a `%` and an encode each time).
cdef object _client_last_host = None
cdef str _client_last_scheme = None
cdef int _client_last_port = -1
cdef bytes _client_last_host_header = None


cdef bytes _client_host_header(str scheme, str host, int port):
    global _client_last_host, _client_last_scheme, _client_last_port, _client_last_host_header
    if host is _client_last_host and port == _client_last_port and scheme == _client_last_scheme:
        return _client_last_host_header
    cdef bytes value
    if (scheme == "https" and port == 443) or (scheme == "http" and port == 80):
        value = host.encode("idna") if not host.isascii() else host.encode()
    else:
        value = ("%s:%d" % (host, port)).encode()
    _client_last_host = host
    _client_last_scheme = scheme
    _client_last_port = port
    _client_last_host_header = value
    return value
