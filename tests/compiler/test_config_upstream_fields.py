"""Declarative fields this branch made real: least-connections, healthchecks (complete with
Kong's defaults), route buffering flags, `ca_certificates` entities for DataKit plugins."""
from __future__ import annotations

from jqgate.gateway.plans import compile_gateway
from jqgate.config import load_declarative
from jqgate.errors import ConfigError, Issues

import pytest

CA_ID = "3f1b7d4e-8a59-4a1f-9f43-6f8d1c7e2b10"


def load(**entities):
    return load_declarative(dict({"_format_version": "3.0"}, **entities), "<test>")


def test_least_connections_and_healthchecks_load():
    cfg = load(upstreams=[{"name": "p", "algorithm": "least-connections",
                           "healthchecks": {"passive": {"unhealthy": {"tcp_failures": 2}}},
                           "targets": [{"target": "a:1", "tags": ["x"]}]}])
    u = cfg.upstreams[0]
    assert u.algorithm == "least-connections"
    assert u.healthchecks["passive"]["unhealthy"]["tcp_failures"] == 2
    assert u.healthchecks["active"]["http_path"] == "/"          # the rest: Kong's defaults
    assert u.targets[0].tags == ["x"]


def test_route_buffering_flags_are_kept():
    cfg = load(services=[{"name": "s", "url": "http://x"}],
               routes=[{"name": "r", "service": "s", "paths": ["/"],
                        "request_buffering": False, "response_buffering": False}])
    assert cfg.routes[0].request_buffering is False
    assert cfg.routes[0].response_buffering is False
    with pytest.raises(ConfigError) as err:
        load(services=[{"name": "s", "url": "http://x"}],
             routes=[{"name": "r", "service": "s", "paths": ["/"], "request_buffering": "no"}])
    assert "routes[0].request_buffering" in str(err.value)


def test_ca_certificates_entities_are_checked():
    with pytest.raises(ConfigError) as err:
        load(ca_certificates=[{"id": CA_ID, "cert": "not a certificate"}, {"cert": "x"}])
    text = str(err.value)
    assert "ca_certificates[0].cert: invalid certificate" in text
    assert "ca_certificates[1]: missing field `id`" in text


def test_a_plugin_naming_an_unknown_ca_certificate_is_refused():
    cfg = load(plugins=[{"name": "datakit", "config": {
        "ca_certificates": [CA_ID],
        "nodes": [{"name": "C", "type": "call", "url": "https://example.com/"}]}}])
    issues = Issues()
    assert compile_gateway(cfg, issues) is None
    assert [i.location for i in issues.items] == ["plugins[0].config.ca_certificates[0]"]
