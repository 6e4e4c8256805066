"""One access-log line per proxied request, plain or JSON, with request id, route, status,
bytes, total and upstream latency."""
from __future__ import annotations

import json

from adminutil import AdminGateway, declarative, wait_until
from netutil import Upstream


def test_json_access_log(tmp_path):
    up = Upstream()
    gw = AdminGateway(tmp_path, declarative(up.port), log_format="json")
    try:
        s, body, h = gw.proxy("/logged")
        assert s == 200
        assert gw.proxy("/status/502")[0] == 502
        assert gw.status()["server"]["total_requests"] == 2
        lines = wait_until(lambda: [l for l in gw.lines if "jqgate.access" in l] if len(
            [l for l in gw.lines if "jqgate.access" in l]) >= 2 else None, "two access lines")
    finally:
        gw.stop()
        up.stop()
    records = [json.loads(l[l.index("{"):]) for l in lines]
    first = records[0]
    assert first["request_id"] == h["x-kong-request-id"]
    assert first["route"] == "main" and first["service"] == "svc" and first["status"] == 200
    assert first["path"] == "/logged" and first["bytes"] > len(json.dumps(body))
    assert isinstance(first["latency_ms"], int) and isinstance(first["upstream_latency_ms"], int)
    assert records[1]["status"] == 502 and records[1]["route"] == "main"
    # The Admin API's own requests are not proxy traffic: they have their own log.
    assert len(records) == 2
    assert any("jqgate.admin.access" in l and '"GET /status HTTP/1.1" 200' in l for l in gw.lines)


def test_plain_access_log(tmp_path):
    up = Upstream()
    gw = AdminGateway(tmp_path, declarative(up.port))
    try:
        s, _, h = gw.proxy("/plain")
        assert gw.proxy("/nowhere/../x")[0] in (200, 404)
        line = wait_until(lambda: next((l for l in gw.lines if "/plain" in l and "jqgate.access" in l),
                                       None), "access line")
    finally:
        gw.stop()
        up.stop()
    assert '"GET /plain HTTP/1.1" 200' in line
    assert "rid=%s" % h["x-kong-request-id"] in line and "route=main" in line
    assert "latency=" in line and "upstream=" in line
