"""Prometheus metrics: cheap counters on the hot path, the text format at scrape time.

Each process keeps its own plain-dict counters and histograms (`METRICS`): one dict lookup and an
add per request, no locks, no shared memory. A scrape asks every process for a `snapshot()`
(JSON-safe), `merge()`s them (sums) and `render()`s the text format with `prometheus_client`'s
own exposition code, so names, escaping and histogram series follow its conventions exactly.
With `--workers N` the admin process collects the workers' snapshots over their control
channels (jqgate.admin.control); counters are exact at the moment of the scrape.

Families (all prefixed `jqgate_`):
  http_requests_total{route,service,code}                    counter
  request_latency_seconds{route,service}                     histogram, total time in the gateway
  upstream_latency_seconds{route,service}                    histogram, upstream head latency
  datakit_node_latency_seconds{node_type}                    histogram  (observe_node)
  datakit_call_total{outcome}                                counter    (count_call)
      both fed per request from the executor's `node_timings` / `call_outcomes` attributes on
      resp.log_extra or req.ctx (jqgate.gateway.serve.make_request_observer), or by direct calls
  pool_connections{state="open"|"idle"}                      gauge, upstream client pool
  pool_connections_created_total                             counter
  config_reloads_total{source,result}                        counter (admin, sighup; success, failure)
  worker_restarts_total{reason}                              counter (exited, unresponsive)
  config_info{worker,hash}                                   gauge 1 per worker: the config it runs
"""
from __future__ import annotations

from jqgate._core.core import LATENCY_BUCKETS, LatencyHistogram, RequestSeries

PREFIX = "jqgate_"
# LATENCY_BUCKETS (seconds) are the same boundaries for every latency family, so they can be
# compared. The histograms and per-(route, service) series are compiled (jqgate._core,
# observe/metrics.pyx): the server's per-request observer counts into them directly.

HELP = {
    "http_requests_total": ("counter", "Requests answered by the proxy, by route, service and status code"),
    "request_latency_seconds": ("histogram", "Time from the first request byte to the last response byte"),
    "upstream_latency_seconds": ("histogram", "Time from sending to the upstream until its response head"),
    "datakit_node_latency_seconds": ("histogram", "DataKit node run time by node type"),
    "datakit_call_total": ("counter", "DataKit call node outcomes"),
    "pool_connections_created_total": ("counter", "Upstream connections opened by the client pool"),
    "config_reloads_total": ("counter", "Configuration changes applied or refused, by source"),
    "worker_restarts_total": ("counter", "Workers replaced by the supervisor, by reason"),
}
LABELS = {
    "http_requests_total": ("route", "service", "code"),
    "request_latency_seconds": ("route", "service"),
    "upstream_latency_seconds": ("route", "service"),
    "datakit_node_latency_seconds": ("node_type",),
    "datakit_call_total": ("outcome",),
    "pool_connections_created_total": (),
    "config_reloads_total": ("source", "result"),
    "worker_restarts_total": ("reason",),
}


class Metrics:
    """One process's metrics (see the module docstring)."""

    def __init__(self):
        self.requests: dict[tuple[str, str], RequestSeries] = {}
        self.counters: dict[str, dict[tuple, float]] = {
            name: {} for name, (kind, _) in HELP.items() if kind == "counter"}
        self.histograms: dict[str, dict[tuple, LatencyHistogram]] = {
            name: {} for name, (kind, _) in HELP.items() if kind == "histogram"}

    def inc(self, name: str, labels: tuple, amount: float = 1) -> None:
        family = self.counters[name]
        family[labels] = family.get(labels, 0) + amount

    def observe(self, name: str, labels: tuple, value: float) -> None:
        family = self.histograms[name]
        h = family.get(labels)
        if h is None:
            h = family[labels] = LatencyHistogram()
        h.observe(value)

    # -- what the proxy, the executor and the admin call --------------------------------------

    def series(self, route: str, service: str) -> RequestSeries:
        """The (route, service) series; the server's observer keeps it per route record."""
        series = self.requests.get((route, service))
        if series is None:
            series = self.requests[(route, service)] = RequestSeries()
        return series

    def observe_request(self, route: str, service: str, status: int, total_s: float,
                        upstream_s: float | None) -> None:
        series = self.series(route, service)
        codes = series.codes
        codes[status] = codes.get(status, 0) + 1
        series.total.observe(total_s)
        if upstream_s is not None:
            series.upstream.observe(upstream_s)

    def observe_node(self, node_type: str, seconds: float) -> None:
        self.observe("datakit_node_latency_seconds", (node_type,), seconds)

    def count_call(self, outcome: str) -> None:
        """outcome: "ok", "error" (a non-2xx answer), "timeout", "connect_error", ..."""
        self.inc("datakit_call_total", (outcome,))

    def count_reload(self, source: str, ok: bool) -> None:
        self.inc("config_reloads_total", (source, "success" if ok else "failure"))

    # -- across processes ---------------------------------------------------------------------

    def snapshot(self, pool_stats: dict | None = None) -> dict:
        """JSON-safe copy; pool statistics (ConnectionPool.stats) become gauges and a counter."""
        snap = {
            "counters": {n: [[list(k), v] for k, v in fam.items()] for n, fam in self.counters.items()},
            "histograms": {n: [[list(k), list(h.counts), h.sum, h.count] for k, h in fam.items()]
                           for n, fam in self.histograms.items()},
            "gauges": {},
        }
        requests = snap["counters"]["http_requests_total"]
        for name in ("request_latency_seconds", "upstream_latency_seconds"):
            snap["histograms"].setdefault(name, [])
        for (route, service), series in self.requests.items():
            for code, n in series.codes.items():
                requests.append([[route, service, str(code)], n])
            for name, h in (("request_latency_seconds", series.total),
                            ("upstream_latency_seconds", series.upstream)):
                if h.count:
                    snap["histograms"][name].append([[route, service], list(h.counts), h.sum, h.count])
        if pool_stats is not None:
            snap["gauges"]["pool_connections"] = [[["open"], pool_stats.get("open", 0)],
                                                  [["idle"], pool_stats.get("idle", 0)]]
            snap["counters"]["pool_connections_created_total"] = [[[], pool_stats.get("created", 0)]]
        return snap


def merge(snapshots: list[dict]) -> dict:
    """Sum snapshots of several processes, series by series."""
    counters: dict[str, dict[tuple, float]] = {}
    gauges: dict[str, dict[tuple, float]] = {}
    histograms: dict[str, dict[tuple, list]] = {}
    for snap in snapshots:
        for kind, out in (("counters", counters), ("gauges", gauges)):
            for name, series in snap.get(kind, {}).items():
                fam = out.setdefault(name, {})
                for labels, value in series:
                    fam[tuple(labels)] = fam.get(tuple(labels), 0) + value
        for name, series in snap.get("histograms", {}).items():
            fam = histograms.setdefault(name, {})
            for labels, counts, total, count in series:
                cur = fam.get(tuple(labels))
                if cur is None:
                    fam[tuple(labels)] = [list(counts), total, count]
                else:
                    cur[0] = [a + b for a, b in zip(cur[0], counts)]
                    cur[1] += total
                    cur[2] += count
    return {"counters": {n: [[list(k), v] for k, v in f.items()] for n, f in counters.items()},
            "gauges": {n: [[list(k), v] for k, v in f.items()] for n, f in gauges.items()},
            "histograms": {n: [[list(k), *v] for k, v in f.items()] for n, f in histograms.items()}}


class _SnapshotCollector:
    """A prometheus_client collector yielding the families of one merged snapshot."""

    def __init__(self, snap: dict, config_info: list[tuple[str, str]]):
        self.snap = snap
        self.config_info = config_info

    def collect(self):
        from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                            HistogramMetricFamily)
        counters = dict(self.snap.get("counters", {}))
        histograms = self.snap.get("histograms", {})
        for name, (kind, doc) in HELP.items():
            labels = LABELS[name]
            if kind == "counter":
                # prometheus_client adds the _total suffix itself.
                fam = CounterMetricFamily(PREFIX + name[:-len("_total")], doc, labels=labels)
                for key, value in sorted(counters.get(name, []), key=lambda s: s[0]):
                    fam.add_metric(key, value)
            else:
                fam = HistogramMetricFamily(PREFIX + name, doc, labels=labels)
                for key, counts, total, _count in sorted(histograms.get(name, []), key=lambda s: s[0]):
                    cumulative, buckets = 0, []
                    for bound, n in zip(LATENCY_BUCKETS + (float("inf"),), counts):
                        cumulative += n
                        buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
                    fam.add_metric(key, buckets, total)
            yield fam
        pool = GaugeMetricFamily(PREFIX + "pool_connections",
                                 "Upstream client pool connections by state", labels=("state",))
        for key, value in sorted(self.snap.get("gauges", {}).get("pool_connections", [])):
            pool.add_metric(key, value)
        yield pool
        info = GaugeMetricFamily(PREFIX + "config_info",
                                 "1 per worker, labelled with the configuration hash it runs",
                                 labels=("worker", "hash"))
        for worker, config_hash in self.config_info:
            info.add_metric((worker, config_hash), 1)
        yield info


def render(snap: dict, config_info: list[tuple[str, str]] = (), pids=()) -> bytes:
    """The Prometheus text exposition format (version 0.0.4) of a merged snapshot, with the
    process_* families of `pids` added up (jqgate.process_metrics)."""
    from prometheus_client import CollectorRegistry, generate_latest
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snap, list(config_info)))
    if pids:
        from jqgate.process_metrics import GatewayProcessCollector
        registry.register(GatewayProcessCollector(pids))
    return generate_latest(registry)


CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

# This process's metrics. After a fork every worker counts on its own copy.
METRICS = Metrics()
