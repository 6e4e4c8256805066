# Value rules of the compiled core (datakit.md §3.4, §4, §5.1, §11): header maps, query strings,
# body encoding and the conversions of bindings. The reference executor has the same
# rules in plain Python (jqgate/reference/values.py); the engine tests run both on every case.
#
# Server note: `values_header_map`, `values_decode_query`, `values_encode_query` and
# `SinkPatch.apply` are plain functions the HTTP server may reuse (they are module-level in
# jqgate._core.core).

import math as _math
from urllib.parse import quote as _quote

import orjson as _orjson

from jqgate.json_types import json_type_name as _json_type_name

# Framing and hop-by-hop headers: never taken from a header patch, never relayed from a call
# response; the writer of the message owns them (§5.1).
VALUES_HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-connection",
                               "transfer-encoding", "te", "trailer", "upgrade"))
VALUES_FRAMING = VALUES_HOP_BY_HOP | {"content-length"}


class EngineNodeError(Exception):
    """A node failure; its text is what the log line, debug body and trace show."""


cdef class BadJson:
    """A body under a JSON content type that does not parse (D10): stored in the slot so the
    first node consuming it fails, while raw_body stays usable."""

    def __init__(self, str what, str error):
        self.what = what
        self.error = error

    cpdef str text(self):
        return "invalid JSON in %s: %s" % (self.what, self.error)


cdef inline str values_to_str(object x):
    if type(x) is bytes:
        return (<bytes>x).decode("latin-1")
    return x


cdef bytes values_to_wire(str s):
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        return s.encode("utf-8")


cdef str values_number_text(object n):
    cdef double f
    if type(n) is float:
        f = n
        if _math.isfinite(f) and f == <double>(<long long>f) and abs(f) < 1e17:
            return str(<long long>f)
        return repr(n)
    return str(n)


cdef str values_scalar_text(object v):
    if type(v) is str:
        return v
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return values_number_text(v)
    return _orjson.dumps(v).decode()


cdef str values_type_name(object v):
    return _json_type_name(v)         # error texts and traces only: never on a success path


cdef bint values_is_json_ct(object ct):
    cdef str mt
    if not ct:
        return False
    if type(ct) is list:
        ct = ct[0] if ct else ""
    if ct == "application/json":
        return True                 # the usual value, without splitting and folding it
    mt = (<str>ct).split(";", 1)[0].strip().lower()
    return mt == "application/json" or mt.endswith("+json")


cdef bint values_is_form_ct(object ct):
    if not ct:
        return False
    if type(ct) is list:
        ct = ct[0] if ct else ""
    if ct == "application/x-www-form-urlencoded":
        return True                 # the usual value, without splitting and folding it
    return (<str>ct).split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded"


cdef inline str values_body_text(bytes body):
    return body.decode("utf-8", "replace")


cdef bint values_blank(bytes body) noexcept:
    """Empty or only ASCII whitespace (what bytes.strip() removes), without copying it."""
    cdef const unsigned char* p = <const unsigned char*>body
    cdef Py_ssize_t i
    for i in range(len(body)):
        if not (p[i] == 32 or 9 <= p[i] <= 13):
            return False
    return True


cdef object values_decode_json(bytes body, str what):
    """JSON-decode a body; empty -> null; invalid -> BadJson (D10)."""
    if values_blank(body):
        return None
    try:
        return _orjson.loads(body)
    except _orjson.JSONDecodeError as e:
        return BadJson(what, str(e).split(":", 1)[0])


# ---------------------------------------------------------------------------------------------
# header maps (§4.1: client casing kept, repeated -> array; D23: first-seen casing wins)

def values_header_map(pairs):
    cdef dict out = {}
    cdef dict first = {}
    cdef str name, value, low, key
    for n, v in pairs:
        name = values_to_str(n)
        value = values_to_str(v)
        low = name.lower()
        key = first.get(low)
        if key is None:
            first[low] = name
            out[name] = value
        else:
            cur = out[key]
            if type(cur) is list:
                (<list>cur).append(value)
            else:
                out[key] = [cur, value]
    return out


cdef dict values_response_header_map(list pairs):
    return values_header_map([(n, v) for n, v in pairs
                              if values_to_str(n).lower() not in VALUES_HOP_BY_HOP])


cdef object values_content_type(object pairs):
    """values_header_get(pairs, "content-type"); wire (bytes) names are compared in place."""
    for n, v in pairs:
        if type(n) is bytes:
            if len(<bytes>n) == 12 and _names_equal(<const char*><bytes>n, b"content-type", 12):
                return values_to_str(v)
        elif values_to_str(n).lower() == "content-type":
            return values_to_str(v)
    return None


cdef object values_header_get(object pairs, str lname):
    for n, v in pairs:
        if values_name_is(n, lname):
            return values_to_str(v)
    return None


cdef list values_header_entries(str name, object value):
    if value is None:
        return []
    if type(value) is list:
        return [(name, values_scalar_text(x)) for x in value if x is not None]
    return [(name, values_scalar_text(value))]


cdef extern from "Python.h":
    bint _values_str_is_ascii "PyUnicode_IS_ASCII" (object)
    void* _values_str_data "PyUnicode_DATA" (object)
    # str.find of one character in s[start:end], in C: -1 when absent
    Py_ssize_t _values_find_char "PyUnicode_FindChar" (object s, Py_UCS4 ch, Py_ssize_t start,
                                                       Py_ssize_t end, int direction) except -2
    object _values_str_new "PyUnicode_New" (Py_ssize_t size, Py_UCS4 maxchar)


cdef str values_lower(str k):
    """k.lower(), in C for an ASCII name (which is returned itself when it has no upper-case
    letter): the Python method call cost ~250 instructions per header a patch names."""
    if not _values_str_is_ascii(k):
        return k.lower()
    cdef Py_ssize_t n = len(k), i
    cdef const char* s = <const char*>_values_str_data(k)
    for i in range(n):
        if 65 <= s[i] <= 90:        # A-Z
            break
    else:
        return k
    cdef str out = _values_str_new(n, 127)
    cdef char* d = <char*>_values_str_data(out)
    cdef char c
    for i in range(n):
        c = s[i]
        d[i] = c + 32 if 65 <= c <= 90 else c
    return out


cdef bint values_name_is(object name, str lname) except -1:
    """Whether a header name (bytes from the wire, str from a flow) read as text and lower-cased
    equals `lname` (lower case). ASCII compares in place, in C: a Python-level str.lower() per
    header cost ~250 instructions. Anything else takes the exact str.lower() path (a non-ASCII
    name such as the Kelvin sign lower-cases to ASCII)."""
    cdef Py_ssize_t n = len(lname)
    if _values_str_is_ascii(lname):
        if type(name) is bytes:
            # Latin-1 bytes >= 0x80 lower-case to non-ASCII text: they never match an ASCII lname.
            return PyBytes_GET_SIZE(<bytes>name) == n and _names_equal(
                PyBytes_AS_STRING(<bytes>name), <const char*>_values_str_data(lname), n)
        if type(name) is str and _values_str_is_ascii(name):
            return len(<str>name) == n and _names_equal(
                <const char*>_values_str_data(name), <const char*>_values_str_data(lname), n)
    return values_to_str(name).lower() == lname


cdef bint values_is_framing(str k) except -1:
    """k.lower() in VALUES_FRAMING, in C for an ASCII name (a str.lower() and a set lookup
    cost ~500 instructions per header of a flow's patch or call)."""
    if not _values_str_is_ascii(k):
        return k.lower() in VALUES_FRAMING
    cdef Py_ssize_t n = len(k)
    cdef const char* s = <const char*>_values_str_data(k)
    if n == 2:
        return _names_equal(s, b"te", 2)
    if n == 7:
        return _names_equal(s, b"upgrade", 7) or _names_equal(s, b"trailer", 7)
    if n == 10:
        return _names_equal(s, b"connection", 10) or _names_equal(s, b"keep-alive", 10)
    if n == 14:
        return _names_equal(s, b"content-length", 14)
    if n == 16:
        return _names_equal(s, b"proxy-connection", 16)
    if n == 17:
        return _names_equal(s, b"transfer-encoding", 17)
    return False


cpdef list values_patch_headers(pairs, patch):
    """Apply a header patch (§4.2): keys replace headers case-insensitively, arrays repeat,
    null removes, the rest is kept; framing keys in the patch are ignored. Headers the patch
    does not touch stay as given (wire bytes pass through unchanged); the patched entries
    are (str, str)."""
    cdef dict touched
    cdef str k, low
    if not patch:
        return list(pairs)
    if len(<dict>patch) == 1:
        # The usual patch names one header: no map of the names it touches to build.
        for k, v in (<dict>patch).items():
            pass
        if values_is_framing(k):
            return list(pairs)
        low = values_lower(k)
        kept = [pair for pair in pairs if not values_name_is(pair[0], low)]
        kept.extend(values_header_entries(k, v))
        return kept
    touched = {}
    for k, v in (<dict>patch).items():
        if values_is_framing(k):
            continue
        touched[values_lower(k)] = (k, v)
    cdef list out
    cdef bint hit
    if len(touched) <= 8:
        # The usual patch names a few headers: each header name is compared with them in C
        # instead of being decoded and lower-cased in Python.
        out = []
        for pair in pairs:
            name = pair[0]
            hit = False
            for low in touched:
                if values_name_is(name, low):
                    hit = True
                    break
            if not hit:
                out.append(pair)
    else:
        out = [pair for pair in pairs if values_to_str(pair[0]).lower() not in touched]
    for k, v in touched.values():
        out.extend(values_header_entries(k, v))
    return out


cdef bint values_patch_has(object patch, str lname):
    cdef str k
    if not patch:
        return False
    for k, v in (<dict>patch).items():
        if v is not None and values_name_is(k, lname):
            return True
    return False


cdef object values_patch_get(object patch, str lname):
    cdef str k
    if not patch:
        return None
    for k, v in (<dict>patch).items():
        if values_name_is(k, lname):
            return v
    return None


# ---------------------------------------------------------------------------------------------
# query strings (D6, D8)


cdef str values_unquote_plus(str text):
    """urllib's unquote_plus (escapes are UTF-8, invalid ones kept, errors replaced), in one C
    pass; text without '%' or '+' is returned as it is."""
    cdef Py_ssize_t length = len(text)
    if _values_find_char(text, 37, 0, length, 1) < 0 \
            and _values_find_char(text, 43, 0, length, 1) < 0:
        return text                 # no '%', no '+'
    cdef bytes raw = text.encode("utf-8", "surrogatepass")
    cdef bytearray out = bytearray(len(raw))
    cdef size_t n = jqg_percent_decode(raw, len(raw), out, 1)
    return out[:n].decode("utf-8", "replace")


cpdef dict values_decode_query(str qs):
    """D8: URL-decoded (`+` is a space); a key without `=` is true; repeated keys -> array."""
    cdef dict out = {}
    cdef str k
    cdef Py_ssize_t n = len(qs) if qs is not None else 0
    cdef Py_ssize_t start = 0, end, eq
    if n == 0:
        return out
    # qs.split("&") and part.split("=", 1) walked in place: the pieces are sliced straight
    # out of qs, without the lists of parts (about half of what decoding a query cost)
    while start <= n:
        end = _values_find_char(qs, 38, start, n, 1)        # '&'
        if end < 0:
            end = n
        if end == start:                                    # an empty part
            start = end + 1
            continue
        eq = _values_find_char(qs, 61, start, end, 1)       # '='
        if eq >= 0:
            k = values_unquote_plus(qs[start:eq])
            v = values_unquote_plus(qs[eq + 1:end])
        else:
            k = values_unquote_plus(qs[start:end])
            v = True
        start = end + 1
        if k in out:
            cur = out[k]
            if type(cur) is list:
                (<list>cur).append(v)
            else:
                out[k] = [cur, v]
        else:
            out[k] = v
    return out


def values_encode_query(dict m, bint sort=False):
    """D6: true -> bare key; false/null omitted; numbers as text; arrays -> repeated keys."""
    cdef list parts = []
    cdef str ek
    for k in (sorted(m) if sort else m):
        v = m[k]
        ek = _quote(str(k), safe="")
        for x in (v if type(v) is list else (v,)):
            if x is None or x is False:
                continue
            if x is True:
                parts.append(ek)
            else:
                parts.append(ek + "=" + _quote(values_scalar_text(x), safe=""))
    return "&".join(parts)


cdef tuple values_encode_body(object body, bint ct_given, bint form):
    """-> (bytes | None, content type to add | None); see reference.values.encode_body."""
    if body is None:
        return None, None
    if type(body) is str:
        return (<str>body).encode("utf-8"), None
    if form and type(body) is dict:
        return values_encode_query(body, True).encode("ascii"), None
    return _orjson.dumps(body), (None if ct_given else "application/json")


cdef object values_check_map(object v, str what):
    if v is not None and type(v) is not dict:
        raise EngineNodeError("%s: expected an object, got %s" % (what, values_type_name(v)))
    return v


# ---------------------------------------------------------------------------------------------
# conversions on bindings (plan.py CONV_*)

cdef str _conv_what(str port, str source):
    cdef str what = "input %s" % (('"%s"' % port) if port else "$self")
    if source:
        what += " (from %s)" % source
    return what


cdef object values_convert(object value, int conv, str port, str source):
    cdef str what, s
    if conv == CONV_NONE or value is None:
        return value
    if conv == CONV_MAP or conv == CONV_OBJECT:
        if type(value) is dict:
            return value
        raise EngineNodeError("%s: expected an object, got %s"
                              % (_conv_what(port, source), values_type_name(value)))
    if conv == CONV_STRING:
        if type(value) is str:
            return value
        if type(value) is int or type(value) is float:
            return values_number_text(value)
        raise EngineNodeError("%s: expected a string, got %s"
                              % (_conv_what(port, source), values_type_name(value)))
    if conv == CONV_NUMBER:
        if type(value) is int or type(value) is float:
            return value
        if type(value) is str:
            s = (<str>value).strip()
            # decimal text only: int() and float() also take "1_000" and other scripts' digits
            if s.isascii() and "_" not in s:
                try:
                    return int(s)
                except ValueError:
                    pass
                try:
                    f = float(s)
                    if _math.isfinite(f):
                        return f
                except ValueError:
                    pass
            raise EngineNodeError('%s: expected a number, got the string "%s"'
                                  % (_conv_what(port, source), value))
        raise EngineNodeError("%s: expected a number, got %s"
                              % (_conv_what(port, source), values_type_name(value)))
    if conv == CONV_BOOLEAN:
        if type(value) is bool:
            return value
        raise EngineNodeError("%s: expected a boolean, got %s"
                              % (_conv_what(port, source), values_type_name(value)))
    raise EngineNodeError("%s: unknown conversion %r" % (_conv_what(port, source), conv))
