# Declarations of engine/ops/implicit.pyx: what the rest of the core uses from it (via core.pxd).

cdef object ops_http_version_number(object v)
cdef object ops_request_body(RequestView req)
cdef object ops_request_field(RequestView req, str field)
cdef object ops_request_object(RequestView req)
cdef object ops_service_response_field(object status, list headers, object body, str field)
cdef object ops_service_response_object(object status, list headers, object body)
cdef class SinkPatch:
    cdef public object headers
    cdef public object body
    cdef public object body_ct
    cdef public object query

    cpdef list apply(self, pairs)
    cdef inline bint is_empty(self)

cdef SinkPatch ops_sink_patch(dict fields, bint with_query)
