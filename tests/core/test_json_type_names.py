"""One name per JSON type in every message (jqgate/json_types.py): the names are jq's own, and
the config checker, the core and the reference executor say the same word for the same value
(test_conversions.py shows both executors saying "number" for 30; the config checker once
said "integer" for it)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples

import jqgate
from jqgate._core.core import JqProgram
from jqgate.config.checks import type_name as config_type_name
from jqgate.errors import ConfigError
from jqgate.json_types import json_type_name

JQ_TYPE = JqProgram("type")
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6)


@settings(max_examples=examples(300))
@given(JSON_VALUES)
def test_the_names_are_jqs(value):
    assert json_type_name(value) == JQ_TYPE.run_one(value)


def test_the_config_checker_uses_the_same_function():
    assert config_type_name is json_type_name


def test_an_integer_is_a_number_in_a_config_error():
    with pytest.raises(ConfigError) as e:
        jqgate.compile({"nodes": [{"name": 30, "type": "jq", "jq": "."}]}, instance="t")
    assert "config.nodes[0].name: expected a string, got number" in [str(i) for i in e.value.errors]

