"""Native jq programs as straight-line Cython, for a compiled plan module.

`straight_function(name, description)` turns the description tree of a native program
(compiler/jq_native.py) into the source of `cdef object NAME(object v)`, or returns None when
the program uses a construct this emitter leaves to the generic evaluator. The function
returns PM_BAIL (straight_jq_source.py) whenever it cannot be sure of the generic result, and the
runner then runs the generic program on the same input; so the subset below only has to be
exact on the paths that do not bail.

Emitted: identity, constants (null, booleans, numbers, strings), `.key` and `.[n]` (not the
`?` forms), pipes, `a // b`, and/or, `not`, if/elif/else, object construction with constant
keys, arrays, `+` and `*` (numbers in the native evaluator's number model, strings, arrays,
object merges), `==` and `!=` on scalars, string interpolation of strings.
Left to the generic evaluator: `?`/try, select, empty, variables, assignments, map,
with_entries, has, and the other builtins, ordering comparisons.
"""
from __future__ import annotations


class NotStraight(Exception):
    """A construct the emitter does not turn into straight-line code."""


def _literal(value) -> str:
    """A Cython literal for a jq constant (None when it is not a scalar)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise NotStraight("non-finite constant")
        return repr(value)           # repr round-trips a finite double exactly
    if isinstance(value, str):
        return ascii(value)
    raise NotStraight("constant of type %s" % type(value).__name__)


class _Emitter:
    def __init__(self):
        self.lines: list[str] = []
        self.temps = 0
        self.indent = 1

    def temp(self) -> str:
        self.temps += 1
        return "t%d" % self.temps

    def line(self, text: str) -> None:
        self.lines.append("    " * self.indent + text)

    def checked(self, expression: str) -> str:
        """Assign expression to a new temp and return PM_BAIL from the function if it bailed."""
        t = self.temp()
        self.line("%s = %s" % (t, expression))
        self.line("if %s is PM_BAIL: return PM_BAIL" % t)
        return t

    def emit(self, node, inp: str) -> str:
        """Statements computing node on the value in variable `inp`; -> the expression of its
        result (a variable or a literal)."""
        kind = node[0]
        method = getattr(self, "_" + kind, None)
        if method is None:
            raise NotStraight(kind)
        return method(node, inp)

    def _identity(self, node, inp):
        return inp

    def _const(self, node, inp):
        return _literal(node[1])

    def _index(self, node, inp):
        _, src, key, optional = node
        if optional:
            raise NotStraight("`?` index")
        base = self.emit(src, inp) if src is not None else inp
        if isinstance(key, str):
            return self.checked("pm_index_str(%s, %s)" % (base, ascii(key)))
        if isinstance(key, int) and not isinstance(key, bool) and abs(key) < 2 ** 31:
            return self.checked("pm_index_int(%s, %d)" % (base, key))
        raise NotStraight("index by %r" % (key,))

    def _pipe(self, node, inp):
        return self.emit(node[2], self.emit(node[1], inp))

    def _branch(self, test: str, then_node, else_value: str | None, else_node, inp: str) -> str:
        """t = <then> when test holds, else <else_value or else_node>, both emitted nested."""
        t = self.temp()
        self.line("if %s:" % test)
        self.indent += 1
        self.line("%s = %s" % (t, self.emit(then_node, inp)))
        self.indent -= 1
        self.line("else:")
        self.indent += 1
        self.line("%s = %s" % (t, else_value if else_node is None else self.emit(else_node, inp)))
        self.indent -= 1
        return t

    def _alt(self, node, inp):
        first = self.emit(node[1], inp)
        t = self.temp()
        self.line("%s = %s" % (t, first))
        self.line("if not pm_truthy(%s):" % t)
        self.indent += 1
        self.line("%s = %s" % (t, self.emit(node[2], inp)))
        self.indent -= 1
        return t

    def _and(self, node, inp):
        first = self.emit(node[1], inp)
        return self._branch("pm_truthy(%s)" % first, ("truthy", node[2]), "False", None, inp)

    def _or(self, node, inp):
        first = self.emit(node[1], inp)
        return self._branch("not pm_truthy(%s)" % first, ("truthy", node[2]), "True", None, inp)

    def _truthy(self, node, inp):          # internal: and/or's right operand as a boolean
        return "pm_truthy(%s)" % self.emit(node[1], inp)

    def _if(self, node, inp):
        cond = self.emit(node[1], inp)
        return self._branch("pm_truthy(%s)" % cond, node[2], None, node[3], inp)

    def _builtin(self, node, inp):
        if node[1] == "not":
            return "(not pm_truthy(%s))" % inp
        raise NotStraight("builtin %s" % node[1])

    def _object(self, node, inp):
        entries = []
        for key, value in node[1]:
            if key[0] != "const" or not isinstance(key[1], str):
                raise NotStraight("computed object key")
            entries.append("%s: %s" % (ascii(key[1]), self.emit(value, inp)))
        t = self.temp()
        self.line("%s = {%s}" % (t, ", ".join(entries)))
        return t

    def _array(self, node, inp):
        items = [self.emit(item, inp) for item in node[1]]
        t = self.temp()
        self.line("%s = [%s]" % (t, "".join(i + ", " for i in items)))
        return t

    def _add(self, node, inp):
        a, b = self.emit(node[1], inp), self.emit(node[2], inp)
        return self.checked("pm_add(%s, %s)" % (a, b))

    def _mul(self, node, inp):
        a, b = self.emit(node[1], inp), self.emit(node[2], inp)
        return self.checked("pm_mul(%s, %s)" % (a, b))

    def _cmp(self, node, inp):
        op = node[1]
        if op not in ("==", "!="):
            raise NotStraight("comparison %s" % op)
        a, b = self.emit(node[2], inp), self.emit(node[3], inp)
        t = self.checked("pm_eq(%s, %s)" % (a, b))
        return t if op == "==" else "(not %s)" % t

    def _format(self, node, inp):
        pieces = [ascii(p) if isinstance(p, str) else self.emit(p, inp) for p in node[1]]
        return self.checked("pm_format((%s))" % "".join(p + ", " for p in pieces))


def straight_function(name: str, description) -> str | None:
    """The Cython source of `cdef object name(object v)`, or None when not straight-line."""
    emitter = _Emitter()
    try:
        result = emitter.emit(description, "v")
    except NotStraight:
        return None
    head = ["cdef object %s(object v):" % name]
    if emitter.temps:
        head.append("    cdef object " + ", ".join("t%d" % i for i in range(1, emitter.temps + 1)))
    return "\n".join(head + emitter.lines + ["    return %s" % result]) + "\n"


def input_keys(description) -> tuple[str, ...] | None:
    """The top-level keys of its input a straight-line program reads, when `.key` lookups
    (constant string keys, not the `?` forms) are all it does with its input; None when it uses
    the input in any other way (`.`, `.[n]`, `not`, ...). Such a program gives the same result
    on an object and on that object cut down to those keys: a compiled plan module then decodes
    only those fields of a call's answer (answer_fields_source.py)."""
    keys: list[str] = []

    def on_input(node) -> bool:         # node is evaluated on the program's input
        kind = node[0]
        if kind == "const":
            return True
        if kind == "index":
            _, src, key, optional = node
            if src is not None and src[0] != "identity":
                return on_input(src)    # the lookup applies to src's result
            if optional or not isinstance(key, str):
                return False
            if key not in keys:
                keys.append(key)
            return True
        if kind == "pipe":
            return on_input(node[1])    # the right side sees the left side's result
        if kind in ("alt", "and", "or", "add", "mul"):
            return on_input(node[1]) and on_input(node[2])
        if kind == "truthy":
            return on_input(node[1])
        if kind == "if":
            return all(n is not None and on_input(n) for n in node[1:4])
        if kind == "cmp":
            return on_input(node[2]) and on_input(node[3])
        if kind == "object":
            return all(k[0] == "const" and on_input(v) for k, v in node[1])
        if kind == "array":
            return all(on_input(item) for item in node[1])
        if kind == "format":
            return all(isinstance(p, str) or on_input(p) for p in node[1])
        return False                    # identity, builtins, anything else: the whole input

    return tuple(keys) if on_input(description) else None
