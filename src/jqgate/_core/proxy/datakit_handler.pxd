# Declarations of proxy/datakit_handler.pyx: what the rest of the core uses from it (via core.pxd).

cdef class DataKitHandler(ProxyHandler):
    cdef public dict plans_by_route         # Route.id -> CompiledPlan
    cdef object _last_route                 # the last lookup: most requests in a row take
    cdef dict _last_plans                   # the same route
    cdef object _last_plan
    cdef object _raw_route                  # the last route and service whose config
    cdef object _route_raw                  # records' raw dicts the view took (their
    cdef ServiceTarget _raw_service         # attributes read once, not per request)
    cdef object _service_raw

    cpdef handle(self, HttpRequest req, Responder resp)

cdef list _dk_header_bytes(pairs, str where, bint wire_checked=*)
cdef str _dk_text(bytes raw)
cdef str _dk_method_text(bytes method)
cdef class DataKitFlow(RunListener):
    cdef DataKitHandler handler
    cdef HttpRequest req
    cdef Responder resp
    cdef object decision
    cdef CompiledPlan cp
    cdef PlanRun run
    cdef ClientExchange ex
    cdef int tries_left             # the service's retries not yet spent on the upstream call

    cdef int start(self) except -1
    cdef bint _body_failed(self, body)
    cdef int _run_request_window(self) except -1
    cdef int window_done(self, object run) except -1
    cdef int _request_window_done(self) except -1
    cdef int _request_window_done_unguarded(self) except -1
    cdef int _send_exit(self) except -1
    cdef int _apply_service_request(self) except -1
    cdef object _redirect(self)
    cdef int _fetch_whole_upstream(self) except -1
    cdef int _send_upstream(self) except -1
    cdef int _upstream_failed(self, ClientExchange ex) except -1
    cdef int _response_window_done(self) except -1
    cdef int _response_window_done_unguarded(self) except -1
    cdef int _field_error(self, exc) except -1
    cdef int _internal_error(self, exc) except -1
