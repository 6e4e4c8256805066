# Bytes the server writes: status lines, response heads, request ids, the Date value, and the
# gateway's own JSON error bodies. Everything constant is encoded once at import.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.tuple cimport PyTuple_GET_SIZE
from cpython.ref cimport PyObject
from libc.string cimport memchr, memcpy

import email.utils as _email_utils
import http as _http
import os as _os
import time as _time

import orjson as _orjson

cdef list _STATUS_LINES = [None] * 600

cdef _write_init_status_lines():
    cdef int code
    for code in range(100, 600):
        try:
            reason = _http.HTTPStatus(code).phrase
        except ValueError:
            reason = "Unknown"
        _STATUS_LINES[code] = ("HTTP/1.1 %d %s\r\n" % (code, reason)).encode("latin-1")

_write_init_status_lines()


cdef inline bytes write_status_line(int status):
    if 100 <= status < 600:
        return <bytes>_STATUS_LINES[status]
    return b"HTTP/1.1 %d Unknown\r\n" % status


# -- request ids: a per-process random prefix + a counter, 32 hex chars like Kong's ----------

cdef bytes _rid_prefix = _os.urandom(8).hex().encode()
cdef unsigned long long _rid_counter = 0


def reseed_request_ids():
    """Call in every worker after fork, so workers never hand out the same ids."""
    global _rid_prefix, _rid_counter
    _rid_prefix = _os.urandom(8).hex().encode()
    _rid_counter = 0


cdef bytes write_new_request_id():
    """The prefix, then the counter as 16 hex digits (written by hand: bytes formatting cost
    more than the rest of a request's bookkeeping)."""
    global _rid_counter
    _rid_counter += 1
    cdef char buf[32]
    cdef unsigned long long v = _rid_counter
    cdef int i
    memcpy(buf, PyBytes_AS_STRING(_rid_prefix), 16)
    for i in range(31, 15, -1):
        buf[i] = b"0123456789abcdef"[v & 15]
        v >>= 4
    return PyBytes_FromStringAndSize(buf, 32)


def new_request_id():
    return write_new_request_id()


# -- Date: formatted at most once a second ----------------------------------------------------

cdef long _date_second = -1
cdef bytes _date_value = b""


cdef bytes write_http_date():
    global _date_second, _date_value
    cdef double now = _time.time()
    cdef long sec = <long>now
    if sec != _date_second:
        _date_second = sec
        _date_value = _email_utils.formatdate(sec, usegmt=True).encode()
    return _date_value


# -- error bodies ------------------------------------------------------------------------------

cdef bytes write_error_body(str message, bytes request_id):
    """Kong's error shape: {"message": ..., "request_id": ...}."""
    return _orjson.dumps({"message": message, "request_id": request_id.decode("latin-1")})


# -- heads: status or request line, then headers, built with one allocation ------------------
# Heads are written for every request in both directions; b"".join over a list of four parts
# per header cost more than everything else in building them.

cdef inline tuple _write_pair(item):
    """A header as a (bytes, bytes) tuple; any other 2-item shape is converted (slow path)."""
    if type(item) is tuple and PyTuple_GET_SIZE(item) == 2 \
            and type((<tuple>item)[0]) is bytes and type((<tuple>item)[1]) is bytes:
        return <tuple>item
    name, value = item
    if type(name) is not bytes or type(value) is not bytes:
        raise TypeError("header names and values must be bytes, got %r" % ((name, value),))
    return (name, value)


cdef list _write_checked(list headers):
    """`headers` when every item is already a (bytes, bytes) tuple (the usual case: then the
    copy loop reads them unchecked), else a converted copy."""
    cdef Py_ssize_t i
    for i in range(len(headers)):
        if _write_pair(headers[i]) is not headers[i]:
            return [_write_pair(item) for item in headers]
    return headers


cdef Py_ssize_t _write_headers_size(list headers) noexcept:
    """For a list _write_checked returned."""
    cdef Py_ssize_t n = 0
    for item in headers:
        n += PyBytes_GET_SIZE(<bytes>(<tuple>item)[0]) + PyBytes_GET_SIZE(<bytes>(<tuple>item)[1]) + 4
    return n


cdef inline char* _write_put(char* p, bytes data) noexcept:
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    memcpy(p, PyBytes_AS_STRING(data), n)
    return p + n


cdef inline char* _write_field(char* p, const char* name, Py_ssize_t name_len,
                               const char* value, Py_ssize_t value_len) noexcept:
    """`name: value` and CRLF at p; returns the end."""
    memcpy(p, name, name_len)
    p += name_len
    p[0] = 58          # ':'
    p[1] = 32          # ' '
    memcpy(p + 2, value, value_len)
    p += 2 + value_len
    p[0] = 13
    p[1] = 10
    return p + 2


cdef char* _write_put_headers(char* p, list headers) noexcept:
    """For a list _write_checked returned (so the items are read as borrowed references)."""
    cdef PyObject* name
    cdef PyObject* value
    for item in headers:
        name = _tuple_item(<PyObject*>item, 0)
        value = _tuple_item(<PyObject*>item, 1)
        p = _write_field(p, _bytes_data(name), _bytes_size(name),
                         _bytes_data(value), _bytes_size(value))
    return p


cdef bytes write_message_head(bytes first_line, list headers, list extra):
    """`first_line` (with its CRLF) + headers (as given, then `extra`, may be None) + CRLF."""
    return _write_head_after(first_line, None, None, headers, None, extra)


cdef bytes write_request_head(bytes method, bytes target, list headers, bytes fields,
                              list extra):
    """`METHOD target HTTP/1.1` + headers, then `fields` (field lines already serialised, each
    ending in CRLF; may be None), then `extra` (may be None) + CRLF: the request line goes
    straight into the one buffer (built with `+` it cost three new bytes objects)."""
    return _write_head_after(method, target, _WRITE_REQUEST_LINE_END, headers, fields, extra)


cdef bytes _WRITE_REQUEST_LINE_END = b" HTTP/1.1\r\n"


cdef bytes _write_head_after(bytes a, bytes b, bytes c, list headers, bytes fields, list extra):
    """a, then b + c when b is not None (a b"METHOD" / b" target" split of a request line: a
    space goes between a and b), then the headers, the serialised `fields`, `extra` and the
    blank line."""
    headers = _write_checked(headers)
    if extra is not None:
        extra = _write_checked(extra)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(a) + _write_headers_size(headers) + 2
    if b is not None:
        size += 1 + PyBytes_GET_SIZE(b) + PyBytes_GET_SIZE(c)
    if fields is not None:
        size += PyBytes_GET_SIZE(fields)
    if extra is not None:
        size += _write_headers_size(extra)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
    cdef char* p = _write_put(PyBytes_AS_STRING(out), a)
    if b is not None:
        p[0] = 32          # ' '
        p = _write_put(p + 1, b)
        p = _write_put(p, c)
    p = _write_put_headers(p, headers)
    if fields is not None:
        p = _write_put(p, fields)
    if extra is not None:
        p = _write_put_headers(p, extra)
    p[0] = 13
    p[1] = 10
    return out


cdef inline bytes write_slice(bytes b, Py_ssize_t start, Py_ssize_t end):
    """b[start:end] for 0 <= start <= end <= len(b), made directly: Cython slices bytes through
    PySequence_GetSlice, a slice object and bytes_subscript (~550 instructions)."""
    if start == 0 and end == PyBytes_GET_SIZE(b):
        return b
    return PyBytes_FromStringAndSize(PyBytes_AS_STRING(b) + start, end - start)


cdef bytes write_join(bytes a, bytes b, bytes c):
    """a + b (+ c when not None) in one allocation: `a + b + c` is two PyNumber_Add calls,
    each making a bytes object (about 350 instructions apiece)."""
    cdef Py_ssize_t size = PyBytes_GET_SIZE(a) + PyBytes_GET_SIZE(b)
    if c is not None:
        size += PyBytes_GET_SIZE(c)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
    cdef char* p = _write_put(PyBytes_AS_STRING(out), a)
    p = _write_put(p, b)
    if c is not None:
        _write_put(p, c)
    return out


cdef bytes _WRITE_CONTENT_LENGTH = b"Content-Length: "
cdef bytes _WRITE_CHUNKED = b"Transfer-Encoding: chunked\r\n"
cdef bytes _WRITE_CLOSE = b"Connection: close\r\n"
cdef bytes _WRITE_KEEP_ALIVE = b"Connection: keep-alive\r\n"


cdef inline int _write_digits(char* buf, long long value) noexcept:
    """value (>= 0) in decimal at the end of buf[0..24); returns where the digits start."""
    cdef int i = 24
    cdef unsigned long long v = <unsigned long long>value
    while True:
        i -= 1
        buf[i] = 48 + <char>(v % 10)
        v //= 10
        if v == 0:
            return i


cdef bytes write_framed_head(bytes first_line, list headers, const char* src,
                             const unsigned char* keep, list extra, WriteFraming* framing):
    """`first_line`, then `headers` (may be None), the scanned head's fields with keep[i] set
    taken in place from `src` (the scanned upstream head being relayed, its fields as "name:
    value" without a tuple per field; src NULL: none), `extra` (may be None), then the
    server's own fields as `framing` says, and the blank line: one allocation, and no tuple
    for the fields that change on every answer (the request id, Content-Length)."""
    if headers is not None:
        headers = _write_checked(headers)
    if extra is not None:
        extra = _write_checked(extra)
    cdef char digits[24]
    cdef int at = 24
    cdef const jqg_field* f
    cdef int i
    cdef Py_ssize_t size = PyBytes_GET_SIZE(first_line) + 2
    if headers is not None:
        size += _write_headers_size(headers)
    if src != NULL:
        for i in range(scanned_head.n_fields):
            if keep[i]:
                size += scanned_head.fields[i].name_len + scanned_head.fields[i].value_len + 4
    if extra is not None:
        size += _write_headers_size(extra)
    if framing.rid_name != NULL:
        size += _bytes_size(framing.rid_name) + _bytes_size(framing.rid) + 4
    if framing.length >= 0:
        at = _write_digits(digits, framing.length)
        size += PyBytes_GET_SIZE(_WRITE_CONTENT_LENGTH) + (24 - at) + 2
    if framing.chunked:
        size += PyBytes_GET_SIZE(_WRITE_CHUNKED)
    if framing.connection == WF_CONNECTION_CLOSE:
        size += PyBytes_GET_SIZE(_WRITE_CLOSE)
    elif framing.connection == WF_CONNECTION_KEEP_ALIVE:
        size += PyBytes_GET_SIZE(_WRITE_KEEP_ALIVE)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
    cdef char* p = _write_put(PyBytes_AS_STRING(out), first_line)
    if headers is not None:
        p = _write_put_headers(p, headers)
    if src != NULL:
        for i in range(scanned_head.n_fields):
            if keep[i]:
                f = &scanned_head.fields[i]
                p = _write_field(p, src + f.name_at, f.name_len, src + f.value_at, f.value_len)
    if extra is not None:
        p = _write_put_headers(p, extra)
    if framing.rid_name != NULL:
        p = _write_field(p, _bytes_data(framing.rid_name), _bytes_size(framing.rid_name),
                         _bytes_data(framing.rid), _bytes_size(framing.rid))
    if framing.length >= 0:
        p = _write_put(p, _WRITE_CONTENT_LENGTH)
        memcpy(p, digits + at, 24 - at)
        p += 24 - at
        p[0] = 13
        p[1] = 10
        p += 2
    if framing.chunked:
        p = _write_put(p, _WRITE_CHUNKED)
    if framing.connection == WF_CONNECTION_CLOSE:
        p = _write_put(p, _WRITE_CLOSE)
    elif framing.connection == WF_CONNECTION_KEEP_ALIVE:
        p = _write_put(p, _WRITE_KEEP_ALIVE)
    p[0] = 13
    p[1] = 10
    return out


cdef inline bytes write_head(int status, list headers, list extra):
    """Status line + headers (as given, then `extra`) + the blank line."""
    return write_message_head(write_status_line(status), headers, extra)


# -- decimal numbers for header values (lengths, latencies) ------------------------------------

cdef list _SMALL_INTS = [("%d" % i).encode() for i in range(1024)]


cdef bytes write_int(long long value):
    if 0 <= value < 1024:
        return <bytes>_SMALL_INTS[value]
    cdef char buf[24]
    cdef int i = 24
    cdef bint negative = value < 0
    cdef unsigned long long v = <unsigned long long>(-value if negative else value)
    while True:
        i -= 1
        buf[i] = 48 + <char>(v % 10)
        v //= 10
        if v == 0:
            break
    if negative:
        i -= 1
        buf[i] = 45        # '-'
    return PyBytes_FromStringAndSize(buf + i, 24 - i)


def write_int_of(value):
    """write_int() for tests."""
    return write_int(value)


cdef inline bint write_has_byte(bytes data, char c):
    """`c in data` without CPython's bytes-contains path, which first tries the argument as an
    int and builds (then discards) a TypeError every time."""
    return memchr(<const char*>data, c, len(data)) != NULL


cdef inline bint write_has_crlf(bytes data):
    return write_has_byte(data, 13) or write_has_byte(data, 10)
