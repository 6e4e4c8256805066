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

cdef class Balancer(PeerTracker):
    cdef public str name
    cdef public list peers          # [(host, port)]
    cdef public list weights
    cdef public str algorithm
    cdef public int hash_on
    cdef public bytes hash_on_name          # header (lower-case) or query argument name
    cdef public int hash_fallback
    cdef public bytes hash_fallback_name
    cdef public object healthchecks         # the upstream's complete healthchecks, or None
    cdef public bint passive                # passive checks on: exchanges report back
    cdef public bint tracks                 # exchanges report back (passive or least-conn)
    cdef int algo
    cdef Py_ssize_t n
    cdef list _seeds                # per peer: FNV-1a state after "host:port", a Python int
    cdef long long* _weight
    cdef long long* _current        # smooth round robin's running scores
    cdef long long* _open           # exchanges in flight (least-connections)
    cdef unsigned char** _rec       # per peer: its health record (state, then 4 counters in
                                    # CTR_* order), in _own or in the workers' shared mapping
    cdef unsigned char* _own        # this process's records (5 bytes per peer)
    cdef object _shared_view        # the shared mapping's buffer, held while _rec points in it
    cdef public bint shared         # health records shared with the other workers
    cdef long long total_weight
    cdef long long healthy_weight
    cdef double threshold
    cdef Py_ssize_t _turn           # least-connections' tie breaker
    cdef public Py_ssize_t last     # the index pick / pick_for chose
    cdef unsigned char _passive_status[1000]
    cdef unsigned char _active_status[1000]
    cdef unsigned char _passive_limit[4]
    cdef unsigned char _active_limit[4]

    cdef void _configure_health(self, hc)
    cdef inline bint _up(self, Py_ssize_t i) noexcept
    cdef inline bint _usable(self) noexcept
    cdef void _refresh_weight(self) noexcept
    cpdef object pick(self)
    cdef Py_ssize_t _choose_index(self)
    cdef Py_ssize_t _least_connections(self)
    cdef object pick_for(self, HttpRequest req, int attempt)
    cdef object _rendezvous(self, bytes key, int attempt)
    cdef void track(self, ClientExchange ex)
    cdef void exchange_ended(self, Py_ssize_t index, int status, int error_kind)
    cpdef report_active(self, Py_ssize_t index, int outcome, int status=*)
    cdef void _count_status(self, Py_ssize_t i, int status, unsigned char* table,
                            unsigned char* limits)
    cdef void _count(self, Py_ssize_t i, int ctr, int limit)
    cdef void _set_state(self, Py_ssize_t i, unsigned char state)
    cpdef set_healthy(self, Py_ssize_t index, bint healthy)
    cpdef bint is_healthy(self, Py_ssize_t index)
    cpdef int health_state(self, Py_ssize_t index)
    cpdef long long open_exchanges(self, Py_ssize_t index)
    cpdef Py_ssize_t index_of(self, str host, int port)
    cpdef bint balancer_healthy(self)

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
