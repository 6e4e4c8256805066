# Declarations of jq/native_values.pyx: what the rest of the core uses from it (via core.pxd).

# jq kinds in jq's sort order (jv_kind).
cdef enum:
    K_NULL = 1
    K_FALSE = 2
    K_TRUE = 3
    K_NUMBER = 4
    K_STRING = 5
    K_ARRAY = 6
    K_OBJECT = 7

cdef bint jqn_wide_str_ok(str text)
cdef bint jqn_str_ok(str text)
cdef bint jqn_small_int(object number)
cdef bint jqn_big_int_ok(object number)

cdef enum:
    JQN_OUTSIDE = 0     # not in the native domain: the call goes to libjq
    JQN_SCALAR = 1      # a canonical scalar
    JQN_CONTAINER = 2   # a list or dict: walk it

cdef int jqn_scalar_state(object value) except -1
cdef bint jqn_canonical_container(object value, int depth) except -1
cdef bint jqn_canonical(object value) except -1
cdef int jqn_kind(object value)
cdef bint jqn_truthy(object value)
cdef double jqn_double(object number) except? -1.0
cdef object jqn_number(double d)
