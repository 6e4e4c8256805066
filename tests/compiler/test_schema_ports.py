"""The per-type port tables (spec §3.3) that the graph stage and both executors read, and schema
robustness."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples

from jqgate.compiler.schema import validate_datakit_schema
from jqgate.errors import Issues
from jqgate.nodes import IMPLICIT_NODES, NODE_SPECS
from jqgate.nodes.spec import ANY_FIELDS, NO_FIELDS

# type: (has inputs, input fields, has outputs, output fields), as the table in §3.3 states them:
# the spec, compared with the ports in jqgate/nodes that the graph stage and the executors read.
PORTS = {
    "call": (True, ("body", "headers", "query", "url", "http_proxy", "https_proxy",
                    "proxy_auth_username", "proxy_auth_password"),
             True, ("body", "headers", "status", "raw_body")),
    "jq": (True, ANY_FIELDS, True, NO_FIELDS),
    "exit": (True, ("body", "headers"), False, NO_FIELDS),
    "property": (True, NO_FIELDS, True, NO_FIELDS),
    "static": (False, NO_FIELDS, True, ANY_FIELDS),
    "branch": (True, NO_FIELDS, True, ("then", "else")),
    "cache": (True, ("key", "ttl", "data"), True, ("hit", "miss", "stored", "data")),
    "xml_to_json": (True, NO_FIELDS, True, NO_FIELDS),
    "json_to_xml": (True, ANY_FIELDS, True, NO_FIELDS),
    "jwt_decode": (True, NO_FIELDS, True, ("header", "payload", "signature")),
    "jwt_sign": (True, ("claims", "key"), True, ("token", "claims", "header")),
    "jwt_verify": (True, ("token", "key"), True, ("claims", "header")),
}


@pytest.mark.parametrize("node_type", sorted(PORTS))
def test_port_table(node_type):
    spec = NODE_SPECS[node_type]
    assert (spec.has_inputs, spec.input_fields, spec.has_outputs, spec.output_fields) == PORTS[node_type]


def test_every_type_is_listed_and_implicit_names_are_reserved():
    assert set(NODE_SPECS) == set(PORTS)
    assert IMPLICIT_NODES == ("request", "service_request", "service_response", "response", "vault")


VALUES = st.none() | st.booleans() | st.integers(-3, 3000000000) | st.floats() | st.text(max_size=12) \
    | st.lists(st.text(max_size=5), max_size=3) | st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3)
FIELD_NAMES = sorted({name for spec in NODE_SPECS.values() for name in spec.fields}
                     | {"input", "inputs", "output", "outputs", "name", "bogus"})


@settings(max_examples=examples(300))
@given(st.sampled_from(sorted(NODE_SPECS)), st.dictionaries(st.sampled_from(FIELD_NAMES), VALUES, max_size=6))
def test_schema_never_raises_on_any_node(node_type, fields):
    issues = Issues()
    node = {"name": "N", **fields, "type": node_type}
    passed = validate_datakit_schema({"nodes": [node]}, "config", issues)
    assert passed == ([] if issues else [0])
    assert all(issue.location.startswith("config") for issue in issues.items)
