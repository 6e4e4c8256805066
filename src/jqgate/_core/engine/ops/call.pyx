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
    cdef ClientExchange prebuilt
    if t.head is not None:
        prebuilt = _ops_call_prebuilt_exchange(t, t.head, fields)
        if prebuilt is not None:
            return prebuilt
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
    cdef ClientExchange ex = _ops_new_exchange(t, scheme, host, port, target, out, data)
    if proxied:
        _ops_forward_proxy(ex, fields, scheme, host, port)
    return ex


cdef inline ClientExchange _ops_new_exchange(_OpsCallTemplate t, str scheme, str host, int port,
                                             bytes target, list headers, object data):
    cdef ClientExchange ex = ClientExchange.__new__(ClientExchange)  # client/pool.pyx
    ex.scheme = scheme
    ex.host = host
    ex.port = port
    ex.method = t.method
    ex.target = target
    ex._headers = headers
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
    return ex


# ---------------------------------------------------------------------------------------------
# A compiled plan module's prebuilt request head (jqgate/plan_module/driver_codegen.py)
#
# ops_call_prebuild encodes once what the plan fixes: the Host line of the node's URL, the
# header lines of a static `headers` input with what they decide (a form body, a given
# Content-Type or Host), and a static body's bytes for each of those decisions. Per request
# only the holes are filled: the header lines of a `headers` input fed by another node, the
# body of a fed `body`, the target of a fed `query`; the pool adds Content-Length. The
# exchange carries the lines serialised (headers_ready), so the pool does not look at every
# header again. Whatever the prebuilt path is not sure of -- a fed url or proxy input, a value
# that is not an object, a header that cannot go on the wire, a body that fails to encode --
# goes to the generic ops_call_exchange, which gives the generic result or error.

cdef object _OPS_NOT_FED = object()         # an input no binding feeds: fields lack it


cdef int ops_call_prebuild(CompiledOp op, dict static_inputs) except -1:
    """Install on call op `op` the head prebuilt from its static inputs ({port: the static
    value its binding reads, the same object per request}); a call whose URL or proxy comes
    from an input keeps the generic exchange."""
    cdef _OpsCallTemplate t = <_OpsCallTemplate>op.call_template
    cdef _OpsCallHead h
    cdef CompiledBinding b
    cdef set fed = set()
    for b in op.inputs:
        fed.add(b.port)
    if t.url_input or t.proxy_inputs or not t.has_url or "" in fed:
        t.head = None
        return 0
    h = _OpsCallHead.__new__(_OpsCallHead)
    h.host_line = write_join(b"Host: ", t.host_header, b"\r\n")
    h.headers_static = "headers" in static_inputs or "headers" not in fed
    h.headers_value = static_inputs.get("headers", _OPS_NOT_FED)
    if h.headers_static:
        headers = None if h.headers_value is _OPS_NOT_FED else h.headers_value
        if headers is not None and type(headers) is not dict:
            t.head = None           # the generic op fails on it, per request
            return 0
        try:
            h.header_lines = _ops_header_lines(headers, &h.ct_given, &h.form, &h.host_given)
        except Exception:
            t.head = None
            return 0
    h.body_static = "body" in static_inputs or "body" not in fed
    h.body_value = static_inputs.get("body", _OPS_NOT_FED)
    if h.body_static:
        body = None if h.body_value is _OPS_NOT_FED else h.body_value
        encoded = []
        for ct_given in (False, True):
            for form in (False, True):
                try:
                    data, ct = values_encode_body(body, ct_given, form)
                except Exception:
                    encoded.append(None)
                    continue
                encoded.append((data, None if ct is None else
                                write_join(b"Content-Type: ", (<str>ct).encode(), b"\r\n")))
        h.body_encoded = tuple(encoded)
    t.head = h
    return 0


cdef ClientExchange _ops_call_prebuilt_exchange(_OpsCallTemplate t, _OpsCallHead h,
                                                dict fields):
    """ops_call_exchange from the prebuilt head; None when the generic one must decide."""
    cdef bint ct_given, form, host_given
    cdef bytes lines, ct_line
    cdef bytes target = t.target
    cdef tuple encoded
    if t.query_input:
        q = fields.get("query")
        if q is not None:
            if type(q) is not dict:
                return None
            qs = values_encode_query(q)
            target = values_to_wire(t.path + ("?" + qs if qs else ""))
    if h.headers_static and fields.get("headers", _OPS_NOT_FED) is h.headers_value:
        lines = h.header_lines
        ct_given = h.ct_given
        form = h.form
        host_given = h.host_given
    else:
        headers = fields.get("headers")
        if headers is not None and type(headers) is not dict:
            return None
        lines = _ops_header_lines(headers, &ct_given, &form, &host_given)
    if lines is None:
        return None
    if h.body_static and fields.get("body", _OPS_NOT_FED) is h.body_value:
        encoded = <tuple>h.body_encoded[ct_given * 2 + form]
        if encoded is None:
            return None
        data = encoded[0]
        ct_line = <bytes>encoded[1]
    else:
        data, ct = values_encode_body(fields.get("body"), ct_given, form)
        ct_line = None if ct is None else write_join(b"Content-Type: ", (<str>ct).encode(),
                                                       b"\r\n")
    if not host_given:
        lines = write_join(h.host_line, lines, ct_line)
    elif ct_line is not None:
        lines = write_join(lines, ct_line, None)
    cdef ClientExchange ex = _ops_new_exchange(t, t.scheme, t.host, t.port, target, [], data)
    ex.head_fields = lines          # every line but Content-Length, which the pool adds
    ex.headers_ready = True
    return ex


cdef bytes _ops_header_lines(object headers, bint* ct_given, bint* form, bint* host_given):
    """A call's `headers` map as the lines ops_call_exchange sends (in its order, framing
    fields and nulls left out), and what it decides: ct_given, form (the first Content-Type
    entry), host_given. None when a line could not go on the wire (the pool would refuse it:
    the generic exchange then fails as it does) or the map is not of a usual kind."""
    cdef str k
    cdef bint ct_seen = False, usual = True
    cdef int role
    cdef Py_ssize_t size = 0
    ct_given[0] = False
    host_given[0] = False
    form[0] = False
    if not headers:
        return b""
    ct_first = None
    for key, v in (<dict>headers).items():
        if type(key) is not str:
            return None
        k = <str>key
        role = _ops_header_role(k)
        if role == _OPS_CONTENT_TYPE:
            if not ct_seen:
                ct_seen = True
                ct_first = v
            if v is not None:
                ct_given[0] = True
        elif role == _OPS_HOST and v is not None:
            host_given[0] = True
        elif role == _OPS_FRAMING:
            continue
        if v is None:
            continue
        if usual and type(v) is str and _values_str_is_ascii(k) and _values_str_is_ascii(v):
            size += len(k) + len(<str>v) + 4
        else:
            usual = False
    form[0] = values_is_form_ct(ct_first)
    if not usual:                   # arrays, numbers, non-ASCII text: as the generic op
        try:
            return _ops_serialised([(values_to_wire(n), values_to_wire(s))
                                    for k, v in (<dict>headers).items()
                                    if _ops_header_role(k) != _OPS_FRAMING
                                    for n, s in values_header_entries(k, v)])
        except Exception:
            return None             # the generic op raises it, in its own order
    cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
    cdef char* p = PyBytes_AS_STRING(out)
    cdef Py_ssize_t nk, nv
    cdef const char* kd
    cdef const char* vd
    for key, v in (<dict>headers).items():
        if v is None or _ops_header_role(<str>key) == _OPS_FRAMING:
            continue
        nk = len(<str>key)
        nv = len(<str>v)
        kd = <const char*>_values_str_data(key)
        vd = <const char*>_values_str_data(v)
        if not jqg_is_token(kd, nk) or not jqg_is_field_value(vd, nv):
            return None
        p = _write_field(p, kd, nk, vd, nv)
    return out


cdef bytes _ops_serialised(list pairs):
    """(bytes, bytes) header pairs as field lines; None when one could not go on the wire."""
    cdef Py_ssize_t size = 0
    for name, value in pairs:
        if header_field_problem(name, value) is not None:
            return None
        size += len(<bytes>name) + len(<bytes>value) + 4
    cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
    cdef char* p = PyBytes_AS_STRING(out)
    for name, value in pairs:
        p = _write_field(p, PyBytes_AS_STRING(name), len(<bytes>name),
                         PyBytes_AS_STRING(value), len(<bytes>value))
    return out


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


cdef class CallAnswerReader:
    """Reads a call's 2xx JSON answer for a compiled plan module (jqgate/plan_module/
    answer_fields_source.py): read(body) -> what the `body` output holds, or None for the
    generic decode. The module installs one only where it proved that the one op reading that
    output understands what read() returns; a traced run never uses it."""

    cdef object read(self, bytes body):
        return None


cdef int ops_call_read_answers_with(CompiledOp op, CallAnswerReader reader) except -1:
    """Install a compiled plan module's reader of call op `op`'s answers (None: generic)."""
    (<_OpsCallTemplate>op.call_template).answer_reader = reader
    return 0


def call_specialisations_of(plan):
    """Test hook: {call node name: (a prebuilt head installed, an answer reader installed)}."""
    cdef CompiledPlan cp = executor_compiled(plan)
    cdef CompiledOp cop
    cdef _OpsCallTemplate t
    out = {}
    for cop in cp.ops:
        if cop.kind == OPK_CALL:
            t = <_OpsCallTemplate>cop.call_template
            out[cp.nodes[cop.node].name] = (t.head is not None, t.answer_reader is not None)
    return out


cdef tuple ops_call_read_answer(CompiledOp op, ClientExchange ex):
    """ops_call_fields of a finished exchange whose op has a compiled plan module's answer
    reader: for a 2xx JSON answer, the body output is what the reader gives; None when the
    reader is not sure (ops_call_answer then decodes it as always)."""
    cdef CallAnswerReader reader = (<_OpsCallTemplate>op.call_template).answer_reader
    cdef int status = ex.status
    cdef tuple wanted = op.call_wanted
    if wanted is None or not 200 <= status <= 299 or type(ex.body) is not bytes \
            or not values_is_json_ct(_ops_answer_content_type(ex)):
        return None
    decoded = reader.read(<bytes>ex.body)
    if decoded is None:
        return None
    hmap = values_response_header_map(ex.header_list()) if "headers" in wanted else None
    raw = values_body_text(<bytes>ex.body) if "raw_body" in wanted else None
    return status, hmap, decoded, raw, None


cdef inline object _ops_answer_content_type(ClientExchange ex):
    """The answer's Content-Type as text (None when absent), read in place from the head."""
    ct = ex.field_value(b"content-type", 12)
    return None if ct is None else values_to_str(ct)


cdef object ops_call_body_value(bytes body):
    """A call's JSON answer body decoded, as its `body` output holds it (BadJson if invalid)."""
    return values_decode_json(body, "call response body")


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
