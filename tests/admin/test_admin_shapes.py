"""Admin API pieces without a server: body decoding, Kong's error shapes, the canonical
document round trip, the metrics registry and its text format."""
from __future__ import annotations

import json
import urllib.parse

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jqgate.admin import errors
from jqgate.admin.bodies import decode_config_body, decode_object
from jqgate.admin.entities import canonical_document, document_hash
from jqgate.admin.handlers import merge_patch
from jqgate.admin.routes import match
from jqgate.config import load_declarative
from jqgate.errors import ConfigIssue
from jqgate.metrics import Metrics, merge, render

FORM = b"application/x-www-form-urlencoded"


def test_form_keys_nest_like_kong():
    body = urllib.parse.urlencode([
        ("name", "datakit"), ("enabled", "false"), ("config.debug", "true"),
        ("config.nodes[2].name", "B"), ("config.nodes[1].name", "A"),
        ("config.nodes[1].timeout", "5"), ("config.nodes[1].jq", "1"),
        ("tags", "x"), ("tags", "y"), ("protocols", "http")]).encode()
    doc = decode_object(body, FORM)
    assert doc == {"name": "datakit", "enabled": False,
                   "config": {"debug": True, "nodes": [{"name": "A", "timeout": 5, "jq": "1"},
                                                       {"name": "B"}]},
                   "tags": ["x", "y"], "protocols": ["http"]}


def test_json_bodies():
    assert decode_object(b'{"a": 1}', b"application/json; charset=utf-8") == {"a": 1}
    assert decode_object(b"", b"application/json") == {}
    with pytest.raises(errors.AdminError) as e:
        decode_object(b"[1]", None)
    assert e.value.status == 400
    with pytest.raises(errors.AdminError) as e:
        decode_object(b"a: 1", b"application/x-yaml")
    assert e.value.status == 415


def test_config_bodies():
    doc = {"_format_version": "3.0", "services": []}
    assert decode_config_body(json.dumps(doc).encode(), b"application/json")[0] == doc
    assert decode_config_body(b'_format_version: "3.0"\nservices: []\n', b"text/yaml")[0] == doc
    wrapped = json.dumps({"config": '_format_version: "3.0"\nservices: []\n'}).encode()
    assert decode_config_body(wrapped, b"application/json")[0] == doc
    form = urllib.parse.urlencode({"config": json.dumps(doc)}).encode()
    assert decode_config_body(form, FORM)[0] == doc
    with pytest.raises(errors.AdminError):
        decode_config_body(b"a: [", b"text/yaml")


def test_fields_nest_errors_where_they_are():
    issues = [ConfigIssue("config.nodes[2].inputs.headers", "unknown node"),
              ConfigIssue("config.nodes[0].name", "bad"),
              ConfigIssue("config.nodes[0].name", "worse"),
              ConfigIssue("", "whole")]
    err = errors.schema_violation(issues)
    assert err.status == 400 and err.body["code"] == 2
    assert err.body["message"].startswith("4 schema violations (config.nodes[2].inputs.headers: unknown node;")
    nodes = err.body["fields"]["config"]["nodes"]
    assert nodes[0] == {"name": ["bad", "worse"]} and nodes[1] is None
    assert nodes[2] == {"inputs": {"headers": "unknown node"}}
    assert err.body["fields"]["@entity"] == "whole"
    one = errors.schema_violation(issues[:1]).body["message"]
    assert one == "schema violation (config.nodes[2].inputs.headers: unknown node)"


def test_canonical_document_round_trip():
    doc = {"_format_version": "3.0",
           "services": [{"name": "s", "url": "http://a:1/p", "routes": [
               {"name": "r", "paths": ["/x"], "plugins": [
                   {"name": "datakit", "config": {"nodes": [{"name": "A", "type": "static",
                                                            "values": {"a": 1}}]}}]}]}],
           "upstreams": [{"name": "a", "targets": [{"target": "127.0.0.1:9", "weight": 5}]}]}
    first = canonical_document(load_declarative(doc, "t"))
    again = canonical_document(load_declarative(first, "t"))
    assert first == again and document_hash(first) == document_hash(again)
    assert first["plugins"][0]["route"] == {"id": first["routes"][0]["id"]}
    assert first["routes"][0]["service"] == {"id": first["services"][0]["id"]}
    assert len(document_hash(first)) == 32


def test_patch_merges_records_and_replaces_the_rest():
    assert merge_patch({"a": {"b": 1, "c": 2}, "l": [1, 2], "x": 1},
                       {"a": {"b": 3}, "l": [9], "x": None}) == {"a": {"b": 3, "c": 2}, "l": [9]}


def test_route_table():
    handler, params = match("POST", "/services/my%20svc/plugins/")
    assert handler.__name__ == "create_plugin" and params == {"service": "my svc"}
    assert match("PUT", "/plugins") == (None, {})
    assert match("GET", "/nope") == (None, None)
    assert match("HEAD", "/status")[0].__name__ == "get_status"


def test_metrics_merge_and_text_format():
    a, b = Metrics(), Metrics()
    a.observe_request("r", "s", 200, 0.003, 0.001)
    b.observe_request("r", "s", 200, 0.2, None)
    b.observe_request("", "", 404, 0.0001, None)
    b.observe_node("jq", 0.00002)
    b.count_call("ok")
    a.count_reload("admin", False)
    text = render(merge([a.snapshot({"open": 2, "idle": 1, "created": 3}), b.snapshot()]),
                  [("1", "h1"), ("2", "h2")]).decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    assert samples[("jqgate_http_requests_total", (("code", "200"), ("route", "r"), ("service", "s")))] == 2
    assert samples[("jqgate_http_requests_total", (("code", "404"), ("route", ""), ("service", "")))] == 1
    assert samples[("jqgate_request_latency_seconds_count", (("route", "r"), ("service", "s")))] == 2
    assert samples[("jqgate_request_latency_seconds_bucket", (("le", "0.005"), ("route", "r"), ("service", "s")))] == 1
    assert samples[("jqgate_request_latency_seconds_bucket", (("le", "+Inf"), ("route", "r"), ("service", "s")))] == 2
    assert samples[("jqgate_upstream_latency_seconds_count", (("route", "r"), ("service", "s")))] == 1
    assert samples[("jqgate_datakit_node_latency_seconds_count", (("node_type", "jq"),))] == 1
    assert samples[("jqgate_datakit_call_total", (("outcome", "ok"),))] == 1
    assert samples[("jqgate_pool_connections", (("state", "open"),))] == 2
    assert samples[("jqgate_pool_connections_created_total", ())] == 3
    assert samples[("jqgate_config_reloads_total", (("result", "failure"), ("source", "admin")))] == 1
    assert samples[("jqgate_config_info", (("hash", "h2"), ("worker", "2")))] == 1
