"""Schema-level validation of one DataKit config object (§2, §3.1–§3.3, §5; rules S1–S26).

This stage looks at each node alone: required and unknown fields, types and ranges, names and
the *form* of connection labels. Whether a label points at an existing node or field, whether a
port map is allowed on a type (G3, except the two pure schema facts below), cycles and types of
edges are graph-level rules checked later. Every problem is collected with its location; the
result lists the nodes that passed so the graph stage can skip broken ones.

Port maps reported here because the type's schema has no such attribute at all: `static` has no
`input`/`inputs`, `exit` has no `output`/`outputs` (both reported as "unknown field").
"""
from __future__ import annotations

import re
from typing import Any

from jqgate.compiler.jq_bounds import validate_jq_budget
from jqgate.compiler.schema_resources import validate_resources
from jqgate.config import checks
from jqgate.errors import Issues, join
from jqgate.nodes import IMPLICIT_NODES, NODE_SPECS, REMOVED_NODE_TYPES
from jqgate.nodes.spec import NAME_MESSAGE, NAME_PATTERN, NodeSpec

MAX_NODES = 64
CONFIG_FIELDS = ("nodes", "debug", "resources", "ca_certificates", "jq_budget")
COMMON_FIELDS = ("name", "type", "input", "inputs", "output", "outputs")
LABEL_MESSAGE = 'Invalid connection, expected "NODE" or "NODE.FIELD"'
STATIC_HINT = ("connections are node names, not values; to pass a literal value, "
               "put it in a static node and connect that (e.g. \"MY_VALUES.field\")")
FIELD_PART = re.compile(r"[^.\s]+")


def validate_datakit_schema(config: Any, location: str, issues: Issues) -> list[int]:
    """Check one DataKit `config` object; return the indices of nodes that passed."""
    if not checks.check_object(config, location, issues):
        return []
    checks.check_known_keys(config, location, issues, CONFIG_FIELDS)
    if config.get("ca_certificates") is not None:
        # ids of ca_certificates entities, resolved by jqgate.gateway.plans.compile_gateway
        checks.check_string_list(config["ca_certificates"], join(location, "ca_certificates"),
                                 issues)
    if config.get("debug") is not None:
        checks.check_bool(config["debug"], join(location, "debug"), issues)
    if config.get("resources") is not None:
        validate_resources(config["resources"], join(location, "resources"), issues)
    if config.get("jq_budget") is not None:     # a jqgate extension: compiler/jq_bounds.py
        validate_jq_budget(config["jq_budget"], join(location, "jq_budget"), issues)
    return validate_nodes(config, location, issues)


def validate_nodes(config: dict, location: str, issues: Issues) -> list[int]:
    if "nodes" not in config:
        issues.add(location, "missing field `nodes`")                         # S1
        return []
    nodes = config["nodes"]
    nodes_location = join(location, "nodes")
    if not isinstance(nodes, list):
        issues.add(nodes_location, f"expected an array of nodes, got {checks.type_name(nodes)}")
        return []
    if not nodes:
        issues.add(nodes_location, "At least one node is required")          # S2, D30
        return []
    if len(nodes) > MAX_NODES:
        issues.add(nodes_location, f"at most {MAX_NODES} nodes are allowed, got {len(nodes)}")
    passed = []
    seen_names: set[str] = set()
    for index, node in enumerate(nodes):
        node_location = join(nodes_location, index)
        before = len(issues)
        validate_node(node, node_location, issues, seen_names)
        if len(issues) == before:
            passed.append(index)
    return passed


def validate_node(node: Any, location: str, issues: Issues, seen_names: set[str]) -> None:
    if not isinstance(node, dict):
        issues.add(location, f"expected a node object, got {checks.type_name(node)}")
        return
    validate_name(node, location, issues, seen_names)
    spec = validate_type(node, location, issues)
    if spec is None:
        # Unknown type: its fields cannot be judged, but the connections still can.
        validate_connections(node, location, issues, None)
        return
    allowed = [f for f in COMMON_FIELDS if f not in _missing_ports(spec)] + list(spec.fields)
    for key in node:
        if key not in allowed:
            issues.add(join(location, str(key)), unknown_field_message(key, spec, allowed))
    validate_connections(node, location, issues, spec)
    for required in spec.required:
        if node.get(required) is None:
            issues.add(location, f"missing field `{required}`")
    for key, check in spec.fields.items():
        if node.get(key) is not None:
            check(node[key], join(location, key), issues)
    if spec.extra_check is not None:
        spec.extra_check(node, location, issues)


def _missing_ports(spec: NodeSpec) -> tuple[str, ...]:
    missing: tuple[str, ...] = ()
    if not spec.has_inputs:
        missing += ("input", "inputs")
    if not spec.has_outputs:
        missing += ("output", "outputs")
    return missing


def unknown_field_message(key: Any, spec: NodeSpec, allowed: list[str]) -> str:
    a_type = f"{'an' if spec.type[0] in 'aeiox' else 'a'} {spec.type}"
    if key in ("input", "inputs"):
        return f"unknown field: {a_type} node has no inputs"
    if key in ("output", "outputs"):
        return f"unknown field: {a_type} node has no outputs"
    return f"unknown field for {a_type} node (allowed: {', '.join(allowed)})"


def validate_name(node: dict, location: str, issues: Issues, seen_names: set[str]) -> None:
    name = node.get("name")
    if name is None:
        issues.add(location, "missing field `name`")                         # S5
        return
    name_location = join(location, "name")
    if not checks.check_string(name, name_location, issues, max_len=255,
                               pattern=NAME_PATTERN, pattern_message=NAME_MESSAGE):
        return
    if name in IMPLICIT_NODES:
        issues.add(name_location, f'cannot use reserved node name "{name}"')  # S6
        return
    if name in seen_names:
        issues.add(name_location, f"multiple definitions of node `{name}`")   # S7
        return
    seen_names.add(name)


def validate_type(node: dict, location: str, issues: Issues) -> NodeSpec | None:
    node_type = node.get("type")
    if node_type is None:
        issues.add(location, "missing field `type`")                          # S3
        return None
    type_location = join(location, "type")
    if not isinstance(node_type, str):
        issues.add(type_location, f"expected a string, got {checks.type_name(node_type)}")
        return None
    spec = NODE_SPECS.get(node_type)
    if spec is None:                                                           # S4
        message = f'unknown node type "{node_type}", expected one of: {", ".join(NODE_SPECS)}'
        if node_type in REMOVED_NODE_TYPES:
            message += f" (`{node_type}` was removed in Kong {REMOVED_NODE_TYPES[node_type]})"
        issues.add(type_location, message)
    return spec


def validate_connections(node: dict, location: str, issues: Issues, spec: NodeSpec | None) -> None:
    """S8–S11: the four connection attributes and the form of every label."""
    for single, many in (("input", "inputs"), ("output", "outputs")):
        if node.get(single) is not None and node.get(many) is not None:
            issues.add(location, f'A node cannot use both "{single}" and "{many}". '
                                 f"Use one or the other.")
    for single in ("input", "output"):
        if node.get(single) is not None and (spec is None or single not in _missing_ports(spec)):
            check_label(node[single], join(location, single), issues)
    for many in ("inputs", "outputs"):
        if node.get(many) is not None and (spec is None or many not in _missing_ports(spec)):
            check_label_map(node[many], join(location, many), issues,
                            literal_hint=(many == "inputs"))


def check_label_map(value: Any, location: str, issues: Issues, literal_hint: bool) -> None:
    if not isinstance(value, dict):
        issues.add(location, f"expected an object of field: connection label, got "
                             f"{checks.type_name(value)}")
        return
    for field_name, label in value.items():
        entry = join(location, str(field_name))
        if not isinstance(field_name, str) or not 1 <= len(field_name) <= 255:
            issues.add(entry, "field names must be strings of 1-255 characters")
            continue
        if label is not None:               # null entries are legal and ignored (§3.3)
            check_label(label, entry, issues, literal_hint)


def check_label(label: Any, location: str, issues: Issues, literal_hint: bool = False) -> bool:
    """S10/S11 with D17 (three-part labels) and D27 (literal values) hints.

    Under `inputs`, any string that is not a label is taken for a literal value (D27: the docs
    write literal URLs there); elsewhere only strings that look like values get that hint.
    """
    if isinstance(label, (dict, list)):
        issues.add(location, f"expected a connection label (string), got {checks.type_name(label)}")
        return False
    if not isinstance(label, str):
        issues.add(location, f"{LABEL_MESSAGE}, got {checks.type_name(label)} "
                             f"{_short(label)}; {STATIC_HINT}")                       # D27
        return False
    if not 1 <= len(label) <= 255:
        issues.add(location, f"{LABEL_MESSAGE} (1-255 characters)")
        return False
    node_part, dot, field_part = label.partition(".")
    if NAME_PATTERN.fullmatch(node_part) and (not dot or FIELD_PART.fullmatch(field_part)):
        return True
    if NAME_PATTERN.fullmatch(node_part) and dot and all(
            FIELD_PART.fullmatch(part) for part in field_part.split(".")):           # D17
        first, rest = field_part.split(".", 1)
        issues.add(location, f'{LABEL_MESSAGE}, got "{label}"; labels cannot reach into nested '
                             f'values: connect "{node_part}.{first}" to a jq node that selects '
                             f'.{rest} and connect that node here')
        return False
    if literal_hint or _looks_literal(label):                                        # D27
        issues.add(location, f'{LABEL_MESSAGE}, got "{_short(label)}"; {STATIC_HINT}')
        return False
    issues.add(location, f'{LABEL_MESSAGE}, got "{_short(label)}"')
    return False


def _looks_literal(label: str) -> bool:
    """A value someone meant literally: a URL, a number, a quoted string, text with spaces."""
    return ("://" in label or label[:1].isdigit() or label[:1] in "\"'{[-/"
            or any(ch.isspace() for ch in label.strip()))


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
