# Declarations of server/request.pyx: what the rest of the core uses from it (via core.pxd).

# Shared with server/responder.pyx and server/protocol.pyx: limits, the reasons a connection stops
# reading (a bit mask: reading resumes when none is left), the parser-stopping exception.
cdef enum:
    SRV_BODY_HIGH_WATER = 262144     # unread request-body bytes before we stop reading
    SRV_PIPELINE_DEPTH = 16          # queued pipelined requests before we stop reading

cdef enum PauseReason:
    PAUSE_BODY = 1        # a request body is buffered and nobody reads it yet
    PAUSE_CONSUMER = 2    # the body consumer asked (its upstream is slow)
    PAUSE_PIPELINE = 4    # too many pipelined requests queued
    PAUSE_DEAD = 8        # a parse error: we read nothing more
    PAUSE_WRITE = 16      # the client does not read our answers: take no new requests

cdef class BodyConsumer:
    cdef void on_body_data(self, bytes data)
    cdef void on_body_end(self)
    cdef void on_body_error(self, int status, str message)

cdef class HttpRequest:
    cdef public bytes method
    cdef public bytes target          # raw request-target
    cdef public bytes path
    cdef public bytes query           # without the '?'; b"" when none
    cdef public str http_version      # "1.1" | "1.0"
    # The fields as a list of (name, value) bytes: made only when something reads `headers`
    # (header_list()) for a head the scanner read, whose fields stay in place in `_raw`.
    cdef list _headers
    cdef bytes _raw                   # the read holding a scanned head; None: _headers it is
    cdef Py_ssize_t _raw_at           # where the head starts in _raw
    cdef KeptFields _raw_fields
    cdef public bytes host            # Host header value (first), b"" when absent
    cdef public str client_ip
    cdef public bytes client_ip_bytes
    cdef public int client_port
    cdef public int server_port
    cdef public bytes server_port_bytes
    cdef public str scheme
    cdef public bytes sni             # the TLS server name the client sent; None on plain http
    cdef public bytes request_id
    cdef public object body           # bytes when buffered, None when streamed
    cdef public RequestBody body_stream
    cdef public bint keep_alive
    cdef public bint upgrade          # `Connection: upgrade` + `Upgrade`: may become a tunnel
    cdef public double start_time     # mono_now() (the loop's clock) at the first byte
    cdef public object ctx            # free slot for the gateway (route match, plan state, ...)
    # parsing state
    cdef bint _headers_done
    cdef bint _large                  # more than body_buffer_size arrived: stream the body
    cdef bint _expect_continue
    cdef bint _continue_sent
    cdef RequestBody _body            # None when the request has no body
    cdef int _n_host

    cdef list header_list(self)
    cdef void set_headers(self, list headers)
    cdef bint keeps_raw_fields(self) noexcept

cdef class RequestBody:
    cdef HttpServerProtocol _proto
    cdef list _buffer
    cdef Py_ssize_t _buffered
    # Unread bytes before the connection stops reading: SRV_BODY_HIGH_WATER for a body the
    # handler reads as it streams; the server's body_buffer_size for one it waits to hand over
    # whole (stopping below that would wait forever for the rest: http_server._head_complete).
    cdef Py_ssize_t _high_water
    cdef public long long received
    cdef public bint eof
    cdef public int error_status
    cdef public str error
    cdef BodyConsumer _consumer

    cdef void _feed(self, bytes data)
    cdef void _feed_eof(self)
    cdef void _fail(self, int status, str message)
    cdef bytes _take_all(self)

cdef class _BodyCollector(BodyConsumer):
    cdef object callback
    cdef list parts
    cdef long long size
    cdef long long limit

    cdef void on_body_data(self, bytes data)
    cdef void on_body_end(self)
    cdef void on_body_error(self, int status, str message)
