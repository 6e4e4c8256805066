# Declarations of observe/metrics.pyx: what the rest of the core uses from it (via core.pxd).

cdef enum:
    OBS_N_BUCKETS = 16

cdef class LatencyHistogram:
    cdef long long _counts[OBS_N_BUCKETS + 1]
    cdef public double sum
    cdef public long long count

    cdef inline void add(self, double value) noexcept

cdef class RequestSeries:
    cdef public dict codes
    cdef public LatencyHistogram total
    cdef public LatencyHistogram upstream

cdef object _obs_name(record)
cdef object _observed_decision(object ctx, object extra)
cdef tuple _route_and_service(decision)
cdef bytes _obs_label(record)
cdef class _RouteLabels:
    cdef object route
    cdef object service
    cdef RequestSeries series        # None without metrics
    cdef bytes route_name            # None when the request matched no route
    cdef bytes service_name

cdef class RequestObserver(AccessObserver):
    cdef object metrics
    cdef AccessLog access_log        # the line written from the core
    cdef object write_log            # any other callable(req, resp)
    cdef dict _by_route              # id(route record) -> _RouteLabels
    cdef dict _node_family           # metrics' datakit_node_latency_seconds histograms
    cdef dict _call_family           # metrics' datakit_call_total counters
    cdef dict _node_histograms       # node type -> its histogram in _node_family (no key tuple)
    cdef _RouteLabels _last          # most requests in a row take the same route

    cdef int observe(self, HttpRequest req, Responder resp) except -1
    cdef int _count(self, HttpRequest req, Responder resp, _RouteLabels labels, double upstream_s,
                    bint proxied, double now) except -1
    cdef _RouteLabels _labels_for(self, decision)
    cdef int _count_run(self, run) except -1
    cdef LatencyHistogram _node_histogram(self, node_type)
    cdef list _op_histograms(self, CompiledPlan cp)
