# Declarations of jq/native_ops.pyx: what the rest of the core uses from it (via core.pxd).

cdef object jqn_add(object a, object b)
cdef dict jqn_merge(dict a, dict b, int depth)
cdef object jqn_multiply(object a, object b)
cdef int jqn_cmp(object a, object b, int depth) except -2
cdef object jqn_index(object value, object key)
cdef object jqn_length(object value)
cdef int jqn_dump(object value, list out, int depth) except -1
cdef str jqn_tostring(object value)
cdef object jqn_tonumber(object value)
cdef object jqn_ascii_case(object value, bint lower)
cdef object jqn_keys(object value, bint sort)
cdef object jqn_has(object value, object key)
cdef list jqn_to_entries(object value)
cdef object jqn_iterate(object value)
cdef object jqn_from_entries(object value)
