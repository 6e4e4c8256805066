# The native jq evaluator's values (jq/native.pyx's header says which values are canonical):
# which inputs are canonical, a value's jq kind and truthiness, and the int/double number model.

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
