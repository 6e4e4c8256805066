# A Service as the proxy needs it (built by jqgate.gateway from the configuration): timeouts in
# seconds, the Host header, and the choice of peer for each attempt. Compiled because the
# proxy reads it on every request: attributes are C fields, pick() is a C call.

from libc.math cimport log
from libc.stdint cimport uint64_t

from urllib.parse import unquote_to_bytes as _unquote_to_bytes


cdef inline uint64_t _fnv1a(const unsigned char* s, Py_ssize_t n) noexcept:
    """64-bit FNV-1a (the router's prefix table and the hashing balancer)."""
    cdef uint64_t h = 14695981039346656037ULL
    cdef Py_ssize_t i
    for i in range(n):
        h = (h ^ s[i]) * 1099511628211ULL
    return h


_HASH_SOURCES = {"none": HASH_NONE, "ip": HASH_IP, "header": HASH_HEADER, "path": HASH_PATH,
                 "query_arg": HASH_QUERY_ARG}


cdef class Balancer:
    """An upstream's choice of target per attempt.

    round-robin: smooth weighted round robin (nginx's): over a cycle each target is picked in
    proportion to its weight, interleaved rather than in bursts.
    consistent-hashing: the request's hash key (Kong's hash_on, else hash_fallback: client IP,
    a header, the path or a query argument) picks a target by weighted rendezvous hashing: a
    key keeps its target while the targets stay, removing a target moves only its own keys,
    and a target gets keys in proportion to its weight. A retry takes the key's next target.
    A request without a key (no such header, ...) is balanced round robin, as Kong does.
    Weight 0 disables a target."""

    def __init__(self, upstream):
        self.name = upstream.name
        self.peers = [(t.host, t.port) for t in upstream.targets if t.weight > 0]
        self.weights = [t.weight for t in upstream.targets if t.weight > 0]
        self.current = [0] * len(self.peers)
        self.total = sum(self.weights)
        self.algorithm = getattr(upstream, "algorithm", "round-robin")
        self.hash_on = HASH_NONE
        self.hash_fallback = HASH_NONE
        if self.algorithm == "consistent-hashing":
            self.hash_on = _HASH_SOURCES[upstream.hash_on]
            self.hash_on_name = _hash_name(upstream.hash_on, upstream.hash_on_header,
                                           upstream.hash_on_query_arg)
            self.hash_fallback = _HASH_SOURCES[upstream.hash_fallback]
            self.hash_fallback_name = _hash_name(upstream.hash_fallback,
                                                 upstream.hash_fallback_header,
                                                 upstream.hash_fallback_query_arg)
        self._seeds = []
        for host, port in self.peers:
            seed = ("%s:%d" % (host, port)).encode()
            self._seeds.append(_fnv1a(<const unsigned char*>PyBytes_AS_STRING(seed), len(seed)))

    cpdef object pick(self):
        """The next (host, port) round robin, or None when every target has weight 0."""
        cdef Py_ssize_t n = len(self.peers)
        if n == 0:
            return None
        if n == 1:
            return self.peers[0]
        cdef Py_ssize_t best = 0
        cdef Py_ssize_t i
        cdef list cur = self.current
        cdef list weights = self.weights
        for i in range(n):
            cur[i] = cur[i] + weights[i]
            if cur[i] > cur[best]:
                best = i
        cur[best] = cur[best] - self.total
        return self.peers[best]

    cdef object pick_for(self, HttpRequest req, int attempt):
        """The target for `req`'s attempt number `attempt` (0 = first try)."""
        if self.hash_on == HASH_NONE or req is None:
            return self.pick()
        key = _hash_key(req, self.hash_on, self.hash_on_name)
        if not key:
            key = _hash_key(req, self.hash_fallback, self.hash_fallback_name)
            if not key:
                return self.pick()
        return self._rendezvous(<bytes>key, attempt)

    cdef object _rendezvous(self, bytes key, int attempt):
        cdef Py_ssize_t n = len(self.peers)
        if n == 0:
            return None
        cdef const unsigned char* k = <const unsigned char*>PyBytes_AS_STRING(key)
        cdef Py_ssize_t klen = len(key)
        cdef Py_ssize_t i, j
        cdef uint64_t h
        cdef double u
        cdef list scored = []
        for i in range(n):
            h = <uint64_t>self._seeds[i]
            for j in range(klen):
                h = (h ^ k[j]) * 1099511628211ULL
            h = _mix64(h)
            u = (<double>(h >> 11) + 0.5) / 9007199254740992.0     # in (0, 1)
            scored.append((<double>self.weights[i] / -log(u), i))
        scored.sort(reverse=True)
        return self.peers[scored[attempt % n][1]]


cdef inline uint64_t _mix64(uint64_t z) noexcept:
    """splitmix64's finaliser: every key bit moves every output bit."""
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL
    return z ^ (z >> 31)


cdef bytes _hash_name(str source, header, query_arg):
    if source == "header":
        return str(header).lower().encode()
    if source == "query_arg":
        return str(query_arg).encode()
    return None


cdef object _hash_key(HttpRequest req, int source, bytes name):
    """The request's hash key from one source; None or b"" when it has none."""
    if source == HASH_IP:
        return req.client_ip.encode() if req.client_ip else None
    if source == HASH_PATH:
        return req.path
    if source == HASH_HEADER:
        for item in req.headers:
            if (<bytes>(<tuple>item)[0]).lower() == name:
                return (<tuple>item)[1]
        return None
    if source == HASH_QUERY_ARG:
        if not req.query:
            return None
        for part in req.query.split(b"&"):
            k, _, v = part.partition(b"=")
            if _unquote_to_bytes(k.replace(b"+", b" ")) == name:
                return _unquote_to_bytes(v.replace(b"+", b" "))
        return None
    return None


cdef class ServiceTarget:
    """One configured Service: where its requests go and with which timeouts."""

    def __init__(self, service, upstream):
        self.service = service
        self.scheme = service.protocol if service.protocol in ("http", "https") else "http"
        self.host = service.host
        self.port = service.port
        self.path = service.path
        self.connect_timeout = service.connect_timeout / 1000.0
        self.read_timeout = service.read_timeout / 1000.0
        self.write_timeout = service.write_timeout / 1000.0
        self.retries = max(0, int(service.retries))
        # Verification is on unless the service turns it off (tls_verify: false).
        self.tls_verify = service.tls_verify is not False
        self.sni = None
        self.balancer = Balancer(upstream) if upstream is not None else None
        default_port = 443 if self.scheme == "https" else 80
        self.host_header = (service.host if service.port == default_port
                            else "%s:%d" % (service.host, service.port)).encode()
        self._peer = (service.host, service.port)
        if self.balancer is not None:
            self.sni = service.host

    cpdef object pick(self):
        """(host, port) for the next attempt; None when a balancer has no usable target."""
        if self.balancer is not None:
            return self.balancer.pick()
        return self._peer

    cdef object pick_for(self, HttpRequest req, int attempt):
        """pick() for `req`'s attempt number `attempt`: a consistent-hashing upstream reads
        the request's hash key."""
        if self.balancer is not None:
            return self.balancer.pick_for(req, attempt)
        return self._peer

    def redirected(self, peer=None, scheme=None, balancer=None):
        """A copy for one request whose DataKit flow set kong.service.target (a fixed peer, no
        balancing), kong.service.upstream (a named upstream's balancer) or
        kong.service.request.scheme. The Host header stays the service's, as in Kong."""
        cdef ServiceTarget clone = ServiceTarget.__new__(ServiceTarget)
        clone.service = self.service
        clone.scheme = self.scheme if scheme is None else scheme
        clone.host = self.host
        clone.port = self.port
        clone.path = self.path
        clone.connect_timeout = self.connect_timeout
        clone.read_timeout = self.read_timeout
        clone.write_timeout = self.write_timeout
        clone.retries = self.retries
        clone.tls_verify = self.tls_verify
        clone.sni = self.sni
        clone.balancer = self.balancer if balancer is None else balancer
        clone.host_header = self.host_header
        clone._peer = self._peer
        if peer is not None:
            clone.balancer = None
            clone._peer = tuple(peer)
        return clone
