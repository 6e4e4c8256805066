# Declarations of client/connection.pyx: what the rest of the core uses from it (via core.pxd).

cdef class ClientConnection:
    cdef ConnectionPool pool
    cdef _HostSlot slot
    cdef public object transport
    cdef object parser
    cdef object _feed               # parser.feed_data and transport.write, looked up once
    cdef object _transport_write
    cdef object _transport_closing  # transport.is_closing, looked up once
    cdef int state
    cdef ClientExchange ex
    cdef double idle_since
    cdef int n_served
    cdef bint reused_now        # the current exchange runs on a reused connection
    cdef bint got_bytes         # some response byte arrived for the current exchange
    cdef bint headers_done
    cdef bint has_length        # Content-Length or chunked: the body end is known
    cdef bint skip_message      # a 1xx interim response is being skipped
    cdef bint head_request
    cdef bint chunked_out       # streamed request body framed by us as chunked
    cdef bint write_paused
    cdef list resp_headers
    cdef list body_parts
    cdef Py_ssize_t head_bytes  # bytes read before the response head was complete
    cdef long long body_size
    cdef object gap_timer
    cdef double gap_fire_at
    cdef bint parser_dirty      # the parser can't take the next response (after HEAD)
    cdef bint read_paused       # a sink paused us; undone before the connection is reused
    cdef double last_activity
    cdef long long scanned_left     # body bytes still due after a scanned head; -1: llhttp
    cdef ClientExchange feeding     # the exchange whose bytes llhttp is reading
    cdef bint scanned_keep_alive
    cdef int fd                     # the socket, for the stale check on checkout; -1: none
    cdef Py_ssize_t head_budget     # bytes of head llhttp may still report
    cdef Py_ssize_t sent_bytes      # bytes of a non-idempotent request given to the transport
    cdef bint unsent                # this request provably never reached the peer
    cdef bint switching             # a 101 to an upgrade request is being read
    cdef public object tunnel       # after the switch: the Tunnel relaying this connection

    cdef bint _peer_closed(self)
    cdef bint _nothing_acknowledged(self)
    cdef int _scanned_response(self, ClientExchange ex, bytes data) except -1
    cdef int _scanned_body(self, ClientExchange ex, bytes data, Py_ssize_t start) except -1
    cdef void _report_head(self, ClientExchange ex, int status)
    cdef int _body_piece(self, ClientExchange ex, bytes body) except -1
    cdef void _start(self, ClientExchange ex, bint reused)
    cdef void _write_body(self, bytes data)
    cdef void _write_body_eof(self)
    cdef void _arm_gap_timer(self, ClientExchange ex)
    cdef void _stop_gap_timer(self)
    cdef void _set_reading(self, bint on)
    cdef void _complete(self, ClientExchange ex, bint keep_alive)
    cdef void _switch(self, ClientExchange ex, bytes rest)
    cdef void _fail_current(self, int kind, str message)
    cdef void _abandon(self)
    cdef void _close(self)

cdef bint _conn_is_chunked(bytes value)
