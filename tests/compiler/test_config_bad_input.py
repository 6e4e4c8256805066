"""Bad input of every kind ends in `ConfigError` with a location, never another exception."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples

from jqgate.compiler.schema import validate_datakit_schema
from jqgate.config import load_declarative, load_file, load_plugin_document, parse_documents
from jqgate.config.reading import MAX_ALIAS_EXPANSION, MAX_DEPTH, MAX_YAML_BYTES
from jqgate.errors import ConfigError, Issues


def errors_of(call, *args, **kwargs) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        call(*args, **kwargs)
    return [str(error) for error in caught.value.errors]


def write(tmp_path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def test_not_yaml_names_file_line_and_column(tmp_path):
    path = write(tmp_path, "kong.yaml", '_format_version: "3.0"\nservices:\n  - name: [unclosed\n')
    [error] = errors_of(load_file, path)
    assert error.startswith(f"{path}: line 4, column 1: not valid YAML or JSON")


@pytest.mark.parametrize("text, message", [
    ("", "the configuration is empty"),
    ("# only a comment\n\n", "the configuration is empty"),
    ("---\n...\n", "the configuration is empty"),
    ("just a string", "a declarative configuration is a mapping, got string"),
    ("[1, 2]", "a declarative configuration is a mapping, got array"),
])
def test_empty_or_not_a_mapping(tmp_path, text, message):
    path = write(tmp_path, "kong.yaml", text)
    assert errors_of(load_file, path) == [f"{path}: {message}"]


def test_missing_file_and_binary_file(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    assert errors_of(load_file, missing) == [f"{missing}: cannot read file: No such file or directory"]
    binary = write(tmp_path, "x.yaml", b"\xff\xfe\x00garbage")
    assert errors_of(load_file, binary) == [f"{binary}: not UTF-8 text (byte 0)"]


def test_several_documents_in_a_declarative_file(tmp_path):
    path = write(tmp_path, "kong.yaml", '_format_version: "3.0"\n---\n_format_version: "3.0"\n')
    [error] = errors_of(load_file, path)
    assert "holds one YAML document, found 2" in error


def test_yaml_bomb_is_refused_before_expansion(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    path = write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    [error] = errors_of(load_file, path)      # 9**9 nodes if expanded: this refusal is the check
    assert f"YAML aliases expand to more than {MAX_ALIAS_EXPANSION} nodes" in error


def test_small_anchors_are_fine():
    [doc] = parse_documents("base: &b {connect_timeout: 5}\nother: *b\n", "x.yaml")
    assert doc["other"] == {"connect_timeout": 5}


def test_recursive_alias():
    [error] = errors_of(parse_documents, "a: &x [1, *x]\n", "x.yaml")
    assert 'recursive alias "*x" is not allowed' in error


@pytest.mark.parametrize("text", ["[" * 5000 + "]" * 5000,
                                  "".join(f"{'  ' * i}k:\n" for i in range(1000)),
                                  '{"a":' * 100000 + "1" + "}" * 100000])
def test_deep_nesting(text):
    [error] = errors_of(parse_documents, text, "deep.yaml")
    assert f"nested too deeply (the limit is {MAX_DEPTH} levels)" in error


def big_declarative(services: int) -> dict:
    return {"_format_version": "3.0", "services": [
        {"name": f"s{i}", "url": f"http://h{i}.internal:8080/p{i}",
         "routes": [{"name": f"r{i}", "paths": [f"/p{i}"], "methods": ["GET", "POST"]}]}
        for i in range(services)]}


def test_ten_megabyte_json_config_loads(tmp_path):
    text = json.dumps(big_declarative(70000))
    assert len(text) > 10_000_000
    config = load_file(write(tmp_path, "big.json", text))
    assert len(config.services) == len(config.routes) == 70000


def test_ten_megabyte_yaml_config_fails_fast(tmp_path):
    text = '_format_version: "3.0"\nservices:\n' + "".join(
        f"- name: s{i}\n  url: http://h{i}.internal:8080/p{i}\n  routes:\n  - name: r{i}\n"
        f"    paths: [/p{i}]\n    methods: [GET, POST]\n" for i in range(120000))
    assert len(text) > 10_000_000
    path = write(tmp_path, "big.yaml", text)
    [error] = errors_of(load_file, path)      # refused on its size, before the YAML parser runs
    assert f"YAML is limited to {MAX_YAML_BYTES}); write it as JSON" in error


def test_yaml_oddities_do_not_crash():
    # non-string keys, timestamps, binary, sets: wrong types with locations, not tracebacks
    text = ('_format_version: "3.0"\nservices:\n- name: 2024-01-01\n  url: !!binary aGVsbG8=\n'
            "  1: x\nplugins: !!set {a, b}\n")
    [doc] = parse_documents(text, "odd.yaml")
    assert errors_of(load_declarative, doc, "odd.yaml") == [
        "services[0].1: unknown field",
        "services[0].name: expected a string, got date",
        "services[0].url: expected a string, got bytes",
        "plugins: expected an array, got set",
    ]


def test_unhashable_yaml_key():
    [error] = errors_of(parse_documents, "? [a, b]\n: 1\n", "x.yaml")
    assert "line 1" in error


# -- property-based: any JSON-ish document, only ConfigError may come out ------------------------

KEYS = st.sampled_from([
    "_format_version", "services", "routes", "upstreams", "targets", "plugins", "consumers",
    "name", "id", "url", "host", "port", "protocol", "path", "paths", "hosts", "methods",
    "service", "route", "consumer", "config", "nodes", "type", "input", "inputs", "output",
    "outputs", "values", "jq", "then", "else", "resources", "cache", "vault", "redis",
    "strategy", "target", "weight", "upstream", "enabled", "protocols", "apiVersion", "kind",
    "plugin", "metadata", "debug", "status", "method", "timeout", "property", "algorithm",
    "sentinel_nodes", "cluster_nodes", "static_claims", "allowed_algorithms",
])
SCALARS = (st.none() | st.booleans() | st.integers(-5, 70000) | st.floats(allow_nan=True)
           | st.sampled_from(["3.0", "datakit", "http://x", "jq", "call", "static", "branch",
                              "cache", "request.body", "a.b.c", "", "/", "~(", "memory", "redis",
                              "KongPlugin", "configuration.konghq.com/v1", "s", "GET"])
           | st.text(max_size=8))
JSONISH = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(KEYS | st.text(max_size=4) | st.integers(0, 3), children, max_size=6),
    max_leaves=40,
)


@settings(max_examples=examples(400), suppress_health_check=[HealthCheck.too_slow])
@given(JSONISH)
def test_loaders_raise_only_config_error(document):
    for load in (load_declarative, load_plugin_document):
        try:
            load(document, "fuzz")
        except ConfigError as exc:
            assert exc.errors and all(isinstance(e.message, str) for e in exc.errors)
    validate_datakit_schema(document, "config", Issues())
    if isinstance(document, dict):
        validate_datakit_schema({"nodes": [document]}, "config", Issues())
        validate_datakit_schema({"nodes": [{"name": "A", "type": "call", **document}]}, "c", Issues())


@settings(max_examples=examples(300))
@given(st.text(alphabet='{}[]:,-&*!|>"\'#\n ab1.', max_size=60))
def test_reading_raises_only_config_error(text):
    try:
        parse_documents(text, "fuzz.yaml")
    except ConfigError:
        pass


def test_broken_json_file_reports_json_position(tmp_path):
    path = write(tmp_path, "body.json", '{"name": "datakit",\n "config": {nodes: []}}')
    assert errors_of(load_file, path) == [
        f"{path}: line 2, column 13: not valid JSON: Expecting property name enclosed in double quotes"]


BIG_STATIC = """
_format_version: "3.0"
services:
- name: s
  url: http://127.0.0.1:9/
  routes:
  - name: r
    paths: ["/"]
    plugins:
    - name: datakit
      config:
        nodes:
        - name: EXIT
          type: exit
          inputs:
            body: STATIC.big
        - name: STATIC
          type: static
          values:
            big: %s
"""


@pytest.mark.parametrize("as_json", [False, True])
def test_integers_beyond_64_bits_are_read_as_kong_reads_them(tmp_path, as_json):
    # Kong reads numbers as doubles; before, a static value of 21 digits crashed the plan's
    # hash (orjson: "Integer exceeds 64-bit range") with no location.
    import yaml
    import jqgate
    text = BIG_STATIC % "123456789012345678901"
    if as_json:
        text = json.dumps(yaml.safe_load(text))
    path = tmp_path / ("kong.json" if as_json else "kong.yaml")
    path.write_text(text)
    answer = jqgate.load(str(path)).run({"method": "GET", "path": "/"})
    assert answer.status == 200 and answer.json() == 1.2345678901234568e+20
    (doc,) = parse_documents(text, "x")
    big = doc["services"][0]["routes"][0]["plugins"][0]["config"]["nodes"][1]["values"]["big"]
    assert big == 1.2345678901234568e+20 and isinstance(big, float)
    assert parse_documents("a: -9223372036854775808", "x") == [{"a": -2 ** 63}]


def test_a_number_beyond_a_double_is_a_located_error():
    with pytest.raises(ConfigError, match="beyond the range of a double"):
        parse_documents('{"a": 1%s}' % ("0" * 400), "x.json")
    with pytest.raises(ConfigError, match="x.yaml"):
        parse_documents("a: 1%s" % ("0" * 400), "x.yaml")
