# Declarations of engine/values.pyx: what the rest of the core uses from it (via core.pxd).

# the plan's CONV_* and PROP_* codes, generated from jqgate/plan.py
include "plan_codes.pxi"

cdef class BadJson:
    cdef readonly str what
    cdef readonly str error

    cpdef str text(self)

cdef str values_to_str(object x)
cdef bytes values_to_wire(str s)
cdef str values_number_text(object n)
cdef str values_scalar_text(object v)
cdef str values_type_name(object v)
cdef bint values_is_json_ct(object ct)
cdef bint values_is_form_ct(object ct)
cdef str values_body_text(bytes body)
cdef bint values_blank(bytes body) noexcept
cdef object values_decode_json(bytes body, str what)
cdef dict values_response_header_map(list pairs)
cdef object values_content_type(object pairs)
cdef object values_header_get(object pairs, str lname)
cdef list values_header_entries(str name, object value)
cdef bint values_patch_has(object patch, str lname)
cdef object values_patch_get(object patch, str lname)
cdef extern from "url_decode.h":
    size_t jqg_percent_decode(const char *src, size_t length, char *dst, int plus_is_space) nogil

cdef str values_unquote_plus(str text)
cdef tuple values_encode_body(object body, bint ct_given, bint form)
cdef object values_check_map(object v, str what)
cdef str _conv_what(str port, str source)
cdef object values_convert(object value, int conv, str port, str source)
