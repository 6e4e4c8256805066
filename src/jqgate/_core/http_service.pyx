# A Service as the proxy needs it (built by jqgate.gateway from the configuration): timeouts in
# seconds, the Host header, and the choice of peer for each attempt. Compiled because the
# proxy reads it on every request: attributes are C fields, pick() is a C call.


cdef class Balancer:
    """Smooth weighted round robin (nginx's): over a cycle each target is picked in proportion
    to its weight, interleaved rather than in bursts. Weight 0 disables a target."""
    cdef public str name
    cdef public list peers          # [(host, port)]
    cdef public list weights
    cdef public list current
    cdef public long long total

    def __init__(self, upstream):
        self.name = upstream.name
        self.peers = [(t.host, t.port) for t in upstream.targets if t.weight > 0]
        self.weights = [t.weight for t in upstream.targets if t.weight > 0]
        self.current = [0] * len(self.peers)
        self.total = sum(self.weights)

    cpdef object pick(self):
        """The next (host, port), or None when every target has weight 0."""
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


cdef class ServiceTarget:
    """One configured Service: where its requests go and with which timeouts."""
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
