# Bytes the server writes: status lines, response heads, request ids, the Date value, and the
# gateway's own JSON error bodies. Everything constant is encoded once at import.

from libc.string cimport memchr

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


cdef inline bytes write_new_request_id():
    global _rid_counter
    _rid_counter += 1
    return _rid_prefix + (b"%016x" % _rid_counter)


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


cdef bytes write_head(int status, list headers, list extra):
    """Status line + headers (as given, then `extra`) + the blank line."""
    cdef list parts = [write_status_line(status)]
    for name, value in headers:
        parts.append(name)
        parts.append(b": ")
        parts.append(value)
        parts.append(b"\r\n")
    for name, value in extra:
        parts.append(name)
        parts.append(b": ")
        parts.append(value)
        parts.append(b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


cdef inline bint write_has_byte(bytes data, char c):
    """`c in data` without CPython's bytes-contains path, which first tries the argument as an
    int and builds (then discards) a TypeError every time."""
    return memchr(<const char*>data, c, len(data)) != NULL


cdef inline bint write_has_crlf(bytes data):
    return write_has_byte(data, 13) or write_has_byte(data, 10)
