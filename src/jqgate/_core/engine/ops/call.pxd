# Declarations of engine/ops/call.pyx: what the rest of the core uses from it (via core.pxd).

cdef tuple ops_parse_url(object url)

# what a call's header name means to the exchange (_ops_header_role)
cdef enum:
    _OPS_OTHER = 0
    _OPS_HOST = 1
    _OPS_CONTENT_TYPE = 2
    _OPS_FRAMING = 3

cdef int _ops_header_role(str k) except -1
cdef class _OpsCallTemplate:
    cdef bytes method
    cdef bint idempotent
    cdef double timeout
    cdef bint ssl_verify
    cdef object server_name     # str or None
    cdef bint has_url           # the node's `url` (an input may still replace it)
    cdef str scheme
    cdef str host
    cdef int port
    cdef str path
    cdef bytes target           # path + query of the configured URL, for the request line
    cdef bytes host_header
    cdef long long max_body     # the node's max_response_size; 0: the pool's default
    cdef object ssl_context     # the plugin's ca_certificates as a trust store, or None
    # which optional inputs some binding feeds (the others are never looked up per request)
    cdef bint url_input
    cdef bint query_input
    cdef bint proxy_inputs      # any of http_proxy, https_proxy, proxy_auth_*

cdef _OpsCallTemplate ops_call_template(p, CompiledOp op)
cdef ClientExchange ops_call_exchange(CompiledOp op, dict fields)
cdef str ops_exchange_url(ClientExchange ex)
cdef tuple ops_call_fields(object status, list headers, object body, tuple wanted=*)
cdef tuple ops_call_fields_of(ClientExchange ex, tuple wanted=*)
cdef tuple _ops_call_fields(object status, object hmap, object ct, object body, tuple wanted)
cdef object ops_call_field(tuple fields, str name)
cdef dict ops_call_output_dict(tuple fields)
cdef tuple ops_call_outputs(object status, list headers, object body, tuple wanted=*)
