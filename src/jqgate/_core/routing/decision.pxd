# Declarations of routing/decision.pyx: what the rest of the core uses from it (via core.pxd).

cdef class ProxyDecision:
    cdef public object route              # the config Route record
    cdef public ServiceTarget service
    cdef public bytes target              # path + query of the upstream request line
    cdef public bytes host_header
    cdef public object forwarded_prefix   # bytes, or None
    cdef public object match              # the router's RouteEntry

    cdef ProxyDecision _copy(self)
    cpdef ProxyDecision with_query(self, bytes query)
    cpdef ProxyDecision replace(self, ServiceTarget service=*, target=*)

cdef object decision_for(CompiledRouter router, HttpRequest req)
cdef object _decide(CompiledRouter router, HttpRequest req)
cdef bytes _normalized(bytes path)
