# Declarations of http/write.pyx: what the rest of the core uses from it (via core.pxd).

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.tuple cimport PyTuple_GET_SIZE
from cpython.ref cimport PyObject
from libc.string cimport memchr, memcpy

cdef extern from "Python.h":
    # The same macros as cpython.bytes / cpython.tuple, on borrowed pointers: no reference
    # counting in the loops that copy header lists into a head.
    char* _bytes_data "PyBytes_AS_STRING" (PyObject* o)
    Py_ssize_t _bytes_size "PyBytes_GET_SIZE" (PyObject* o)
    PyObject* _tuple_item "PyTuple_GET_ITEM" (PyObject* o, Py_ssize_t i)

cdef _write_init_status_lines()
cdef bytes write_status_line(int status)
cdef bytes write_new_request_id()
cdef bytes write_http_date()
cdef bytes write_error_body(str message, bytes request_id)
cdef tuple _write_pair(item)
cdef list _write_checked(list headers)
cdef Py_ssize_t _write_headers_size(list headers) noexcept
cdef char* _write_put(char* p, bytes data) noexcept
cdef char* _write_field(char* p, const char* name, Py_ssize_t name_len, const char* value,
                        Py_ssize_t value_len) noexcept
cdef char* _write_put_headers(char* p, list headers) noexcept
cdef bytes write_message_head(bytes first_line, list headers, list extra)
cdef bytes write_head(int status, list headers, list extra)

# The fields the server owns on an HTTP/1.1 answer (server/responder.pyx), written straight into
# the head: a list of (name, value) tuples for them cost more than the rest of the head.
cdef enum:
    WF_CONNECTION_NONE = 0
    WF_CONNECTION_CLOSE = 1
    WF_CONNECTION_KEEP_ALIVE = 2

cdef struct WriteFraming:
    PyObject* rid_name          # the request id's field name and value (borrowed); NULL: none
    PyObject* rid
    long long length            # Content-Length; -1: no such field
    bint chunked                # Transfer-Encoding: chunked
    int connection              # WF_CONNECTION_*

cdef bytes write_framed_head(bytes first_line, list headers, const char* src,
                             const unsigned char* keep, list extra, WriteFraming* framing)
cdef bytes write_int(long long value)
cdef bint write_has_byte(bytes data, char c)
cdef bint write_has_crlf(bytes data)
