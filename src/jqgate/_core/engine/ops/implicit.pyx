# The implicit nodes (datakit.md §4): the `request` and `service_response` sources and the
# `service_request` / `response` sinks. Sources materialise only the fields the plan lists, so
# an unread body is never decoded; sinks record a SinkPatch the server applies.


cdef object ops_http_version_number(object v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if f == int(f) else f


cdef object ops_request_body(RequestView req):
    body = req.body
    if body is None:
        return None
    if type(body) is not bytes:              # bytearray / memoryview from the server
        body = bytes(body)
    if values_is_json_ct(values_content_type(req.headers)):
        return values_decode_json(body, "request body")
    return values_body_text(body)            # D9: form / multipart / text stay a raw string


cdef object ops_request_field(RequestView req, str field):
    if field == "headers":
        return values_header_map(req.headers)
    if field == "query":
        return values_decode_query(values_to_str(req.query or ""))
    if field == "body":
        return ops_request_body(req)
    # the server may hand over raw bytes from the parser: JSON values are text
    if field == "path":
        return values_to_str(req.path)
    if field == "raw_path":
        return values_to_str(req.raw_path)
    if field == "port":
        return req.server_port
    if field == "method":
        return values_to_str(req.method)
    if field == "scheme":
        return values_to_str(req.scheme)
    if field == "version":
        return ops_http_version_number(req.http_version)
    raise EngineNodeError("request has no field %r" % field)


cdef object ops_request_object(RequestView req):
    """Node-wise `request`: every field; a body that fails to parse fails the consumer (D10)."""
    cdef dict obj = {f: ops_request_field(req, f) for f in EXEC_REQUEST_FIELDS}
    if type(obj["body"]) is BadJson:
        return obj["body"]
    return obj


cdef object ops_service_response_field(object status, list headers, object body, str field):
    if field == "status":
        return status
    if field == "headers":
        return values_header_map(headers)
    if field == "raw_body":
        return None if body is None else values_body_text(body)
    if field == "body":
        if body is None:
            return None
        if values_is_json_ct(values_content_type(headers)):
            return values_decode_json(body, "service response body")
        return values_body_text(body)
    raise EngineNodeError("service_response has no field %r" % field)


cdef object ops_service_response_object(object status, list headers, object body):
    obj = {f: ops_service_response_field(status, headers, body, f)
           for f in ("body", "headers", "status", "raw_body")}
    if type(obj["body"]) is BadJson:
        return obj["body"]
    return obj


cdef class SinkPatch:
    """What a sink (service_request §4.2, response §4.4) asks of the message.

    headers  dict | None   patch: keys replace case-insensitively, arrays repeat, null removes
    body     bytes | None  new body (None: keep the original)
    body_ct  str | None    Content-Type the new body needs unless the patch sets one (D11)
    query    str | None    new query string, service_request only (None: keep the original)
    """

    cpdef list apply(self, pairs):
        """The message's header list after the patch (values_patch_headers: untouched headers
        as given, patched ones as (str, str)). With a new body,
        Content-Length / Transfer-Encoding / Content-Encoding are dropped and Content-Length
        recomputed; Content-Type follows D11. cpdef, and the names compared in C: the DataKit
        handler applies it on every request whose flow sets service_request headers."""
        cdef list out = values_patch_headers(pairs, self.headers)
        if self.body is not None:
            out = [pair for pair in out
                   if not (values_name_is(pair[0], "content-length")
                           or values_name_is(pair[0], "transfer-encoding")
                           or values_name_is(pair[0], "content-encoding"))]
            if self.body_ct:
                out = [pair for pair in out if not values_name_is(pair[0], "content-type")]
                out.append(("Content-Type", self.body_ct))
            out.append(("Content-Length", str(len(self.body))))
        return out

    cdef inline bint is_empty(self):
        return self.headers is None and self.body is None and self.query is None

    @property
    def empty(self):
        return self.is_empty()


cdef SinkPatch ops_sink_patch(dict fields, bint with_query):
    cdef SinkPatch p = SinkPatch.__new__(SinkPatch)
    p.headers = values_check_map(fields.get("headers"), 'input "headers"')
    body = fields.get("body")
    if body is not None:
        p.body, p.body_ct = values_encode_body(body, values_patch_has(p.headers, "content-type"),
                                               False)
    if with_query:
        q = values_check_map(fields.get("query"), 'input "query"')
        if q is not None:
            p.query = values_encode_query(q)
    return p
