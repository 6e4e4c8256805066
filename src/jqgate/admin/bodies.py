"""Admin API request bodies, decoded as Kong decodes them.

- `application/json` (and no Content-Type with a JSON-looking body): a JSON object.
- `application/x-www-form-urlencoded`: Kong's nested keys, `config.nodes[1].name=X`,
  `protocols[]=http`, repeated keys as arrays. Values stay strings except where the plugin schema
  says otherwise (Kong coerces by schema): see `FORM_TYPES`.
- `multipart/form-data`: the same fields (`curl -F config=@kong.yml` for `POST /config`).
- YAML (`application/x-yaml`, `text/yaml`, or any text body for `POST /config`).

Nesting is bounded (MAX_DEPTH levels of objects and arrays, a form key's steps included): a
deeper body is a client mistake answered with 400 naming where it went too deep, never a
RecursionError in whatever walks the document next.
"""
from __future__ import annotations

import email.parser
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from jqgate.admin.errors import AdminError, bad_request

_KEY_STEP = re.compile(r"([^.\[\]]+)|\[(\d*)\]")

# Deeper than any DataKit plugin document (plugin > config > nodes > node > field > value
# nesting stays far below it), far shallower than Python's recursion limit.
MAX_DEPTH = 64

# Form values are text; these plugin fields are not. (DataKit node fields that are numbers or
# booleans in the schema: Kong converts them from form text the same way.)
BOOLEAN_KEYS = {"enabled", "debug", "ssl_verify", "strip_path", "preserve_host", "bypass",
                "validate_signature"}
INTEGER_KEYS = {"timeout", "status", "ttl", "port", "retries", "connect_timeout", "read_timeout",
                "write_timeout", "regex_priority", "max_size", "weight", "max_response_size"}
LIST_KEYS = {"protocols", "tags", "paths", "hosts", "methods", "snis"}


def media_type(content_type: bytes | None) -> str:
    if not content_type:
        return ""
    return content_type.split(b";", 1)[0].strip().lower().decode("latin-1")


def decode_object(body: bytes, content_type: bytes | None) -> dict:
    """A request body as a dict (JSON, form or multipart); AdminError(400) when it is not."""
    kind = media_type(content_type)
    if not body.strip():
        return {}
    if kind in ("application/x-www-form-urlencoded",):
        return decode_form(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if kind == "multipart/form-data":
        return decode_form(multipart_fields(body, content_type))
    if kind in ("", "application/json") or kind.endswith("+json"):
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            raise bad_request("Cannot parse JSON body") from None
        if not isinstance(doc, dict):
            raise bad_request("Cannot parse JSON body: expected an object")
        check_depth(doc)
        return doc
    raise AdminError(415, {"message": f"Unsupported Content-Type: {kind} (send "
                                      f"application/json, application/x-www-form-urlencoded or "
                                      f"multipart/form-data)"})


def multipart_fields(body: bytes, content_type: bytes) -> list[tuple[str, str]]:
    head = b"Content-Type: " + content_type + b"\r\nMIME-Version: 1.0\r\n\r\n"
    message = email.parser.BytesParser().parsebytes(head + body)
    if not message.is_multipart():
        raise bad_request("Cannot parse multipart body")
    fields = []
    for part in message.get_payload():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        payload = part.get_payload(decode=True) or b""
        fields.append((name, payload.decode("utf-8", "replace")))
    return fields


def check_depth(doc: Any) -> None:
    """400 when `doc` nests objects/arrays more than MAX_DEPTH deep, located by its path.
    Walked without recursion, so the check itself cannot overflow."""
    stack = [(doc, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, dict):
            children = ((f"{path}.{k}" if path else str(k), v) for k, v in node.items())
        elif isinstance(node, list):
            children = ((f"{path}[{i}]", v) for i, v in enumerate(node))
        else:
            continue
        if depth > MAX_DEPTH:
            raise bad_request(f"body nested too deeply at {path or '(root)'}: more than "
                              f"{MAX_DEPTH} levels of objects and arrays")
        stack.extend((child, child_path, depth + 1) for child_path, child in children)


def decode_form(pairs: list[tuple[str, str]]) -> dict:
    """Kong's nested form keys into a document."""
    root: dict = {}
    for key, value in pairs:
        steps = [name if name else (int(index) if index else "") for name, index in
                 _KEY_STEP.findall(key)]
        if not steps or not isinstance(steps[0], str) or steps[0] == "":
            raise bad_request(f"Cannot parse form field {key!r}")
        if len(steps) > MAX_DEPTH:
            raise bad_request(f"form field {key[:200]!r} nested too deeply: {len(steps)} "
                              f"levels, at most {MAX_DEPTH}")
        _assign(root, steps, value)
    return _finish(root, None)


def _assign(node: dict, steps: list, value: str) -> None:
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        if step == "":                       # `a[]`: append
            step = ("append", len(node))
        if last:
            if step in node and not isinstance(node[step], dict):
                existing = node[step]
                node[step] = (existing if isinstance(existing, list) else [existing]) + [value]
            else:
                node[step] = value
            return
        child = node.get(step)
        if not isinstance(child, dict):
            child = node[step] = {}
        node = child


def _finish(node: Any, key: Any, in_list: bool = False) -> Any:
    """Integer-keyed dicts become lists (in index order); scalars get their schema type."""
    if isinstance(node, dict):
        items = {k: _finish(v, k) for k, v in node.items()}
        if items and all(isinstance(k, (int, tuple)) for k in items):
            ordered = sorted(items, key=lambda k: k[1] if isinstance(k, tuple) else k)
            return [items[k] for k in ordered]
        result = {str(k): v for k, v in items.items()}
        return result
    if isinstance(node, list):
        return [_finish(v, key, True) for v in node]
    if key in BOOLEAN_KEYS and node in ("true", "false"):
        return node == "true"
    if key in INTEGER_KEYS and re.fullmatch(r"-?\d+", node or ""):
        return int(node)
    if key in LIST_KEYS and isinstance(node, str) and not in_list:
        return [node]
    return node


def decode_config_body(body: bytes, content_type: bytes | None) -> tuple[Any, str]:
    """`POST /config`: (document, source text kind). Kong accepts the declarative document as
    the body (JSON or YAML) or in a `config` field (JSON body, form, multipart)."""
    from jqgate.config.reading import parse_documents
    from jqgate.errors import ConfigError
    kind = media_type(content_type)
    text: str | None = None
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields = decode_object(body, content_type)
        text = fields.get("config")
        if not isinstance(text, str):
            raise bad_request("expected a `config` field holding the declarative configuration")
    else:
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise bad_request("the configuration is not UTF-8 text") from None
    try:
        docs = parse_documents(text, "<admin>")
    except ConfigError as exc:
        raise bad_request("; ".join(str(e) for e in exc.errors)) from None
    if len(docs) != 1:
        raise bad_request("expected one YAML document, got %d" % len(docs))
    doc = docs[0]
    if isinstance(doc, dict) and "_format_version" not in doc and isinstance(doc.get("config"), str):
        return decode_config_body(doc["config"].encode(), b"text/yaml")
    if isinstance(doc, dict) and "_format_version" not in doc and isinstance(doc.get("config"), dict):
        doc = doc["config"]
    return doc, kind
