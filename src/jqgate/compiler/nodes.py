"""Per-node semantic checks that need more than the schema: jq compilation (S18), property names
and modes (G15, D24), the cache resource (G13).

Every jq program is compiled here, once, through the libjq bridge; programs in the native subset
are also lowered to the core's native evaluator (libjq stays their exact fallback). The compiled
programs go into the plan so nothing is compiled per request.
"""
from __future__ import annotations

import os

from jqgate.compiler.jq_bounds import jq_budget_of
from jqgate.compiler.jq_native import compile_native
from jqgate.compiler.properties import check_mode
from jqgate.errors import Issues, join


def _nodewise_targets(all_nodes: list[tuple[int, dict]]) -> set[str]:
    """Names that some node's `output` / `outputs` entry feeds node-wise (a bare label)."""
    targets = set()
    for _, other in all_nodes:
        out = other.get("output")
        # a branch's outputs.then / outputs.else name members (D3), they connect no value
        outs = other.get("outputs") if other.get("type") != "branch" else None
        labels = ([out] if isinstance(out, str) else []) + \
                 (list(outs.values()) if isinstance(outs, dict) else [])
        targets.update(label for label in labels if isinstance(label, str) and "." not in label)
    return targets


def _one_line(messages: list[str], source: str) -> str:
    """libjq's messages carry source excerpts over several lines; keep one line per message."""
    heads = [m.splitlines()[0].rstrip(":") for m in messages if m.strip()] or ["does not compile"]
    text = "; ".join(heads)
    if "'" in source and "INVALID_CHARACTER" in text:
        text += " (jq strings use double quotes, not single quotes)"
    return text


def _native_enabled() -> bool:
    """JQGATE_JQ_NATIVE=0 keeps every jq program on libjq (to compare, or as an escape hatch)."""
    return os.environ.get("JQGATE_JQ_NATIVE", "1") != "0"


def check_nodes(nodes: list[tuple[int, dict]], config: dict, location: str, issues: Issues):
    """Returns ({jq node name: program}, {property node name: (spec, canonical, key)}).

    A program is a NativeJq when its source is in the native subset (compiler/jq_native.py),
    else the JqProgram; both have run_one/c_run_one, so the executor does not care which.
    """
    from jqgate._core.core import JqCompileError, JqProgram

    programs = {}
    properties = {}
    resources = config.get("resources") if isinstance(config.get("resources"), dict) else {}
    wired_into = _nodewise_targets(nodes)   # SET mode: a value connected into the property
    steps, memory = jq_budget_of(config)    # the plugin's own jq budgets, 0 = the process's
    for position, node in nodes:
        where = join(join(location, "nodes"), position)
        kind = node["type"]
        if kind == "jq" and isinstance(node.get("jq"), str) and node["jq"]:
            try:
                # always: validation and the fallback
                program = JqProgram(node["jq"], steps, memory)
                if _native_enabled():
                    program, _ = compile_native(program)
                programs[node["name"]] = program
            except JqCompileError as exc:
                issues.add(join(where, "jq"), "invalid jq program: " + _one_line(exc.messages, node["jq"]))
        elif kind == "property" and isinstance(node.get("property"), str):
            is_set = isinstance(node.get("input"), str) or node["name"] in wired_into
            resolved, error = check_mode(node["property"], is_set)
            if error:
                issues.add(join(where, "property"), error)
            else:
                properties[node["name"]] = resolved
        elif kind == "cache" and not resources.get("cache"):
            issues.add(where, "cache node requires resources.cache configuration")
    from jqgate.compiler.support_checks import check_runtime_support
    check_runtime_support(nodes, config, location, issues)
    return programs, properties
