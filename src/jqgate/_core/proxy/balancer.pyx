# A Service as the proxy needs it (built by jqgate.gateway.routing): timeouts in
# seconds, the Host header, and the choice of peer for each attempt. Compiled because the
# proxy reads it on every request: attributes are C fields, pick() is a C call.

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport log
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memset

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


# A target's health, as lua-resty-healthcheck (Kong's checker) keeps it: the two "mostly"
# states are on their way over (some failures seen while healthy, some successes while
# unhealthy); a target takes traffic while HEALTHY or MOSTLY_HEALTHY.
cdef enum:
    HEALTHY = 0
    MOSTLY_HEALTHY = 1
    MOSTLY_UNHEALTHY = 2
    UNHEALTHY = 3

# The counters a report moves (Kong's success, http_failures, tcp_failures, timeouts).
cdef enum:
    CTR_SUCCESS = 0
    CTR_HTTP = 1
    CTR_TCP = 2
    CTR_TIMEOUT = 3

# A target's health record: its state, then the four counters.
cdef enum:
    HEALTH_RECORD = 5

# Status tables: what a response status counts as, per check kind.
cdef enum:
    ST_IGNORED = 0
    ST_SUCCESS = 1
    ST_FAILURE = 2

# Active probe outcomes (jqgate.health reports them through report_active).
PROBE_ANSWERED = 0
PROBE_TCP_FAILURE = 1
PROBE_TIMEOUT = 2
PROBE_CONNECTED = 3         # a tcp probe's success

ALGO_ROUND_ROBIN = 0
ALGO_LEAST_CONNECTIONS = 1
ALGO_HASHING = 2

_HEALTH_NAMES = ("HEALTHY", "HEALTHY", "UNHEALTHY", "UNHEALTHY")


cdef class Balancer(PeerTracker):
    """An upstream's choice of target per attempt, and its targets' health.

    round-robin: smooth weighted round robin (nginx's): over a cycle each target is picked in
    proportion to its weight, interleaved rather than in bursts.
    least-connections: the target with the fewest exchanges in flight per unit of weight
    ((open + 1) / weight, Kong's score), ties taken in turn.
    consistent-hashing: the request's hash key (Kong's hash_on, else hash_fallback: client IP,
    a header, the path or a query argument) picks a target by weighted rendezvous hashing: a
    key keeps its target while the targets stay, removing a target moves only its own keys,
    and a target gets keys in proportion to its weight. A retry takes the key's next target.
    A request without a key (no such header, ...) is balanced round robin, as Kong does.
    Weight 0 disables a target.

    Health (Kong's healthchecks): every algorithm skips unhealthy targets; when none is left,
    or the healthy share of the weight is under `healthchecks.threshold` percent, there is no
    peer (the proxy answers 503). Passive checks count what proxied exchanges saw
    (exchange_ended, called by the exchange itself); active probes (jqgate.health) report
    through report_active; the Admin API sets a target's health with set_healthy."""

    def __cinit__(self):
        self.n = 0

    def __dealloc__(self):
        PyMem_Free(self._weight)
        PyMem_Free(self._current)
        PyMem_Free(self._open)
        PyMem_Free(self._rec)
        PyMem_Free(self._own)

    def __init__(self, upstream):
        self.name = upstream.name
        self.peers = [(t.host, t.port) for t in upstream.targets if t.weight > 0]
        self.weights = [t.weight for t in upstream.targets if t.weight > 0]
        cdef Py_ssize_t n = len(self.peers)
        cdef Py_ssize_t i
        self._weight = <long long*>PyMem_Malloc(sizeof(long long) * (n or 1))
        self._current = <long long*>PyMem_Malloc(sizeof(long long) * (n or 1))
        self._open = <long long*>PyMem_Malloc(sizeof(long long) * (n or 1))
        self._rec = <unsigned char**>PyMem_Malloc(sizeof(unsigned char*) * (n or 1))
        self._own = <unsigned char*>PyMem_Malloc(HEALTH_RECORD * (n or 1))
        if (self._weight == NULL or self._current == NULL or self._open == NULL
                or self._rec == NULL or self._own == NULL):
            raise MemoryError()
        self.n = n
        self.total_weight = 0
        for i in range(n):
            self._weight[i] = self.weights[i]
            self._current[i] = 0
            self._open[i] = 0
            self._rec[i] = &self._own[HEALTH_RECORD * i]
            memset(self._rec[i], 0, HEALTH_RECORD)      # HEALTHY, no counts
            self.total_weight += self._weight[i]
        self.healthy_weight = self.total_weight
        self.last = -1
        self.algorithm = getattr(upstream, "algorithm", "round-robin")
        self.algo = (ALGO_LEAST_CONNECTIONS if self.algorithm == "least-connections"
                     else ALGO_HASHING if self.algorithm == "consistent-hashing"
                     else ALGO_ROUND_ROBIN)
        self.hash_on = HASH_NONE
        self.hash_fallback = HASH_NONE
        if self.algo == ALGO_HASHING:
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
        self._configure_health(getattr(upstream, "healthchecks", None))

    cdef void _configure_health(self, hc):
        memset(self._passive_status, ST_IGNORED, 1000)
        memset(self._active_status, ST_IGNORED, 1000)
        memset(self._passive_limit, 0, 4)
        memset(self._active_limit, 0, 4)
        self.healthchecks = hc
        self.threshold = 0
        self.passive = False
        if hc is not None:
            self.threshold = hc["threshold"]
            _health_rules(hc["passive"], self._passive_status, self._passive_limit)
            _health_rules(hc["active"], self._active_status, self._active_limit)
            self.passive = (self._passive_limit[0] | self._passive_limit[1]
                            | self._passive_limit[2] | self._passive_limit[3]) != 0
        self.tracks = self.passive or self.algo == ALGO_LEAST_CONNECTIONS

    # -- choosing -----------------------------------------------------------------------------

    cdef inline bint _up(self, Py_ssize_t i) noexcept:
        return self._rec[i][0] <= MOSTLY_HEALTHY

    cdef inline bint _usable(self) noexcept:
        """Some weight is healthy, and at least `threshold` percent of it."""
        if self.shared:
            self._refresh_weight()      # another worker may have moved a target
        if self.healthy_weight <= 0:
            return False
        return self.threshold <= 0 or self.healthy_weight * 100.0 >= self.threshold * self.total_weight

    cpdef object pick(self):
        """The next (host, port) by round robin (least connections for that algorithm), or
        None when no healthy target is left (or too few: healthchecks.threshold)."""
        cdef Py_ssize_t i = self._choose_index()
        if i < 0:
            return None
        return self.peers[i]

    cdef Py_ssize_t _choose_index(self):
        cdef Py_ssize_t n = self.n
        if n == 0 or not self._usable():
            self.last = -1
            return -1
        if self.algo == ALGO_LEAST_CONNECTIONS:
            self.last = self._least_connections()
            return self.last
        if n == 1:
            self.last = 0
            return 0
        cdef Py_ssize_t best = -1
        cdef Py_ssize_t i
        for i in range(n):
            if not self._up(i):
                continue
            self._current[i] += self._weight[i]
            if best < 0 or self._current[i] > self._current[best]:
                best = i
        self._current[best] -= self.healthy_weight
        self.last = best
        return best

    cdef Py_ssize_t _least_connections(self):
        """(open + 1) / weight, lowest first; among equals the next after the last chosen."""
        cdef Py_ssize_t n = self.n
        cdef Py_ssize_t best = -1
        cdef Py_ssize_t k, i
        cdef double score, best_score = 0
        for k in range(n):
            i = (self._turn + k) % n
            if not self._up(i):
                continue
            score = (self._open[i] + 1.0) / self._weight[i]
            if best < 0 or score < best_score:
                best = i
                best_score = score
        self._turn = (best + 1) % n
        return best

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
        cdef Py_ssize_t n = self.n
        if n == 0 or not self._usable():
            self.last = -1
            return None
        cdef const unsigned char* k = <const unsigned char*>PyBytes_AS_STRING(key)
        cdef Py_ssize_t klen = len(key)
        cdef Py_ssize_t i, j
        cdef uint64_t h
        cdef double u
        cdef list scored = []
        for i in range(n):
            if not self._up(i):
                continue
            h = <uint64_t>self._seeds[i]
            for j in range(klen):
                h = (h ^ k[j]) * 1099511628211ULL
            h = _mix64(h)
            u = (<double>(h >> 11) + 0.5) / 9007199254740992.0     # in (0, 1)
            scored.append((<double>self._weight[i] / -log(u), i))
        scored.sort(reverse=True)
        self.last = (<tuple>scored[attempt % len(scored)])[1]
        return self.peers[self.last]

    cdef void track(self, ClientExchange ex):
        """The exchange just made for the peer `last` reports back when it ends, when this
        balancer listens (least-connections, passive checks)."""
        if self.tracks and self.last >= 0:
            ex.tracker = self
            ex.tracker_index = self.last
            self._open[self.last] += 1

    # -- health -------------------------------------------------------------------------------

    cdef void exchange_ended(self, Py_ssize_t index, int status, int error_kind):
        if index < 0 or index >= self.n:
            return
        if self._open[index] > 0:
            self._open[index] -= 1
        if not self.passive or error_kind < 0 or error_kind == CERR_OVERLOAD:
            return      # cancelled, or our own queue was full: nothing learnt about the peer
        if error_kind == CERR_TIMEOUT:
            self._count(index, CTR_TIMEOUT, self._passive_limit[CTR_TIMEOUT])
        elif error_kind != CERR_NONE and status == 0:
            self._count(index, CTR_TCP, self._passive_limit[CTR_TCP])
        elif 0 < status < 1000:
            self._count_status(index, status, self._passive_status, self._passive_limit)

    def observe(self, Py_ssize_t index, int status, int error_kind=0):
        """What a tracked exchange reports when it ends (it calls exchange_ended itself): for
        callers outside the core, and tests."""
        if 0 <= index < self.n:
            self._open[index] += 1      # exchange_ended counts one exchange less
        self.exchange_ended(index, status, error_kind)

    cpdef report_active(self, Py_ssize_t index, int outcome, int status=0):
        """An active probe's result: PROBE_ANSWERED with its status, PROBE_TCP_FAILURE,
        PROBE_TIMEOUT, PROBE_CONNECTED (type tcp)."""
        if index < 0 or index >= self.n:
            return
        if outcome == PROBE_CONNECTED:
            self._count(index, CTR_SUCCESS, self._active_limit[CTR_SUCCESS])
        elif outcome == PROBE_TIMEOUT:
            self._count(index, CTR_TIMEOUT, self._active_limit[CTR_TIMEOUT])
        elif outcome == PROBE_TCP_FAILURE:
            self._count(index, CTR_TCP, self._active_limit[CTR_TCP])
        elif 0 < status < 1000:
            self._count_status(index, status, self._active_status, self._active_limit)

    cdef void _count_status(self, Py_ssize_t i, int status, unsigned char* table,
                            unsigned char* limits):
        if table[status] == ST_SUCCESS:
            self._count(i, CTR_SUCCESS, limits[CTR_SUCCESS])
        elif table[status] == ST_FAILURE:
            self._count(i, CTR_HTTP, limits[CTR_HTTP])

    cdef void _count(self, Py_ssize_t i, int ctr, int limit):
        """lua-resty-healthcheck's counting: a disabled counter (limit 0) does nothing; a
        report in the direction the target already is changes nothing; a success clears the
        failure counters, a failure the success counter; reaching the limit moves the target
        over (and clears its counters), a first report against its state makes it "mostly"."""
        if limit == 0:
            return
        cdef unsigned char state = self._rec[i][0]
        cdef bint success = ctr == CTR_SUCCESS
        if (success and state == HEALTHY) or (not success and state == UNHEALTHY):
            return
        cdef unsigned char* c = &self._rec[i][1]
        if c[ctr] < 255:
            c[ctr] += 1
        cdef int reached = c[ctr]
        if success:
            c[CTR_HTTP] = 0
            c[CTR_TCP] = 0
            c[CTR_TIMEOUT] = 0
        else:
            c[CTR_SUCCESS] = 0
        if reached >= limit:
            self._set_state(i, HEALTHY if success else UNHEALTHY)
        elif state == HEALTHY and not success:
            self._rec[i][0] = MOSTLY_HEALTHY
        elif state == UNHEALTHY and success:
            self._rec[i][0] = MOSTLY_UNHEALTHY

    cdef void _set_state(self, Py_ssize_t i, unsigned char state):
        cdef bint was_up = self._up(i)
        self._rec[i][0] = state
        memset(&self._rec[i][1], 0, 4)
        cdef bint now_up = self._up(i)
        if was_up and not now_up:
            self.healthy_weight -= self._weight[i]
        elif now_up and not was_up:
            self.healthy_weight += self._weight[i]
            self._current[i] = 0

    cpdef set_healthy(self, Py_ssize_t index, bint healthy):
        """Kong's POST /upstreams/{u}/targets/{t}/healthy|unhealthy: the target's state at once,
        its counters cleared."""
        if 0 <= index < self.n:
            self._set_state(index, HEALTHY if healthy else UNHEALTHY)

    cpdef bint is_healthy(self, Py_ssize_t index):
        return 0 <= index < self.n and self._up(index)

    cpdef int health_state(self, Py_ssize_t index):
        """0 healthy, 1 mostly healthy, 2 mostly unhealthy, 3 unhealthy."""
        return self._rec[index][0] if 0 <= index < self.n else -1

    cpdef long long open_exchanges(self, Py_ssize_t index):
        return self._open[index] if 0 <= index < self.n else 0

    cpdef Py_ssize_t index_of(self, str host, int port):
        """The peer's index, -1 when it is not a target with weight."""
        cdef Py_ssize_t i
        for i in range(self.n):
            if self.peers[i][0] == host and self.peers[i][1] == port:
                return i
        return -1

    cpdef bint balancer_healthy(self):
        """Kong's balancer_health: enough healthy weight to take traffic."""
        return self._usable()

    def health_snapshot(self):
        """{(host, port): (state, counters)}: what a reloaded configuration carries over."""
        cdef Py_ssize_t i
        return {self.peers[i]: (self._rec[i][0], (<char*>&self._rec[i][1])[:4])
                for i in range(self.n)}

    def adopt_health(self, dict snapshot):
        """Take over the states of targets that were in the replaced configuration."""
        cdef Py_ssize_t i
        for i in range(self.n):
            saved = snapshot.get(self.peers[i])
            if saved is not None:
                self._set_state(i, saved[0])
                memcpy(&self._rec[i][1], <const char*>(<bytes>saved[1]), 4)

    def share_health(self, mem, offsets):
        """Keep the targets' health in `mem`, a mapping every worker of the gateway shares
        (jqgate.shared_health): peer i's record (state, 4 counters) at byte offsets[i]. The
        mapping's records win over this process's: they are what the other workers and the
        parent's probes have seen. Counters move without a lock: two workers counting the same
        target at the same instant may lose one count, which delays a transition by a report."""
        cdef unsigned char[::1] view = mem
        cdef Py_ssize_t i, off
        if len(offsets) != self.n:
            raise ValueError("one record offset per target with weight")
        for i in range(self.n):
            off = offsets[i]
            if off < 0 or off + HEALTH_RECORD > view.shape[0]:
                raise ValueError("health record offset %d outside the shared mapping" % off)
        for i in range(self.n):
            self._rec[i] = &view[0] + <Py_ssize_t>offsets[i]
        self._shared_view = view
        self.shared = True
        self._refresh_weight()

    cdef void _refresh_weight(self) noexcept:
        cdef long long total = 0
        cdef Py_ssize_t i
        for i in range(self.n):
            if self._rec[i][0] <= MOSTLY_HEALTHY:
                total += self._weight[i]
        self.healthy_weight = total


cdef void _health_rules(dict kind, unsigned char* table, unsigned char* limits):
    """One check kind's (active or passive) status table and counter limits."""
    for status in kind["healthy"]["http_statuses"]:
        if 0 < status < 1000:
            table[status] = ST_SUCCESS
    for status in kind["unhealthy"]["http_statuses"]:
        if 0 < status < 1000 and table[status] == ST_IGNORED:
            table[status] = ST_FAILURE
    limits[CTR_SUCCESS] = kind["healthy"]["successes"]
    limits[CTR_HTTP] = kind["unhealthy"]["http_failures"]
    limits[CTR_TCP] = kind["unhealthy"]["tcp_failures"]
    limits[CTR_TIMEOUT] = kind["unhealthy"]["timeouts"]


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
        for item in req.header_list():
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

    def __init__(self, service, upstream, Balancer balancer=None):
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
        # The gateway passes its one balancer per upstream: health and connection counts
        # are the upstream's, whichever service sends there.
        if balancer is None and upstream is not None:
            balancer = Balancer(upstream)
        self.balancer = balancer
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
