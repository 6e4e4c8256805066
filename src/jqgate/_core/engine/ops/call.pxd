# Declarations of engine/ops/call.pyx: what the rest of the core uses from it (via core.pxd).

cdef tuple ops_parse_url(object url)

# what a call's header name means to the exchange (_ops_header_role)
cdef enum:
    _OPS_OTHER = 0
    _OPS_HOST = 1
    _OPS_CONTENT_TYPE = 2
    _OPS_FRAMING = 3

cdef int _ops_header_role(str k) except -1

# A compiled plan module's prebuilt request head of one call node (ops_call_prebuild)
cdef class _OpsCallHead:
    cdef bytes host_line            # b"Host: <the URL's host>\r\n"
    cdef bint headers_static        # the headers input is a static value (or not fed) ...
    cdef object headers_value       # ... this one, the same object per request
    cdef bytes header_lines         # its entries serialised (no framing, no null), or None
                                    # when they cannot go on the wire (the generic op fails)
    cdef bint ct_given, form, host_given
    cdef bint body_static           # the body input is a static value (or not fed) ...
    cdef object body_value          # ... this one
    cdef tuple body_encoded         # (data, Content-Type line or None) by ct_given*2 + form,
                                    # an entry None where encoding it fails (the generic op)

# A compiled plan module's reader of one call's JSON answer (ops_call_read_answers_with)
cdef class CallAnswerReader:
    cdef object read(self, bytes body)

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
    # installed by a compiled plan module (None: the generic exchange and decode)
    cdef _OpsCallHead head
    cdef CallAnswerReader answer_reader

cdef _OpsCallTemplate ops_call_template(p, CompiledOp op)
cdef ClientExchange ops_call_exchange(CompiledOp op, dict fields)
cdef int ops_call_prebuild(CompiledOp op, dict static_inputs) except -1
cdef int ops_call_read_answers_with(CompiledOp op, CallAnswerReader reader) except -1
cdef tuple ops_call_read_answer(CompiledOp op, ClientExchange ex)
cdef object ops_call_body_value(bytes body)
cdef str ops_exchange_url(ClientExchange ex)
cdef tuple ops_call_fields(object status, list headers, object body, tuple wanted=*)
cdef tuple ops_call_fields_of(ClientExchange ex, tuple wanted=*)
cdef tuple _ops_call_fields(object status, object hmap, object ct, object body, tuple wanted)
cdef object ops_call_field(tuple fields, str name)
cdef dict ops_call_output_dict(tuple fields)
cdef tuple ops_call_outputs(object status, list headers, object body, tuple wanted=*)


cdef inline tuple ops_call_answer(CompiledOp op, ClientExchange ex, bint tracing):
    """ops_call_fields of a finished exchange, for the fields some op reads (all when tracing),
    through a compiled plan module's reader of its answers when one is installed. Inline: the
    generic path pays one pointer test for it."""
    cdef tuple fields
    if not tracing and (<_OpsCallTemplate>op.call_template).answer_reader is not None:
        fields = ops_call_read_answer(op, ex)
        if fields is not None:
            return fields
    return ops_call_fields_of(ex, None if tracing else op.call_wanted)
