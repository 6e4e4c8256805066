# Declarations of proxy/handler.pyx: what the rest of the core uses from it (via core.pxd).

cdef void proxy_answer_failure(Responder resp, ClientExchange ex)
cdef bint _proxy_is_plain_connection(bytes value) noexcept
cdef bint _proxy_is_plain_connection_at(const char* s, Py_ssize_t n) noexcept
cdef Py_ssize_t _proxy_raw_fields_kept(HttpRequest req, unsigned char* keep)
cdef bytes _proxy_forwarded_fields(HttpRequest raw, const unsigned char* keep,
                                   Py_ssize_t raw_size, HttpRequest req, decision,
                                   bytes client_xff)
cdef set _proxy_connection_tokens(list connection_values)
cdef list _proxy_drop_named(list headers, set names)
cdef class ProxyHandler(RequestHandler):
    cdef object _gateway
    cdef public ConnectionPool pool
    cdef public bytes via                      # b"1.1 jqgate/0.1.0"; None = no Via header
    cdef public bytes upstream_latency_header  # None = off
    cdef public bytes proxy_latency_header     # None = off
    cdef CompiledRouter router                  # the gateway's compiled router
    cdef bint _any_unbuffered                   # some route has request_buffering false
    # Kong's response_buffering (the route's, default true): how far the upstream's answer is
    # read ahead of a client that reads slower, in bytes per request (nginx's proxy_buffers;
    # beyond it the upstream is paused, as with response_buffering false from the start)
    cdef public long long response_buffer_size
    # Header fields made once, not per answer (ProxyCall._relay_scanned_head, _add_latency_headers)
    cdef tuple _via_field
    cdef list _upstream_latency_fields
    cdef list _proxy_latency_fields

    cdef bint streams_request_body(self, HttpRequest req)
    cpdef handle(self, HttpRequest req, Responder resp)
    cpdef proxy(self, HttpRequest req, Responder resp, decision)

cdef tuple _proxy_request_headers(HttpRequest req, decision, bint keep_length)
cdef ClientExchange _proxy_new_exchange(ServiceTarget svc, tuple peer, HttpRequest req, decision,
                                        list headers, bytes fields)
cdef bint proxy_may_retry(ClientExchange ex)
cpdef ClientExchange prepare_upstream_exchange(HttpRequest req, decision, int attempt=*)
cdef bint _proxy_passes_on(int kind) noexcept
cdef list _proxy_response_headers(list headers, bytes via, long long* length)
cpdef list filter_response_headers(list headers, bytes via=*)
cdef list _proxy_latency_fields_for(bytes name, list fields)
cdef tuple _proxy_latency_field(list fields, long long ms)
cdef class ProxyCall(ResponseSink):
    cdef ProxyHandler handler
    cdef HttpRequest req
    cdef Responder resp
    cdef object decision
    cdef ServiceTarget service
    cdef list headers               # the client's fields that go upstream
    cdef bytes fields               # the proxy's own (Host, X-Forwarded-*), serialised
    cdef ClientExchange ex
    cdef int tries_left
    cdef bint streamed
    cdef bint head_sent
    cdef bint gone
    cdef _ProxyBodyPump pump
    cdef _ProxyBodyProducer body_producer
    cdef double t_upstream_start
    cdef double t_upstream_head
    cdef bint client_full           # the client's socket is over its high water mark
    cdef bint upstream_paused       # ... and we stopped reading the upstream for it
    cdef long long read_ahead       # -1 until the client first fills up

    cdef void _attempt(self)
    cdef void on_head(self, ClientExchange ex)
    cdef bint _relay_scanned_head(self, ClientExchange ex, bytes raw)
    cdef void _add_latency_headers(self, list out)
    cdef void on_data(self, ClientExchange ex, bytes data)
    cdef void _client_paused(self)
    cdef void _check_read_ahead(self)
    cdef void _client_resumed(self)
    cdef void on_flush(self, ClientExchange ex)
    cdef void on_switch(self, ClientExchange ex, ClientConnection conn, bytes rest)
    cdef int on_done(self, ClientExchange ex) except -1
    cdef void _abandon(self)
    cdef void _retry(self, ClientExchange failed)

cdef class _ProxyClientFlow(ResponseProducer):
    cdef ProxyCall call

    cdef void pause_producing(self)
    cdef void resume_producing(self)
    cdef void client_gone(self)

cdef class _ProxyBodyPump(BodyConsumer):
    cdef ProxyCall call
    cdef list unsent

    cdef void on_body_data(self, bytes data)
    cdef void replay(self)
    cdef void on_body_end(self)
    cdef void on_body_error(self, int status, str message)

cdef class _ProxyBodyProducer(BodyProducer):
    cdef RequestBody body

    cdef void pause_producing(self)
    cdef void resume_producing(self)
