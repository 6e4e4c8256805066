# Declarations of proxy/handler.pyx: what the rest of the core uses from it (via core.pxd).

cdef void proxy_answer_failure(Responder resp, ClientExchange ex)
cdef bint _proxy_is_plain_connection(bytes value) noexcept
cdef set _proxy_connection_tokens(list connection_values)
cdef list _proxy_drop_named(list headers, set names)
cdef class ProxyHandler(RequestHandler):
    cdef object _gateway
    cdef public ConnectionPool pool
    cdef public bytes via                      # b"1.1 jqgate/0.1.0"; None = no Via header
    cdef public bytes upstream_latency_header  # None = off
    cdef public bytes proxy_latency_header     # None = off
    cdef CompiledRouter router                  # the gateway's compiled router

    cpdef handle(self, HttpRequest req, Responder resp)
    cpdef proxy(self, HttpRequest req, Responder resp, decision)

cdef list _proxy_request_headers(HttpRequest req, decision, bint keep_length)
cdef ClientExchange _proxy_new_exchange(ServiceTarget svc, tuple peer, HttpRequest req, decision,
                                        list headers)
cdef bint proxy_may_retry(ClientExchange ex)
cpdef ClientExchange prepare_upstream_exchange(HttpRequest req, decision, int attempt=*)
cdef bint _proxy_passes_on(int kind) noexcept
cdef list _proxy_response_headers(list headers, bytes via, long long* length)
cpdef list filter_response_headers(list headers, bytes via=*)
cdef class ProxyCall(ResponseSink):
    cdef ProxyHandler handler
    cdef HttpRequest req
    cdef Responder resp
    cdef object decision
    cdef ServiceTarget service
    cdef list headers
    cdef ClientExchange ex
    cdef int tries_left
    cdef bint streamed
    cdef bint head_sent
    cdef bint gone
    cdef _ProxyBodyPump pump
    cdef _ProxyBodyProducer body_producer
    cdef double t_upstream_start
    cdef double t_upstream_head

    cdef void _attempt(self)
    cdef void on_head(self, ClientExchange ex)
    cdef bint _relay_scanned_head(self, ClientExchange ex, bytes raw)
    cdef void _add_latency_headers(self, list out)
    cdef void on_data(self, ClientExchange ex, bytes data)
    cdef void on_flush(self, ClientExchange ex)
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
