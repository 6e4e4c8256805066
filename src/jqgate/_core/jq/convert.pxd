# Declarations of jq/convert.pyx: what the rest of the core uses from it (via core.pxd).

cdef int jqb_str_to_jv(object text, jv* out) except -1
cdef int jqb_int_to_jv(object number, jv* out) except -1
cdef int jqb_float_to_jv(double number, jv* out) except -1
cdef int jqb_dict_to_jv(object mapping, jv* out, int depth) except -1
cdef int jqb_key_to_jv(object key, jv* out) except -1
cdef int jqb_sequence_to_jv(object sequence, jv* out, int depth) except -1
cdef int jqb_from_py(object value, jv* out, int depth) except -1
cdef str jqb_str_from_jv(jv text)
cdef bint jqb_is_integer_literal(const char* literal) noexcept
cdef object jqb_number_from_jv(jv number)
cdef object jqb_to_py(jv value, int depth)
cdef dict jqb_object_to_py(jv obj, int depth)
cdef list jqb_array_to_py(jv arr, int depth)
