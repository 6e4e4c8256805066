"""Declarative entities: services, routes, upstreams, targets, plugins, top-level keys."""
from __future__ import annotations

import logging

import pytest

from jqgate.config import load_declarative
from jqgate.config.ids import stable_id
from jqgate.errors import ConfigError

NODES = {"nodes": [{"name": "A", "type": "jq", "jq": "."}]}


def doc(**entities) -> dict:
    return {"_format_version": "3.0", **entities}


def errors_of(document, **kwargs) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_declarative(document, "kong.yaml", **kwargs)
    return [str(error) for error in caught.value.errors]


def test_service_from_url_with_kong_defaults():
    config = load_declarative(doc(services=[{"name": "s", "url": "http://example.com"}]), "k")
    [service] = config.services
    assert (service.protocol, service.host, service.port, service.path) == ("http", "example.com", 80, None)
    assert (service.connect_timeout, service.read_timeout, service.write_timeout, service.retries) == (
        60000, 60000, 60000, 5)
    assert service.id == stable_id("service", "s") and service.enabled
    https = load_declarative(doc(services=[{"name": "s", "url": "https://example.com/api"}]), "k")
    assert (https.services[0].port, https.services[0].path) == (443, "/api")


def test_service_from_parts():
    record = {"name": "s", "protocol": "https", "host": "example.com", "path": "/v1",
              "connect_timeout": 1000, "read_timeout": 2000, "write_timeout": 3000, "retries": 0,
              "tls_verify": True, "enabled": False, "tags": ["x"], "id": "svc-1"}
    [service] = load_declarative(doc(services=[record]), "k").services
    assert (service.protocol, service.host, service.port, service.path, service.id) == (
        "https", "example.com", 443, "/v1", "svc-1")
    assert (service.connect_timeout, service.read_timeout, service.write_timeout) == (1000, 2000, 3000)
    assert (service.retries, service.tls_verify, service.enabled) == (0, True, False)
    assert service.raw == record


def test_service_errors():
    services = [
        {"name": "a", "url": "http://x", "host": "y"},
        {"name": "b"},
        {"name": "c", "url": "grpc://x"},
        {"name": "d", "host": "x", "port": "80", "retries": -1, "client_certificate": {"id": "c"}},
        "e",
    ]
    assert errors_of(doc(services=services)) == [
        "services[0]: use either `url` or `host`, not both",
        "services[1]: missing field `host` (or give a `url`)",
        'services[2].url: "grpc://x" is not an http or https URL',
        "services[3].client_certificate: not supported: upstream client certificates (mTLS)",
        "services[3].port: expected an integer, got string",
        "services[3].retries: must be between 0 and 32767, got -1",
        "services[4]: expected an object, got string",
    ]


def test_nested_and_top_level_routes():
    document = doc(
        services=[{"name": "s", "url": "http://x", "routes": [
            {"name": "nested", "paths": ["/a", "~/b/\\d+$"], "methods": ["GET"], "strip_path": False,
             "preserve_host": True, "regex_priority": 3, "hosts": ["*.example.com"],
             "protocols": ["https"]}]}],
        routes=[{"name": "by-name", "service": "s", "hosts": ["a.example.com"]},
                {"name": "by-ref", "service": {"name": "s"}, "methods": ["POST"]},
                {"name": "no-service", "paths": ["/"]}])
    config = load_declarative(document, "k")
    service_id = config.services[0].id
    nested, by_name, by_ref, no_service = config.routes
    assert (nested.location, nested.service_id, nested.strip_path, nested.preserve_host) == (
        "services[0].routes[0]", service_id, False, True)
    assert (nested.regex_priority, nested.protocols, nested.paths) == (3, ["https"], ["/a", "~/b/\\d+$"])
    assert by_name.service_id == by_ref.service_id == service_id
    assert (by_name.strip_path, by_name.preserve_host, by_name.protocols) == (True, False, ["http", "https"])
    assert no_service.service_id is None
    assert "routes" not in config.services[0].raw


def test_route_errors():
    routes = [
        {"name": "a"},
        {"name": "b", "paths": "/"},
        {"name": "c", "paths": ["nope", "~(", 5], "methods": ["get"]},
        {"name": "d", "paths": ["/"], "service": "missing", "headers": {"x": ["y"]}},
        {"name": "e", "paths": ["/"], "protocols": ["grpc"], "strip_path": "yes"},
    ]
    assert errors_of(doc(routes=routes)) == [
        "routes[0]: must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when "
        "'protocols' is 'https'",
        "routes[1].paths: expected an array, got string",
        'routes[2].paths[0]: must start with "/" (or "~" for a regex path)',
        "routes[2].paths[1]: invalid regex: missing ), unterminated subpattern at position 0",
        "routes[2].paths[2]: expected a string, got number",
        "routes[2].methods[0]: must be upper-case letters only (e.g. GET)",
        'routes[4].protocols[0]: "grpc" is not one of: http, https',
        "routes[4].strip_path: expected a boolean, got string",
        'routes[3].service: unknown service "missing"',
    ]
    assert errors_of(doc(routes=[{"name": "d", "paths": ["/"], "service": "missing"}])) == [
        'routes[0].service: unknown service "missing"']


def test_route_headers_snis_and_path_handling():
    routes = [{"name": "ok", "headers": {"X-Version": ["v1", "v2"], "x-re": ["~*^b\\d+$"]},
               "snis": ["example.com", "*.example.org"], "path_handling": "v1"},
              {"name": "plain", "paths": ["/"]}]
    ok, plain = load_declarative(doc(routes=routes), "k").routes
    assert ok.headers == {"X-Version": ["v1", "v2"], "x-re": ["~*^b\\d+$"]}
    assert (ok.snis, ok.path_handling) == (["example.com", "*.example.org"], "v1")
    assert (plain.headers, plain.snis, plain.path_handling) == ({}, [], "v0")
    bad = [
        {"name": "a", "paths": ["/"], "headers": {"Host": ["a"], "x": [], "y": "v",
                                                  "z": ["~*("]}},
        {"name": "b", "paths": ["/"], "snis": ["a.com:443", "*.*.x"], "path_handling": "v2"},
        {"name": "c", "snis": ["example.com"], "protocols": ["http"]},
        {"name": "d", "protocols": ["http"]},
    ]
    assert errors_of(doc(routes=bad)) == [
        "routes[0].headers.Host: cannot contain 'host' header, which must be specified in "
        "the 'hosts' attribute",
        "routes[0].headers.x: must not be empty",
        "routes[0].headers.y: expected an array, got string",
        "routes[0].headers.z[0]: invalid regex: missing ), unterminated subpattern at position 0",
        'routes[1].snis[0]: "a.com:443" is not a valid SNI (a host name; a wildcard "*" may only '
        'be the first or last label; no port)',
        'routes[1].snis[1]: "*.*.x" is not a valid SNI (a host name; a wildcard "*" may only '
        'be the first or last label; no port)',
        'routes[1].path_handling: "v2" is not one of: v0, v1',
        "routes[2].snis: 'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or "
        "'tls_passthrough'",
        "routes[3]: must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is "
        "'http'",
    ]


def test_upstreams_and_targets():
    document = doc(upstreams=[{"name": "pool", "targets": [{"target": "10.0.0.1:9000", "weight": 50},
                                                            {"target": "backend"}]}],
                   targets=[{"target": "[::1]:8080", "upstream": "pool"},
                            {"target": "b2:81", "upstream": {"name": "pool"}}])
    [upstream] = load_declarative(document, "k").upstreams
    assert [(t.host, t.port, t.weight) for t in upstream.targets] == [
        ("10.0.0.1", 9000, 50), ("backend", 8000, 100), ("::1", 8080, 100), ("b2", 81, 100)]
    assert upstream.algorithm == "round-robin" and upstream.id == stable_id("upstream", "pool")


def test_upstream_errors():
    document = doc(upstreams=[{"targets": [{"target": "a:99999"}, {"weight": 1}]},
                              {"name": "p", "algorithm": "least-connections", "healthchecks": {}}],
                   targets=[{"target": "x:1", "upstream": "nope"}, {"target": "y:1"}])
    assert errors_of(document) == [
        "upstreams[0]: missing field `name`",
        'upstreams[0].targets[0].target: "a:99999" is not a valid "host:port" target',
        "upstreams[0].targets[1]: missing field `target`",
        "upstreams[1].healthchecks: not supported: this gateway balances round-robin or "
        "consistent-hashing, without health checks",
        'upstreams[1].algorithm: not supported: "least-connections" (this gateway balances '
        'round-robin or consistent-hashing)',
        "targets[1]: missing field `upstream`",
        'targets[0].upstream: unknown upstream "nope"',
    ]


def test_upstream_hashing_fields():
    document = doc(upstreams=[{"name": "p", "algorithm": "consistent-hashing", "hash_on": "header",
                               "hash_on_header": "X-User", "hash_fallback": "query_arg",
                               "hash_fallback_query_arg": "u"}])
    [up] = load_declarative(document, "k").upstreams
    assert (up.algorithm, up.hash_on, up.hash_on_header, up.hash_fallback,
            up.hash_fallback_query_arg) == ("consistent-hashing", "header", "X-User",
                                            "query_arg", "u")
    bad = doc(upstreams=[{"name": "a", "algorithm": "consistent-hashing", "hash_on": "header"},
                         {"name": "b", "hash_on": "cookie", "hash_fallback": "magic"},
                         {"name": "c", "hash_fallback": "ip"}])
    assert errors_of(bad) == [
        "upstreams[0]: must set 'hash_on_header' when 'hash_on' is 'header'",
        'upstreams[1].hash_on: not supported: hashing on "cookie"',
        'upstreams[1].hash_fallback: "magic" is not one of: none, ip, header, path, query_arg',
        "upstreams[2].hash_fallback: must be 'none' when 'hash_on' is 'none'",
    ]


def test_plugins_nested_under_service_and_route():
    document = doc(services=[{"name": "s", "url": "http://x",
                              "plugins": [{"name": "datakit", "config": NODES}],
                              "routes": [{"name": "r", "paths": ["/"],
                                          "plugins": [{"name": "datakit", "config": NODES,
                                                       "enabled": False}]}]}])
    config = load_declarative(document, "k")
    on_service, on_route = sorted(config.plugins, key=lambda p: p.location)
    assert (on_service.service_id, on_service.route_id) == (config.services[0].id, None)
    assert (on_route.service_id, on_route.route_id) == (None, config.routes[0].id)
    assert on_route.enabled is False
    assert on_route.config_location == "services[0].routes[0].plugins[0].config"
    assert on_service.id != on_route.id


def test_plugin_scope_errors():
    document = doc(services=[{"name": "s", "url": "http://x",
                              "plugins": [{"name": "datakit", "config": NODES, "service": "s"}]}],
                   plugins=[{"name": "datakit", "config": NODES, "service": "x"},
                            {"name": "datakit", "config": NODES, "route": {"name": "r"}},
                            {"name": "datakit", "config": NODES, "service": 5},
                            {"name": "datakit"}])
    assert errors_of(document) == [
        "services[0].plugins[0].service: a plugin nested under a service cannot name a service",
        "plugins[2].service: expected a name, id, {name: ...} or {id: ...}, got number",
        "plugins[3]: missing field `config`",
        'plugins[0].service: unknown service "x"',
        'plugins[1].route: unknown route "r"',
    ]


def test_unknown_plugin_refused_or_skipped(caplog):
    document = doc(plugins=[{"name": "rate-limiting", "config": {"minute": 5}},
                            {"name": "datakit", "config": NODES}],
                   consumers=[{"username": "alice", "plugins": [{"name": "key-auth"}]}])
    assert errors_of(document) == [
        'plugins[0].name: plugin "rate-limiting" is not supported: this gateway runs only '
        '"datakit" (pass --skip-unknown-plugins to drop other plugins with a warning)',
        "consumers[0].plugins[0]: consumer scoping needs an authentication plugin, which this "
        "gateway does not run",
    ]
    with caplog.at_level(logging.WARNING, logger="jqgate.config"):
        config = load_declarative(document, "k", skip_unknown_plugins=True)
    assert [p.name for p in config.plugins] == ["datakit"]
    assert "rate-limiting" in caplog.text and "key-auth" in caplog.text


def test_consumer_scoped_datakit_is_refused_even_when_skipping():
    document = doc(consumer_groups=[{"name": "gold", "plugins": [{"name": "datakit", "config": NODES}]}],
                   plugins=[{"name": "datakit", "config": NODES, "consumer": {"username": "bob"}}])
    message = "consumer scoping needs an authentication plugin, which this gateway does not run"
    assert errors_of(document, skip_unknown_plugins=True) == [
        f"plugins[0].consumer: {message}", f"consumer_groups[0].plugins[0]: {message}"]


def test_top_level_keys():
    ok = doc(_transform=True, _workspace="default", consumers=[{"username": "alice"}],
             plugins=[{"name": "datakit", "config": NODES}])
    assert len(load_declarative(ok, "k").plugins) == 1
    assert errors_of({"_format_version": "2.1", "certificates": [{"cert": "x"}], "vaults": [{}],
                      "servics": []}) == [
        '_format_version: unsupported format version "2.1": this gateway reads Kong 3.x files ("3.0")',
        "certificates: not supported: TLS certificates (this gateway does not terminate TLS from the config)",
        "vaults: not supported: vault entities (the built-in `env` vault needs no entity)",
        "servics: unknown top-level key",
    ]
    assert errors_of({"services": []}) == [
        '_format_version: missing: a Kong declarative file starts with _format_version: "3.0"']
    assert errors_of(["not", "a", "mapping"]) == ["a declarative configuration is a mapping, got array"]


def test_wrong_types_at_the_top():
    assert errors_of(doc(services="s", routes={"a": 1}, plugins=3)) == [
        "services: expected an array, got string",
        "routes: expected an array, got object",
        "plugins: expected an array, got number",
    ]


def test_duplicate_names():
    document = doc(services=[{"name": "s", "url": "http://x"}, {"name": "s", "url": "http://y"}])
    assert errors_of(document) == ['services[1].name: duplicate service name "s" (first at services[0])',
                                   'services[1].id: duplicate service id '
                                   f'"{stable_id("service", "s")}" (first at services[0])']
