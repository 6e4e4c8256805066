# Declarations of proxy/balancer.pyx: what the rest of the core uses from it (via core.pxd).

from libc.math cimport log
from libc.stdint cimport uint64_t

cdef uint64_t _fnv1a(const unsigned char* s, Py_ssize_t n) noexcept
# Kong's upstream `hash_on` / `hash_fallback` sources this balancer reads.
cdef enum:
    HASH_NONE = 0
    HASH_IP = 1
    HASH_HEADER = 2
    HASH_PATH = 3
    HASH_QUERY_ARG = 4

cdef class Balancer:
    cdef public str name
    cdef public list weights
    cdef public list current
    cdef public long long total
    cdef public str algorithm
    cdef public int hash_on
    cdef public int hash_fallback
    cdef public bytes hash_fallback_name
    cdef list _seeds                # per peer: FNV-1a state after "host:port", a Python int

    cdef public list peers          # [(host, port)]
    cdef public bytes hash_on_name          # header (lower-case) or query argument name

    cpdef object pick(self)
    cdef object pick_for(self, HttpRequest req, int attempt)
    cdef object _rendezvous(self, bytes key, int attempt)

cdef uint64_t _mix64(uint64_t z) noexcept
cdef bytes _hash_name(str source, header, query_arg)
cdef object _hash_key(HttpRequest req, int source, bytes name)
cdef class ServiceTarget:
    cdef public object service          # the config Service record
    cdef public str scheme              # "http" | "https"
    cdef public str host
    cdef public int port
    cdef public object path             # str or None
    cdef public double connect_timeout  # seconds
    cdef public double read_timeout
    cdef public double write_timeout
    cdef public int retries
    cdef public bint tls_verify
    cdef public object sni              # str or None
    cdef public Balancer balancer       # None: the service's own host and port
    cdef public bytes host_header
    cdef tuple _peer

    cpdef object pick(self)
    cdef object pick_for(self, HttpRequest req, int attempt)
