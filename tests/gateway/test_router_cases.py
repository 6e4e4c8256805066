"""Kong's routing documentation, case by case (tests/cases/router/*.yaml), through a real
gateway on loopback: each case's routes load from a declarative document, every request goes
over a socket, and the echo upstream tells which route's service it reached (each route has
its own service, whose Host header is the route's name) and the path it was sent."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from jqgate.config.declarative import load_declarative
from netutil import GatewayThread, http_get

CASES_DIR = Path(__file__).resolve().parent.parent / "cases" / "router"
CASES = [case for path in sorted(CASES_DIR.glob("*.yaml"))
         for case in yaml.safe_load(path.read_text())]


def declarative(case: dict, upstream_port: int) -> dict:
    """One service and one upstream per route, named after it."""
    services, upstreams, routes = [], [], []
    for record in case["routes"]:
        record = dict(record)
        name = record["name"]
        service = {"name": name, "host": name, "port": 80, "protocol": "http"}
        if "service_path" in record:
            service["path"] = record.pop("service_path")
        if record.pop("service_enabled", True) is False:
            service["enabled"] = False
        services.append(service)
        upstreams.append({"name": name, "targets": [{"target": "127.0.0.1:%d" % upstream_port}]})
        record["service"] = name
        routes.append(record)
    return {"_format_version": "3.0", "services": services, "upstreams": upstreams,
            "routes": routes}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_kong_routing_case(case, upstream):
    config = load_declarative(declarative(case, upstream.port), "case")
    gateway = GatewayThread(config)
    try:
        for req in case["requests"]:
            headers = dict(req.get("headers") or {})
            if "host" in req:
                headers["Host"] = req["host"]
            status, _, body = http_get(gateway.port, req["path"], headers=headers,
                                       method=req.get("method", "GET"))
            what = "%s %s %s" % (req.get("method", "GET"), req["path"], headers)
            if "status" in req:
                assert status == req["status"], what
                if "message" in req:
                    assert json.loads(body)["message"] == req["message"], what
                continue
            assert status == 200, (what, body)
            doc = json.loads(body)
            sent = {k.lower(): v for k, v in doc["headers"]}
            if "route" in req:
                assert sent["host"] == req["route"], what
            if "upstream_host" in req:
                assert sent["host"] == req["upstream_host"], what
            if "upstream_path" in req:
                assert doc["path"] == req["upstream_path"], what
    finally:
        gateway.stop()
