"""How much a jq program may do per run: the plugin's `config.jq_budget` and the warnings
`jqgate check` gives for programs that can run or grow without bound.

Every jq run has a step budget and a memory budget (jq/bridge.pyx, patches/): over either, the
node fails with a 500 and the gateway goes on. The process defaults are server settings
(`jqgate.gateway.serve.serve(jq_step_budget=..., jq_memory_budget_mib=...)`, built-in
2,000,000 steps and 64 MiB); a plugin can set its own in its config:

    config:
      jq_budget:
        steps: 5000000        # libjq instructions per run, 1 .. 10,000,000,000
        memory_mib: 128       # MiB a run may hold at once, 1 .. 4096
      nodes: [...]

`jq_budget` is a jqgate extension (Kong's DataKit has no such field): a config that uses it is
not accepted by Kong.

The warnings are advice, not errors: a program that loops or recurses is legal and may well end
on the inputs it meets; the budgets are what stop it when it does not. They come from a scan of
the program's tokens (outside strings and comments), so they can name a construct that is in
fact bounded, e.g. `range(3)`: the text says which construct and why it was flagged.
"""
from __future__ import annotations

import re
from typing import Any

from jqgate.config import checks
from jqgate.errors import Issues, join

FIELD = "jq_budget"
STEPS_RANGE = (1, 10_000_000_000)
MEMORY_MIB_RANGE = (1, 4096)
_KNOWN = ("steps", "memory_mib")


def validate_jq_budget(value: Any, location: str, issues: Issues) -> None:
    """Schema of `config.jq_budget` (located errors)."""
    if not checks.check_object(value, location, issues):
        return
    checks.check_known_keys(value, location, issues, _KNOWN)
    if value.get("steps") is not None:
        checks.check_int(value["steps"], join(location, "steps"), issues,
                         minimum=STEPS_RANGE[0], maximum=STEPS_RANGE[1])
    if value.get("memory_mib") is not None:
        checks.check_int(value["memory_mib"], join(location, "memory_mib"), issues,
                         minimum=MEMORY_MIB_RANGE[0], maximum=MEMORY_MIB_RANGE[1])


def jq_budget_of(config: dict) -> tuple[int, int]:
    """(steps, memory bytes) a plugin's programs get; 0 = the process default. Values the
    schema refused count as absent (the plugin does not compile anyway)."""
    budget = config.get(FIELD)
    if not isinstance(budget, dict):
        return 0, 0
    steps = _int_in(budget.get("steps"), STEPS_RANGE)
    mib = _int_in(budget.get("memory_mib"), MEMORY_MIB_RANGE)
    return steps, mib * 1024 * 1024


def _int_in(value: Any, bounds: tuple[int, int]) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return value if bounds[0] <= value <= bounds[1] else 0


# -- warnings -------------------------------------------------------------------------------

# Builtins that generate or iterate as long as their arguments say, whatever the input.
_UNBOUNDED_BUILTINS = {
    "range": "range(...) generates as many values as its arguments ask for",
    "repeat": "repeat(...) generates until something stops it",
    "until": "until(...) loops until its condition holds",
    "while": "while(...) loops while its condition holds",
    "recurse": "recurse(f) follows f as deep as it leads",
    "combinations": "combinations grows exponentially with its input",
}
_TOKEN = re.compile(r"""
    (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<var>\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<open>[(\[{])
  | (?P<close>[)\]}])
  | (?P<semi>;)
  | (?P<string>")
  | (?P<comment>\#)
  | (?P<recurse_all>\.\.(?!\.))
  | (?P<other>\S)
""", re.VERBOSE)


def _tokens(source: str) -> list[tuple[str, str]]:
    """(kind, text) of the program's code tokens; string literals are skipped except for
    their \\( ... ) interpolations, which are code."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(source)
    interpolations: list[int] = []      # open '(' count inside each interpolation
    while i < n:
        if source[i].isspace():
            i += 1
            continue
        m = _TOKEN.match(source, i)
        kind = m.lastgroup
        if kind == "comment":
            end = source.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if kind == "string":
            i = _skip_string(source, i + 1, interpolations)
            continue
        if interpolations and kind == "open" and m.group() == "(":
            interpolations[-1] += 1
        elif interpolations and kind == "close" and m.group() == ")":
            if interpolations[-1] == 0:
                interpolations.pop()
                i = _skip_string(source, m.end(), interpolations)
                continue
            interpolations[-1] -= 1
        out.append((kind, m.group()))
        i = m.end()
    return out


def _skip_string(source: str, i: int, interpolations: list[int]) -> int:
    """Index past the string text from i (just after a quote or an interpolation's ')'):
    at its closing quote, or just inside a \\( that opens an interpolation."""
    n = len(source)
    while i < n:
        c = source[i]
        if c == "\\":
            if source.startswith("(", i + 1):
                interpolations.append(0)
                return i + 2
            i += 2
        elif c == '"':
            return i + 1
        else:
            i += 1
    return n


def _recursive_defs(tokens: list[tuple[str, str]]) -> list[str]:
    """Names of functions that call themselves inside their own body."""
    found = []
    for start, (kind, text) in enumerate(tokens):
        if kind != "ident" or text != "def" or start + 1 >= len(tokens):
            continue
        name = tokens[start + 1][1]
        depth = 0
        nested_defs = 0
        past_head = False
        for kind2, text2 in tokens[start + 2:]:
            if not past_head:
                if kind2 == "open":
                    depth += 1
                elif kind2 == "close":
                    depth -= 1
                elif text2 == ":" and depth == 0:
                    past_head = True
                continue
            if kind2 == "open":
                depth += 1
            elif kind2 == "close":
                depth -= 1
            elif kind2 == "ident" and text2 == "def" and depth == 0:
                nested_defs += 1
            elif kind2 == "semi" and depth == 0:
                if nested_defs == 0:
                    break
                nested_defs -= 1
            elif kind2 == "ident" and text2 == name:
                if name not in found:
                    found.append(name)
                break
    return found


def unbounded_reasons(source: str) -> list[str]:
    """Why a program may run or grow without bound (empty when nothing was found)."""
    tokens = _tokens(source)
    reasons = ["def %s calls itself (recursion)" % name for name in _recursive_defs(tokens)]
    seen = set()
    for i, (kind, text) in enumerate(tokens):
        if kind != "ident" or text not in _UNBOUNDED_BUILTINS or text in seen:
            continue
        if tokens[i - 1:i] == [("other", ".")] or tokens[i + 1:i + 2] == [("other", ":")]:
            continue    # a field (`.range`) or an object key (`{until: 1}`), not a call
        if text == "recurse" and tokens[i + 1:i + 2] != [("open", "(")]:
            continue    # recurse without arguments walks the input: bounded by it
        seen.add(text)
        reasons.append(_UNBOUNDED_BUILTINS[text])
    return reasons


def check_warnings(compiled) -> list[str]:
    """Located warnings for every jq node of a compiled gateway (jqgate check)."""
    from jqgate._core.core import jq_budgets

    default_steps, default_memory = jq_budgets()
    warnings = []
    for plugin, _plan in compiled.plans:
        config = plugin.config
        steps, memory = jq_budget_of(config)
        budget = "%d steps, %d MiB" % (steps or default_steps,
                                       (memory or default_memory) // (1024 * 1024))
        for position, node in enumerate(config.get("nodes") or []):
            if not isinstance(node, dict) or node.get("type") != "jq":
                continue
            source = node.get("jq")
            if not isinstance(source, str):
                continue
            for reason in unbounded_reasons(source):
                where = join(join(plugin.config_location, "nodes"), position)
                warnings.append("%s: warning: %s; the jq budget stops it at run time (%s)"
                                % (join(where, "jq"), reason, budget))
    return warnings
