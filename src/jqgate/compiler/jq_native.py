"""Which jq programs run as native code, and their lowering for the core's evaluator.

`lower(source)` returns (description, None) for a program in the native subset, or
(None, reason) for one that stays on libjq. The description is a tree of tuples that
`jqgate._core.core.NativeJq` turns into typed evaluator nodes (jq/native.pyx); its node kinds:

    ("identity",) ("index", src, key, optional) ("try", src) ("const", value) ("format", parts)
    ("array", items) ("object", ((key, value), ...)) ("pipe", a, b) ("alt", a, b)
    ("and", a, b) ("or", a, b) ("add", a, b) ("mul", a, b) ("cmp", op, a, b)
    ("if", cond, then, else) ("var", slot) ("bind", src, slot, body)
    ("setfield", key, rhs) ("updatefield", key, f)
    ("builtin", name) for not/type/length/tostring/tonumber/keys/keys_unsorted/
        ascii_downcase/ascii_upcase/to_entries/from_entries/empty
    ("has", arg) ("map", f) ("select", f) ("with_entries", f)

Result count (DataKit D1): every construct here yields at most one result -- `,` is accepted
only directly inside `[...]`, `.[]` only through map/with_entries, which collect. `select`,
`empty` and `?` may yield none, anywhere in the program; the evaluator carries that as an EMPTY
marker and the program's zero results become None, as JqProgram.run_one returns. Programs that
could yield several results are left to libjq, which counts them.
"""
from __future__ import annotations

from jqgate.compiler.jq_parse import NotNative, parse

# builtin name -> arity, for calls the evaluator implements itself
_BUILTINS_0 = {"not", "type", "length", "tostring", "tonumber", "keys", "keys_unsorted",
               "ascii_downcase", "ascii_upcase", "to_entries", "from_entries", "empty"}
_BUILTINS_1 = {"has", "map", "select", "with_entries"}
_UNSUPPORTED_OPS = {"-": "operator -", "/": "operator /", "%": "operator %"}


class _Lowering:
    def __init__(self):
        self.slots = 0

    def lower(self, node, scope: dict):
        kind = node[0]
        method = getattr(self, "_" + kind, None)
        if method is None:
            raise NotNative("%s is not in the native subset" % kind)
        return method(node, scope)

    def _identity(self, node, scope):
        return ("identity",)

    def _index(self, node, scope):
        return ("index", self.lower(node[1], scope), node[2], False)

    def _index_opt(self, node, scope):
        return ("index", self.lower(node[1], scope), node[2], True)

    def _try(self, node, scope):
        return ("try", self.lower(node[1], scope))

    def _literal(self, node, scope):
        return ("const", node[1])

    def _string(self, node, scope):
        parts = node[1]
        if len(parts) == 1 and isinstance(parts[0], str):
            return ("const", parts[0])
        return ("format", tuple(p if isinstance(p, str) else self.lower(p, scope) for p in parts))

    def _array(self, node, scope):
        return ("array", tuple(self.lower(item, scope) for item in node[1]))

    def _object(self, node, scope):
        return ("object", tuple((self.lower(k, scope), self.lower(v, scope)) for k, v in node[1]))

    def _pipe(self, node, scope):
        return ("pipe", self.lower(node[1], scope), self.lower(node[2], scope))

    def _comma(self, node, scope):
        raise NotNative("',' outside [...] can produce several results")

    def _alt(self, node, scope):
        return ("alt", self.lower(node[1], scope), self.lower(node[2], scope))

    def _and(self, node, scope):
        return ("and", self.lower(node[1], scope), self.lower(node[2], scope))

    def _or(self, node, scope):
        return ("or", self.lower(node[1], scope), self.lower(node[2], scope))

    def _binop(self, node, scope):
        op = node[1]
        if op in _UNSUPPORTED_OPS:
            raise NotNative(_UNSUPPORTED_OPS[op])
        a, b = self.lower(node[2], scope), self.lower(node[3], scope)
        if op == "+":
            return ("add", a, b)
        if op == "*":
            return ("mul", a, b)
        return ("cmp", op, a, b)

    def _assign(self, node, scope):
        op, lhs, rhs = node[1], node[2], node[3]
        if op not in ("=", "|="):
            raise NotNative("assignment operator %s" % op)
        if lhs[0] != "index" or lhs[1] != ("identity",) or not isinstance(lhs[2], str):
            raise NotNative("assignment to a path other than .field")
        kind = "setfield" if op == "=" else "updatefield"
        return (kind, lhs[2], self.lower(rhs, scope))

    def _if(self, node, scope):
        branches, otherwise = node[1], node[2]
        result = self.lower(otherwise, scope) if otherwise is not None else ("identity",)
        for cond, then in reversed(branches):
            result = ("if", self.lower(cond, scope), self.lower(then, scope), result)
        return result

    def _var(self, node, scope):
        if node[1] not in scope:
            raise NotNative("unbound variable $%s" % node[1])
        return ("var", scope[node[1]])

    def _bind(self, node, scope):
        src = self.lower(node[1], scope)
        slot = self.slots
        self.slots += 1
        inner = dict(scope)
        inner[node[2]] = slot
        return ("bind", src, slot, self.lower(node[3], inner))

    def _call(self, node, scope):
        name, args = node[1], node[2]
        if not args and name in _BUILTINS_0:
            return ("builtin", name)
        if len(args) == 1 and name in _BUILTINS_1:
            return (name, self.lower(args[0], scope))
        return_reason = "%s/%d is not in the native subset" % (name, len(args))
        raise NotNative(return_reason)


def lower(source: str):
    """(description, slot count, None) for a native program; (None, 0, reason) otherwise."""
    try:
        tree = parse(source)
        lowering = _Lowering()
        description = lowering.lower(tree, {})
    except NotNative as exc:
        return None, 0, str(exc)
    except RecursionError:
        return None, 0, "program nested too deeply for the native front end"
    except Exception as exc:  # a front-end bug must never break compilation: stay on libjq
        return None, 0, "native front end failed (%s: %s)" % (type(exc).__name__, exc)
    return description, lowering.slots, None


def compile_native(program):
    """A NativeJq for a compiled JqProgram when its source is in the subset, else the program
    itself. Returns (program to run, reason or None)."""
    from jqgate._core.core import NativeJq

    description, slots, reason = lower(program.source)
    if description is None:
        return program, reason
    return NativeJq(program, description, slots), None


def describe_runner(program) -> str:
    """How a compiled jq program runs: "native" or "libjq (<reason>)"."""
    from jqgate._core.core import NativeJq

    if isinstance(program, NativeJq):
        return "native"
    _, _, reason = lower(program.source)
    return "libjq (%s)" % (reason or "native path disabled")
