# Plain proxying: a matched request goes to its service over the pool and the answer comes back,
# both bodies streaming with back-pressure when they are not buffered.
#
#   ProxyHandler(gateway, pool, ...)  is a RequestHandler. Per request:
#     decision = decision_for(router, req)   (routing/decision.pyx: the gateway's compiled router,
#                                             routing/router.pyx, and the matched route's service;
#                                             kept in req.ctx: .route / .service.service are the
#                                             config records kong.router.route/service expose)
#       -> (status, message) answered as the gateway's JSON error, or a decision with
#          .route .service .target (bytes) .host_header (bytes) .forwarded_prefix (bytes|None)
#     proxy(req, resp, decision)             (cpdef: the DataKit executor calls it after its
#                                             request phase, with req.headers / req.body changed)
#   For a handler that needs the upstream answer whole (response-phase DataKit nodes):
#     ex = prepare_upstream_exchange(req, decision); pool.send(ex, cb)
#     ... cb: resp.send(ex.status, filter_response_headers(ex.headers), ex.body)
#     or, on a failure, while retries are left and proxy_may_retry(ex): prepare and send again.
#   ProxyCall drives one proxied request: pick a target, build the upstream request (hop-by-hop
#   headers out, X-Forwarded-* in), send it through the pool with itself as the ResponseSink,
#   relay the head (hop-by-hop out, Via and latency headers in) and the body; retry on the next
#   target when nothing has reached the client yet and the failure allows it (proxy_may_retry).
#
# Flow control: the client socket full -> ProxyCall.pause_producing -> stop reading upstream;
# the upstream socket full -> _ProxyBodyProducer.pause_producing -> stop reading the client.
# Failures map once, at the end: connect/reset/protocol/TLS -> 502, timeout -> 504, no target ->
# 503; after the head went out the only honest answer is to close the client connection.

cdef frozenset _PROXY_HOP = frozenset([
    b"connection", b"keep-alive", b"proxy-connection", b"proxy-authenticate",
    b"proxy-authorization", b"te", b"trailer", b"trailers", b"transfer-encoding", b"upgrade"])

cdef frozenset _PROXY_IDEMPOTENT = frozenset([b"GET", b"HEAD", b"PUT", b"DELETE", b"OPTIONS",
                                              b"TRACE"])

MSG_BAD_GATEWAY = "An invalid response was received from the upstream server"
MSG_TIMEOUT = "The upstream server is timing out"
MSG_NO_PEER = "failure to get a peer from the ring-balancer"
MSG_OVERLOAD = "The upstream server is currently unavailable: too many requests waiting for a connection"
# Kong's response_buffering read-ahead per request (ProxyHandler.response_buffer_size)
PROXY_RESPONSE_BUFFER_SIZE = 1 << 20


cdef void proxy_answer_failure(Responder resp, ClientExchange ex):
    """A failed upstream exchange, answered as Kong does: a timeout (also waiting for a
    connection) 504, a full connection queue 503, anything else 502."""
    if ex.error_kind == CERR_TIMEOUT:
        resp.send_error(504, MSG_TIMEOUT)
    elif ex.error_kind == CERR_OVERLOAD:
        resp.send_error(503, MSG_OVERLOAD)
    else:
        resp.send_error(502, MSG_BAD_GATEWAY)


cdef inline bint _proxy_is_plain_connection(bytes value) noexcept:
    """`keep-alive` or `close` alone: what nearly every peer sends, and names no header."""
    return _proxy_is_plain_connection_at(<const char*>value, len(value))


cdef inline bint _proxy_is_plain_connection_at(const char* s, Py_ssize_t n) noexcept:
    return (n == 10 and _names_equal(s, b"keep-alive", 10)) or (n == 5 and _names_equal(s, b"close", 5))


cdef set _proxy_connection_tokens(list connection_values):
    """Header names a Connection header lists (hop-by-hop by declaration), beyond the usual
    close / keep-alive. None when there are none: the common case costs nothing more."""
    cdef set tokens = None
    for value in connection_values:
        if _proxy_is_plain_connection(value):
            continue
        for tok in value.split(b","):
            tok = tok.strip().lower()
            if tok and tok != b"close" and tok != b"keep-alive":
                if tokens is None:
                    tokens = set()
                tokens.add(tok)
    return tokens


cdef list _proxy_drop_named(list headers, set names):
    return [(k, v) for k, v in headers if k.lower() not in names]


cdef class ProxyHandler(RequestHandler):
    """Routes with the gateway and proxies over the pool (see the module comment)."""

    def __init__(self, gateway, ConnectionPool pool, via=b"1.1 jqgate/0.1.0",
                 upstream_latency_header=b"X-Kong-Upstream-Latency",
                 proxy_latency_header=b"X-Kong-Proxy-Latency",
                 response_buffer_size=PROXY_RESPONSE_BUFFER_SIZE):
        self.gateway = gateway
        self.pool = pool
        self.via = via
        self.upstream_latency_header = upstream_latency_header
        self.proxy_latency_header = proxy_latency_header
        self.response_buffer_size = response_buffer_size

    @property
    def gateway(self):
        return self._gateway

    @gateway.setter
    def gateway(self, gateway):
        """Set at start and on reload: routing follows the new gateway (and its router) at once."""
        self._gateway = gateway
        self.router = gateway.compiled_router
        config = getattr(gateway, "config", None)
        self._any_unbuffered = config is not None and any(
            not getattr(r, "request_buffering", True) for r in config.routes)

    cdef bint streams_request_body(self, HttpRequest req):
        """Kong's request_buffering = false: routed when the head is in (the decision is kept
        for handle()), so the body streams to the upstream from its first byte."""
        if not self._any_unbuffered:
            return False
        decision = req.ctx
        if decision is None:
            decision = decision_for(self.router, req)
            if type(decision) is tuple:
                return False        # answered by handle(), with the body in as usual
            req.ctx = decision
        return not decision.route.request_buffering

    cpdef handle(self, HttpRequest req, Responder resp):
        decision = req.ctx
        if decision is None:
            decision = decision_for(self.router, req)
        if type(decision) is tuple:
            resp.send_error(decision[0], decision[1])
            return
        req.ctx = decision
        self.proxy(req, resp, decision)

    cpdef proxy(self, HttpRequest req, Responder resp, decision):
        cdef ProxyCall call = ProxyCall.__new__(ProxyCall)
        call.takes_raw_head = True
        call.read_ahead = -1
        call.handler = self
        call.req = req
        call.resp = resp
        call.decision = decision
        call.service = (<ProxyDecision>decision).service if type(decision) is ProxyDecision \
            else decision.service
        call.tries_left = call.service.retries
        call.streamed = req.body is None
        call.headers, call.fields = _proxy_request_headers(req, decision, call.streamed)
        if call.streamed:
            call.pump = _ProxyBodyPump.__new__(_ProxyBodyPump)
            call.pump.call = call
            call.body_producer = _ProxyBodyProducer.__new__(_ProxyBodyProducer)
            call.body_producer.body = req.body_stream
        resp.producer = _ProxyClientFlow.__new__(_ProxyClientFlow)
        (<_ProxyClientFlow>resp.producer).call = call
        resp.log_extra = call           # the access log reads route and upstream latency
        call._attempt()


cdef tuple _proxy_request_headers(HttpRequest req, decision, bint keep_length):
    """(the client's fields that go upstream, as the parser's (name, value) tuples; the fields
    the proxy sets -- Host, X-Forwarded-*, X-Real-IP, the request id -- serialised in one bytes
    object, as write_request_head takes them: a tuple per field cost ~200 instructions to make,
    check, size, copy and free)."""
    cdef unsigned char keep[HEAD_KEPT_FIELDS]
    cdef Py_ssize_t raw_size
    if req.keeps_raw_fields() and not keep_length:
        raw_size = _proxy_raw_fields_kept(req, keep)
        if raw_size >= 0:
            return [], _proxy_forwarded_fields(req, keep, raw_size, req, decision, None)
    cdef list conn_values = None
    cdef list out = []
    cdef bytes xff = None
    cdef bytes upgrade = None
    cdef int kind
    cdef tuple pair
    for item in req.header_list():
        pair = _write_pair(item)    # (bytes, bytes), checked: a handler may have replaced them
        kind = header_kind(<bytes>pair[0])
        if kind == HK_OTHER or kind == HK_VIA or (kind == HK_CONTENT_LENGTH and keep_length):
            out.append(pair)    # the parser's own (name, value) tuple: nothing to copy
        elif kind == HK_CONNECTION:
            if conn_values is None:
                conn_values = []
            conn_values.append(pair[1])
        elif kind == HK_X_FORWARDED_FOR:
            value = pair[1]
            xff = value if xff is None else xff + b", " + value
        elif kind == HK_UPGRADE:
            upgrade = pair[1]
        # everything else is hop-by-hop, ours to set (X-Forwarded-*, X-Real-IP, the request
        # id), answered already (Expect), or Content-Length the client recomputes from the
        # (possibly rewritten) body
    if conn_values is not None:
        tokens = _proxy_connection_tokens(conn_values)
        if tokens is not None:
            out = _proxy_drop_named(out, tokens)
    if req.upgrade and upgrade is not None:
        # Kong's $upstream_upgrade / $upstream_connection: the client's protocol switch is
        # asked of the upstream too (a 101 then makes a tunnel: ProxyCall.on_switch).
        out.append((b"Connection", b"Upgrade"))
        out.append((b"Upgrade", upgrade))
    return out, _proxy_forwarded_fields(None, NULL, 0, req, decision, xff)


cdef Py_ssize_t _proxy_raw_fields_kept(HttpRequest req, unsigned char* keep):
    """For a request whose fields are still the scanned head's (HttpRequest.keeps_raw_fields):
    which go upstream as they are (keep[i]) and their size as field lines; -1 when one needs
    the general path (an X-Forwarded-For to extend, a Connection that names fields). The same
    choice as the list path of _proxy_request_headers, for the fields the scanner lets through
    (no Content-Length, Transfer-Encoding, Expect or Upgrade)."""
    cdef const char* buf = PyBytes_AS_STRING(req._raw) + req._raw_at
    cdef const jqg_field* f
    cdef Py_ssize_t size = 0
    cdef int i, kind
    for i in range(req._raw_fields.n):
        f = &req._raw_fields.at[i]
        kind = header_kind_at(buf + f.name_at, f.name_len)
        if kind == HK_OTHER or kind == HK_VIA:
            keep[i] = 1
            size += f.name_len + f.value_len + 4
        elif kind == HK_X_FORWARDED_FOR or kind == HK_UPGRADE or kind == HK_CONTENT_LENGTH \
                or (kind == HK_CONNECTION and not _proxy_is_plain_connection_at(
                    buf + f.value_at, f.value_len)):
            return -1
        else:
            keep[i] = 0         # hop-by-hop, or ours to set (see _proxy_request_headers)
    return size


cdef inline Py_ssize_t _proxy_field_size(Py_ssize_t name_len, bytes value) except -1:
    return name_len + len(value) + 4


cdef inline char* _proxy_put_field(char* p, const char* name, Py_ssize_t name_len,
                                   bytes value) noexcept:
    return _write_field(p, name, name_len, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value))


cdef bytes _proxy_forwarded_fields(HttpRequest raw, const unsigned char* keep,
                                   Py_ssize_t raw_size, HttpRequest req, decision,
                                   bytes client_xff):
    """"Host: ...\r\nX-Forwarded-For: ...\r\n" and the rest of the proxy's own fields, in one
    allocation (X-Forwarded-Prefix only when given); after the client's own fields that go
    upstream when `raw` is given (its scanned fields with keep[i] set, raw_size bytes as field
    lines: see _proxy_raw_fields_kept). client_xff: the client's X-Forwarded-For, to extend."""
    cdef bytes ip = req.client_ip_bytes
    if ip is None:
        ip = req.client_ip.encode()
    cdef ProxyDecision d = decision if type(decision) is ProxyDecision else None
    cdef bytes fwd_host = req.host
    if fwd_host.startswith(b"["):
        fwd_host = fwd_host[:fwd_host.find(b"]") + 1]
    elif write_has_byte(fwd_host, 58):   # ':'
        fwd_host = fwd_host[:fwd_host.rfind(b":")]
    cdef bytes port = req.server_port_bytes
    if port is None:
        port = write_int(req.server_port)
    cdef bytes host = d.host_header if d is not None else decision.host_header
    cdef bytes xff = ip if client_xff is None else client_xff + b", " + ip
    cdef bytes proto = b"https" if req.scheme == "https" else b"http"
    cdef bytes path = req.path
    cdef bytes prefix = d.forwarded_prefix if d is not None else decision.forwarded_prefix
    cdef bytes request_id = req.request_id
    cdef Py_ssize_t size = _proxy_field_size(4, host) + _proxy_field_size(15, xff) \
        + _proxy_field_size(17, proto) + _proxy_field_size(16, fwd_host) \
        + _proxy_field_size(16, port) + _proxy_field_size(16, path) \
        + _proxy_field_size(9, ip) + _proxy_field_size(17, request_id) + raw_size
    if prefix is not None:
        size += _proxy_field_size(18, prefix)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
    cdef char* p = PyBytes_AS_STRING(out)
    cdef const char* src
    cdef const jqg_field* f
    cdef int i
    if raw is not None:
        src = PyBytes_AS_STRING(raw._raw) + raw._raw_at
        for i in range(raw._raw_fields.n):
            if keep[i]:
                f = &raw._raw_fields.at[i]
                p = _write_field(p, src + f.name_at, f.name_len, src + f.value_at, f.value_len)
    p = _proxy_put_field(p, b"Host", 4, host)
    p = _proxy_put_field(p, b"X-Forwarded-For", 15, xff)
    p = _proxy_put_field(p, b"X-Forwarded-Proto", 17, proto)
    p = _proxy_put_field(p, b"X-Forwarded-Host", 16, fwd_host)
    p = _proxy_put_field(p, b"X-Forwarded-Port", 16, port)
    p = _proxy_put_field(p, b"X-Forwarded-Path", 16, path)
    if prefix is not None:
        p = _proxy_put_field(p, b"X-Forwarded-Prefix", 18, prefix)
    p = _proxy_put_field(p, b"X-Real-IP", 9, ip)
    _proxy_put_field(p, b"X-Kong-Request-Id", 17, request_id)
    return out


cdef ClientExchange _proxy_new_exchange(ServiceTarget svc, tuple peer, HttpRequest req, decision,
                                        list headers, bytes fields):
    """The upstream exchange for one attempt: target, timeouts and TLS from the service."""
    cdef ClientExchange ex = ClientExchange.__new__(ClientExchange)
    ex.scheme = svc.scheme
    ex.host = peer[0]
    ex.port = peer[1]
    ex.method = req.method
    ex.target = decision.target
    ex._headers = headers
    ex.head_fields = fields
    ex.timeout = 0
    ex.connect_timeout = svc.connect_timeout
    ex.read_timeout = svc.read_timeout
    ex.write_timeout = svc.write_timeout
    ex.ssl_verify = svc.tls_verify
    ex.server_hostname = svc.sni
    ex.idempotent = req.method in _PROXY_IDEMPOTENT
    if req.upgrade:
        ex.upgrade = True
    ex.error = ""
    # _proxy_request_headers wrote them for the wire: the parser let no CR/LF into the
    # client's headers, DataKit checks the ones it sets, and framing headers were dropped
    # (kept only for a streamed body, which send() inspects as before).
    ex.headers_ready = True
    if svc.balancer is not None:
        svc.balancer.track(ex)      # least-connections / passive checks hear how it ends
    return ex


cdef bint proxy_may_retry(ClientExchange ex):
    """Whether a failed upstream attempt may go again to the next peer (the caller checks that
    tries are left and nothing reached the client). Kong's rule (nginx proxy_next_upstream
    error timeout, without non_idempotent): transport failures only. A failure before the
    request was written on any connection (connect refused or timed out, TLS handshake, a full
    connection queue, no connection in time: `attempts` is 0) means the upstream never saw it:
    always, any method (a streamed body is replayed, see _ProxyBodyPump). Any other failure may
    have been acted on upstream: only an idempotent method goes again, and only with its body
    still in hand (buffered, not streamed). An answer over the size the caller buffers
    (body_over_limit) is not a transport failure: the next peer would send it again."""
    if ex.body_over_limit:
        return False
    if (ex.error_kind == CERR_CONNECT or ex.error_kind == CERR_TLS
            or ex.error_kind == CERR_OVERLOAD or ex.attempts == 0):
        return True
    return ex.idempotent and not ex.stream_body


cpdef ClientExchange prepare_upstream_exchange(HttpRequest req, decision, int attempt=0):
    """For a handler that wants the whole upstream answer in hand (e.g. the DataKit executor
    running response-phase nodes): a ClientExchange for `decision`'s service with the proxy's
    request headers and req.body (bytes; read a streamed body first). Send it with
    pool.send(ex, callback); None when the service has no peer (answer 503). It makes one
    attempt: for the service's retries, call again when proxy_may_retry(ex) (it picks the
    next peer; `attempt` counts the tries made, for a consistent-hashing upstream)."""
    cdef ServiceTarget svc = decision.service
    peer = svc.pick_for(req, attempt)
    if peer is None:
        return None
    headers, fields = _proxy_request_headers(req, decision, False)
    cdef ClientExchange ex = _proxy_new_exchange(svc, peer, req, decision, headers, fields)
    body = req.body
    ex.body = body if body else None
    return ex


cdef inline bint _proxy_passes_on(int kind) noexcept:
    """Response fields the client gets as they are: any name without a meaning for the proxy,
    and the ones that matter only in a request (X-Forwarded-*, X-Real-IP, the request id,
    Host, Expect)."""
    return kind == HK_OTHER or kind == HK_X_FORWARDED_FOR or kind == HK_X_FORWARDED_OTHER \
        or kind == HK_X_REAL_IP or kind == HK_X_KONG_REQUEST_ID or kind == HK_HOST \
        or kind == HK_EXPECT


cdef list _proxy_response_headers(list headers, bytes via, long long* length):
    """An upstream answer's headers as the client may see them: hop-by-hop (and what the
    Connection header names) and Content-Length removed (its value goes to *length), `via`
    appended to the Via chain (None: the chain is passed on as it is)."""
    cdef list conn_values = None
    cdef list out = []
    cdef bytes seen_via = None
    cdef int kind
    cdef tuple pair
    length[0] = -1
    for item in headers:
        pair = _write_pair(item)
        kind = header_kind(<bytes>pair[0])
        if _proxy_passes_on(kind):
            out.append(pair)
        elif kind == HK_CONTENT_LENGTH:
            length[0] = int(pair[1])
        elif kind == HK_VIA:
            value = pair[1]
            seen_via = value if seen_via is None else seen_via + b", " + value
        elif kind == HK_CONNECTION:
            if conn_values is None:
                conn_values = []
            conn_values.append(pair[1])
        elif kind == HK_PROXY_ANY and (<bytes>pair[0]).lower() not in _PROXY_HOP:
            out.append(pair)    # only three proxy-* names are hop-by-hop in a response
    if conn_values is not None:
        tokens = _proxy_connection_tokens(conn_values)
        if tokens is not None:
            out = _proxy_drop_named(out, tokens)
    if via is not None:
        out.append((b"Via", via if seen_via is None else seen_via + b", " + via))
    elif seen_via is not None:
        out.append((b"Via", seen_via))
    return out


cpdef list filter_response_headers(list headers, bytes via=b"1.1 jqgate/0.1.0"):
    """An upstream answer's headers as the client may see them: hop-by-hop (and what the
    Connection header names) and Content-Length removed (Responder.send sets it), Via added."""
    cdef long long length
    return _proxy_response_headers(headers, via, &length)


cdef enum:
    PROXY_LATENCY_FIELDS = 64       # latencies (ms) whose header fields are made once


cdef list _proxy_latency_fields_for(bytes name, list fields):
    """The (name, b"0") ... (name, b"63") fields of a latency header, made when the name is
    new (the handler's header names may be changed at any time): nearly every answer's
    latencies are a few milliseconds, and then the field costs no tuple of its own."""
    if fields is not None and <bytes>(<tuple>fields[0])[0] is name:
        return fields
    return [(name, write_int(ms)) for ms in range(PROXY_LATENCY_FIELDS)]


cdef inline tuple _proxy_latency_field(list fields, long long ms):
    if 0 <= ms < PROXY_LATENCY_FIELDS:
        return <tuple>fields[ms]
    return ((<tuple>fields[0])[0], write_int(ms))


@cython.freelist(64)
cdef class ProxyCall(ResponseSink):

    cdef void _attempt(self):
        cdef ProxyHandler h = self.handler
        cdef ServiceTarget svc = self.service
        peer = svc.pick_for(self.req, svc.retries - self.tries_left)
        if peer is None:
            self.resp.send_error(503, MSG_NO_PEER)
            return
        cdef ClientExchange ex = _proxy_new_exchange(svc, peer, self.req, self.decision,
                                                      self.headers, self.fields)
        ex.sink = self
        if self.streamed:
            ex.stream_body = True
            ex.producer = self.body_producer
        else:
            body = self.req.body
            ex.body = body if (body or self.req._body is not None) else None
        self.ex = ex
        self.t_upstream_start = mono_now()
        h.pool.send(ex, None)          # ends in on_done
        if self.streamed and self.ex is ex and not ex._done and self.pump is not None:
            self.pump.replay()
            self.req.body_stream.pipe(self.pump)

    # -- upstream response (ResponseSink) --------------------------------------------------

    cdef void on_head(self, ClientExchange ex):
        self.t_upstream_head = mono_now()
        cdef bytes raw = ex.raw_head
        if raw is not None:
            ex.raw_head = None
            if self._relay_scanned_head(ex, raw):
                return
            ex._headers = scanned_fields(raw, 0)
        cdef long long length
        cdef list out = _proxy_response_headers(ex._headers, self.handler.via, &length)
        self._add_latency_headers(out)
        self.head_sent = True
        if self.resp.finished:
            return
        self.resp.start(ex.status, out, length)

    cdef bint _relay_scanned_head(self, ClientExchange ex, bytes raw):
        """The scanner's head (ResponseSink.takes_raw_head) copied to the client field by
        field, when _proxy_response_headers would only drop its framing and Connection fields
        and add Via: no Via chain to extend, no other hop-by-hop or proxy-* field, nothing
        named by Connection. False leaves it to the general path."""
        cdef const char* src = raw
        cdef unsigned char keep[64]
        cdef int i, kind
        cdef const jqg_field* f
        for i in range(scanned_head.n_fields):
            f = &scanned_head.fields[i]
            kind = header_kind_at(src + f.name_at, f.name_len)
            if kind == HK_CONTENT_LENGTH or kind == HK_CONNECTION:
                keep[i] = 0     # the scanner let only "close" / "keep-alive" through
            elif _proxy_passes_on(kind):
                if f.name_len == 5 and _names_equal(src + f.name_at, b"close", 5):
                    return False    # a field "Connection: close" would name
                keep[i] = 1
            else:
                return False
        cdef ProxyHandler h = self.handler
        cdef list extra = []
        if h.via is not None:
            if h._via_field is None or <bytes>h._via_field[1] is not h.via:
                h._via_field = (b"Via", h.via)
            extra.append(h._via_field)
        self._add_latency_headers(extra)
        self.head_sent = True
        if not self.resp.finished:
            self.resp.start_relayed(ex.status, src, keep, extra, scanned_head.content_length)
        return True

    cdef void _add_latency_headers(self, list out):
        cdef ProxyHandler h = self.handler
        if h.upstream_latency_header is not None:
            h._upstream_latency_fields = _proxy_latency_fields_for(
                h.upstream_latency_header, h._upstream_latency_fields)
            out.append(_proxy_latency_field(
                h._upstream_latency_fields,
                <long long>((self.t_upstream_head - self.t_upstream_start) * 1000)))
        if h.proxy_latency_header is not None:
            h._proxy_latency_fields = _proxy_latency_fields_for(
                h.proxy_latency_header, h._proxy_latency_fields)
            out.append(_proxy_latency_field(
                h._proxy_latency_fields,
                <long long>((self.t_upstream_start - self.req.start_time) * 1000)))

    cdef void on_data(self, ClientExchange ex, bytes data):
        self.resp.write(data)
        if self.client_full and not self.upstream_paused:
            self._check_read_ahead()

    cdef void _client_paused(self):
        """The client reads slower than the upstream sends. response_buffering false: stop
        reading the upstream now. true (Kong's default): keep reading it into the client's
        buffer up to response_buffer_size bytes (the upstream is done sooner), then stop."""
        self.client_full = True
        if self.read_ahead < 0:
            route = self.decision.route
            self.read_ahead = (self.handler.response_buffer_size
                               if getattr(route, "response_buffering", True) else 0)
        self._check_read_ahead()

    cdef void _check_read_ahead(self):
        cdef ClientExchange ex = self.ex
        if ex is None or self.resp._proto is None:
            return
        transport = self.resp._proto.transport
        if (self.read_ahead <= 0 or transport is None
                or transport.get_write_buffer_size() >= self.read_ahead):
            self.upstream_paused = True
            ex.pause_reading()

    cdef void _client_resumed(self):
        self.client_full = False
        if self.upstream_paused:
            self.upstream_paused = False
            if self.ex is not None:
                self.ex.resume_reading()

    cdef void on_flush(self, ClientExchange ex):
        self.resp.flush()

    cdef void on_switch(self, ClientExchange ex, ClientConnection conn, bytes rest):
        """The upstream accepted the client's upgrade (101): relay its head with the
        Connection and Upgrade fields, then join the two sockets (proxy/tunnel.pyx). The idle
        timeout is the service's read_timeout, as Kong's proxy_read_timeout on upgraded
        connections."""
        self.t_upstream_head = mono_now()
        ex.producer = None
        self.pump = None
        cdef Responder resp = self.resp
        if resp.finished or resp._proto.transport is None:
            conn._close()
            return
        cdef long long length
        cdef list out = _proxy_response_headers(ex._headers, self.handler.via, &length)
        upgrade = None
        for item in ex._headers:
            if header_kind(<bytes>(<tuple>item)[0]) == HK_UPGRADE:
                upgrade = (<tuple>item)[1]
        out.append((b"Connection", b"Upgrade"))
        if upgrade is not None:
            out.append((b"Upgrade", upgrade))
        self._add_latency_headers(out)
        self.head_sent = True
        resp.producer = None
        resp.switch_protocols(out, Tunnel(resp._proto, conn, self.service.read_timeout), rest)

    cdef int on_done(self, ClientExchange ex) except -1:
        if ex is not self.ex:
            return 0
        ex.sink = None          # break the exchange <-> call cycle early
        ex.producer = None
        cdef Responder resp = self.resp
        if (ex.error_kind != CERR_NONE and not resp.finished and not self.head_sent
                and self.tries_left > 0 and proxy_may_retry(ex)):
            self._retry(ex)
            return 0
        # No retry now: break the call <-> pump cycle. Before answering: the answer releases
        # what holds this call, so `self` must not be touched after it.
        self.pump = None
        if resp.finished:
            return 0
        if ex.error_kind == CERR_NONE:
            resp.end()
        elif self.head_sent:
            resp.abort()
        else:
            proxy_answer_failure(resp, ex)
        resp.producer = None
        return 0

    cdef void _abandon(self):
        """The client went away or its body failed: the exchange is cancelled (no on_done
        follows), so the cycles on_done would break are broken here."""
        self.pump = None
        cdef ClientExchange ex = self.ex
        if ex is not None:
            ex.cancel()
            ex.sink = None
            ex.producer = None

    cdef void _retry(self, ClientExchange failed):
        self.tries_left -= 1
        if failed._producer_paused:
            # The failed exchange held the client's body back and will never release it; the
            # next one pauses it again itself if the replayed pieces are over its high water.
            self.body_producer.resume_producing()
        self._attempt()

    @property
    def upstream_latency_ms(self):
        if self.t_upstream_head == 0:
            return None
        return int((self.t_upstream_head - self.t_upstream_start) * 1000)

    @property
    def route(self):
        return self.decision.route

    @property
    def upstream_error(self):
        return self.ex.error if self.ex is not None else ""


@cython.freelist(64)
cdef class _ProxyClientFlow(ResponseProducer):
    """The client socket's back-pressure, applied to the upstream socket."""

    cdef void pause_producing(self):
        self.call._client_paused()

    cdef void resume_producing(self):
        self.call._client_resumed()

    cdef void client_gone(self):
        cdef ProxyCall call = self.call
        call.gone = True
        call._abandon()


cdef class _ProxyBodyPump(BodyConsumer):
    """The client's request body, streamed into the upstream exchange.

    The body is piped as soon as the exchange is sent, so pieces are read from the client (at
    least the part the server buffered before dispatching) before the connection is open; they
    wait inside the exchange. When the connection then cannot be opened they are dropped with
    the failed exchange, though none reached the upstream: so they are kept here too
    (references, bounded by the exchange's high water mark) until a piece finds the exchange
    connected, and a retry replays them before piping the rest again."""

    cdef void on_body_data(self, bytes data):
        cdef ClientExchange ex = self.call.ex
        if ex._conn is None and not ex._done:
            if self.unsent is None:
                self.unsent = []
            self.unsent.append(data)
        else:
            self.unsent = None      # connected: the waiting pieces were written first
        ex.write(data)

    cdef void replay(self):
        """Feed a retry's exchange the pieces the failed attempt took but never sent."""
        cdef list pieces = self.unsent
        self.unsent = None
        if pieces is not None:
            for data in pieces:
                self.on_body_data(data)

    cdef void on_body_end(self):
        self.call.ex.write_eof()

    cdef void on_body_error(self, int status, str message):
        cdef ProxyCall call = self.call
        call._abandon()
        if not call.resp.finished:
            call.resp.send_error(status, message)


cdef class _ProxyBodyProducer(BodyProducer):
    """The upstream socket's back-pressure, applied to the client socket."""

    cdef void pause_producing(self):
        self.body.pause()

    cdef void resume_producing(self):
        self.body.resume()
