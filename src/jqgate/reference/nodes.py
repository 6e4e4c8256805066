"""What each node does with its inputs, in the reference executor (datakit.md §4, §5.1–§5.5).

Every function here is pure with respect to the run: it takes the node's parameters and its
gathered inputs and returns outputs (or raises `NodeError`). The executor owns scheduling, slots
and the trace.
"""
from __future__ import annotations

from jqgate.nodes.call.url import UnsafeUrl, split_safe_url
from jqgate.nodes import REQUEST_FIELDS
from jqgate.plan import CallTarget
from jqgate.reference.values import (FRAMING, BadJson, NodeError, decode_body_text,
                                     decode_json_body, decode_query, encode_body, encode_query,
                                     header_entries, header_get, header_map,
                                     is_form_content_type, is_json_content_type, patch_get,
                                     patch_has, patch_headers, response_header_map, to_str,
                                     type_name)


# ---------------------------------------------------------------------------------------------
# request (§4.1)

def http_version_number(v: str):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if f == int(f) else f


def request_body_value(req):
    body = req.body
    if body is None:
        return None
    body = bytes(body)
    if is_json_content_type(header_get(req.headers, "content-type")):
        return decode_json_body(body, "request body")
    return decode_body_text(body)   # D9: form / multipart / text stay a raw string


def request_field(req, field: str):
    if field == "body":
        return request_body_value(req)
    if field == "headers":
        return header_map(req.headers)
    if field == "query":
        return decode_query(to_str(req.query or ""))
    if field == "path":
        return to_str(req.path)
    if field == "raw_path":
        return to_str(req.raw_path)
    if field == "port":
        return req.server_port
    if field == "method":
        return to_str(req.method)
    if field == "scheme":
        return to_str(req.scheme)
    if field == "version":
        return http_version_number(req.http_version)
    raise NodeError("request has no field %r" % field)


def request_object(req):
    """Node-wise `request`: every field; a body that fails to parse fails the consumer (D10)."""
    obj = {f: request_field(req, f) for f in REQUEST_FIELDS}
    if isinstance(obj["body"], BadJson):
        return obj["body"]
    return obj


# ---------------------------------------------------------------------------------------------
# jq (§5.2): the program runs in jq_programs.py

def jq_input(params, fields: dict, self_value):
    if params.input_mode == "self":
        return self_value
    if params.input_mode == "fields":
        obj = {name: None for name in params.field_names}
        obj.update(fields)
        return obj
    return None


# ---------------------------------------------------------------------------------------------
# exit (§5.3)

def check_map(v, what):
    if v is not None and not isinstance(v, dict):
        raise NodeError("%s: expected an object, got %s" % (what, type_name(v)))
    return v


def exit_answer(status: int, body, headers):
    """-> (status, [(name, value)], body bytes). Null headers omitted, Content-Length set."""
    check_map(headers, 'input "headers"')
    data, ct = encode_body(body, patch_has(headers, "content-type"))
    out = []
    for k, v in (headers or {}).items():
        if k.lower() in FRAMING:
            continue
        out.extend(header_entries(k, v))
    if ct:
        out.append(("Content-Type", ct))
    data = data or b""
    out.append(("Content-Length", str(len(data))))
    return status, out, data


# ---------------------------------------------------------------------------------------------
# call (§5.1)

def parse_call_url(url: str) -> CallTarget:
    """A runtime `url` input (D5/§5.1): absolute http(s) URL safe on a request line
    (jqgate.nodes.call.url), else the node fails."""
    if not isinstance(url, str):
        raise NodeError('input "url": expected a string, got %s' % type_name(url))
    try:
        scheme, host, port, path, query, hh = split_safe_url(url)
    except UnsafeUrl as e:
        raise NodeError('input "url": %s' % e) from None
    return CallTarget(url=url, scheme=scheme, host=host, port=port,
                      target=path + ("?" + query if query else ""), path=path,
                      query=query, host_header=hh)


def call_request(params, fields: dict):
    """-> (CallTarget, request target str, [(name, value)] with Host, body bytes | None)."""
    url_in = fields.get("url")
    target = parse_call_url(url_in) if url_in is not None else params.url
    if target is None:
        raise NodeError("no URL: neither the url field nor the url input gives one")
    query = check_map(fields.get("query"), 'input "query"')
    if query is not None:            # D5: a connected, non-null query replaces the URL's own
        qs = encode_query(query)
        request_target = target.path + ("?" + qs if qs else "")
    else:
        request_target = target.target
    headers = check_map(fields.get("headers"), 'input "headers"') or {}
    body = fields.get("body")
    form = is_form_content_type(patch_get(headers, "content-type"))
    data, ct = encode_body(body, patch_has(headers, "content-type"), form)
    out = []
    if not patch_has(headers, "host"):
        out.append(("Host", target.host_header))
    for k, v in headers.items():
        if k.lower() in FRAMING:
            continue
        out.extend(header_entries(k, v))
    if ct:
        out.append(("Content-Type", ct))
    return target, request_target, out, data      # Content-Length: http_call.py frames it


def call_outputs(status: int, headers, body: bytes):
    """-> (outputs dict, error text or None). Outputs are kept on failure for the trace."""
    hmap = response_header_map(headers)
    body = body or b""
    raw = decode_body_text(body)
    decoded = raw
    if is_json_content_type(header_get(headers, "content-type")):
        decoded = decode_json_body(body, "call response body")
    outputs = {"status": status, "headers": hmap, "body": decoded, "raw_body": raw}
    if not 200 <= status <= 299:
        if isinstance(decoded, BadJson):
            outputs["body"] = raw
        return outputs, "non-2XX response code: %d" % status
    if isinstance(decoded, BadJson):
        outputs["body"] = raw
        return outputs, decoded.text()
    return outputs, None


# ---------------------------------------------------------------------------------------------
# sinks: service_request (§4.2) and response (§4.4); source service_response (§4.3)

class SinkPatch:
    """What a sink asks for: a header patch, an optional new body, an optional new query."""

    def __init__(self):
        self.headers = None      # dict | None
        self.body = None         # bytes | None (None: keep the original)
        self.body_ct = None      # Content-Type the new body needs unless the patch gives one
        self.query = None        # str | None (service_request only; None: keep the original)

    def apply(self, pairs):
        """The message's header list after the patch, framing recomputed for a new body."""
        out = patch_headers(pairs, self.headers)
        if self.body is not None:
            out = [(n, v) for n, v in out
                   if n.lower() not in ("content-length", "transfer-encoding", "content-encoding")]
            if self.body_ct:
                out = [(n, v) for n, v in out if n.lower() != "content-type"]
                out.append(("Content-Type", self.body_ct))
            out.append(("Content-Length", str(len(self.body))))
        return out


def sink_patch(fields: dict, with_query: bool) -> SinkPatch:
    p = SinkPatch()
    p.headers = check_map(fields.get("headers"), 'input "headers"')
    if "body" in fields and fields["body"] is not None:
        p.body, p.body_ct = encode_body(fields["body"], patch_has(p.headers, "content-type"))
    if with_query:
        q = check_map(fields.get("query"), 'input "query"')
        if q is not None:
            p.query = encode_query(q)
    return p


def service_response_field(status, headers, body, field: str):
    if field == "status":
        return status
    if field == "headers":
        return header_map(headers)
    if field == "raw_body":
        return None if body is None else decode_body_text(body)
    if field == "body":
        if body is None:
            return None
        if is_json_content_type(header_get(headers, "content-type")):
            return decode_json_body(body, "service response body")
        return decode_body_text(body)
    raise NodeError("service_response has no field %r" % field)


def service_response_object(status, headers, body):
    obj = {f: service_response_field(status, headers, body, f)
           for f in ("body", "headers", "status", "raw_body")}
    if isinstance(obj["body"], BadJson):
        return obj["body"]
    return obj
