"""Build-time proofs that a slot holds a value in the straight-line code's domain.

The straight-line jq functions (straight_jq_source.py) answer only for input inside the
"canonical" domain (`pm_canonical`: str keys, strings without surrogates, integers within 2**53,
non-integral finite floats, containers nested less than PM_MAX_DEPTH deep). Checking that costs
a walk of the whole input per op. A plan module skips the walk where the plan proves it:

  - a static node's values are checked here, when the module is generated;
  - a straight-line function given canonical input answers canonical output (each of its
    constructs keeps the domain or bails), at most `literal_nesting(program)` levels deeper,
    provided its own constants are canonical (`constants_canonical`).

Anything else (request data, call answers, a program that fell back to the generic evaluator)
is checked at run time, as before.
"""
from __future__ import annotations

INT_LIMIT = 9007199254740992           # straight_jq_source.py's PM_INT_LIMIT
MAX_DEPTH = 1000                       # PM_MAX_DEPTH
PROVEN_DEPTH_LIMIT = MAX_DEPTH - 100   # a proven value stays well inside pm_canonical's bound


def _str_ok(text: str) -> bool:
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def value_depth(value) -> int | None:
    """How deep value's containers nest (a scalar: 0), or None when it is not canonical."""
    if isinstance(value, bool) or value is None:
        return 0
    if type(value) is int:
        return 0 if -INT_LIMIT <= value <= INT_LIMIT else None
    if type(value) is float:
        finite = value == value and value not in (float("inf"), float("-inf"))
        return 0 if finite and not value.is_integer() else None
    if type(value) is str:
        return 0 if _str_ok(value) else None
    if type(value) is dict:
        deepest = 0
        for k, v in value.items():
            d = value_depth(v)
            if type(k) is not str or not _str_ok(k) or d is None:
                return None
            deepest = max(deepest, d)
        return deepest + 1
    if type(value) is list:
        deepest = 0
        for v in value:
            d = value_depth(v)
            if d is None:
                return None
            deepest = max(deepest, d)
        return deepest + 1
    return None


def _nodes(description):
    """Every node of a native jq description tree (tuples whose first item is the kind)."""
    stack = [description]
    while stack:
        node = stack.pop()
        if isinstance(node, (tuple, list)):
            if node and isinstance(node[0], str):
                yield node
            stack.extend(x for x in node if isinstance(x, (tuple, list)))


def constants_canonical(description) -> bool:
    """Are every constant and interpolated text of the program canonical?"""
    for node in _nodes(description):
        if node[0] == "const" and value_depth(node[1]) is None:
            return False
        if node[0] == "format" and not all(_str_ok(p) for p in node[1] if isinstance(p, str)):
            return False
    return True


def literal_nesting(description) -> int:
    """An upper bound of how many levels the program's output nests deeper than its input: the
    number of its object/array literals (pipes can stack them; merges and indexing add none)."""
    return sum(1 for node in _nodes(description) if node[0] in ("object", "array"))
