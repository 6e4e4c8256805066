# After each answer: the per-request metrics (jqgate.metrics) and the access log line
# (observe/access_log.pyx).
#
# This runs once per request, so it is compiled: the histograms count in C arrays, and the
# (route, service) series of a request is found by the identity of its route record instead of
# by reading names through four getattr calls. Handlers other than the proxy and the DataKit
# flow (tests, embedders) still work: what they leave in req.ctx / resp.log_extra is read with
# getattr, as documented in jqgate.gateway.serve.make_request_observer.

# Seconds; jqgate.metrics.LATENCY_BUCKETS reads them from here.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0, 30.0, 60.0)

cdef double _OBS_BOUNDS[OBS_N_BUCKETS]
for _i, _b in enumerate(LATENCY_BUCKETS):
    _OBS_BOUNDS[_i] = _b


cdef class LatencyHistogram:
    """Per-bucket counts (not cumulative: one increment per observation; the last slot is
    above every bound), their sum and count."""

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


cdef inline bytes _obs_label(record):
    """A record's label as the access log writes it: UTF-8, None when there is no record."""
    name = _obs_name(record)
    return None if name is None else str(name).encode("utf-8", "replace")


cdef class _RouteLabels:
    """What the observer keeps per (route record, service record), found by their identity:
    the metric series they count into and their names as the access log writes them."""


cdef class RequestObserver(AccessObserver):
    """The server's access_log callable: metrics (a jqgate.metrics.Metrics, or None), then the
    access log line: an AccessLog (written in C), or any callable write_log(req, resp), or
    None."""

    def __init__(self, metrics, access_log):
        self.metrics = metrics
        if isinstance(access_log, AccessLog):
            self.access_log = access_log
        else:
            self.write_log = access_log
        self._by_route = {}
        self._node_histograms = {}
        if metrics is not None:
            self._node_family = metrics.histograms["datakit_node_latency_seconds"]
            self._call_family = metrics.counters["datakit_call_total"]

    def __call__(self, HttpRequest req, Responder resp):
        self.observe(req, resp)

    cdef int observe(self, HttpRequest req, Responder resp) except -1:
        cdef object ctx = req.ctx
        cdef object extra = resp.log_extra
        cdef double upstream_s = -1
        cdef long long upstream_ms = -1
        cdef ProxyCall call
        cdef bint proxied = type(extra) is ProxyCall
        if proxied:
            call = <ProxyCall>extra
            if call.t_upstream_head != 0:
                upstream_s = call.t_upstream_head - call.t_upstream_start
                upstream_ms = <long long>(upstream_s * 1000)
        elif extra is not None and type(ctx) is not DataKitFlow:
            seconds = getattr(extra, "upstream_latency_s", None)
            if seconds is not None:
                upstream_s = seconds
                upstream_ms = <long long>(upstream_s * 1000)
            else:
                millis = getattr(extra, "upstream_latency_ms", None)
                if millis is not None:
                    upstream_ms = millis
                    upstream_s = millis / 1000.0
        cdef _RouteLabels labels = self._labels_for(_observed_decision(ctx, extra))
        cdef double now = mono_now()
        if self.metrics is not None:
            self._count(req, resp, labels, upstream_s, proxied, now)
        if self.access_log is not None:
            self.access_log.write(req, resp, labels.route_name, labels.service_name,
                                  upstream_ms, now)
        elif self.write_log is not None:
            self.write_log(req, resp)
        return 0

    cdef int _count(self, HttpRequest req, Responder resp, _RouteLabels labels,
                    double upstream_s, bint proxied, double now) except -1:
        cdef object ctx = req.ctx
        cdef object extra = resp.log_extra
        cdef RequestSeries series = labels.series
        codes = series.codes
        codes[resp.status] = codes.get(resp.status, 0) + 1
        series.total.add(now - req.start_time)
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

    cdef _RouteLabels _labels_for(self, decision):
        route, service = _route_and_service(decision)
        cdef _RouteLabels labels = self._last
        if labels is not None and route is labels.route and service is labels.service:
            return labels
        labels = self._by_route.get(id(route))
        if labels is None or labels.route is not route or labels.service is not service:
            labels = _RouteLabels()
            labels.route = route
            labels.service = service
            labels.route_name = _obs_label(route)
            labels.service_name = _obs_label(service)
            if self.metrics is not None:
                labels.series = self.metrics.series(_obs_name(route) or "",
                                                    _obs_name(service) or "")
            if len(self._by_route) >= 4096:
                self._by_route.clear()     # records of replaced configurations
            self._by_route[id(route)] = labels
        self._last = labels
        return labels

    cdef int _count_run(self, run) except -1:
        """A DataKit run's node timings and call outcomes (PlanRun, or any object with
        `node_timings` = [(node type, seconds)] and `call_outcomes` = [outcome])."""
        if run is None:
            return 0
        cdef list timings = None
        cdef list outcomes
        cdef PlanRun plan_run
        cdef list hists
        cdef int j, i
        if type(run) is PlanRun:
            # The run's C arrays, counted into its plan's histograms by op index: no tuple and
            # no dict lookup per node.
            plan_run = <PlanRun>run
            if plan_run.n_timed:
                hists = self._op_histograms(plan_run.cp)
                for j in range(plan_run.n_timed):
                    i = plan_run.timed[j]
                    (<LatencyHistogram>hists[i]).add(plan_run.took[i])
            outcomes = plan_run.call_outcomes
        else:
            timings = getattr(run, "node_timings", None)
            outcomes = getattr(run, "call_outcomes", None)
        if timings:
            for node_type, seconds in timings:
                self._node_histogram(node_type).add(seconds)
        if outcomes:
            for outcome in outcomes:
                key = (outcome,)
                self._call_family[key] = self._call_family.get(key, 0) + 1
        return 0

    cdef LatencyHistogram _node_histogram(self, node_type):
        cdef LatencyHistogram h = self._node_histograms.get(node_type)
        if h is None:
            key = (node_type,)
            h = self._node_family.get(key)
            if h is None:
                h = self._node_family[key] = LatencyHistogram()
            self._node_histograms[node_type] = h
        return h

    cdef list _op_histograms(self, CompiledPlan cp):
        """The histogram of each of cp's ops (by its node type), found once per plan and kept
        on the plan (which the observer must not keep alive past a reload)."""
        if cp.metrics_owner is not self:
            cp.op_histograms = [self._node_histogram((<CompiledOp>op).kind_name) for op in cp.ops]
            cp.metrics_owner = self
        return cp.op_histograms
