# Declarations of proxy/tunnel.pyx: what the rest of the core uses from it (via core.pxd).

cdef class Tunnel:
    cdef HttpServerProtocol client
    cdef ClientConnection upstream
    cdef object loop
    cdef object timer
    cdef double idle_timeout
    cdef double last_activity
    cdef bint closed
    cdef public long long bytes_from_client
    cdef public long long bytes_from_upstream

    cdef void start(self, bytes from_upstream, bytes from_client)
    cdef void from_client(self, bytes data)
    cdef void from_upstream(self, bytes data)
    cdef void client_full(self, bint full)
    cdef void upstream_full(self, bint full)
    cdef void close(self)
