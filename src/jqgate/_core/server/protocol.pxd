# Declarations of server/protocol.pyx: what the rest of the core uses from it (via core.pxd).

cdef class AccessObserver:
    cdef int observe(self, HttpRequest req, Responder resp) except -1

cdef class ServerSettings:
    cdef public object handler
    cdef public RequestHandler _handler
    cdef public int max_uri_bytes
    cdef public int max_header_bytes
    cdef public long long max_body_bytes       # 0 = unlimited (Kong's default)
    cdef public int body_buffer_size
    cdef public double header_timeout
    cdef public double body_timeout
    cdef public double body_min_rate            # bytes/s a streaming body must keep; 0 = off
    cdef public double body_min_rate_window     # seconds each rate check covers
    cdef public double keepalive_timeout
    cdef public double send_timeout             # the client's socket may stay full this long
    cdef public bytes server_header            # on the gateway's own answers; None = off
    cdef public bytes request_id_header
    cdef public str scheme
    cdef object _access_log                    # callable(req, resp) or None
    cdef AccessObserver _observer              # the same, when it is an AccessObserver
    cdef public set connections
    cdef public bint draining
    cdef public long long n_requests
    cdef public object http2                   # Http2Limits, or None: HTTP/1.1 only

cdef void _release_handler_state(HttpRequest req, Responder resp)
cdef void _note_host(HttpRequest req, bytes name, bytes value) noexcept
cdef void _keep_raw_fields(HttpRequest req, bytes data, Py_ssize_t at)
cdef class RequestHandler:
    cpdef handle(self, HttpRequest req, Responder resp)
    cdef bint streams_request_body(self, HttpRequest req)

cdef class _CallableHandler(RequestHandler):
    cdef object fn

    cpdef handle(self, HttpRequest req, Responder resp)

cdef class HttpServerProtocol:
    cdef public ServerSettings settings
    cdef object loop
    cdef public object transport
    cdef object parser
    cdef object _feed               # parser.feed_data and transport.write, looked up once per
    cdef object _transport_write    # connection instead of once per call
    cdef str client_ip
    cdef bytes client_ip_bytes      # for X-Forwarded-For / X-Real-IP, encoded once
    cdef int client_port
    cdef int server_port
    cdef bytes server_port_bytes    # for X-Forwarded-Port
    cdef str scheme                 # "https" on a TLS connection, else the settings' scheme
    cdef bytes sni                  # the server name of its TLS handshake (jqgate.tls), or None
    cdef HttpRequest _cur
    cdef object _queue
    cdef object _queue_append       # its methods, looked up once
    cdef object _queue_popleft
    cdef HttpRequest _active
    cdef Responder _active_resp
    cdef int _paused
    cdef bint _write_paused
    cdef double _write_paused_since
    cdef bint _dead                 # a parse error: answer what's queued, then close
    cdef int _err_status
    cdef str _err_message
    cdef Py_ssize_t _head_bytes
    cdef bytes _url
    cdef object _timer
    cdef double _timer_at           # when _timer fires (the loop's clock)
    cdef double _idle_since
    cdef double _last_read
    cdef int _header_budget
    cdef bint _lingering
    cdef bint _eof                  # the client half-closed: no more requests will come
    cdef bint _in_dispatch
    cdef bint _closing              # we decided to close: dispatch nothing more
    cdef HttpRequest _rate_req      # the streaming body whose rate is being checked
    cdef double _rate_at            # the start of its current rate window
    cdef long long _rate_bytes      # its bytes received by then
    cdef Tunnel _tunnel             # after a 101: the upgraded connection (proxy/tunnel.pyx)
    cdef bytes _upgrade_rest        # bytes the client sent behind an upgrade request's head

    cdef HttpRequest _begin_request(self)
    cdef int _head_complete(self, HttpRequest req, bytes method, str http_version,
                            bint keep_alive, bytes url) except -1
    cdef Py_ssize_t _scan_requests(self, bytes data) except -1
    cdef void _maybe_dispatch(self)
    cdef void _dispatch_loop(self)
    cdef void _dispatch(self, HttpRequest req)
    cdef void _response_done(self, Responder resp)
    cdef void _response_aborted(self, Responder resp)
    cdef void _start_tunnel(self, Responder resp, Tunnel tunnel, bytes from_upstream)
    cdef void _log(self, HttpRequest req, Responder resp)
    cdef void _protocol_error(self, int status, str message)
    cdef void _send_protocol_error(self)
    cdef void _internal_error(self, exc)
    cdef void _pause(self, int reason)
    cdef void _unpause(self, int reason)
    cdef void _write(self, bytes data)
    cdef void _writelines(self, list data)
    cdef void _close_transport(self)
    cdef bint _last_answer(self)
    cdef bint _busy(self)
    cdef void _drain(self)
    cdef void _arm_timer(self, double delay)
    cdef void _arm_timer_until(self, double now, double delay)
    cdef void _start_rate_window(self, HttpRequest req)
    cdef void _send_timed_out(self)
    cdef void _timeout_error(self)
