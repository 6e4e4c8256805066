"""Value rules shared by every node of the reference executor (datakit.md §3.4, §4, §5.1, §11).

Written from the spec with the standard library (json, urllib.parse), not from the compiled
core's `_core/engine/values.pyx`: the engine cases run both on the same plans, so where the two
readings of the spec differ a case fails. Header names and bodies arrive as wire bytes and are
read as latin-1, so every byte round-trips.
"""
from __future__ import annotations

import json
import math
import re
from urllib.parse import quote, unquote_plus

from jqgate.json_types import json_type_name as type_name
from jqgate.plan import (CONV_BOOLEAN, CONV_MAP, CONV_NONE, CONV_NUMBER, CONV_OBJECT,
                         CONV_STRING)

# Hop-by-hop headers (RFC 9110 §7.6.1, and the obsolete Proxy-Connection and Keep-Alive): never
# relayed from a call's response (§5.1) nor taken from a header patch. Content-Length is not
# hop-by-hop, but whoever writes the message computes it from the body it writes.
HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-connection", "transfer-encoding",
                        "te", "trailer", "upgrade"))
FRAMING = HOP_BY_HOP | {"content-length"}


class NodeError(Exception):
    """A node failure: its text is what the log line, debug body and trace show."""


class BadJson:
    """A body that claimed a JSON content type but does not parse (D10).

    Stored in the slot instead of a value so that the *first node that consumes it* fails,
    while `raw_body` stays usable.
    """
    __slots__ = ("what", "error")

    def __init__(self, what: str, error: str):
        self.what = what
        self.error = error

    def text(self) -> str:
        return "invalid JSON in %s: %s" % (self.what, self.error)


# ---------------------------------------------------------------------------------------------
# text helpers

def to_str(x) -> str:
    """bytes (HTTP wire, latin-1 so every byte round-trips) or str -> str."""
    if isinstance(x, bytes):
        return x.decode("latin-1")
    return x


def to_wire(s: str) -> bytes:
    """str -> header bytes: latin-1 when possible (round-trips what `to_str` made), else UTF-8."""
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        return s.encode("utf-8")


def number_text(n) -> str:
    """Shortest decimal text of a JSON number; integral floats print without `.0` as jq does."""
    if isinstance(n, float):
        if math.isfinite(n) and n == int(n) and abs(n) < 1e17:
            return str(int(n))
        return repr(n)
    return str(n)


def scalar_text(v) -> str:
    """A header value or query value as text: strings as-is, true/false, numbers, else JSON."""
    if isinstance(v, str):
        return v
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return number_text(v)
    return json_text(v)


def is_json_content_type(ct) -> bool:
    """`application/json` or any `+json` type; parameters and case ignored (§4.1, §5.1)."""
    if not ct:
        return False
    if isinstance(ct, list):
        ct = ct[0] if ct else ""
    mt = ct.split(";", 1)[0].strip().lower()
    return mt == "application/json" or mt.endswith("+json")


def decode_body_text(body: bytes) -> str:
    return body.decode("utf-8", "replace")


def _refuse_constant(name):
    raise ValueError("%s is not a JSON value" % name)


def _number(text):
    """A JSON number as a double unless it is an integer a 64-bit machine word holds (RFC 8259
    §6: beyond that, only IEEE doubles interoperate); past the double range it is refused."""
    if text.lstrip("-").isdigit() and -2**63 <= int(text) < 2**64:
        return int(text)
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number is infinity when parsed as double")
    return value


def parse_json(text):
    """RFC 8259 JSON only: the json module's NaN / Infinity extensions are refused, and so is
    a string holding half a surrogate pair (it cannot be written back as UTF-8)."""
    value = json.loads(text, parse_constant=_refuse_constant, parse_int=_number,
                       parse_float=_number)
    if "\\u" in text:
        json.dumps(value, ensure_ascii=False).encode("utf-8")   # UnicodeEncodeError: ValueError
    return value


def json_text(value) -> str:
    """Compact JSON text, UTF-8 kept as is; a non-finite number is null, as jq writes it."""
    return json.dumps(_finite(value), separators=(",", ":"), ensure_ascii=False)


def json_bytes(value) -> bytes:
    return json_text(value).encode("utf-8")


def _finite(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, list):
        return [_finite(x) for x in v]
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    return v


def decode_json_body(body: bytes, what: str):
    """JSON-decode a body; an empty body is null; invalid JSON -> BadJson sentinel (D10)."""
    if not body or not body.strip():
        return None
    try:
        return parse_json(body.decode("utf-8"))
    except UnicodeDecodeError:
        return BadJson(what, "not UTF-8")
    except ValueError as e:                  # json.JSONDecodeError is a ValueError
        return BadJson(what, str(e).split(":", 1)[0])


# ---------------------------------------------------------------------------------------------
# header maps (§4.1: client casing kept, repeated -> array, D23 first-seen casing wins)

def header_map(pairs) -> dict:
    out: dict = {}
    first: dict = {}
    for name, value in pairs:
        name = to_str(name)
        value = to_str(value)
        low = name.lower()
        key = first.get(low)
        if key is None:
            first[low] = name
            out[name] = value
        else:
            cur = out[key]
            if isinstance(cur, list):
                cur.append(value)
            else:
                out[key] = [cur, value]
    return out


def response_header_map(pairs) -> dict:
    """A third-party response's headers as a map, hop-by-hop headers left out (§5.1)."""
    return header_map((n, v) for n, v in pairs if to_str(n).lower() not in HOP_BY_HOP)


def header_get(pairs, lname: str):
    for n, v in pairs:
        if to_str(n).lower() == lname:
            return to_str(v)
    return None


def patch_headers(pairs, patch: dict | None):
    """Apply a header patch (§4.2): each key replaces that header case-insensitively, arrays give
    repeated headers, null removes, everything else is kept. Framing headers in the patch are
    ignored (the message writer owns them). Returns a new list of (str, str)."""
    pairs = [(to_str(n), to_str(v)) for n, v in pairs]
    if not patch:
        return pairs
    touched = {}
    for k, v in patch.items():
        if k.lower() in FRAMING:
            continue
        touched[k.lower()] = (k, v)
    out = [(n, v) for n, v in pairs if n.lower() not in touched]
    for k, v in touched.values():
        out.extend(header_entries(k, v))
    return out


def header_entries(name: str, value):
    """One patch entry -> header pairs: null -> none, array -> repeated, scalars stringified."""
    if value is None:
        return []
    if isinstance(value, list):
        return [(name, scalar_text(x)) for x in value if x is not None]
    return [(name, scalar_text(value))]


def patch_has(patch: dict | None, lname: str) -> bool:
    """Does the patch set (non-null) the header `lname`?"""
    if not patch:
        return False
    for k, v in patch.items():
        if k.lower() == lname and v is not None:
            return True
    return False


def patch_get(patch: dict | None, lname: str):
    if not patch:
        return None
    for k, v in patch.items():
        if k.lower() == lname:
            return v
    return None


# ---------------------------------------------------------------------------------------------
# query strings (D6, D8)

def decode_query(qs: str) -> dict:
    """D8: URL-decoded (`+` is a space); a key without `=` is true; repeated keys -> array."""
    out: dict = {}
    if not qs:
        return out
    for part in qs.split("&"):
        if not part:
            continue
        if "=" in part:
            k, v = part.split("=", 1)
            k = unquote_plus(k)
            v = unquote_plus(v)
        else:
            k = unquote_plus(part)
            v = True
        if k in out:
            cur = out[k]
            if isinstance(cur, list):
                cur.append(v)
            else:
                out[k] = [cur, v]
        else:
            out[k] = v
    return out


def _qv(v) -> str:
    return quote(scalar_text(v), safe="")


def encode_query(m: dict, sort: bool = False) -> str:
    """D6: `true` -> bare key; false/null -> omitted; numbers as decimal text; arrays ->
    repeated keys in order. `sort` orders keys (form bodies, §5.1)."""
    parts = []
    keys = sorted(m) if sort else m
    for k in keys:
        v = m[k]
        ek = quote(str(k), safe="")
        items = v if isinstance(v, list) else (v,)
        for x in items:
            if x is None or x is False:
                continue
            if x is True:
                parts.append(ek)
            else:
                parts.append(ek + "=" + _qv(x))
    return "&".join(parts)


# ---------------------------------------------------------------------------------------------
# bodies written by nodes

def encode_body(body, ct_given: bool, form: bool = False):
    """-> (bytes, content type to add or None). Strings verbatim (no type, D11); objects and
    other structured values as JSON with `application/json` unless a Content-Type is given;
    `form` (call with an x-www-form-urlencoded header) form-encodes an object body."""
    if body is None:
        return None, None
    if isinstance(body, str):
        return body.encode("utf-8"), None
    if form and isinstance(body, dict):
        return encode_query(body, sort=True).encode("ascii"), None
    data = json_bytes(body)
    return data, (None if ct_given else "application/json")


def is_form_content_type(ct) -> bool:
    if not ct:
        return False
    if isinstance(ct, list):
        ct = ct[0] if ct else ""
    return ct.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded"


# ---------------------------------------------------------------------------------------------
# runtime conversions on bindings (plan.py CONV_*, datakit.md §3.4)

# Decimal/float text, ASCII digits only, an optional sign; surrounding spaces are stripped first.
DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?P<fraction>\.[0-9]*)?|(?P<fraction2>\.[0-9]+))"
                          r"(?P<exponent>[eE][+-]?[0-9]+)?", re.ASCII)

def convert(value, conv: int, port: str, source: str):
    if conv == CONV_NONE or value is None:
        return value
    what = "input %s" % (('"%s"' % port) if port else "$self")
    if source:
        what += " (from %s)" % source
    if conv == CONV_MAP or conv == CONV_OBJECT:
        if isinstance(value, dict):
            return value
        raise NodeError("%s: expected an object, got %s" % (what, type_name(value)))
    if conv == CONV_STRING:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return number_text(value)
        raise NodeError("%s: expected a string, got %s" % (what, type_name(value)))
    if conv == CONV_NUMBER:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if isinstance(value, str):             # §3.4: "parses decimal/float text"
            m = DECIMAL_TEXT.fullmatch(value.strip())
            if m is not None:
                if not (m.group("fraction") or m.group("fraction2") or m.group("exponent")):
                    return int(m.group())
                f = float(m.group())
                if math.isfinite(f):
                    return f
            raise NodeError('%s: expected a number, got the string "%s"' % (what, value))
        raise NodeError("%s: expected a number, got %s" % (what, type_name(value)))
    if conv == CONV_BOOLEAN:
        if isinstance(value, bool):
            return value
        raise NodeError("%s: expected a boolean, got %s" % (what, type_name(value)))
    raise NodeError("%s: unknown conversion %r" % (what, conv))
