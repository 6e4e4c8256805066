# The native jq evaluator's nodes: eval(input, env) returns the result, JQN_EMPTY, or raises
# JqnError / JqnBail (see jq/native.pyx's header); jqn_build turns the compiler's description
# into a tree of them.

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

    cdef object eval(self, object v, list env):
        return self.value


@cython.final
cdef class JqnIndex(JqnNode):

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

    cdef object eval(self, object v, list env):
        try:
            return self.body.eval(v, env)
        except JqnError:
            return JQN_EMPTY


@cython.final
cdef class JqnPipe(JqnNode):

    cdef object eval(self, object v, list env):
        v = self.a.eval(v, env)
        if v is JQN_EMPTY:
            return v
        return self.b.eval(v, env)


@cython.final
cdef class JqnAlt(JqnNode):
    """a // b: a's value when truthy, else b. jq 1.8's `//` forks without catching, so an
    error in a is an error (it is not treated as absent)."""

    cdef object eval(self, object v, list env):
        first = self.a.eval(v, env)
        if first is not JQN_EMPTY and jqn_truthy(first):
            return first
        return self.b.eval(v, env)


@cython.final
cdef class JqnLogic(JqnNode):
    """and / or, left to right with short circuit (jq's gen_and / gen_or)."""

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

    cdef object eval(self, object v, list env):
        c = self.cond.eval(v, env)
        if c is JQN_EMPTY:
            return c
        if jqn_truthy(c):
            return self.then.eval(v, env)
        return self.otherwise.eval(v, env)


@cython.final
cdef class JqnVar(JqnNode):

    cdef object eval(self, object v, list env):
        return env[self.slot]


@cython.final
cdef class JqnBind(JqnNode):
    """src as $x | body"""

    cdef object eval(self, object v, list env):
        bound = self.src.eval(v, env)
        if bound is JQN_EMPTY:
            return bound
        env[self.slot] = bound
        return self.body.eval(v, env)


_JQN_BUILTINS = {"not": B_NOT, "type": B_TYPE, "length": B_LENGTH, "tostring": B_TOSTRING,
                 "tonumber": B_TONUMBER, "keys": B_KEYS, "keys_unsorted": B_KEYS_UNSORTED,
                 "ascii_downcase": B_DOWNCASE, "ascii_upcase": B_UPCASE,
                 "to_entries": B_TO_ENTRIES, "from_entries": B_FROM_ENTRIES, "empty": B_EMPTY}


@cython.final
cdef class JqnBuiltin(JqnNode):
    """A 0-arity builtin applied to the input."""

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

    cdef object eval(self, object v, list env):
        key = self.arg.eval(v, env)
        if key is JQN_EMPTY:
            return key
        return jqn_has(v, key)


@cython.final
cdef class JqnSelect(JqnNode):

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

    cdef object eval(self, object v, list env):
        return jqn_map(self.f, jqn_iterate(v), env)


@cython.final
cdef class JqnWithEntries(JqnNode):
    """with_entries(f) = to_entries | map(f) | from_entries"""

    cdef object eval(self, object v, list env):
        return jqn_from_entries(jqn_map(self.f, jqn_to_entries(v), env))


@cython.final
cdef class JqnSetField(JqnNode):
    """.key = rhs (jq's _assign: rhs on `.` first, then setpath)"""

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
