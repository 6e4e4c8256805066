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


cdef _OpsCallTemplate ops_call_template(p):
    """The template of a call node's CallParams (jqgate.plan), made when the plan is compiled."""
    cdef _OpsCallTemplate t = _OpsCallTemplate()
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
    for k in _PROXY_INPUTS:
        if fields.get(k) is not None:
            proxied = True
            break
    url_in = fields.get("url")
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
    q = values_check_map(fields.get("query"), 'input "query"')
    if q is not None:               # D5: a connected, non-null query replaces the URL's own
        qs = values_encode_query(q)
        target = values_to_wire(path + ("?" + qs if qs else ""))
    headers = values_check_map(fields.get("headers"), 'input "headers"')
    body = fields.get("body")
    form = values_is_form_ct(values_patch_get(headers, "content-type"))
    data, ct = values_encode_body(body, values_patch_has(headers, "content-type"), form)
    out = []
    if not values_patch_has(headers, "host"):
        out.append((b"Host", host_header))
    if headers:
        for k, v in (<dict>headers).items():
            if values_is_framing(k):
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
    ex.headers = out
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
        ex.headers.append((b"Proxy-Authorization", proxy.authorization))


cdef str ops_exchange_url(ClientExchange ex):
    """For the trace's dispatch event."""
    return "%s://%s:%d%s" % (ex.scheme, ex.host, ex.port, values_to_str(ex.target))


cdef tuple ops_call_outputs(object status, list headers, object body, tuple wanted=None):
    """-> (outputs dict, error text | None). Outputs are kept on failure for the trace.
    `wanted`: the output fields some node reads; the headers map and the raw body text are
    only built when read (None: every field, for the trace and a whole-node output)."""
    if body is None:
        body = b""
    cdef bint all_fields = wanted is None
    hmap = values_response_header_map(headers) if all_fields or "headers" in wanted else None
    raw = None
    if values_is_json_ct(values_content_type(headers)):
        decoded = values_decode_json(body, "call response body")
        if type(decoded) is BadJson or all_fields or "raw_body" in wanted:
            raw = values_body_text(body)
    else:
        raw = decoded = values_body_text(body)
    outputs = {"status": status, "headers": hmap, "body": decoded, "raw_body": raw}
    if not 200 <= status <= 299:
        if type(decoded) is BadJson:
            outputs["body"] = raw
        return outputs, "non-2XX response code: %d" % status
    if type(decoded) is BadJson:
        outputs["body"] = raw
        return outputs, (<BadJson>decoded).text()
    return outputs, None
