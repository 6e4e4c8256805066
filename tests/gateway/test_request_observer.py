"""The per-request observer (jqgate.gateway.serve.make_request_observer) feeds the metrics from what the
handler left on the request and the responder, including the DataKit executor's node timings
and call outcomes."""
from __future__ import annotations

from types import SimpleNamespace as NS

from jqgate._core.core import HttpRequest, Responder, monotonic_now
from jqgate.metrics import Metrics
from jqgate.gateway.serve import make_request_observer


def run_observer(ctx, log_extra, status):
    """What the observer records for a request whose handler left `ctx` in req.ctx and
    `log_extra` on the responder, answered with `status` after 2 ms."""
    metrics = Metrics()
    req = HttpRequest()
    req.ctx = ctx
    req.start_time = monotonic_now() - 0.002
    resp = Responder()
    resp.log_extra = log_extra
    resp.status = status
    make_request_observer(False, metrics)(req, resp)
    return metrics.snapshot()


def counters(snap, name):
    return {tuple(k): v for k, v in snap["counters"][name]}


def test_proxied_request_and_executor_extras():
    decision = NS(route=NS(name="r", id="rid"), service=NS(service=NS(name="s", id="sid")))
    run = NS(upstream_latency_ms=3, node_timings=[("jq", 0.00001), ("call", 0.001)],
             call_outcomes=["ok", "timeout"])
    snap = run_observer(decision, run, 200)
    assert counters(snap, "http_requests_total") == {("r", "s", "200"): 1}
    [[labels, counts, total, count]] = snap["histograms"]["upstream_latency_seconds"]
    assert labels == ["r", "s"] and count == 1 and total == 0.003
    nodes = {tuple(k): c for k, _, _, c in snap["histograms"]["datakit_node_latency_seconds"]}
    assert nodes == {("jq",): 1, ("call",): 1}
    assert counters(snap, "datakit_call_total") == {("ok",): 1, ("timeout",): 1}


def test_unrouted_request():
    snap = run_observer(None, None, 404)
    assert counters(snap, "http_requests_total") == {("", "", "404"): 1}
    assert snap["histograms"]["upstream_latency_seconds"] == []


def test_route_from_the_handler_run_when_ctx_holds_something_else():
    decision = NS(route=NS(name="r"), service=NS(service=NS(name="s")))
    snap = run_observer(object(), decision, 502)
    assert counters(snap, "http_requests_total") == {("r", "s", "502"): 1}


def test_upstream_latency_in_seconds_wins_over_milliseconds():
    decision = NS(route=NS(name="r"), service=NS(service=NS(name="s")))
    snap = run_observer(decision, NS(upstream_latency_s=0.00042, upstream_latency_ms=0), 200)
    [[_, _, total, _]] = snap["histograms"]["upstream_latency_seconds"]
    assert total == 0.00042


def test_latency_histogram_buckets_hold_values_up_to_their_bound():
    from jqgate._core.core import LatencyHistogram
    h = LatencyHistogram()
    for v in (0.0005, 0.00051, 0.0, 61.0):
        h.observe(v)
    counts = h.counts
    assert counts[0] == 2 and counts[1] == 1 and counts[-1] == 1 and sum(counts) == 4
    assert h.count == 4 and abs(h.sum - 61.00101) < 1e-9
