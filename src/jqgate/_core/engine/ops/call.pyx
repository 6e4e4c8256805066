# The `call` node (datakit.md §5.1, D4, D5, D13): building the outbound exchange from the
# node's parameters and inputs, and turning the pool's answer into outputs or a failure.
# The executor owns dispatch, resumption and cancellation (engine/executor.pyx).

from jqgate.nodes.call import proxy as _call_proxy
from jqgate.nodes.call import tls as _call_tls
from jqgate.nodes.call.url import UnsafeUrl as _UnsafeUrl
from jqgate.nodes.call.url import split_safe_url as _split_safe_url

_PROXY_INPUTS = ("http_proxy", "https_proxy", "proxy_auth_username", "proxy_auth_password")
_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"))
cdef tuple ops_parse_url(object url):
    """A runtime `url` input -> (scheme, host, port, path, query, host_header), made safe for
    the request line (jqgate.nodes.call.url); invalid or unsafe -> node failure."""
    if type(url) is not str:
        raise EngineNodeError('input "url": expected a string, got %s' % values_type_name(url))
    try:
        return _split_safe_url(url)
    except _UnsafeUrl as e:
        raise EngineNodeError('input "url": %s' % e) from None


cdef class _OpsCallTemplate:
    """What a call node sends on every request regardless of its inputs, converted from the
    plan's CallParams when the plan is compiled (wire bytes, C fields)."""


cdef _OpsCallTemplate ops_call_template(p, CompiledOp op):
    """The template of a call node's CallParams (jqgate.plan), made when the plan is compiled.
    `op` tells which input fields can reach the node at all: a field no binding feeds is never
    looked up per request (five dict lookups of every call were for inputs no plan connected)."""
    cdef _OpsCallTemplate t = _OpsCallTemplate()
    cdef set fed = set()
    cdef CompiledBinding b
    for b in op.inputs:
        if b.port:
            fed.add(b.port)
        elif op.obj_fields is not None:
            fed.update(op.obj_fields)       # $self is spread into these fields
    t.url_input = "url" in fed
    t.query_input = "query" in fed
    t.proxy_inputs = not fed.isdisjoint(_PROXY_INPUTS)
    t.method = p.method.encode()
    t.idempotent = p.method in _IDEMPOTENT
    t.timeout = p.timeout
    t.ssl_verify = p.ssl_verify
    t.server_name = p.ssl_server_name
    t.max_body = p.max_response_size
    t.ssl_context = getattr(p, "ssl_context", None)
    url = p.url
    t.has_url = url is not None
    if url is not None:
        t.scheme = url.scheme
        t.host = url.host
        t.port = url.port
        t.path = url.path
        t.target = values_to_wire(url.target)
        t.host_header = values_to_wire(url.host_header)
    return t


cdef ClientExchange ops_call_exchange(CompiledOp op, dict fields):
    """-> a filled exchange (request fields only). Raises EngineNodeError."""
    cdef _OpsCallTemplate t = <_OpsCallTemplate>op.call_template
    cdef list out
    cdef str k
    cdef bytes target
    cdef bytes host_header
    cdef bint proxied = False
    cdef int role
    cdef bint ct_seen = False, ct_given = False, host_given = False
    ct_first = None
    if t.proxy_inputs:
        for k in _PROXY_INPUTS:
            if fields.get(k) is not None:
                proxied = True
                break
    url_in = fields.get("url") if t.url_input else None
    if url_in is not None:
        scheme, host, port, path, query, hh = ops_parse_url(url_in)
        target = values_to_wire(path + ("?" + query if query else ""))
        host_header = values_to_wire(hh)
    elif t.has_url:
        scheme, host, port, path = t.scheme, t.host, t.port, t.path
        target = t.target
        host_header = t.host_header
    else:
        raise EngineNodeError("no URL: neither the url field nor the url input gives one")
    if t.query_input:
        q = values_check_map(fields.get("query"), 'input "query"')
        if q is not None:           # D5: a connected, non-null query replaces the URL's own
            qs = values_encode_query(q)
            target = values_to_wire(path + ("?" + qs if qs else ""))
    headers = values_check_map(fields.get("headers"), 'input "headers"')
    body = fields.get("body")
    if headers:
        # One pass for what the body encoding and the Host field depend on: the first
        # Content-Type entry (even a null one) decides a form body, a non-null one means the
        # flow gives its own; a non-null Host replaces the URL's.
        for k, v in (<dict>headers).items():
            role = _ops_header_role(k)
            if role == _OPS_CONTENT_TYPE:
                if not ct_seen:
                    ct_seen = True
                    ct_first = v
                if v is not None:
                    ct_given = True
            elif role == _OPS_HOST and v is not None:
                host_given = True
    form = values_is_form_ct(ct_first)
    data, ct = values_encode_body(body, ct_given, form)
    out = []
    if not host_given:
        out.append((b"Host", host_header))
    if headers:
        for k, v in (<dict>headers).items():
            if _ops_header_role(k) == _OPS_FRAMING:
                continue
            for n, s in values_header_entries(k, v):
                out.append((values_to_wire(n), values_to_wire(s)))
    if ct is not None:
        out.append((b"Content-Type", (<str>ct).encode()))
    # Content-Length: the pool writes it from the body
    cdef ClientExchange ex = ClientExchange.__new__(ClientExchange)  # client/pool.pyx
    ex.scheme = scheme
    ex.host = host
    ex.port = port
    ex.method = t.method
    ex.target = target
    ex._headers = out
    ex.body = data
    ex.timeout = t.timeout
    ex.ssl_verify = t.ssl_verify
    ex.server_hostname = t.server_name or host
    ex.idempotent = t.idempotent
    ex.max_body = t.max_body        # 0: the executor applies the pool's default
    ex.error = ""
    if scheme == "https":
        if not t.ssl_verify:
            _ops_tls_check(host)
        ex.ssl_context = t.ssl_context
    if proxied:
        _ops_forward_proxy(ex, fields, scheme, host, port)
    return ex


cdef int _ops_header_role(str k) except -1:
    """What a call's header name means to the exchange: Host, Content-Type, a framing field
    (values_is_framing: the pool writes those), or anything else -- one look at the name."""
    cdef Py_ssize_t n = len(k)
    if n == 4 and values_name_is(k, "host"):
        return _OPS_HOST
    if n == 12 and values_name_is(k, "content-type"):
        return _OPS_CONTENT_TYPE
    if values_is_framing(k):
        return _OPS_FRAMING
    if not _values_str_is_ascii(k):
        # a non-ASCII name may lower-case to an ASCII one of another length (the Kelvin sign)
        if values_name_is(k, "host"):
            return _OPS_HOST
        if values_name_is(k, "content-type"):
            return _OPS_CONTENT_TYPE
    return _OPS_OTHER


cdef void _ops_tls_check(str host) except *:
    """ssl_verify false under the gateway's tls_certificate_verify: the call is blocked."""
    try:
        _call_tls.check_unverified(host)
    except _call_tls.UnverifiedBlocked as e:
        raise EngineNodeError(str(e)) from None


cdef void _ops_forward_proxy(ClientExchange ex, dict fields, str scheme, str host,
                             int port) except *:
    """The http_proxy / https_proxy / proxy_auth_* inputs (jqgate.nodes.call.proxy)."""
    try:
        proxy = _call_proxy.forward_proxy(fields, scheme)
    except _call_proxy.ProxyInputError as e:
        raise EngineNodeError(str(e)) from None
    if proxy is None:
        return
    if proxy.tunnel:
        ex.tunnel = proxy
        return
    ex.target = _call_proxy.absolute_target(scheme, host, port, ex.target)
    ex.host = proxy.host
    ex.port = proxy.port
    if proxy.authorization is not None:
        ex._headers.append((b"Proxy-Authorization", proxy.authorization))


cdef str ops_exchange_url(ClientExchange ex):
    """For the trace's dispatch event."""
    return "%s://%s:%d%s" % (ex.scheme, ex.host, ex.port, values_to_str(ex.target))


cdef tuple ops_call_fields(object status, list headers, object body, tuple wanted=None):
    """-> (status, headers map, body, raw_body, error text | None): a call's output fields, kept
    on failure for the trace. `wanted`: the output fields some node reads; the headers map and
    the raw body text are only built when read (None: every field, for the trace and a
    whole-node output). A tuple, not the outputs dict: the executor stores the fields in their
    slots by position, and builds the dict (ops_call_output_dict) only for a reader of all."""
    cdef bint all_fields = wanted is None
    hmap = values_response_header_map(headers) if all_fields or "headers" in wanted else None
    return _ops_call_fields(status, hmap, values_content_type(headers), body, wanted)


cdef tuple ops_call_fields_of(ClientExchange ex, tuple wanted=None):
    """ops_call_fields for an answered exchange: its head's list of fields is made only when
    the headers map is read (the scanner's fields stay in place: ClientExchange.field_value)."""
    if wanted is None or "headers" in wanted:
        return ops_call_fields(ex.status, ex.header_list(), ex.body, wanted)
    ct = ex.field_value(b"content-type", 12)
    return _ops_call_fields(ex.status, None, None if ct is None else values_to_str(ct),
                            ex.body, wanted)


cdef tuple _ops_call_fields(object status, object hmap, object ct, object body, tuple wanted):
    """ops_call_fields from the headers map (None when not read) and the Content-Type."""
    if body is None:
        body = b""
    cdef bint all_fields = wanted is None
    raw = None
    if values_is_json_ct(ct):
        decoded = values_decode_json(body, "call response body")
        if type(decoded) is BadJson or all_fields or "raw_body" in wanted:
            raw = values_body_text(body)
    else:
        raw = decoded = values_body_text(body)
    if type(decoded) is BadJson:
        # the raw text is the body then; a 2xx answer fails with the parse error
        if not 200 <= status <= 299:
            return status, hmap, raw, raw, "non-2XX response code: %d" % status
        return status, hmap, raw, raw, (<BadJson>decoded).text()
    if not 200 <= status <= 299:
        return status, hmap, decoded, raw, "non-2XX response code: %d" % status
    return status, hmap, decoded, raw, None


cdef object ops_call_field(tuple fields, str name):
    """One output field of ops_call_fields' tuple by name (None for a name a call lacks)."""
    if name == "body":
        return fields[2]
    if name == "status":
        return fields[0]
    if name == "headers":
        return fields[1]
    if name == "raw_body":
        return fields[3]
    return None


cdef dict ops_call_output_dict(tuple fields):
    """The outputs dict of ops_call_fields' tuple: the whole node output, and the trace."""
    return {"status": fields[0], "headers": fields[1], "body": fields[2], "raw_body": fields[3]}


cdef tuple ops_call_outputs(object status, list headers, object body, tuple wanted=None):
    """-> (outputs dict, error text | None) (ops_call_fields as a dict)."""
    cdef tuple f = ops_call_fields(status, headers, body, wanted)
    return ops_call_output_dict(f), f[4]
