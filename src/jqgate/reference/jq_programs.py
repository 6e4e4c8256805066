"""The `jq` node's program in the reference executor: the PyPI `jq` binding, not the core's.

The core runs a program either through its own libjq bridge or through its native evaluator
(`_core/jq/native*.pyx`, a re-implementation of the jq subset the seed flows use); the reference
compiles the node's source text with the PyPI binding, so the engine cases compare both of the
core's runners with jq itself. Only D1 is this project's: zero results is null, more than one
is a node error. The compiler's load-time checks (the jq policy) already refused what a plan
may not run, so the reference does not repeat them.

Not compared here: the per-run step and memory budgets (the binding has none; the budgets are
tested against the core directly in tests/core/test_jq_budget_engines.py).
"""
from __future__ import annotations

from itertools import islice

import jq

from jqgate.reference.values import NodeError

# The results counted for D1's message before giving up on a program that keeps producing them
# (`repeat(1)` never ends): "more than" this many.
MAX_COUNTED_RESULTS = 10000

_compiled: dict[str, object] = {}


def program(source: str):
    """The binding's compiled program of a source text, compiled once per process."""
    prog = _compiled.get(source)
    if prog is None:
        prog = _compiled[source] = jq.compile(source)
    return prog


def run_one(source: str, value):
    """The only result of `source` on `value` (D1); a jq error is the node's error text."""
    try:
        results = list(islice(iter(program(source).input_value(value)), MAX_COUNTED_RESULTS + 1))
    except ValueError as e:          # the binding raises ValueError with jq's own message
        raise NodeError(str(e)) from None
    if not results:
        return None
    if len(results) == 1:
        return results[0]
    if len(results) > MAX_COUNTED_RESULTS:
        raise NodeError("jq program produced more than %d results; wrap it in [ ... ] to collect "
                        "them" % MAX_COUNTED_RESULTS)
    raise NodeError("jq program produced %d results; wrap it in [ ... ] to collect them"
                    % len(results))
