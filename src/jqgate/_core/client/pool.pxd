# Declarations of client/pool.pyx: what the rest of the core uses from it (via core.pxd).

cdef extern from "<errno.h>":
    int errno
    enum:
        EAGAIN          # EWOULDBLOCK is the same on Linux
        EINTR

cdef extern from "<sys/socket.h>":
    ssize_t recv(int fd, void* buf, size_t n, int flags) nogil
    enum:
        MSG_PEEK
        MSG_DONTWAIT

cdef extern from "<sys/ioctl.h>":
    int ioctl(int fd, unsigned long request, ...) nogil

cdef extern from "<linux/sockios.h>":
    enum:
        SIOCOUTQ        # bytes written to a TCP socket and not yet acknowledged by the peer

# An exchange's error_kind: C constants for the core, and (cpdef) the same names and values for
# Python code and tests as the IntEnum core.ClientErr (core.ClientErr.CERR_CONNECT).
cpdef enum ClientErr:
    CERR_NONE = 0
    CERR_CONNECT = 1
    CERR_TIMEOUT = 2
    CERR_RESET = 3
    CERR_PROTOCOL = 4
    CERR_TLS = 5
    CERR_OVERLOAD = 6       # the per-host queue for a connection is full: nothing was sent

cdef enum ConnState:
    CONN_CONNECTING = 0
    CONN_IDLE = 1
    CONN_BUSY = 2
    CONN_CLOSED = 3
    CONN_TUNNEL = 4         # switched protocols (101): relayed by a Tunnel, never reused

# How many request-body bytes an exchange keeps while it waits for a connection or for the
# socket to drain before it asks its producer to pause.
cdef enum:
    CLIENT_BODY_HIGH_WATER = 262144

cdef class ResponseSink:
    cdef bint takes_raw_head

    cdef void on_head(self, ClientExchange ex)
    cdef void on_data(self, ClientExchange ex, bytes data)
    cdef void on_flush(self, ClientExchange ex)
    cdef int on_done(self, ClientExchange ex) except -1
    cdef void on_switch(self, ClientExchange ex, ClientConnection conn, bytes rest)

cdef class BodyProducer:
    cdef void pause_producing(self)
    cdef void resume_producing(self)

cdef class ExchangeWaiter:
    cdef int exchange_done(self, object ex) except -1

cdef class PeerTracker:
    cdef void exchange_ended(self, Py_ssize_t index, int status, int error_kind)

cdef class ClientExchange:
    cdef public str scheme
    cdef public str host
    cdef public int port
    cdef public bytes method
    cdef public bytes target
    # `headers` (a property): the request's fields, then the response's; a response head the
    # scanner read for an exchange without a sink stays in place (_resp_raw, _resp_fields)
    # until something reads the list (header_list; field_value reads one field in place).
    cdef list _headers
    cdef bytes _resp_raw
    cdef KeptFields _resp_fields
    cdef bytes raw_head                  # see ResponseSink.takes_raw_head
    cdef public object body
    cdef public double timeout           # total for the exchange; 0 = none
    cdef public double connect_timeout   # for opening a connection; 0 = bounded by timeout only
    cdef public double read_timeout      # max gap between response bytes; 0 = none
    cdef public double write_timeout     # max time the socket may stay full; 0 = none
    cdef public long long max_body       # buffered response body limit; 0 = none
    cdef public bint body_over_limit     # failed because the buffered body passed max_body
    cdef public bint ssl_verify
    cdef public object server_hostname
    # https only: the trust store for this exchange (a DataKit plugin's ca_certificates),
    # None for the pool's; a forward proxy to tunnel through (CONNECT), None for direct
    # (jqgate.nodes.call.proxy.ForwardProxy: host, port, authorization, key())
    cdef public object ssl_context
    cdef public object tunnel
    cdef public bint idempotent
    cdef public bint stream_body
    cdef public bint upgrade             # asks to switch protocols: a 101 goes to sink.on_switch
    # The caller built `headers` for the wire (the proxy does): no CR/LF anywhere, a Host
    # header, no Content-Length / Transfer-Encoding / Connection. send() then only adds the
    # body's Content-Length instead of inspecting every header again.
    cdef public bint headers_ready
    cdef public bytes head_fields         # field lines sent after `headers`, serialised (each
                                          # ending in CRLF), Host among them: the proxy's
    cdef public ResponseSink sink
    cdef public BodyProducer producer
    # The balancer that chose this peer, when it wants to hear how the exchange ended
    # (None for a service with a fixed host: the common case costs one comparison)
    cdef public PeerTracker tracker
    cdef public Py_ssize_t tracker_index
    # result
    cdef public int status
    cdef public int error_kind
    cdef public str error
    cdef public bint reused              # served on a pooled (reused) connection
    cdef public int attempts
    # internal
    cdef ConnectionPool _pool
    cdef ClientConnection _conn
    cdef object _callback
    cdef bytes _head
    cdef object _timer          # the total timeout while waiting for a connection
    cdef double _deadline       # mono_now() when the total timeout expires; 0 = none
    cdef object _wait_timer     # bounds the wait for a connection when there is no total
    cdef list _pending          # body chunks waiting for a connection / for the socket
    cdef Py_ssize_t _pending_size
    cdef bint _eof_pending
    cdef bint _body_ended       # write_eof() was called (stream_body mode)
    cdef bint _close_after      # the request said Connection: close
    cdef bint _body_started     # some body bytes went to a socket: no replay possible

    cdef list header_list(self)
    cdef void set_headers(self, list headers)
    cdef bytes field_value(self, const char* lower_name, Py_ssize_t n)
    cdef bint _done
    cdef bint _cancelled
    cdef bint _producer_paused
    cdef bint _fresh_only

    cdef void _pause_producer(self)
    cdef void _resume_producer(self)
    cdef void _end_tracking(self, int kind)
    cdef void _stop_timer(self)
    cdef void _finish(self, int kind, str message)

cdef class _HostSlot:
    cdef object key
    cdef str scheme
    cdef str host
    cdef int port
    cdef object ssl
    cdef object server_hostname
    cdef object tunnel          # https through a forward proxy: its ForwardProxy, else None
    cdef list idle
    cdef int n_open
    cdef object waiters

cdef class ConnectionPool:
    cdef object loop
    cdef int _host_cap              # max_per_host, or NO_HOST_CAP for 0 (no cap)
    cdef public int queue_limit
    cdef public double queue_timeout
    cdef public int keepalive_pool_size
    cdef public int keepalive_max_requests
    cdef public long long max_call_response_bytes
    cdef public long long max_service_response_bytes
    cdef public double idle_timeout
    cdef public Py_ssize_t max_header_bytes
    cdef dict _slots
    cdef _HostSlot _last_slot       # the slot the last plain-http exchange went to
    cdef object _sweeper
    cdef object _ssl_verify_ctx
    cdef object _ssl_noverify_ctx
    cdef bint _closed
    cdef public long long n_created
    cdef public long long n_reused
    cdef public long long n_retried
    cdef public long long n_requests
    cdef public long long n_stale           # pooled connections found closed by the peer
    cdef public long long n_replayed_unsent # requests, any method, sent again: provably unseen
    cdef public long long n_replayed_reset  # non-idempotent requests sent again: reset unread
    cdef public long long n_overloaded      # exchanges refused: the queue was full
    cdef set _all

    cpdef send(self, ClientExchange ex, callback)
    cdef object _key_for(self, ClientExchange ex)
    cdef _HostSlot _slot_for(self, ClientExchange ex)
    cdef object _ssl_context(self, bint verify)
    cdef void _dispatch(self, ClientExchange ex)
    cdef void _open(self, _HostSlot slot, double connect_timeout)
    cdef ClientExchange _next_waiter(self, _HostSlot slot)
    cdef void _connection_ready(self, ClientConnection conn)
    cdef void _connect_failed(self, ClientConnection conn, int kind, str message)
    cdef void _forget(self, ClientConnection conn)
    cdef void _connection_closed(self, ClientConnection conn)
    cdef void _retry(self, ClientExchange ex)
    cdef void _report_callback_error(self, exc)

cdef bytes _client_build_head(ClientExchange ex)

cdef ClientConnection _pool_take_last(list idle)
