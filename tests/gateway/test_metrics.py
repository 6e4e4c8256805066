"""GET /metrics: the Prometheus text format, parsed with prometheus_client's own parser; the
counters match the requests sent (one worker and several)."""
from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adminutil import AdminGateway, declarative

N_OK = 23
N_404 = 5


def scrape(gw) -> dict:
    """{(sample name, frozenset(labels)): value}, after a strict parse."""
    s, text, h = gw.admin("GET", "/metrics")
    assert s == 200 and h["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    families = {}
    for family in text_string_to_metric_families(text.decode()):
        families[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, families


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


@pytest.mark.parametrize("workers", [1, 2])
def test_counters_match_requests(tmp_path, upstream, workers):
    doc = declarative(upstream.port, route_paths=("/api",))
    gw = AdminGateway(tmp_path, doc, workers=workers)
    try:
        for i in range(N_OK):
            assert gw.proxy("/api/%d" % i)[0] == 200        # a new connection each: both workers
        for i in range(N_404):
            assert gw.proxy("/elsewhere")[0] == 404
        assert gw.proxy("/api/status/503")[0] == 503
        samples, families = scrape(gw)
        per_worker = [w["server"]["total_requests"] for w in gw.status()["workers"]]
    finally:
        gw.stop()
    assert families["jqgate_http_requests"] == "counter"
    assert families["jqgate_request_latency_seconds"] == "histogram"
    assert families["jqgate_pool_connections"] == "gauge"
    total = "jqgate_http_requests_total"
    assert value(samples, total, route="main", service="svc", code="200") == N_OK
    assert value(samples, total, route="main", service="svc", code="503") == 1
    assert value(samples, total, route="", service="", code="404") == N_404
    assert value(samples, "jqgate_request_latency_seconds_count", route="main", service="svc") == N_OK + 1
    assert value(samples, "jqgate_request_latency_seconds_bucket", route="main", service="svc",
                 le="+Inf") == N_OK + 1
    assert value(samples, "jqgate_upstream_latency_seconds_count", route="main", service="svc") == N_OK + 1
    assert value(samples, "jqgate_request_latency_seconds_count", route="", service="") == N_404
    created = value(samples, "jqgate_pool_connections_created_total")
    assert 1 <= created <= N_OK + 1
    assert value(samples, "jqgate_pool_connections", state="open") >= 1
    info = [k for k in samples if k[0] == "jqgate_config_info"]
    assert len(info) == workers
    # Several workers each served some (the kernel spreads 29 connections): the sum is exact.
    assert len(per_worker) == workers and all(n > 0 for n in per_worker)
    assert sum(per_worker) == N_OK + N_404 + 1


def test_reload_counters(tmp_path, upstream):
    gw = AdminGateway(tmp_path, declarative(upstream.port))
    try:
        assert gw.admin("POST", "/config", declarative(upstream.port, service_path="/x/"))[0] == 201
        assert gw.admin("POST", "/config", {"_format_version": "3.0", "routes": [{}]})[0] == 400
        assert gw.admin("POST", "/config", {"_format_version": "3.0", "routes": [{}]})[0] == 400
        samples, _ = scrape(gw)
        h = gw.status()["configuration_hash"]
    finally:
        gw.stop()
    assert value(samples, "jqgate_config_reloads_total", source="admin", result="success") == 1
    assert value(samples, "jqgate_config_reloads_total", source="admin", result="failure") == 2
    [(name, labels)] = [k for k in samples if k[0] == "jqgate_config_info"]
    assert dict(labels)["hash"] == h


def test_datakit_node_latencies_and_call_outcomes(tmp_path, upstream):
    from jqgate.examples import seed_flow
    from test_datakit_gateway import TokenService

    tokens = TokenService()
    try:
        ok = seed_flow(f"http://127.0.0.1:{tokens.port}/auth-token")
        denied = seed_flow(f"http://127.0.0.1:{tokens.port}/deny")
        doc = declarative(upstream.port, route_paths=("/api",))
        doc["routes"].append({"name": "denied", "service": "svc", "paths": ["/denied"]})
        doc["plugins"] = [{"name": "datakit", "route": "main", "config": ok},
                          {"name": "datakit", "route": "denied", "config": denied}]
        gw = AdminGateway(tmp_path, doc)
        try:
            for _ in range(3):
                assert gw.proxy("/api/x?api_key=K")[0] == 200
            assert gw.proxy("/denied")[0] == 500
            samples, families = scrape(gw)
        finally:
            gw.stop()
    finally:
        tokens.stop()
    assert families["jqgate_datakit_node_latency_seconds"] == "histogram"
    node_count = "jqgate_datakit_node_latency_seconds_count"
    assert value(samples, node_count, node_type="call") == 4
    assert value(samples, node_count, node_type="jq") == 3 * 2 + 1     # the denied flow stops after BUILD_HEADERS
    assert value(samples, "jqgate_datakit_call_total", outcome="ok") == 3
    assert value(samples, "jqgate_datakit_call_total", outcome="failed") == 1
