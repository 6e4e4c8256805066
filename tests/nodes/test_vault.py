"""Vault references (datakit.md §2.1, §4.5): env backend, JSON sub-keys, pluggable backends,
failures, masking, and the load-time check of used references."""
from __future__ import annotations

import pytest

import jqgate
from jqgate.errors import ConfigError
from jqgate.nodes import vault as V


def test_env_backend_name_mapping(monkeypatch):
    monkeypatch.setenv("MY_TOKEN", "s3cr3t")
    assert V.resolve(V.parse_reference("{vault://env/my-token}")) == "s3cr3t"
    assert V.EnvBackend.variable("my-secret-value") == "MY_SECRET_VALUE"


def test_json_sub_key(monkeypatch):
    monkeypatch.setenv("PG_CREDS", '{"username": "app", "port": 5432, "obj": {"a": 1}}')
    assert V.resolve(V.parse_reference("{vault://env/pg-creds/username}")) == "app"
    assert V.resolve(V.parse_reference("{vault://env/pg-creds/port}")) == "5432"
    with pytest.raises(V.VaultError, match="no field 'missing'"):
        V.resolve(V.parse_reference("{vault://env/pg-creds/missing}"))
    with pytest.raises(V.VaultError, match="not a scalar"):
        V.resolve(V.parse_reference("{vault://env/pg-creds/obj}"))
    monkeypatch.setenv("PG_CREDS", "not json")
    with pytest.raises(V.VaultError, match="not a JSON document"):
        V.resolve(V.parse_reference("{vault://env/pg-creds/username}"))


def test_missing_variable_fails_without_leaking(monkeypatch):
    monkeypatch.delenv("NOPE_NOPE", raising=False)
    with pytest.raises(V.VaultError, match="vault.tok: environment variable NOPE_NOPE is not set"):
        V.resolve_all([("tok", V.parse_reference("{vault://env/nope-nope}"))])


def test_pluggable_backend(monkeypatch):
    class Dict:
        def __init__(self, d):
            self.d = d

        def get(self, key):
            if key not in self.d:
                raise V.VaultError("no %s" % key)
            return self.d[key]
    monkeypatch.setitem(V.BACKENDS, "mem", Dict({"prod": "v1"}))
    assert V.resolve(V.parse_reference("{vault://mem/prod}")) == "v1"
    assert V.check_reference("{vault://mem/prod}") is None
    assert "not supported" in V.check_reference("{vault://aws/prod}")


def test_mask_everything_that_contains_a_secret():
    doc = {"a": "s3cr3t", "b": ["Bearer s3cr3t", "fine"], "c": {"d": 1, "e": "x"}}
    assert V.mask(doc, ["s3cr3t"]) == {"a": V.MASK, "b": [V.MASK, "fine"], "c": {"d": 1, "e": "x"}}
    assert V.mask(doc, ["", None and ""]) == doc          # empty secrets never mask everything
    assert V.mask("x", None) == "x"


def test_used_reference_to_unknown_backend_is_a_config_error():
    with pytest.raises(ConfigError, match="vault backend 'aws' is not supported"):
        jqgate.compile({"resources": {"vault": {"k": "{vault://aws/prod/jwks}"}},
                        "nodes": [{"name": "J", "type": "jq", "jq": ".", "input": "vault.k"}]})
    # declared but unused: accepted (a Kong config may carry secrets for other backends)
    jqgate.compile({"resources": {"vault": {"k": "{vault://aws/prod/jwks}", "t": "{vault://env/t}"}},
                    "nodes": [{"name": "J", "type": "jq", "jq": ".", "input": "vault.t"}]})
