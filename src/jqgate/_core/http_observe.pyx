# After each answer: the per-request metrics (jqgate.metrics) and the access log line.
#
# This runs once per request, so it is compiled: the histograms count in C arrays, and the
# (route, service) series of a request is found by the identity of its route record instead of
# by reading names through four getattr calls. Handlers other than the proxy and the DataKit
# flow (tests, embedders) still work: what they leave in req.ctx / resp.log_extra is read with
# getattr, as documented in jqgate.server_main.make_request_observer.

# Seconds; jqgate.metrics.LATENCY_BUCKETS reads them from here.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0, 30.0, 60.0)

cdef enum:
    OBS_N_BUCKETS = 16

cdef double _OBS_BOUNDS[OBS_N_BUCKETS]
for _i, _b in enumerate(LATENCY_BUCKETS):
    _OBS_BOUNDS[_i] = _b


cdef class LatencyHistogram:
    """Per-bucket counts (not cumulative: one increment per observation; the last slot is
    above every bound), their sum and count."""
    cdef long long _counts[OBS_N_BUCKETS + 1]
    cdef public double sum
    cdef public long long count

    cdef inline void add(self, double value) noexcept:
        cdef int i = 0
        while i < OBS_N_BUCKETS and value > _OBS_BOUNDS[i]:
            i += 1
        self._counts[i] += 1
        self.sum += value
        self.count += 1

    def observe(self, double value):
        self.add(value)

    @property
    def counts(self):
        return [self._counts[i] for i in range(OBS_N_BUCKETS + 1)]


cdef class RequestSeries:
    """Everything counted for one (route, service): answers by status, two latency histograms."""
    cdef public dict codes
    cdef public LatencyHistogram total
    cdef public LatencyHistogram upstream

    def __init__(self):
        self.codes = {}
        self.total = LatencyHistogram()
        self.upstream = LatencyHistogram()


cdef inline object _obs_name(record):
    """A route or service record's label: its name, else its id."""
    if record is None:
        return None
    return getattr(record, "name", None) or getattr(record, "id", None)


cdef object _observed_decision(object ctx, object extra):
    """The routing decision of an answered request: the proxied call's, the DataKit flow's, or
    (other handlers) whichever of req.ctx / resp.log_extra has a `route`."""
    if type(extra) is ProxyCall:
        return (<ProxyCall>extra).decision
    if type(ctx) is DataKitFlow:
        return (<DataKitFlow>ctx).decision
    if getattr(ctx, "route", None) is None and extra is not None:
        return extra
    return ctx


cdef tuple _route_and_service(decision):
    """(route record, service record) of a decision; None for what it lacks."""
    cdef ServiceTarget target
    if type(decision) is ProxyDecision:
        target = (<ProxyDecision>decision).service
        return ((<ProxyDecision>decision).route, target.service if target is not None else None)
    route = getattr(decision, "route", None) if decision is not None else None
    if route is None:
        return (None, None)
    return (route, getattr(getattr(decision, "service", None), "service", None))


def route_and_service_names(HttpRequest req, Responder resp):
    """(route name, service name) of an answered request, for the access log line; None when
    it matched none (a record without a name is named by its id)."""
    route, service = _route_and_service(_observed_decision(req.ctx, resp.log_extra))
    return _obs_name(route), _obs_name(service)


cdef class RequestObserver(AccessObserver):
    """The server's access_log callable: metrics (a jqgate.metrics.Metrics, or None), then
    write_log(req, resp) (the access log line, or None)."""
    cdef object metrics
    cdef object write_log
    cdef dict _by_route          # id(route record) -> (route, service record, RequestSeries)
    cdef dict _node_family       # metrics' datakit_node_latency_seconds histograms
    cdef dict _call_family       # metrics' datakit_call_total counters
    cdef dict _node_histograms   # node type -> its histogram in _node_family (no key tuple)
    cdef object _last_route      # the series the last request counted into, and its records:
    cdef object _last_service    # most requests in a row take the same route
    cdef RequestSeries _last_series

    def __init__(self, metrics, write_log):
        self.metrics = metrics
        self.write_log = write_log
        self._by_route = {}
        self._node_histograms = {}
        if metrics is not None:
            self._node_family = metrics.histograms["datakit_node_latency_seconds"]
            self._call_family = metrics.counters["datakit_call_total"]

    def __call__(self, HttpRequest req, Responder resp):
        self.observe(req, resp)

    cdef int observe(self, HttpRequest req, Responder resp) except -1:
        if self.metrics is not None:
            self._count(req, resp)
        if self.write_log is not None:
            self.write_log(req, resp)
        return 0

    cdef int _count(self, HttpRequest req, Responder resp) except -1:
        cdef object ctx = req.ctx
        cdef object extra = resp.log_extra
        cdef object decision = _observed_decision(ctx, extra)
        cdef double upstream_s = -1
        cdef ProxyCall call
        cdef bint proxied = type(extra) is ProxyCall
        if proxied:
            call = <ProxyCall>extra
            if call.t_upstream_head != 0:
                upstream_s = call.t_upstream_head - call.t_upstream_start
        elif extra is not None and type(ctx) is not DataKitFlow:
            value = getattr(extra, "upstream_latency_s", None)
            if value is None:
                value = getattr(extra, "upstream_latency_ms", None)
                if value is not None:
                    value = value / 1000.0
            if value is not None:
                upstream_s = value
        cdef RequestSeries series = self._series_for(decision)
        codes = series.codes
        codes[resp.status] = codes.get(resp.status, 0) + 1
        series.total.add(mono_now() - req.start_time)
        if upstream_s >= 0:
            series.upstream.add(upstream_s)
        # The DataKit run's node timings and call outcomes: on the flow, or (other handlers)
        # on whatever they left in req.ctx / resp.log_extra.
        if type(ctx) is DataKitFlow:
            self._count_run((<DataKitFlow>ctx).run)
        elif not proxied:
            self._count_run(ctx)
            if extra is not ctx:
                self._count_run(extra)
        return 0

    cdef RequestSeries _series_for(self, decision):
        route, service = _route_and_service(decision)
        if self._last_series is not None and route is self._last_route \
                and service is self._last_service:
            return self._last_series
        cdef tuple entry = self._by_route.get(id(route))
        if entry is not None and entry[0] is route and entry[1] is service:
            series = entry[2]
        else:
            series = self.metrics.series(_obs_name(route) or "", _obs_name(service) or "")
            if len(self._by_route) >= 4096:
                self._by_route.clear()     # records of replaced configurations
            self._by_route[id(route)] = (route, service, series)
        self._last_route = route
        self._last_service = service
        self._last_series = series
        return series

    cdef int _count_run(self, run) except -1:
        """A DataKit run's node timings and call outcomes (PlanRun, or any object with
        `node_timings` = [(node type, seconds)] and `call_outcomes` = [outcome])."""
        if run is None:
            return 0
        cdef list timings
        cdef list outcomes
        if type(run) is PlanRun:
            timings = (<PlanRun>run).node_timings
            outcomes = (<PlanRun>run).call_outcomes
        else:
            timings = getattr(run, "node_timings", None)
            outcomes = getattr(run, "call_outcomes", None)
        cdef LatencyHistogram h
        if timings:
            for node_type, seconds in timings:
                h = self._node_histograms.get(node_type)
                if h is None:
                    key = (node_type,)
                    h = self._node_family.get(key)
                    if h is None:
                        h = self._node_family[key] = LatencyHistogram()
                    self._node_histograms[node_type] = h
                h.add(seconds)
        if outcomes:
            for outcome in outcomes:
                key = (outcome,)
                self._call_family[key] = self._call_family.get(key, 0) + 1
        return 0
