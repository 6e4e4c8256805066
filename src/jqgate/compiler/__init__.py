"""The DataKit compiler: a plugin's `config` object in, a frozen `Plan` out.

Pipeline (each stage adds located errors to one `Issues` collector, so a single pass reports
everything that is wrong):

    schema.py      shape of the config: fields, types, ranges, names, labels      (S1-S26)
    graph.py       edges, ports, type rules, fan-in, branches, cycles, windows,
                   topological order                                              (G1-G12, G16)
    nodes.py       per-node semantic checks: jq programs compiled once through
                   the libjq bridge, property names and modes, cache resources    (S18, G13, G15)
    lower.py       slots, op records, split URLs, constants in the slot template -> Plan
"""
from __future__ import annotations

from typing import Any

from jqgate.compiler.graph import build_graph
from jqgate.compiler.lower import lower
from jqgate.compiler.nodes import check_nodes
from jqgate.compiler.schema import validate_datakit_schema
from jqgate.errors import ConfigError, Issues
from jqgate.nodes import USER_NODE_PORTS
from jqgate.plan import Plan


def _graph_candidates(nodes: list) -> list[tuple[int, dict]]:
    """Nodes the graph stage can reason about: a string name (first definition) and a known type.

    Nodes with other schema errors stay in, so one pass reports their connection errors too; the
    graph stage reads their fields defensively. A plan is only produced when nothing failed.
    """
    seen: set[str] = set()
    result = []
    for i, node in enumerate(nodes):
        if isinstance(node, dict) and isinstance(node.get("name"), str) \
                and node.get("type") in USER_NODE_PORTS and node["name"] not in seen:
            seen.add(node["name"])
            result.append((i, node))
    return result


def compile_datakit(config: Any, location: str = "config", instance: str = "",
                    issues: Issues | None = None) -> Plan | None:
    """Compile one DataKit config object.

    With an `issues` collector, errors are added to it and None is returned on failure (so a
    whole gateway configuration can be checked in one pass); without one, ConfigError is raised.
    """
    own = issues is None
    issues = Issues() if own else issues
    before = len(issues)
    validate_datakit_schema(config, location, issues)
    plan = None
    if isinstance(config, dict) and isinstance(config.get("nodes"), list):
        nodes = _graph_candidates(config["nodes"])
        programs, properties = check_nodes(nodes, config, location, issues)
        graph = build_graph(nodes, config.get("resources") or {}, location, issues)
        if graph is not None and len(issues) == before:
            plan = lower(graph, config, programs, properties, instance)
    if len(issues) > before:
        plan = None
    if own:
        issues.raise_if_any()
    return plan


__all__ = ["compile_datakit", "ConfigError"]
