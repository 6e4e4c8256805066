# Declarations of engine/ops/call.pyx: what the rest of the core uses from it (via core.pxd).

cdef tuple ops_parse_url(object url)
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

cdef _OpsCallTemplate ops_call_template(p)
cdef ClientExchange ops_call_exchange(CompiledOp op, dict fields)
cdef str ops_exchange_url(ClientExchange ex)
cdef tuple ops_call_outputs(object status, list headers, object body, tuple wanted=*)
