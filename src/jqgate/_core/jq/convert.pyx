# Values between Python and libjq, converted in C with no JSON text between (the bridge's
# JqProgram runs on them: jq/bridge.pyx).
#
# Values, Python -> jq (as if the value were written by json.dumps and read by jq 1.8):
#   None, bool, int, float, str, list, tuple, dict with str keys. Any other type, or a non-str
#   key, raises TypeError. Integers within +-2**53 become doubles; larger ones carry their exact
#   decimal text (jq's number literals). Finite floats carry float.__repr__ text too, so
#   `tostring`/`tojson` render them as jq renders the JSON text json.dumps writes; NaN and
#   infinities are plain doubles. Strings are UTF-8. A str holding surrogate code points (not
#   valid Unicode text) is repaired rather than refused: a high+low pair becomes the character it
#   encodes and each lone surrogate becomes U+FFFD, as jq treats invalid UTF-8 in its input
#   (the PyPI binding fails there with jq's "Invalid \uXXXX\uXXXX surrogate pair escape").
# Values, jq -> Python (as the PyPI `jq` binding returns them):
#   NaN -> None; +-infinity -> +-1.7976931348623157e+308 (float); a number carrying an integer
#   literal beyond 2**53 -> that exact int (the PyPI binding rounds it through a double; this is
#   the one deliberate difference); any other integral number -> int, else float.
# Nesting deeper than JQB_MAX_DEPTH levels either way raises JqRuntimeError (no crash).

# ---------------------------------------------------------------------------------------------
# Python -> jv

cdef int jqb_str_to_jv(object text, jv* out) except -1:
    cdef Py_ssize_t size
    cdef const char* data = jqb_utf8_and_size(text, &size)
    if data == NULL:
        if not PyErr_ExceptionMatches(UnicodeEncodeError):
            return -1  # MemoryError and the like: already set, propagate it
        PyErr_Clear()
        # Surrogate code points: pairs join into their character, lone ones become U+FFFD (see
        # the file header). Rare, so the slow path is plain Python.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        data = jqb_utf8_and_size(text, &size)
        if data == NULL:
            return -1
    if size > INT_MAX:
        raise ValueError("string of %d bytes is too long for jq" % size)
    # jv_string_sized validates the bytes again (CPython's UTF-8 is already valid); libjq has no
    # public constructor that skips that pass.
    out[0] = jv_string_sized(data, <int>size)
    return 0


cdef int jqb_int_to_jv(object number, jv* out) except -1:
    cdef int overflow = 0
    cdef long long small = PyLong_AsLongLongAndOverflow(number, &overflow)
    if overflow == 0 and -9007199254740992 <= small <= 9007199254740992:
        out[0] = jv_number(<double>small)
        return 0
    # int.__repr__, not str(): an int subclass may override __str__, json.dumps ignores that.
    cdef bytes digits = int.__repr__(number).encode("ascii")
    out[0] = jv_number_with_literal(digits)
    if jv_get_kind(out[0]) == JV_KIND_INVALID:
        raise OverflowError("integer with %d digits is too large for jq" % len(digits))
    return 0


cdef int jqb_float_to_jv(double number, jv* out) except -1:
    if isnan(number) or isinf(number):
        out[0] = jv_number(number)
        return 0
    cdef char* text = PyOS_double_to_string(number, b'r', 0, Py_DTSF_ADD_DOT_0, NULL)
    out[0] = jv_number_with_literal(text)
    PyMem_Free(text)
    if jv_get_kind(out[0]) == JV_KIND_INVALID:
        out[0] = jv_number(number)
    return 0


cdef int jqb_dict_to_jv(object mapping, jv* out, int depth) except -1:
    cdef jv obj = jv_object()
    cdef jv key
    cdef jv item
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    try:
        if type(mapping) is dict:
            while PyDict_Next(mapping, &pos, &k, &v):
                jqb_key_to_jv(<object>k, &key)
                try:
                    jqb_from_py(<object>v, &item, depth)
                except BaseException:
                    jv_free(key)
                    raise
                obj = jv_object_set(obj, key, item)
        else:
            # dict subclasses (OrderedDict...) may order items differently from their storage.
            for pk, pv in mapping.items():
                jqb_key_to_jv(pk, &key)
                try:
                    jqb_from_py(pv, &item, depth)
                except BaseException:
                    jv_free(key)
                    raise
                obj = jv_object_set(obj, key, item)
    except BaseException:
        jv_free(obj)
        raise
    out[0] = obj
    return 0


cdef int jqb_key_to_jv(object key, jv* out) except -1:
    if not isinstance(key, str):
        raise TypeError("jq object keys must be str, not %s (%r)" % (type(key).__name__, key))
    return jqb_str_to_jv(key, out)


# Bounds stay checked here: converting an item can run Python code (a dict subclass's items())
# that shrinks the list being read.
@cython.boundscheck(True)
cdef int jqb_sequence_to_jv(object sequence, jv* out, int depth) except -1:
    cdef Py_ssize_t count = len(sequence)
    cdef Py_ssize_t i
    cdef jv arr = jv_array_sized(<int>count if count > 0 else 1)
    cdef jv item
    try:
        for i in range(count):
            jqb_from_py(sequence[i], &item, depth)
            arr = jv_array_set(arr, <int>i, item)
    except BaseException:
        jv_free(arr)
        raise
    out[0] = arr
    return 0


cdef int jqb_from_py(object value, jv* out, int depth) except -1:
    """Store in *out a new jv equal to value; `depth` counts the containers around value."""
    if isinstance(value, str):
        return jqb_str_to_jv(value, out)
    if value is None:
        out[0] = jv_null()
        return 0
    if value is True:
        out[0] = jv_true()
        return 0
    if value is False:
        out[0] = jv_false()
        return 0
    if isinstance(value, int):
        return jqb_int_to_jv(value, out)
    if isinstance(value, float):
        return jqb_float_to_jv(PyFloat_AS_DOUBLE(value), out)
    if depth >= JQB_MAX_DEPTH:
        raise JqRuntimeError("value is nested deeper than %d levels" % JQB_MAX_DEPTH)
    if isinstance(value, dict):
        return jqb_dict_to_jv(value, out, depth + 1)
    if isinstance(value, (list, tuple)):
        return jqb_sequence_to_jv(value, out, depth + 1)
    raise TypeError("cannot convert %s to a jq value" % type(value).__name__)


# ---------------------------------------------------------------------------------------------
# jv -> Python

cdef inline str jqb_str_from_jv(jv text):
    """The Python str of a jv string; does not consume it."""
    return PyUnicode_DecodeUTF8(<char*>jv_string_value(text),
                                jv_string_length_bytes(jv_copy(text)), NULL)


cdef bint jqb_is_integer_literal(const char* literal) noexcept:
    """True when a jq number literal is digits with an optional minus: no point, no exponent."""
    if literal[0] == b'-':
        literal += 1
    if literal[0] == 0:
        return False
    while literal[0] != 0:
        if literal[0] < b'0' or literal[0] > b'9':
            return False
        literal += 1
    return True


cdef object jqb_number_from_jv(jv number):
    """Does not consume number."""
    cdef double value = jv_number_value(number)
    cdef double whole
    cdef const char* literal
    if fabs(value) >= JQB_EXACT_INT_LIMIT and jv_number_has_literal(number):
        literal = jv_number_get_literal(number)
        if literal != NULL and jqb_is_integer_literal(literal):
            return PyLong_FromString(<char*>literal, NULL, 10)
    if isnan(value):
        return None
    if isinf(value):
        return DBL_MAX if value > 0 else -DBL_MAX
    if modf(value, &whole) == 0:
        return PyLong_FromDouble(value)
    return value


cdef object jqb_to_py(jv value, int depth):
    """Consume value and return it as a Python object; `depth` counts the containers around it."""
    cdef jv_kind kind = jv_get_kind(value)
    if kind == JV_KIND_STRING:
        try:
            return jqb_str_from_jv(value)
        finally:
            jv_free(value)
    if kind == JV_KIND_NUMBER:
        try:
            return jqb_number_from_jv(value)
        finally:
            jv_free(value)
    if kind == JV_KIND_NULL:
        return None
    if kind == JV_KIND_TRUE:
        return True
    if kind == JV_KIND_FALSE:
        return False
    if kind == JV_KIND_OBJECT or kind == JV_KIND_ARRAY:
        try:
            if depth >= JQB_MAX_DEPTH:
                raise JqRuntimeError("result is nested deeper than %d levels" % JQB_MAX_DEPTH)
            if kind == JV_KIND_OBJECT:
                return jqb_object_to_py(value, depth + 1)
            return jqb_array_to_py(value, depth + 1)
        finally:
            jv_free(value)
    jv_free(value)
    raise JqRuntimeError("jq produced an invalid value")


cdef dict jqb_object_to_py(jv obj, int depth):
    """Does not consume obj."""
    cdef dict result = {}
    cdef int it = jv_object_iter(obj)
    cdef jv key
    while jv_object_iter_valid(obj, it):
        key = jv_object_iter_key(obj, it)
        try:
            py_key = jqb_str_from_jv(key)
        finally:
            jv_free(key)
        result[py_key] = jqb_to_py(jv_object_iter_value(obj, it), depth)
        it = jv_object_iter_next(obj, it)
    return result


cdef list jqb_array_to_py(jv arr, int depth):
    """Does not consume arr."""
    cdef int count = jv_array_length(jv_copy(arr))
    cdef int i
    cdef list result = []
    for i in range(count):
        result.append(jqb_to_py(jv_array_get(jv_copy(arr), i), depth))
    return result
