# The native jq evaluator's operations, as jq 1.8 defines them (binop_plus, binop_multiply,
# jv_cmp, jv_keys, ...): each answers exactly or bails to libjq (see jq/native.pyx's header).

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
