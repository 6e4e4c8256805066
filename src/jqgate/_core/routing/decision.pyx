# Where and how one request is proxied: decision_for() routes the request with the gateway's
# compiled router (routing/router.pyx, built by jqgate.gateway.router) and builds the ProxyDecision from
# the matched entry, all in C: a request on a path never seen before (/orders/123) costs no
# Python frame and no cache entry.


@cython.freelist(64)
cdef class ProxyDecision:
    """Where and how to send one request. The last decision is remembered and shared with
    the next request for the same method, host, path and scheme: treat it as read-only
    (replace() and with_query() make a request's own copy)."""

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
        d.target = write_join(self.target, _DECISION_QMARK, query)
        return d

    cpdef ProxyDecision replace(self, ServiceTarget service=None, target=None):
        """A copy for one request with another service target or request target."""
        cdef ProxyDecision d = self._copy()
        if service is not None:
            d.service = service
        if target is not None:
            d.target = target
        return d


cdef bytes _DECISION_QMARK = b"?"

NO_ROUTE_MESSAGE = "no Route matched with those values"
NO_SERVICE_MESSAGE = "no Service found with those values"
HTTPS_REQUIRED_MESSAGE = "Please use HTTPS protocol"

cdef tuple _NO_ROUTE = (404, NO_ROUTE_MESSAGE)
cdef tuple _NO_SERVICE = (503, NO_SERVICE_MESSAGE)
cdef tuple _HTTPS_REQUIRED = (426, HTTPS_REQUIRED_MESSAGE)

# The last decision, remembered: a run of requests for the same method, host, path and scheme
# (and TLS server name, when some route has an snis condition) skips routing. Only for a
# router that reads nothing else of the request (no headers conditions); a reload brings a new
# router, which the identity check notices.
cdef CompiledRouter _last_router = None
cdef bytes _last_method = None
cdef bytes _last_host = None
cdef bytes _last_path = None
cdef object _last_scheme = None
cdef bytes _last_sni = None
cdef object _last_decision = None


cdef object decision_for(CompiledRouter router, HttpRequest req):
    """Where `req` goes: a ProxyDecision (a copy carrying the request's query when it has
    one), or (status, message) for the gateway's own answer."""
    global _last_router, _last_method, _last_host, _last_path, _last_scheme, _last_decision
    global _last_sni
    if router is _last_router and req.scheme is _last_scheme and req.method == _last_method \
            and req.path == _last_path and req.host == _last_host \
            and (not router.reads_sni or req.sni == _last_sni):
        decision = _last_decision
    else:
        decision = _decide(router, req)
        if not router.reads_headers:
            _last_router = router
            _last_method = req.method
            _last_host = req.host
            _last_path = req.path
            _last_scheme = req.scheme
            _last_sni = req.sni
            _last_decision = decision
    if req.query and type(decision) is ProxyDecision:
        return (<ProxyDecision>decision).with_query(req.query)
    return decision


cdef object _decide(CompiledRouter router, HttpRequest req):
    """Route `req` (Kong's traditional router, routing/router.pyx) and say what to send where."""
    cdef bytes path = _normalized(req.path)
    cdef bint https = req.scheme == "https"
    cdef RouteEntry e = router.find(req.method, req.host, path,
                                    req.header_list() if router.reads_headers else None, https,
                                    req.sni)
    if e is None:
        return _NO_ROUTE
    if e.https_only and not https:
        return _HTTPS_REQUIRED
    if e.service is None:
        return _NO_SERVICE
    cdef Py_ssize_t matched = router.matched_len
    if e.prefix is None and e.regex is None:
        matched = -1                     # no path condition: nothing consumed
    cdef bytes target = kong_upstream_path(e.service_path, path, matched, e.strip_path,
                                           e.path_v1)
    cdef bytes host_header = req.host if (e.preserve_host and req.host) else e.service.host_header
    prefix = _head(path, matched) if (e.strip_path and matched > 0) else None
    cdef ProxyDecision d = ProxyDecision.__new__(ProxyDecision)
    d.route = e.route
    d.service = e.service
    d.target = target
    d.host_header = host_header
    d.forwarded_prefix = prefix
    d.match = e
    return d


cdef bytes _normalized(bytes path):
    """The path routes match and the service receives (jqgate.http_path.normalize_path); the
    common path needs none and costs one scan for `%`, `//` and `/.` (in C: `b"%" in path`
    would first try the needle as an integer and format an exception)."""
    cdef const char* s = PyBytes_AS_STRING(path)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(path)
    cdef Py_ssize_t i
    cdef bint clean = True
    for i in range(n):
        if s[i] == 37:                                   # %
            clean = False
            break
        if s[i] == 47 and i + 1 < n and (s[i + 1] == 47 or s[i + 1] == 46):   # // or /.
            clean = False
            break
    if clean:
        return path
    from jqgate.http_path import normalize_path
    return normalize_path(path.decode("latin-1")).encode("latin-1")


def route_request(gateway, HttpRequest req):
    """decision_for() with the gateway's router, for Python callers (Gateway.route)."""
    return decision_for(gateway.compiled_router, req)
