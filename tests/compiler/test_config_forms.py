"""Every form of the seed flow (Kong docs, "Authenticate Kong to a third-party service") loads."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from jqgate.compiler.schema import validate_datakit_schema
from jqgate.config import (load_any, load_declarative, load_file, load_plugin_document,
                           load_plugin_documents, quick_start, read_documents)
from jqgate.errors import ConfigError, Issues

SEED = Path(__file__).resolve().parent.parent / "cases" / "seed"
CONSUMER_SCOPE = "consumer scoping needs an authentication plugin, which this gateway does not run"
SEED_CONFIG = json.loads((SEED / "admin-global.json").read_text())["config"]
NODE_NAMES = ["STATIC_INPUTS", "BUILD_HEADERS", "AUTH_REQUEST", "UPSTREAM_AUTH_HEADER"]


def errors_of(call, *args, **kwargs) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        call(*args, **kwargs)
    return [str(error) for error in caught.value.errors]


def seed_yaml(name: str) -> dict:
    return yaml.safe_load((SEED / name).read_text())


def assert_schema_clean(plugin) -> None:
    issues = Issues()
    passed = validate_datakit_schema(plugin.config, plugin.config_location, issues)
    assert [str(i) for i in issues.items] == []
    assert passed == [0, 1, 2, 3]


# -- declarative -------------------------------------------------------------------------------

def test_declarative_global():
    config = load_file(str(SEED / "declarative-global.yaml"))
    assert config.services == [] and config.routes == []
    [plugin] = config.plugins
    assert plugin.name == "datakit" and plugin.enabled
    assert plugin.service_id is None and plugin.route_id is None
    assert plugin.config == SEED_CONFIG
    assert (plugin.location, plugin.config_location) == ("plugins[0]", "plugins[0].config")
    assert_schema_clean(plugin)


def test_declarative_service_scope_as_printed_names_a_missing_service():
    assert errors_of(load_file, str(SEED / "declarative-service.yaml")) == [
        'plugins[0].service: unknown service "serviceName|Id"']


@pytest.mark.parametrize("reference", ["serviceName|Id", {"name": "serviceName|Id"}])
def test_declarative_service_scope(reference):
    doc = seed_yaml("declarative-service.yaml")
    doc["plugins"][0]["service"] = reference
    doc["services"] = [{"name": "serviceName|Id", "url": "http://httpbin.org/anything"}]
    config = load_declarative(doc, "kong.yaml")
    [service], [plugin] = config.services, config.plugins
    assert plugin.service_id == service.id and plugin.route_id is None
    assert plugin.config == SEED_CONFIG


def test_declarative_service_scope_by_id():
    doc = seed_yaml("declarative-service.yaml")
    doc["services"] = [{"name": "svc", "id": "5f0b2a44-0000-4000-8000-000000000001",
                        "url": "http://httpbin.org"}]
    doc["plugins"][0]["service"] = {"id": "5f0b2a44-0000-4000-8000-000000000001"}
    config = load_declarative(doc, "kong.yaml")
    assert config.plugins[0].service_id == "5f0b2a44-0000-4000-8000-000000000001"


def test_declarative_route_scope():
    assert errors_of(load_file, str(SEED / "declarative-route.yaml")) == [
        'plugins[0].route: unknown route "routeName|Id"']
    doc = seed_yaml("declarative-route.yaml")
    doc["services"] = [{"name": "svc", "url": "http://httpbin.org",
                        "routes": [{"name": "routeName|Id", "paths": ["/auth"]}]}]
    config = load_declarative(doc, "kong.yaml")
    [route], [plugin] = config.routes, config.plugins
    assert plugin.route_id == route.id and plugin.service_id is None
    assert route.service_id == config.services[0].id


@pytest.mark.parametrize("name, key", [("declarative-consumer.yaml", "consumer"),
                                       ("declarative-consumer-group.yaml", "consumer_group")])
def test_declarative_consumer_scopes_are_refused(name, key):
    assert errors_of(load_file, str(SEED / name)) == [f"plugins[0].{key}: {CONSUMER_SCOPE}"]


# -- Admin API bodies --------------------------------------------------------------------------

@pytest.mark.parametrize("scope", ["global", "service", "route", "consumer", "consumer-group"])
def test_admin_bodies(scope):
    # The scope of an Admin API call is in its URL; the body is the same for every scope.
    body = json.loads((SEED / f"admin-{scope}.json").read_text())
    [plugin] = load_plugin_document(body, "<admin>")
    assert plugin.config == SEED_CONFIG
    assert (plugin.location, plugin.config_location) == ("", "config")
    assert_schema_clean(plugin)


@pytest.mark.parametrize("key", ["consumer", "consumer_group"])
def test_admin_body_with_consumer_reference_is_refused(key):
    body = json.loads((SEED / "admin-global.json").read_text())
    body[key] = {"name": "alice"}
    assert errors_of(load_plugin_document, body, "<admin>") == [f"{key}: {CONSUMER_SCOPE}"]


def test_admin_body_entity_fields():
    body = {"name": "datakit", "id": "p1", "instance_name": "auth", "enabled": False,
            "protocols": ["http"], "service": {"name": "svc"}, "route": "r", "tags": ["a"],
            "config": {"nodes": [{"name": "A", "type": "jq", "jq": "."}]}}
    [plugin] = load_plugin_document(body, "<admin>")
    assert (plugin.id, plugin.instance_name, plugin.enabled, plugin.protocols) == (
        "p1", "auth", False, ["http"])


def test_admin_body_errors_have_locations():
    body = {"name": "datakit", "enabled": "yes", "protocols": ["ftp"], "config": [], "colour": 1}
    assert errors_of(load_plugin_document, body, "<admin>") == [
        "colour: unknown field",
        "config: expected an object, got array",
        "enabled: expected a boolean, got string",
        'protocols[0]: "ftp" is not one of: grpc, grpcs, http, https',
    ]


# -- manifests and bare config -----------------------------------------------------------------

@pytest.mark.parametrize("name, kind", [("kongclusterplugin.yaml", "KongClusterPlugin"),
                                        ("kongplugin.yaml", "KongPlugin")])
def test_manifests(name, kind):
    [plugin] = load_plugin_documents(read_documents(str(SEED / name)), name)
    assert plugin.config_location == "config" and plugin.instance_name == "datakit"
    assert [node["name"] for node in plugin.config["nodes"]] == NODE_NAMES
    # As printed in the docs (single-quoted jq strings): it loads; jq compilation is later.
    assert "'X-Api-Key'" in plugin.config["nodes"][1]["jq"]
    assert_schema_clean(plugin)


def test_multi_document_manifests(tmp_path):
    text = (SEED / "kongclusterplugin.yaml").read_text() + "---\n" + (SEED / "kongplugin.yaml").read_text()
    path = tmp_path / "plugins.yaml"
    path.write_text(text)
    plugins = load_plugin_documents(read_documents(str(path)), str(path))
    assert [p.config_location for p in plugins] == ["documents[0].config", "documents[1].config"]
    assert plugins[0].id != plugins[1].id


def test_manifest_for_another_plugin():
    doc = seed_yaml("kongplugin.yaml") | {"plugin": "rate-limiting"}
    assert errors_of(load_plugin_document, doc, "m.yaml") == [
        'plugin: plugin "rate-limiting" is not supported: this gateway runs only "datakit" '
        "(pass --skip-unknown-plugins to drop other plugins with a warning)"]
    assert load_plugin_document(doc, "m.yaml", skip_unknown_plugins=True) == []


def test_bare_config():
    [plugin] = load_plugin_documents(read_documents(str(SEED / "bare-config.yaml")), "bare.yaml")
    assert plugin.config == SEED_CONFIG and plugin.config_location == "config"
    assert plugin.service_id is None and plugin.route_id is None
    assert_schema_clean(plugin)


def test_declarative_plugin_list_as_plugin_document():
    [plugin] = load_plugin_document(seed_yaml("declarative-global.yaml"), "kong.yaml")
    assert plugin.config_location == "plugins[0].config"


# -- files: load_file, load_any, quick_start ---------------------------------------------------

@pytest.mark.parametrize("name, form", [("admin-global.json", "an Admin API plugin body"),
                                        ("kongplugin.yaml", "a KongPlugin manifest"),
                                        ("bare-config.yaml", "a bare DataKit config")])
def test_load_file_names_the_plugin_form(name, form):
    path = str(SEED / name)
    assert errors_of(load_file, path) == [
        f'{path}: this is {form}, not a Kong declarative file (_format_version: "3.0"); '
        f"run it with `jqgate run --upstream URL --plugin {path}`"]


@pytest.mark.parametrize("name", ["admin-global.json", "kongplugin.yaml", "bare-config.yaml",
                                  "declarative-global.yaml"])
def test_load_any_accepts_every_form(name):
    config = load_any(str(SEED / name))
    [plugin] = config.plugins
    assert plugin.config == SEED_CONFIG or "'X-Api-Key'" in plugin.config["nodes"][1]["jq"]
    assert plugin.service_id is None and plugin.route_id is None


def test_quick_start():
    files = [str(SEED / "admin-global.json"), str(SEED / "bare-config.yaml")]
    config = quick_start("https://upstream.example.com:8443/base", files)
    [service], [route] = config.services, config.routes
    assert (service.protocol, service.host, service.port, service.path) == (
        "https", "upstream.example.com", 8443, "/base")
    assert route.paths == ["/"] and route.service_id == service.id
    assert [p.source for p in config.plugins] == files
    assert all(p.service_id is None and p.route_id is None for p in config.plugins)


def test_quick_start_errors_name_flag_and_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "datakit", "config": 3}')
    assert errors_of(quick_start, "ftp://x", [str(bad)]) == [
        '--upstream: "ftp://x" is not an http or https URL',
        f"{bad}: config: expected an object, got number",
    ]


def test_quick_start_plugin_ids_differ_per_file_and_duplicates_are_refused(tmp_path):
    body = json.loads((SEED / "admin-global.json").read_text())
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps(body))
    second.write_text(json.dumps(body))
    config = quick_start("http://upstream", [str(first), str(second)])
    assert len({p.id for p in config.plugins}) == 2
    first.write_text(json.dumps(body | {"id": "same"}))
    second.write_text(json.dumps(body | {"id": "same"}))
    assert errors_of(quick_start, "http://upstream", [str(first), str(second)]) == [
        f'{second}: duplicate plugin id "same" (also in {first})']


def test_several_documents_must_be_manifests(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text((SEED / "kongplugin.yaml").read_text() + "---\nnodes: []\n")
    assert errors_of(load_plugin_documents, read_documents(str(path)), str(path)) == [
        "documents[1]: a file with several YAML documents may only hold KongPlugin/KongClusterPlugin "
        "manifests"]


def test_manifest_errors():
    doc = {"apiVersion": "v2", "kind": "Plugin", "metadata": [], "plugin": "datakit",
           "configFrom": {"secretKeyRef": {}}, "disabled": "no"}
    assert errors_of(load_plugin_document, doc, "m.yaml") == [
        'apiVersion: expected "configuration.konghq.com/v1"',
        "kind: expected one of: KongPlugin, KongClusterPlugin",
        "metadata: expected an object, got array",
        "configFrom: not supported: give the DataKit config inline under `config:`",
        "missing field `config`",
        "disabled: expected a boolean, got string",
    ]


def test_unrecognised_plugin_document():
    [error] = errors_of(load_plugin_document, {"foo": 1}, "x.json")
    assert error.startswith("expected a DataKit plugin document")
