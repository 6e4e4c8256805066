"""Every Admin API route against a running gateway over real HTTP, with the Kong docs' bodies."""
from __future__ import annotations

import json
import urllib.parse

import pytest

from adminutil import AdminGateway, declarative, seed_body


@pytest.fixture
def gw(tmp_path, upstream):
    g = AdminGateway(tmp_path, declarative(upstream.port))
    yield g
    g.stop()


SEED_GLOBAL = seed_body("admin-global.json")


def test_root_and_status(gw):
    s, root, h = gw.admin("GET", "/")
    assert s == 200 and h["content-type"].startswith("application/json")
    assert root["tagline"] and root["version"]
    assert root["plugins"]["available_on_server"]["datakit"]
    st = gw.status()
    assert len(st["configuration_hash"]) == 32
    assert [w["configuration_hash"] for w in st["workers"]] == [st["configuration_hash"]]


def test_services_and_routes_lists(gw):
    s, services, _ = gw.admin("GET", "/services")
    assert s == 200 and services["next"] is None
    [svc] = services["data"]
    assert svc["name"] == "svc" and svc["host"] == "127.0.0.1" and svc["protocol"] == "http"
    s, routes, _ = gw.admin("GET", "/routes")
    [route] = routes["data"]
    assert route["name"] == "main" and route["service"] == {"id": svc["id"]}
    assert route["paths"] == ["/"]
    assert gw.admin("GET", "/services/svc")[1]["id"] == svc["id"]
    assert gw.admin("GET", "/services/%s" % svc["id"])[1]["name"] == "svc"
    assert gw.admin("GET", "/routes/main")[1]["id"] == route["id"]
    assert gw.admin("GET", "/services/svc/routes")[1]["data"][0]["id"] == route["id"]
    assert gw.admin("GET", "/services/nope")[0] == 404


def test_post_plugins_with_the_seed_body_verbatim(gw):
    before = gw.status()["configuration_hash"]
    s, plugin, _ = gw.admin("POST", "/plugins/", SEED_GLOBAL,
                            headers={"Accept": "application/json"})
    assert s == 201, plugin
    assert plugin["name"] == "datakit" and plugin["enabled"] is True
    assert plugin["service"] is None and plugin["route"] is None and plugin["consumer"] is None
    assert plugin["config"] == json.loads(SEED_GLOBAL)["config"]
    s, got, _ = gw.admin("GET", "/plugins/" + plugin["id"])
    assert s == 200 and got["id"] == plugin["id"]
    s, listed, _ = gw.admin("GET", "/plugins")
    assert [p["id"] for p in listed["data"]] == [plugin["id"]] and listed["next"] is None
    after = gw.status()
    assert after["configuration_hash"] != before
    assert after["workers"][0]["configuration_hash"] == after["configuration_hash"]
    # The second global datakit is Kong's unique violation.
    s, err, _ = gw.admin("POST", "/plugins", SEED_GLOBAL)
    assert s == 409 and err["name"] == "unique constraint violation"


@pytest.mark.parametrize("ref", ["svc", "id"])
def test_post_service_plugins(gw, ref):
    svc_id = gw.admin("GET", "/services/svc")[1]["id"]
    key = svc_id if ref == "id" else "svc"
    s, plugin, _ = gw.admin("POST", "/services/%s/plugins/" % key, seed_body("admin-service.json"))
    assert s == 201, plugin
    assert plugin["service"] == {"id": svc_id} and plugin["route"] is None
    s, listed, _ = gw.admin("GET", "/services/svc/plugins")
    assert [p["id"] for p in listed["data"]] == [plugin["id"]]
    assert gw.admin("POST", "/services/nope/plugins", seed_body("admin-service.json"))[0] == 404


def test_post_route_plugins(gw):
    route_id = gw.admin("GET", "/routes/main")[1]["id"]
    s, plugin, _ = gw.admin("POST", "/routes/main/plugins/", seed_body("admin-route.json"))
    assert s == 201, plugin
    assert plugin["route"] == {"id": route_id} and plugin["service"] is None
    assert [p["id"] for p in gw.admin("GET", "/routes/%s/plugins" % route_id)[1]["data"]] == [plugin["id"]]


@pytest.mark.parametrize("path,body", [
    ("/consumers/alice/plugins/", "admin-consumer.json"),
    ("/consumer_groups/gold/plugins/", "admin-consumer-group.json"),
])
def test_consumer_scopes_are_refused_clearly(gw, path, body):
    s, err, _ = gw.admin("POST", path, seed_body(body))
    assert s == 400
    assert "consumer" in err["message"] and "authentication plugin" in err["message"]
    assert gw.admin("GET", "/plugins")[1]["data"] == []


def test_consumer_reference_in_a_body_is_a_schema_violation(gw):
    body = json.loads(SEED_GLOBAL)
    body["consumer"] = {"id": "alice"}
    s, err, _ = gw.admin("POST", "/plugins", body)
    assert s == 400 and err["name"] == "schema violation"
    assert "consumer" in err["fields"]


def test_form_encoded_plugin(gw):
    form = urllib.parse.urlencode([
        ("name", "datakit"), ("enabled", "true"),
        ("config.nodes[1].name", "GREETING"), ("config.nodes[1].type", "static"),
        ("config.nodes[1].values.hello", "world"),
        ("config.nodes[1].output", "response.body"),
        ("protocols[]", "http"), ("protocols[]", "https"),
    ])
    s, plugin, _ = gw.admin("POST", "/plugins", form, "application/x-www-form-urlencoded")
    assert s == 201, plugin
    assert plugin["enabled"] is True and plugin["protocols"] == ["http", "https"]
    assert plugin["config"]["nodes"] == [{"name": "GREETING", "type": "static",
                                          "values": {"hello": "world"},
                                          "output": "response.body"}]


def test_patch_and_delete_plugin(gw):
    s, plugin, _ = gw.admin("POST", "/plugins", SEED_GLOBAL)
    assert s == 201
    pid = plugin["id"]
    nodes = plugin["config"]["nodes"]
    nodes[2]["url"] = "https://other-token-service/auth-token"
    s, patched, _ = gw.admin("PATCH", "/plugins/" + pid, {"config": {"nodes": nodes},
                                                          "enabled": False})
    assert s == 200, patched
    assert patched["enabled"] is False
    assert patched["config"]["nodes"][2]["url"] == "https://other-token-service/auth-token"
    assert gw.admin("GET", "/plugins/" + pid)[1]["enabled"] is False
    # An invalid patch is refused with the error located in the body; nothing changes.
    h = gw.status()["configuration_hash"]
    s, err, _ = gw.admin("PATCH", "/plugins/" + pid, {"config": {"nodes": [{"name": "X", "type": "nope"}]}})
    assert s == 400 and err["name"] == "schema violation"
    assert gw.status()["configuration_hash"] == h
    assert gw.admin("PATCH", "/plugins/no-such-id", {"enabled": True})[0] == 404
    s, body, _ = gw.admin("DELETE", "/plugins/" + pid)
    assert s == 204 and body == b""
    assert gw.admin("GET", "/plugins/" + pid)[0] == 404
    assert gw.admin("DELETE", "/plugins/" + pid)[0] == 204      # Kong: idempotent


def test_invalid_plugin_reports_every_located_error(gw):
    body = json.loads(SEED_GLOBAL)
    body["config"]["nodes"][1]["inputs"]["headers"] = "NO_SUCH_NODE.headers"
    body["config"]["nodes"][2]["method"] = 42
    s, err, _ = gw.admin("POST", "/plugins", body)
    assert s == 400
    assert err["code"] == 2 and err["name"] == "schema violation"
    assert err["message"].startswith("2 schema violations (") or \
        err["message"].count("config.nodes[") >= 2, err
    assert "config.nodes[1].inputs.headers" in err["message"]
    assert "config.nodes[2].method" in err["message"]
    nodes = err["fields"]["config"]["nodes"]
    assert nodes[0] is None and nodes[1]["inputs"]["headers"] and nodes[2]["method"]
    assert gw.admin("GET", "/plugins")[1]["data"] == []


def test_schema_validate(gw):
    s, ok, _ = gw.admin("POST", "/schemas/plugins/validate", SEED_GLOBAL)
    assert s == 200 and ok == {"message": "schema validation successful"}
    assert gw.admin("GET", "/plugins")[1]["data"] == []          # nothing applied
    s, err, _ = gw.admin("POST", "/schemas/plugins/validate", {"name": "datakit", "config": {}})
    assert s == 400 and err["name"] == "schema violation" and "config" in err["fields"]
    s, err, _ = gw.admin("POST", "/schemas/plugins/validate", {"name": "rate-limiting", "config": {}})
    assert s == 400 and "rate-limiting" in err["message"]


def test_post_config_of_the_running_file_keeps_its_hash(gw, upstream):
    h = gw.status()["configuration_hash"]
    s, out, _ = gw.admin("POST", "/config", declarative(upstream.port))
    assert s == 201 and out["configuration_hash"] == h
    assert [x["name"] for x in out["services"]] == ["svc"]


def test_busy_admin_port_fails_before_serving(tmp_path, upstream, gw):
    import subprocess, sys, os
    from adminutil import HERE
    from netutil import free_port
    out = subprocess.run([sys.executable, os.path.join(HERE, "admin_gateway_proc.py"),
                          gw.config_file, "127.0.0.1:%d" % free_port(),
                          "127.0.0.1:%d" % gw.admin_port, "2"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "Address already in use" in out.stderr
    assert "jqgate ready" not in out.stderr


def test_post_config_json_and_yaml(gw, upstream):
    doc = declarative(upstream.port, service_path="/v2/")
    doc["plugins"] = [json.loads(SEED_GLOBAL)]
    s, out, _ = gw.admin("POST", "/config", doc)
    assert s == 201, out
    assert len(out["configuration_hash"]) == 32
    assert gw.status()["configuration_hash"] == out["configuration_hash"]
    # The seed flow now runs in front of the service; its token service (my-token-service) does
    # not resolve here, so the call node fails and DataKit answers its generic 500.
    s, answer, _ = gw.proxy("/x")
    assert s == 500 and answer["message"] == "An unexpected error occurred"
    yaml_text = ('_format_version: "3.0"\nservices:\n- name: other\n  url: http://127.0.0.1:%d/v3/\n'
                 '  routes:\n  - name: r\n    paths: ["/"]\n' % upstream.port)
    s, out, _ = gw.admin("POST", "/config", yaml_text, "application/x-yaml")
    assert s == 201, out
    assert [x["name"] for x in gw.admin("GET", "/services")[1]["data"]] == ["other"]
    assert gw.proxy("/y")[1]["path"] == "/v3/y"
    # multipart, as `curl -F config=@kong.yml`
    boundary = "XyZ"
    multipart = ("--XyZ\r\nContent-Disposition: form-data; name=\"config\"; filename=\"kong.yml\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n" + yaml_text.replace("/v3", "/v4") +
                 "\r\n--XyZ--\r\n")
    s, out, _ = gw.admin("POST", "/config", multipart, "multipart/form-data; boundary=" + boundary)
    assert s == 201, out
    assert gw.proxy("/z")[1]["path"] == "/v4/z"
    s, got, _ = gw.admin("GET", "/config")
    assert s == 200 and got["configuration_hash"] == out["configuration_hash"]


def test_invalid_config_is_refused_and_the_running_one_kept(gw, upstream):
    h = gw.status()["configuration_hash"]
    bad = declarative(upstream.port, service_path="/bad")
    bad["routes"][0]["service"] = "missing"
    bad["services"][0]["colour"] = "blue"
    s, err, _ = gw.admin("POST", "/config", bad)
    assert s == 400
    assert err["name"] == "invalid declarative configuration" and err["code"] == 14
    locations = {e["location"] for e in err["flattened_errors"]}
    assert locations == {"routes[0].service", "services[0].colour"}
    assert err["fields"]["routes"][0]["service"] and err["fields"]["services"][0]["colour"]
    # DataKit errors: every node's error, located in the document.
    bad = declarative(upstream.port, service_path="/bad")
    bad["plugins"] = [{"name": "datakit", "config": {"nodes": [
        {"name": "A", "type": "jq", "jq": ".", "inputs": {"x": "NOPE.body"}},
        {"name": "B", "type": "call"}]}}]
    s, err, _ = gw.admin("POST", "/config", bad)
    assert s == 400
    locations = [e["location"] for e in err["flattened_errors"]]
    assert any(loc.startswith("plugins[0].config.nodes[0]") for loc in locations), locations
    assert any(loc.startswith("plugins[0].config.nodes[1]") for loc in locations), locations
    assert gw.status()["configuration_hash"] == h
    s, echoed, _ = gw.proxy("/still")
    assert s == 200 and echoed["path"] == "/still"
    assert gw.admin("POST", "/config", "{not json", "application/json")[0] == 400


def test_unknown_paths_and_methods(gw):
    s, err, _ = gw.admin("GET", "/nothing-here")
    assert s == 404 and err == {"message": "Not found"}
    s, err, _ = gw.admin("PUT", "/plugins")
    assert s == 405 and err == {"message": "Method not allowed"}
    s, err, _ = gw.admin("POST", "/plugins", "name=datakit", "text/csv")
    assert s == 415
    s, err, _ = gw.admin("POST", "/plugins", "[1, 2]")
    assert s == 400 and "JSON" in err["message"]


def test_no_admin_listener(tmp_path, upstream):
    g = AdminGateway(tmp_path, declarative(upstream.port), admin=False)
    try:
        assert g.proxy("/a")[0] == 200
        assert not any("admin API listening" in line for line in g.lines)
    finally:
        g.stop()


def test_scope_in_the_body_must_match_the_url(gw):
    body = json.loads(seed_body("admin-service.json"))
    body["service"] = {"name": "another"}
    s, err, _ = gw.admin("POST", "/services/svc/plugins", body)
    assert s == 400 and "differs" in err["fields"]["service"]
    body["service"] = "svc"                       # the same service, named: fine
    assert gw.admin("POST", "/services/svc/plugins", body)[0] == 201


def test_upstreams_targets_and_enabled_plugins(tmp_path, upstream):
    doc = declarative(upstream.port)
    doc["upstreams"] = [{"name": "pool", "targets": [{"target": "127.0.0.1:%d" % upstream.port,
                                                      "weight": 7}]}]
    doc["services"][0] = {"name": "svc", "host": "pool", "port": 80}
    g = AdminGateway(tmp_path, doc)
    try:
        [u] = g.admin("GET", "/upstreams")[1]["data"]
        assert u["name"] == "pool" and g.admin("GET", "/upstreams/pool")[1]["id"] == u["id"]
        [t] = g.admin("GET", "/upstreams/pool/targets")[1]["data"]
        assert t["weight"] == 7 and t["upstream"] == {"id": u["id"]}
        assert g.admin("GET", "/upstreams/none/targets")[0] == 404
        assert g.admin("GET", "/plugins/enabled")[1] == {"enabled_plugins": ["datakit"]}
        assert g.proxy("/through-the-pool")[0] == 200
    finally:
        g.stop()
