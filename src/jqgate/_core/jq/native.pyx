# Native evaluation of the jq subset the compiler recognises (compiler/jq_native.py).
#
# Public names (exported from jqgate._core.core):
#   NativeJq(program, description, slots)  a JqProgram-compatible runner: .run_one(value),
#       .run_all(value), .source, cdef c_run_one(value); .fallback is the libjq program;
#       .run_native(value) -> (status, value) for tests; .native_runs / .fallback_runs counters.
#
# Exactness by construction: the native evaluator only ever answers when it is sure to produce
# what JqProgram.run_one produces; otherwise the *whole call* is re-run on libjq (the evaluator
# has no side effects, so re-running is exact). That happens when
#   - the input is not "canonical": anything but None/bool/str/exact int/finite non-integral
#     float/list/dict with str keys -- e.g. 1.0 (jq keeps the literal text "1.0"), NaN, tuples,
#     subclasses, strings with surrogates, nesting deeper than JQN_MAX_INPUT_DEPTH;
#   - a jq error is raised and not caught by `?`: libjq then reports it with its own
#     message (so messages are libjq's by definition, and the native code never formats one);
#   - a value the native number model does not cover shows up: an integer beyond 2**53 in
#     arithmetic, comparison, length or tostring; a float in tostring (jq prints a float's
#     literal text); a computed -0, NaN, infinity or integral result beyond 2**53; a string
#     times a number; nesting beyond JQN_MAX_WORK_DEPTH in comparison, merge or tostring;
#   - a node combining several operands (binary operators, object construction, string
#     interpolation) sees one operand produce no result while another fails: which one jq
#     meets first depends on its evaluation order, so libjq decides.
# With canonical input, every value inside the evaluator is canonical too: numbers computed
# here are an int when integral (|x| <= 2**53) and a float otherwise, which is exactly what the
# bridge returns for jq's doubles; so results need no conversion pass, and sub-values of the
# input are shared with the result, not copied (values are immutable once produced).
#
# Zero results (select, empty, `?`) are carried as JQN_EMPTY and become None (rule D1); no
# construct here yields more than one result (the compiler refuses those).
#
# Budget: the subset has no loops, recursion, range or repetition, so a run's work is bounded by
# the program's size times the input's; but values are shared, not copied, so a few
# `[., .]` or `. + .` in a row can build a value whose printing, comparison or concatenation
# costs exponentially more than the input. Those operations charge work units (one per value
# visited or item produced, one per 16 characters of text) against the program's step budget;
# a run over it bails to libjq, which re-runs it under its own step and memory budgets (and so
# fails it with JqBudgetError when it really is over).

from libc.math cimport signbit
import sys
from cpython.dict cimport PyDict_Copy, PyDict_GetItemWithError
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_AsLongLong
from cpython.unicode cimport PyUnicode_KIND, PyUnicode_1BYTE_KIND

cdef enum:
    # Inputs nested deeper go to libjq; far below JQB_MAX_DEPTH, so the few levels a program
    # adds can never push a native result past the bridge's limit.
    JQN_MAX_INPUT_DEPTH = 1000
    # Recursion of comparison, deep merge and tostring here; deeper -> libjq.
    JQN_MAX_WORK_DEPTH = 2000

# jq kinds in jq's sort order (jv_kind).
cdef enum:
    K_NULL = 1
    K_FALSE = 2
    K_TRUE = 3
    K_NUMBER = 4
    K_STRING = 5
    K_ARRAY = 6
    K_OBJECT = 7

cdef long long JQN_INT_LIMIT = 9007199254740992

# Work units the current native run may still spend (see the header): set by NativeJq._native
# from its program's step budget. Runs happen on the event loop thread, one at a time.
cdef long long jqn_work_left = 0


cdef inline int jqn_charge(Py_ssize_t units) except -1:
    global jqn_work_left
    jqn_work_left -= units
    if jqn_work_left < 0:
        raise JqnBail()
    return 0


class JqnError(Exception):
    """A jq error inside the native evaluator (its message is libjq's to give)."""


class JqnBail(Exception):
    """The native evaluator cannot answer this call exactly: re-run it on libjq."""


@cython.final
cdef class _JqnEmpty:
    def __repr__(self):
        return "<no result>"


cdef object JQN_EMPTY = _JqnEmpty()


# ---------------------------------------------------------------------------------------------
# Values

cdef bint jqn_wide_str_ok(str text):
    cdef Py_UCS4 c
    for c in text:
        if 0xD800 <= c <= 0xDFFF:
            return False
    return True


cdef inline bint jqn_str_ok(str text):
    """No surrogate code points (the bridge repairs those, so such input goes to libjq)."""
    return PyUnicode_KIND(text) == PyUnicode_1BYTE_KIND or jqn_wide_str_ok(text)


cdef bint jqn_small_int(object number):
    """An exact int jq holds as a plain double without loss."""
    cdef int overflow = 0
    cdef long long n = PyLong_AsLongLongAndOverflow(number, &overflow)
    return overflow == 0 and -JQN_INT_LIMIT <= n <= JQN_INT_LIMIT


cdef bint jqn_big_int_ok(object number):
    """A big int the bridge accepts (it may refuse very long ones): checked by converting."""
    cdef jv tmp
    try:
        jqb_int_to_jv(number, &tmp)
    except Exception:
        return False
    jv_free(tmp)
    return True


cdef enum:
    JQN_OUTSIDE = 0     # not in the native domain: the call goes to libjq
    JQN_SCALAR = 1      # a canonical scalar
    JQN_CONTAINER = 2   # a list or dict: walk it


cdef inline int jqn_scalar_state(object value) except -1:
    cdef type t = type(value)
    cdef double d
    cdef double whole
    if t is str:
        return JQN_SCALAR if jqn_str_ok(<str>value) else JQN_OUTSIDE
    if t is dict or t is list:
        return JQN_CONTAINER
    if value is None or value is True or value is False:
        return JQN_SCALAR
    if t is int:
        return JQN_SCALAR if jqn_small_int(value) or jqn_big_int_ok(value) else JQN_OUTSIDE
    if t is float:
        # Only finite non-integral floats: jq keeps a float's literal text ("1.0"), which the
        # bridge would turn into the int 1; those inputs go to libjq.
        d = PyFloat_AS_DOUBLE(value)
        if isnan(d) or isinf(d) or modf(d, &whole) == 0:
            return JQN_OUTSIDE
        return JQN_SCALAR
    return JQN_OUTSIDE


cdef bint jqn_canonical_container(object value, int depth) except -1:
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    cdef int state
    if depth >= JQN_MAX_INPUT_DEPTH:
        return False
    if type(value) is dict:
        while PyDict_Next(value, &pos, &k, &v):
            if type(<object>k) is not str or not jqn_str_ok(<str>k):
                return False
            state = jqn_scalar_state(<object>v)
            if state == JQN_OUTSIDE:
                return False
            if state == JQN_CONTAINER and not jqn_canonical_container(<object>v, depth + 1):
                return False
        return True
    for item in <list>value:
        state = jqn_scalar_state(item)
        if state == JQN_OUTSIDE:
            return False
        if state == JQN_CONTAINER and not jqn_canonical_container(item, depth + 1):
            return False
    return True


cdef bint jqn_canonical(object value) except -1:
    """Is value in the native domain (see the header)? Walks the whole input, as the bridge's
    conversion does."""
    cdef int state = jqn_scalar_state(value)
    if state == JQN_CONTAINER:
        return jqn_canonical_container(value, 0)
    return state == JQN_SCALAR


cdef inline int jqn_kind(object value):
    cdef type t = type(value)
    if t is str:
        return K_STRING
    if t is dict:
        return K_OBJECT
    if t is int or t is float:
        return K_NUMBER
    if value is None:
        return K_NULL
    if t is list:
        return K_ARRAY
    if value is True:
        return K_TRUE
    return K_FALSE


cdef inline bint jqn_truthy(object value):
    return not (value is None or value is False)


cdef double jqn_double(object number) except? -1.0:
    """A number as jq's double; big ints are outside the native number model."""
    if type(number) is float:
        return PyFloat_AS_DOUBLE(number)
    if not jqn_small_int(number):
        raise JqnBail()
    return <double>PyLong_AsLongLong(number)


cdef object jqn_number(double d):
    """A double jq computed, as the bridge returns it (int when integral)."""
    cdef double whole
    if isnan(d) or isinf(d):
        raise JqnBail()
    if modf(d, &whole) != 0:
        return d
    if (d == 0.0 and signbit(d)) or fabs(d) > <double>JQN_INT_LIMIT:
        raise JqnBail()    # -0 prints "-0" in jq; beyond 2**53 the int model ends
    return <long long>d


# ---------------------------------------------------------------------------------------------
# Operations (jq 1.8's binop_plus, binop_multiply, jv_cmp, jv_keys, ...)

cdef object jqn_add(object a, object b):
    cdef type ta
    cdef type tb
    cdef dict merged
    if a is None:
        return b
    if b is None:
        return a
    ta = type(a)
    tb = type(b)
    if ta is str and tb is str:
        jqn_charge((len(<str>a) + len(<str>b)) >> 4)
        return <str>a + <str>b
    if (ta is int or ta is float) and (tb is int or tb is float):
        return jqn_number(jqn_double(a) + jqn_double(b))
    if ta is list and tb is list:
        jqn_charge(len(<list>a) + len(<list>b))
        return <list>a + <list>b
    if ta is dict and tb is dict:
        jqn_charge(len(<dict>a) + len(<dict>b))
        merged = PyDict_Copy(a)
        merged.update(<dict>b)
        return merged
    raise JqnError()


cdef dict jqn_merge(dict a, dict b, int depth):
    """jv_object_merge_recursive: b's keys over a's, objects merged key by key."""
    if depth > JQN_MAX_WORK_DEPTH:
        raise JqnBail()
    jqn_charge(len(a) + len(b))
    cdef dict out = PyDict_Copy(a)
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    cdef PyObject* mine
    while PyDict_Next(b, &pos, &k, &v):
        mine = PyDict_GetItemWithError(out, <object>k)
        if mine != NULL and type(<object>mine) is dict and type(<object>v) is dict:
            out[<object>k] = jqn_merge(<dict>mine, <dict>v, depth + 1)
        else:
            out[<object>k] = <object>v
    return out


cdef object jqn_multiply(object a, object b):
    cdef type ta = type(a)
    cdef type tb = type(b)
    if ta is dict and tb is dict:
        return jqn_merge(<dict>a, <dict>b, 0)
    cdef bint na = ta is int or ta is float
    cdef bint nb = tb is int or tb is float
    if na and nb:
        return jqn_number(jqn_double(a) * jqn_double(b))
    if (na and tb is str) or (ta is str and nb):
        raise JqnBail()        # string repetition: left to libjq
    raise JqnError()


cdef int jqn_cmp(object a, object b, int depth) except -2:
    """jv_cmp: -1, 0, 1 in jq's total order (null < false < true < numbers < strings <
    arrays < objects)."""
    cdef int ka = jqn_kind(a)
    cdef int kb = jqn_kind(b)
    cdef double da
    cdef double db
    cdef Py_ssize_t i, n
    cdef int r
    if ka != kb:
        return -1 if ka < kb else 1
    if ka == K_NUMBER:
        da = jqn_double(a)
        db = jqn_double(b)
        return -1 if da < db else (0 if da == db else 1)
    if ka == K_STRING:
        # jq compares UTF-8 bytes; for text without surrogates that is code point order.
        return -1 if <str>a < <str>b else (0 if <str>a == <str>b else 1)
    if depth > JQN_MAX_WORK_DEPTH:
        raise JqnBail()
    jqn_charge(1)
    if ka == K_ARRAY:
        n = min(len(<list>a), len(<list>b))
        for i in range(n):
            r = jqn_cmp((<list>a)[i], (<list>b)[i], depth + 1)
            if r:
                return r
        return (len(<list>a) > n) - (len(<list>b) > n)
    if ka == K_OBJECT:
        keys_a = sorted(<dict>a)
        keys_b = sorted(<dict>b)
        r = jqn_cmp(keys_a, keys_b, depth + 1)
        if r:
            return r
        for key in keys_a:
            r = jqn_cmp((<dict>a)[key], (<dict>b)[key], depth + 1)
            if r:
                return r
        return 0
    return 0


cdef object jqn_index(object value, object key):
    """`.[key]` for a str or int key (jv_get)."""
    cdef Py_ssize_t i, n
    cdef PyObject* found
    if type(key) is str and type(value) is dict:
        found = PyDict_GetItemWithError(value, key)     # str keys: no Python code runs
        return <object>found if found != NULL else None
    if value is None:
        return None
    cdef type t = type(value)
    if type(key) is str:
        raise JqnError()
    if t is list:
        n = len(<list>value)
        i = <Py_ssize_t>key
        if i < 0:
            i += n
        if 0 <= i < n:
            return (<list>value)[i]
        return None
    raise JqnError()


cdef object jqn_length(object value):
    cdef type t = type(value)
    if t is str:
        return len(<str>value)
    if t is list:
        return len(<list>value)
    if t is dict:
        return len(<dict>value)
    if value is None:
        return 0
    if t is float:
        return abs(<double>value)   # not <float>: in Cython that is C's 32-bit float
    if t is int:
        if not jqn_small_int(value):
            raise JqnBail()
        return abs(value)
    raise JqnError()           # booleans have no length


_JQN_ESCAPE = re.compile('[\x00-\x1f"\\\\\x7f]')
_JQN_ESCAPES = {"\b": "\\b", "\t": "\\t", "\r": "\\r", "\n": "\\n", "\f": "\\f", '"': '\\"',
                "\\": "\\\\"}


def _jqn_escape_char(match):
    c = match.group()
    return _JQN_ESCAPES.get(c) or "\\u%04x" % ord(c)


cdef int jqn_dump(object value, list out, int depth) except -1:
    """jv_dump_string(value, 0): compact JSON as jq prints it."""
    cdef type t = type(value)
    cdef bint first = True
    if depth > JQN_MAX_WORK_DEPTH:
        raise JqnBail()
    jqn_charge(1)
    if t is str:
        jqn_charge(len(<str>value) >> 4)
        out.append('"' + _JQN_ESCAPE.sub(_jqn_escape_char, <str>value) + '"')
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif t is int:
        # jq prints doubles up to 2**53 as plain digits; beyond, a literal or a rounded double.
        if not jqn_small_int(value):
            raise JqnBail()
        out.append(int.__repr__(value))
    elif t is float:
        raise JqnBail()            # jq prints a float input's literal text, not repr()
    elif t is list:
        out.append("[")
        for item in <list>value:
            if not first:
                out.append(",")
            first = False
            jqn_dump(item, out, depth + 1)
        out.append("]")
    else:
        out.append("{")
        for key, item in (<dict>value).items():
            if not first:
                out.append(",")
            first = False
            jqn_dump(key, out, depth + 1)
            out.append(":")
            jqn_dump(item, out, depth + 1)
        out.append("}")
    return 0


cdef str jqn_tostring(object value):
    cdef list out
    if type(value) is str:
        return value
    out = []
    jqn_dump(value, out, 0)
    return "".join(out)


_JQN_SMALL_INT_TEXT = re.compile(r"(?:0|-?[1-9][0-9]{0,14})\Z")


cdef object jqn_tonumber(object value):
    cdef type t = type(value)
    if t is int or t is float:
        return value
    if t is str and _JQN_SMALL_INT_TEXT.match(<str>value):
        return int(<str>value)
    raise JqnBail()     # other texts (decimals keep their literal in jq), errors: libjq


_JQN_UPPER_TO_LOWER = {c: c + 32 for c in range(65, 91)}
_JQN_LOWER_TO_UPPER = {c: c - 32 for c in range(97, 123)}


cdef object jqn_ascii_case(object value, bint lower):
    if type(value) is not str:
        raise JqnError()
    if (<str>value).isascii():
        return (<str>value).lower() if lower else (<str>value).upper()
    return (<str>value).translate(_JQN_UPPER_TO_LOWER if lower else _JQN_LOWER_TO_UPPER)


cdef object jqn_keys(object value, bint sort):
    if type(value) is dict or type(value) is list:
        jqn_charge(len(value))
    if type(value) is dict:
        return sorted(<dict>value) if sort else list(<dict>value)
    if type(value) is list:
        return list(range(len(<list>value)))
    raise JqnError()


cdef object jqn_has(object value, object key):
    cdef type t = type(value)
    cdef type tk = type(key)
    if value is None:
        return False
    if t is dict and tk is str:
        return key in <dict>value
    if t is list and (tk is int or tk is float):
        if tk is float or not jqn_small_int(key):
            raise JqnBail()
        return 0 <= key < len(<list>value)
    raise JqnError()


cdef tuple JQN_TYPE_NAMES = ("", "null", "boolean", "boolean", "number", "string", "array",
                              "object")


cdef list jqn_to_entries(object value):
    cdef Py_ssize_t i
    if type(value) is dict or type(value) is list:
        jqn_charge(len(value))
    if type(value) is dict:
        return [{"key": k, "value": v} for k, v in (<dict>value).items()]
    if type(value) is list:
        return [{"key": i, "value": (<list>value)[i]} for i in range(len(<list>value))]
    raise JqnError()


cdef object jqn_iterate(object value):
    """The values `.[]` visits, as a list or dict view; errors as jq's iteration does."""
    if type(value) is list:
        return value
    if type(value) is dict:
        return (<dict>value).values()
    raise JqnError()


cdef object jqn_from_entries(object value):
    """jq 1.8: map({(.key // .Key // .name // .Name): (if has("value") then .value else .Value
    end)}) | add // {}"""
    cdef dict out = {}
    for entry in jqn_iterate(value):
        jqn_charge(1)
        key = None
        for name in ("key", "Key", "name"):
            key = jqn_index(entry, name)      # `//` does not catch errors
            if jqn_truthy(key):
                break
        else:
            key = jqn_index(entry, "Name")
        item = jqn_index(entry, "value" if jqn_has(entry, "value") else "Value")
        if type(key) is not str:
            raise JqnError()       # Object keys must be strings
        out[key] = item
    return out


# ---------------------------------------------------------------------------------------------
# Evaluator nodes: eval(input, env) returns the result, JQN_EMPTY, or raises JqnError/JqnBail.

cdef class JqnNode:
    cdef object eval(self, object v, list env):
        raise NotImplementedError


cdef inline object jqn_operand(JqnNode node, object v, list env, int* state):
    """Evaluate one operand of a node that combines several: a failure is recorded in state
    (bit 2) instead of raised, no result in bit 1, so the caller can tell whether the order
    of evaluation matters (see the file header)."""
    try:
        result = node.eval(v, env)
    except JqnError:
        state[0] |= 2
        return JQN_EMPTY
    if result is JQN_EMPTY:
        state[0] |= 1
    return result


cdef inline int jqn_settle(int state) except -1:
    """After evaluating every operand: raise for failures; 1 when there is no result."""
    if state & 2:
        if state & 1:
            raise JqnBail()
        raise JqnError()
    return state & 1


@cython.final
cdef class JqnIdentity(JqnNode):
    cdef object eval(self, object v, list env):
        return v


@cython.final
cdef class JqnConst(JqnNode):
    cdef object value

    cdef object eval(self, object v, list env):
        return self.value


@cython.final
cdef class JqnIndex(JqnNode):
    cdef JqnNode src       # None: the input itself
    cdef object key
    cdef bint optional     # `.key?`: this index's own error gives no result (INDEX_OPT)

    cdef object eval(self, object v, list env):
        if self.src is not None:
            v = self.src.eval(v, env)
            if v is JQN_EMPTY:
                return v
        if not self.optional:
            return jqn_index(v, self.key)
        try:
            return jqn_index(v, self.key)
        except JqnError:
            return JQN_EMPTY


@cython.final
cdef class JqnTry(JqnNode):
    cdef JqnNode body

    cdef object eval(self, object v, list env):
        try:
            return self.body.eval(v, env)
        except JqnError:
            return JQN_EMPTY


@cython.final
cdef class JqnPipe(JqnNode):
    cdef JqnNode a
    cdef JqnNode b

    cdef object eval(self, object v, list env):
        v = self.a.eval(v, env)
        if v is JQN_EMPTY:
            return v
        return self.b.eval(v, env)


@cython.final
cdef class JqnAlt(JqnNode):
    """a // b: a's value when truthy, else b. jq 1.8's `//` forks without catching, so an
    error in a is an error (it is not treated as absent)."""
    cdef JqnNode a
    cdef JqnNode b

    cdef object eval(self, object v, list env):
        first = self.a.eval(v, env)
        if first is not JQN_EMPTY and jqn_truthy(first):
            return first
        return self.b.eval(v, env)


@cython.final
cdef class JqnLogic(JqnNode):
    """and / or, left to right with short circuit (jq's gen_and / gen_or)."""
    cdef JqnNode a
    cdef JqnNode b
    cdef bint is_and

    cdef object eval(self, object v, list env):
        first = self.a.eval(v, env)
        if first is JQN_EMPTY:
            return first
        if jqn_truthy(first) != self.is_and:
            return not self.is_and
        second = self.b.eval(v, env)
        if second is JQN_EMPTY:
            return second
        return jqn_truthy(second)


@cython.final
cdef class JqnBinary(JqnNode):
    """+, * and comparisons: both operands, then the operation."""
    cdef JqnNode a
    cdef JqnNode b
    cdef int op      # 0 +, 1 *, 2 ==, 3 !=, 4 <, 5 <=, 6 >, 7 >=

    cdef object eval(self, object v, list env):
        cdef int state = 0
        cdef int r
        left = jqn_operand(self.a, v, env, &state)
        right = jqn_operand(self.b, v, env, &state)
        if state and jqn_settle(state):
            return JQN_EMPTY
        if self.op == 0:
            return jqn_add(left, right)
        if self.op == 1:
            return jqn_multiply(left, right)
        r = jqn_cmp(left, right, 0)
        if self.op == 2:
            return r == 0
        if self.op == 3:
            return r != 0
        if self.op == 4:
            return r < 0
        if self.op == 5:
            return r <= 0
        if self.op == 6:
            return r > 0
        return r >= 0


@cython.final
cdef class JqnFormat(JqnNode):
    """String interpolation: literal text and `x | tostring` pieces, concatenated."""
    cdef tuple parts       # str or JqnNode

    cdef object eval(self, object v, list env):
        cdef int state = 0
        cdef list pieces = []
        for part in self.parts:
            if type(part) is str:
                pieces.append(part)
            else:
                pieces.append(jqn_operand(<JqnNode>part, v, env, &state))
        if state and jqn_settle(state):
            return JQN_EMPTY
        text = "".join([p if type(p) is str else jqn_tostring(p) for p in pieces])
        jqn_charge(len(<str>text) >> 4)
        return text


@cython.final
cdef class JqnArray(JqnNode):
    """[a, b, ...]: results in order; an item with no result adds nothing."""
    cdef tuple items

    cdef object eval(self, object v, list env):
        cdef list out = []
        cdef JqnNode item
        for item in self.items:
            result = item.eval(v, env)
            if result is not JQN_EMPTY:
                out.append(result)
        return out


@cython.final
cdef class JqnObject(JqnNode):
    """{k: v, ...}: insertion order, a later duplicate key overwrites in place."""
    cdef tuple keys        # str (constant) or JqnNode
    cdef tuple values      # JqnNode

    cdef object eval(self, object v, list env):
        cdef int state = 0
        cdef dict out = {}
        cdef Py_ssize_t i
        cdef Py_ssize_t n = len(self.keys)
        for i in range(n):
            key = self.keys[i]
            if type(key) is not str:
                key = jqn_operand(<JqnNode>key, v, env, &state)
                if key is not JQN_EMPTY and type(key) is not str:
                    state |= 2          # Object keys must be strings
            value = jqn_operand(<JqnNode>self.values[i], v, env, &state)
            if not state:
                out[key] = value
        if state and jqn_settle(state):
            return JQN_EMPTY
        return out


@cython.final
cdef class JqnIf(JqnNode):
    cdef JqnNode cond
    cdef JqnNode then
    cdef JqnNode otherwise

    cdef object eval(self, object v, list env):
        c = self.cond.eval(v, env)
        if c is JQN_EMPTY:
            return c
        if jqn_truthy(c):
            return self.then.eval(v, env)
        return self.otherwise.eval(v, env)


@cython.final
cdef class JqnVar(JqnNode):
    cdef Py_ssize_t slot

    cdef object eval(self, object v, list env):
        return env[self.slot]


@cython.final
cdef class JqnBind(JqnNode):
    """src as $x | body"""
    cdef JqnNode src
    cdef Py_ssize_t slot
    cdef JqnNode body

    cdef object eval(self, object v, list env):
        bound = self.src.eval(v, env)
        if bound is JQN_EMPTY:
            return bound
        env[self.slot] = bound
        return self.body.eval(v, env)


cdef enum:
    B_NOT
    B_TYPE
    B_LENGTH
    B_TOSTRING
    B_TONUMBER
    B_KEYS
    B_KEYS_UNSORTED
    B_DOWNCASE
    B_UPCASE
    B_TO_ENTRIES
    B_FROM_ENTRIES
    B_EMPTY

_JQN_BUILTINS = {"not": B_NOT, "type": B_TYPE, "length": B_LENGTH, "tostring": B_TOSTRING,
                 "tonumber": B_TONUMBER, "keys": B_KEYS, "keys_unsorted": B_KEYS_UNSORTED,
                 "ascii_downcase": B_DOWNCASE, "ascii_upcase": B_UPCASE,
                 "to_entries": B_TO_ENTRIES, "from_entries": B_FROM_ENTRIES, "empty": B_EMPTY}


@cython.final
cdef class JqnBuiltin(JqnNode):
    """A 0-arity builtin applied to the input."""
    cdef int which

    cdef object eval(self, object v, list env):
        cdef int w = self.which
        if w == B_NOT:
            return not jqn_truthy(v)
        if w == B_TYPE:
            return JQN_TYPE_NAMES[jqn_kind(v)]
        if w == B_LENGTH:
            return jqn_length(v)
        if w == B_TOSTRING:
            return jqn_tostring(v)
        if w == B_TONUMBER:
            return jqn_tonumber(v)
        if w == B_KEYS:
            return jqn_keys(v, True)
        if w == B_KEYS_UNSORTED:
            return jqn_keys(v, False)
        if w == B_DOWNCASE:
            return jqn_ascii_case(v, True)
        if w == B_UPCASE:
            return jqn_ascii_case(v, False)
        if w == B_TO_ENTRIES:
            return jqn_to_entries(v)
        if w == B_FROM_ENTRIES:
            return jqn_from_entries(v)
        return JQN_EMPTY


@cython.final
cdef class JqnHas(JqnNode):
    cdef JqnNode arg

    cdef object eval(self, object v, list env):
        key = self.arg.eval(v, env)
        if key is JQN_EMPTY:
            return key
        return jqn_has(v, key)


@cython.final
cdef class JqnSelect(JqnNode):
    cdef JqnNode cond

    cdef object eval(self, object v, list env):
        c = self.cond.eval(v, env)
        if c is JQN_EMPTY or not jqn_truthy(c):
            return JQN_EMPTY
        return v


cdef list jqn_map(JqnNode f, object items, list env):
    cdef list out = []
    for item in items:
        jqn_charge(1)
        result = f.eval(item, env)
        if result is not JQN_EMPTY:
            out.append(result)
    return out


@cython.final
cdef class JqnMap(JqnNode):
    """map(f) = [.[] | f]"""
    cdef JqnNode f

    cdef object eval(self, object v, list env):
        return jqn_map(self.f, jqn_iterate(v), env)


@cython.final
cdef class JqnWithEntries(JqnNode):
    """with_entries(f) = to_entries | map(f) | from_entries"""
    cdef JqnNode f

    cdef object eval(self, object v, list env):
        return jqn_from_entries(jqn_map(self.f, jqn_to_entries(v), env))


@cython.final
cdef class JqnSetField(JqnNode):
    """.key = rhs (jq's _assign: rhs on `.` first, then setpath)"""
    cdef str key
    cdef JqnNode rhs

    cdef object eval(self, object v, list env):
        cdef dict out
        value = self.rhs.eval(v, env)
        if value is JQN_EMPTY:
            return value
        if v is None:
            return {self.key: value}
        if type(v) is not dict:
            raise JqnError()
        out = PyDict_Copy(v)
        out[self.key] = value
        return out


@cython.final
cdef class JqnUpdateField(JqnNode):
    """.key |= f (jq 1.8's _modify: f's first result replaces .key; no result deletes it)"""
    cdef str key
    cdef JqnNode f

    cdef object eval(self, object v, list env):
        cdef dict out
        if v is not None and type(v) is not dict:
            raise JqnError()
        current = None if v is None else (<dict>v).get(self.key)
        value = self.f.eval(current, env)
        if value is JQN_EMPTY:
            if v is None or self.key not in <dict>v:
                return v
            out = PyDict_Copy(v)
            del out[self.key]
            return out
        if v is None:
            return {self.key: value}
        out = PyDict_Copy(v)
        out[self.key] = value
        return out


_JQN_BINARY_OPS = {"add": 0, "mul": 1, "==": 2, "!=": 3, "<": 4, "<=": 5, ">": 6, ">=": 7}


cdef JqnNode jqn_build(tuple d):
    """An evaluator node from a description made by compiler/jq_native.py."""
    kind = d[0]
    cdef JqnConst c
    cdef JqnIndex ix
    cdef JqnTry t
    cdef JqnPipe p
    cdef JqnAlt alt
    cdef JqnLogic lg
    cdef JqnBinary bn
    cdef JqnFormat f
    cdef JqnArray a
    cdef JqnObject o
    cdef JqnIf i
    cdef JqnVar var
    cdef JqnBind b
    cdef JqnBuiltin bi
    cdef JqnHas h
    cdef JqnSelect sel
    cdef JqnMap m
    cdef JqnWithEntries w
    cdef JqnSetField sf
    cdef JqnUpdateField uf
    if kind == "identity":
        return JqnIdentity()
    if kind == "const":
        c = JqnConst()
        c.value = d[1]
        return c
    if kind == "index":
        ix = JqnIndex()
        ix.src = None if d[1] == ("identity",) else jqn_build(d[1])
        # Interned, so a lookup in a dict whose keys are interned too ends at the identity test.
        ix.key = sys.intern(d[2]) if type(d[2]) is str else d[2]
        ix.optional = d[3]
        if type(ix.key) is not str and type(ix.key) is not int:
            raise ValueError("bad index key %r" % (ix.key,))
        return ix
    if kind == "try":
        t = JqnTry()
        t.body = jqn_build(d[1])
        return t
    if kind == "pipe":
        p = JqnPipe()
        p.a = jqn_build(d[1])
        p.b = jqn_build(d[2])
        return p
    if kind == "alt":
        alt = JqnAlt()
        alt.a = jqn_build(d[1])
        alt.b = jqn_build(d[2])
        return alt
    if kind == "and" or kind == "or":
        lg = JqnLogic()
        lg.a = jqn_build(d[1])
        lg.b = jqn_build(d[2])
        lg.is_and = kind == "and"
        return lg
    if kind == "add" or kind == "mul" or kind == "cmp":
        bn = JqnBinary()
        if kind == "cmp":
            bn.op = _JQN_BINARY_OPS[d[1]]
            bn.a = jqn_build(d[2])
            bn.b = jqn_build(d[3])
        else:
            bn.op = _JQN_BINARY_OPS[kind]
            bn.a = jqn_build(d[1])
            bn.b = jqn_build(d[2])
        return bn
    if kind == "format":
        f = JqnFormat()
        f.parts = tuple([part if type(part) is str else jqn_build(part) for part in d[1]])
        return f
    if kind == "array":
        a = JqnArray()
        a.items = tuple([jqn_build(item) for item in d[1]])
        return a
    if kind == "object":
        o = JqnObject()
        o.keys = tuple([k[1] if k[0] == "const" and type(k[1]) is str else jqn_build(k)
                        for k, _ in d[1]])
        o.values = tuple([jqn_build(v) for _, v in d[1]])
        return o
    if kind == "if":
        i = JqnIf()
        i.cond = jqn_build(d[1])
        i.then = jqn_build(d[2])
        i.otherwise = jqn_build(d[3])
        return i
    if kind == "var":
        var = JqnVar()
        var.slot = d[1]
        return var
    if kind == "bind":
        b = JqnBind()
        b.src = jqn_build(d[1])
        b.slot = d[2]
        b.body = jqn_build(d[3])
        return b
    if kind == "builtin":
        bi = JqnBuiltin()
        bi.which = _JQN_BUILTINS[d[1]]
        return bi
    if kind == "has":
        h = JqnHas()
        h.arg = jqn_build(d[1])
        return h
    if kind == "select":
        sel = JqnSelect()
        sel.cond = jqn_build(d[1])
        return sel
    if kind == "map":
        m = JqnMap()
        m.f = jqn_build(d[1])
        return m
    if kind == "with_entries":
        w = JqnWithEntries()
        w.f = jqn_build(d[1])
        return w
    if kind == "setfield":
        sf = JqnSetField()
        sf.key = d[1]
        sf.rhs = jqn_build(d[2])
        return sf
    if kind == "updatefield":
        uf = JqnUpdateField()
        uf.key = d[1]
        uf.f = jqn_build(d[2])
        return uf
    raise ValueError("unknown native jq node %r" % (kind,))


# ---------------------------------------------------------------------------------------------
# The runner

@cython.final
cdef class NativeJq:
    """A jq program run by the native evaluator, with its libjq compilation as the exact
    fallback (see this file's header). Same interface as JqProgram."""

    cdef readonly JqProgram fallback
    cdef readonly str source
    cdef readonly tuple description
    cdef readonly Py_ssize_t slots
    cdef readonly Py_ssize_t native_runs
    cdef readonly Py_ssize_t fallback_runs
    cdef JqnNode root

    def __init__(self, JqProgram fallback not None, tuple description not None,
                 Py_ssize_t slots=0):
        self.fallback = fallback
        self.source = fallback.source
        self.description = description
        self.slots = slots
        self.root = jqn_build(description)

    def __repr__(self):
        return "NativeJq(%r)" % self.source

    def __reduce__(self):
        return (NativeJq, (self.fallback, self.description, self.slots))

    cdef object _native(self, object value):
        """The native result (JQN_EMPTY for none), or raise JqnError / JqnBail."""
        global jqn_work_left
        cdef list env = None
        if not jqn_canonical(value):
            raise JqnBail()
        jqn_work_left = <long long>self.fallback.c_step_budget()
        if self.slots:
            env = [None] * self.slots
        return self.root.eval(value, env)

    cdef object c_run_one(self, object value):
        """run_one for Cython callers: the native result, or libjq's for the same call."""
        try:
            result = self._native(value)
        except (JqnError, JqnBail):
            self.fallback_runs += 1
            return self.fallback.c_run_one(value)
        self.native_runs += 1
        if result is JQN_EMPTY:
            return None
        return result

    cpdef object run_one(self, object value):
        """As JqProgram.run_one (DataKit rule D1)."""
        return self.c_run_one(value)

    def run_all(self, value):
        """Every result, in order (at most one for a native program)."""
        try:
            result = self._native(value)
        except (JqnError, JqnBail):
            self.fallback_runs += 1
            return self.fallback.run_all(value)
        self.native_runs += 1
        return [] if result is JQN_EMPTY else [result]

    def run_native(self, value):
        """For tests: ("ok", result) / ("empty", None) from the native evaluator alone,
        ("error", None) for a jq error it would hand to libjq, ("bail", None) when it cannot
        answer exactly (libjq would run)."""
        try:
            result = self._native(value)
        except JqnError:
            return ("error", None)
        except JqnBail:
            return ("bail", None)
        if result is JQN_EMPTY:
            return ("empty", None)
        return ("ok", result)
