"""One entry point per node type of §5.6-§5.12 with the executors' calling convention, so the
compiled core and the reference executor run literally the same node code:

    outputs, self_out = run_sync(kind, params, fields, self_value)     # raises NodeFailure
    result = await run_async(kind, params, fields)                       # AsyncResult, never raises

`fields` are the gathered input fields, `self_value` the node-wise input (None when the type's
node-wise input is an object split into `fields`). `outputs` maps output field -> value and
`self_out` is the node-wise output. `branch` is not here: skipping is executor state.
"""
from __future__ import annotations

from jqgate.nodes.failure import NodeFailure

PYTHON_KINDS = frozenset(("cache", "xml_to_json", "json_to_xml", "jwt_decode", "jwt_sign",
                           "jwt_verify", "vault"))
SINK_KINDS = frozenset(("exit", "service_request", "response"))
XML_CONTENT_TYPE = "application/xml"


def run_sync(kind: str, params, fields: dict, self_value):
    if kind == "xml_to_json":
        from jqgate.nodes.xml.convert import xml_to_json
        return {}, xml_to_json(self_value, params.options, params.xpath)
    if kind == "json_to_xml":
        from jqgate.nodes.xml.convert import json_to_xml
        if params.field_names:
            value = dict.fromkeys(params.field_names)
            value.update(fields)
        else:
            value = self_value
        return {}, json_to_xml(value, params.options)
    if kind == "jwt_decode":
        from jqgate.nodes.jwt.tokens import jwt_decode
        out = jwt_decode(self_value)
        return out, dict(out)
    if kind == "jwt_sign":
        from jqgate.nodes.jwt.tokens import jwt_sign
        out = jwt_sign(params.options, fields.get("claims"), fields.get("key"))
        return out, dict(out)
    if kind == "jwt_verify":
        from jqgate.nodes.jwt.tokens import jwt_verify
        out = jwt_verify(params.options, fields.get("token"), fields.get("key"))
        return out, dict(out)
    if kind == "cache":
        from jqgate.nodes.cache.store import run_memory
        out = run_memory(params.options, fields)
        return out, dict(out)
    if kind == "vault":
        from jqgate.nodes.vault import resolve_all
        return resolve_all(params.entries), None
    raise NodeFailure("node type %r has no runtime" % kind)


def sensitive_values(kind: str, fields: dict, self_value, outputs: dict) -> list:
    """Strings a trace or log must never show (§4.5, §8.3): vault values, and the JWT nodes'
    keys and tokens, and jwt_decode's input and signature."""
    if kind == "vault":
        found = list(outputs.values())
    elif kind == "jwt_sign":
        found = [fields.get("key"), outputs.get("token")]
    elif kind == "jwt_verify":
        found = [fields.get("key"), fields.get("token")]
    elif kind == "jwt_decode":
        found = [self_value, outputs.get("signature")]
    else:
        return []
    return [v for v in found if isinstance(v, str) and v]


class AsyncResult:
    """What an async runtime op hands back to the executor: outputs, or the failure text."""
    __slots__ = ("outputs", "error")

    def __init__(self, outputs=None, error=None):
        self.outputs = outputs
        self.error = error


async def run_async(kind: str, params, fields: dict) -> AsyncResult:
    try:
        if kind == "cache":
            from jqgate.nodes.cache.store import run_redis
            return AsyncResult(await run_redis(params.options, fields))
        raise NodeFailure("node type %r has no async runtime" % kind)
    except NodeFailure as e:
        return AsyncResult(error=str(e))


def xml_body_headers(inputs, xml_slots, fields: dict) -> None:
    """D11: a sink's string body that comes straight from json_to_xml gets
    `Content-Type: application/xml` unless its headers input sets a Content-Type. Done by adding
    the header to the (copied) headers input, which every sink already honours."""
    if not xml_slots or not isinstance(fields.get("body"), str):
        return
    if not any(b.port == "body" and b.slot in xml_slots for b in inputs):
        return
    headers = fields.get("headers")
    if headers and any(k.lower() == "content-type" and v is not None for k, v in headers.items()):
        return
    fields["headers"] = dict(headers or {}, **{"Content-Type": XML_CONTENT_TYPE})
