"""Kong's list endpoints: `size` (default 100, 1..1000), `offset` (the opaque token a previous
page's `offset` / `next` gave) and `tags` (`a,b`: entities tagged a AND b; `a/b`: a OR b; at
most 5 tags, the two separators not mixed). A page is `{"data": [...], "next": url|null,
"offset": token}` (the last two only while more entities follow), in Kong's shapes and error
messages. Entities keep the configuration's order, so an offset is a position."""
from __future__ import annotations

import base64
from urllib.parse import quote

from jqgate.admin import errors

DEFAULT_SIZE = 100
MAX_SIZE = 1000
MAX_TAGS = 5


def page(items: list, call=None) -> dict:
    """One page of `items` (Kong-shaped entities) as the call's query asks."""
    query = call.query if call is not None else {}
    items = [item for item in items if _tagged(item, _tags(query))]
    size = _size(query)
    start = _offset(query)
    out = {"data": items[start:start + size], "next": None}
    if start + size < len(items):
        token = _encode(start + size)
        out["offset"] = token
        args = "offset=" + quote(token, safe="")
        if "size" in query:
            args += "&size=%d" % size
        if query.get("tags"):
            args += "&tags=" + quote(query["tags"], safe=",/")
        out["next"] = "%s?%s" % (call.extra.get("path", ""), args)
    return out


def _size(query: dict) -> int:
    text = query.get("size")
    if text is None:
        return DEFAULT_SIZE
    try:
        size = int(text)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_SIZE:
        raise errors.AdminError(400, {"code": 7, "name": "invalid size",
                                      "message": "size must be an integer between 1 and %d"
                                                 % MAX_SIZE})
    return size


def _encode(position: int) -> str:
    return base64.urlsafe_b64encode(b"[%d]" % position).decode().rstrip("=")


def _offset(query: dict) -> int:
    token = query.get("offset")
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        if not (raw.startswith(b"[") and raw.endswith(b"]")):
            raise ValueError
        return int(raw[1:-1])
    except ValueError:
        raise errors.AdminError(400, {"code": 8, "name": "invalid offset",
                                      "message": "'%s' is not a valid offset: bad base64 "
                                                 "encoding" % token}) from None


def _tags(query: dict):
    """("and" | "or", [tags]) of `?tags=`, or None."""
    text = query.get("tags")
    if not text:
        return None
    if "," in text and "/" in text:
        raise errors.bad_request("invalid option (tags: invalid filter syntax)")
    kind, parts = ("or", text.split("/")) if "/" in text else ("and", text.split(","))
    if len(parts) > MAX_TAGS or any(not p for p in parts):
        raise errors.bad_request("invalid option (tags: cannot query more than %d tags)"
                                 % MAX_TAGS if len(parts) > MAX_TAGS
                                 else "invalid option (tags: invalid filter syntax)")
    return kind, parts


def _tagged(item: dict, filt) -> bool:
    if filt is None:
        return True
    kind, wanted = filt
    have = set(item.get("tags") or ())
    return all(t in have for t in wanted) if kind == "and" else any(t in have for t in wanted)
