# Where and how one request is proxied: the routing result of jqgate.gateway, and its lookup on
# the request path.
#
# decision_for() looks the request up in the gateway's cache of decisions per (method, host,
# path, scheme), so a request on a known route costs a dict lookup and no Python frame; only
# a miss runs the router (Gateway.match, Python), which fills the cache.


@cython.freelist(64)
cdef class ProxyDecision:
    """Where and how to send one request. Decisions are cached and shared between requests
    with the same method, host, path and scheme: treat them as read-only (replace() and
    with_query() make a request's own copy)."""
    cdef public object route              # the config Route record
    cdef public ServiceTarget service
    cdef public bytes target              # path + query of the upstream request line
    cdef public bytes host_header
    cdef public object forwarded_prefix   # bytes, or None
    cdef public object match              # the router's match

    def __init__(self, route, service, bytes target, bytes host_header, forwarded_prefix,
                 match=None):
        self.route = route
        self.service = service
        self.target = target
        self.host_header = host_header
        self.forwarded_prefix = forwarded_prefix
        self.match = match

    cdef ProxyDecision _copy(self):
        cdef ProxyDecision d = ProxyDecision.__new__(ProxyDecision)
        d.route = self.route
        d.service = self.service
        d.target = self.target
        d.host_header = self.host_header
        d.forwarded_prefix = self.forwarded_prefix
        d.match = self.match
        return d

    cpdef ProxyDecision with_query(self, bytes query):
        cdef ProxyDecision d = self._copy()
        d.target = self.target + b"?" + query
        return d

    cpdef ProxyDecision replace(self, ServiceTarget service=None, target=None):
        """A copy for one request with another service target or request target."""
        cdef ProxyDecision d = self._copy()
        if service is not None:
            d.service = service
        if target is not None:
            d.target = target
        return d


# The last lookup, remembered: a run of requests for the same route skips building and
# hashing the key. Valid while `cache` is the same dict: an entry is only ever dropped with
# all the others (size cap), and then comes back equal; a reload brings a new dict.
cdef dict _last_cache = None
cdef bytes _last_method = None
cdef bytes _last_host = None
cdef bytes _last_path = None
cdef object _last_scheme = None
cdef object _last_decision = None


cdef object decision_for(object gateway, dict cache, HttpRequest req):
    """Where `req` goes: a ProxyDecision (a copy carrying the request's query when it has
    one), or (status, message) for the gateway's own answer. Decisions are cached per
    (method, host, path, scheme) in the gateway's `cache`; a miss asks gateway.match()."""
    global _last_cache, _last_method, _last_host, _last_path, _last_scheme, _last_decision
    if cache is _last_cache and req.scheme is _last_scheme and req.method == _last_method \
            and req.path == _last_path and req.host == _last_host:
        decision = _last_decision
    else:
        key = (req.method, req.host, req.path, req.scheme)
        decision = cache.get(key)
        if decision is None:
            decision = gateway.match(req, key)
        _last_cache = cache
        _last_method = req.method
        _last_host = req.host
        _last_path = req.path
        _last_scheme = req.scheme
        _last_decision = decision
    if req.query and type(decision) is ProxyDecision:
        return (<ProxyDecision>decision).with_query(req.query)
    return decision


def route_request(gateway, HttpRequest req):
    """decision_for() with the gateway's own cache, for Python callers (Gateway.route)."""
    return decision_for(gateway, gateway._cache, req)
