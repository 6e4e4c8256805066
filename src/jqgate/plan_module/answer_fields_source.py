"""The Cython support code that reads only the used fields of a call's JSON answer
(`include "answer_fields.pxi"` in every generated plan module; build.py writes it there).

Kept as text in a Python module for the same reason as straight_jq_source.py: the wheel carries
no Cython sources.
"""

SOURCE = r'''# Reading a call's JSON answer for only the top-level fields a plan uses (jqgate build).
# Included into every generated module; the core calls PmAnswerFields.read through its
# CallAnswerReader base (engine/ops/call.pyx) when the module installed one on a call op.
#
# Exactness: the generic core decodes the whole body with orjson.loads. pm_answer_fields gives
# the members named `keys` of that same value, or None -- and None whenever it is not sure:
#   - the body is not one JSON object (after JSON whitespace), or is not valid JSON;
#   - a top-level key has an escape (it could spell a wanted key), or a wanted key repeats
#     (orjson keeps the last; the reader does not guess);
#   - a wanted value is a string with an escape or a number with a fraction (orjson's floats
#     are left to orjson);
#   - anywhere: a number with an exponent (orjson refuses some: 1e400) or more than 18 digits
#     before its fraction (orjson makes doubles of big integers, and refuses infinite ones), a
#     \u escape of a surrogate (orjson refuses lone ones), bytes that are not UTF-8 as orjson
#     accepts it, control characters in strings, nesting deeper than PA_MAX_DEPTH.
# A wanted value that is an object or an array is decoded by orjson itself, from its bytes.
# Validating what it skips is what makes a None-free answer safe: the generic core would have
# failed the call on a body orjson refuses.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeUTF8
from cpython.long cimport PyLong_FromLongLong
from libc.string cimport memcmp
from jqgate._core.core cimport CallAnswerReader, ops_call_body_value
import orjson as _pa_orjson

cdef enum:
    PA_MAX_DEPTH = 500                 # orjson refuses deeper than 1024
    PA_MAX_INT_DIGITS = 18             # fits a long long; orjson makes longer ones floats


ctypedef const unsigned char* pa_ptr


cdef inline pa_ptr pa_ws(pa_ptr p, pa_ptr end) noexcept:
    while p < end and (p[0] == 32 or p[0] == 10 or p[0] == 13 or p[0] == 9):
        p += 1
    return p


cdef inline int pa_hex(unsigned char c) noexcept:
    if 48 <= c <= 57:
        return c - 48
    if 97 <= c <= 102:
        return c - 87
    if 65 <= c <= 70:
        return c - 55
    return -1


cdef pa_ptr pa_string(pa_ptr p, pa_ptr end, bint* escaped) noexcept:
    """p after an opening quote -> after the closing one; NULL when not sure it is valid."""
    cdef unsigned char c
    cdef int i, h, u
    while p < end:
        c = p[0]
        if c == 34:                    # '"'
            return p + 1
        if c < 32:
            return NULL                # control characters must be escaped
        if c == 92:                    # '\\'
            escaped[0] = True
            if p + 1 >= end:
                return NULL
            c = p[1]
            if c == 117:               # \uXXXX
                if p + 6 > end:
                    return NULL
                u = 0
                for i in range(2, 6):
                    h = pa_hex(p[i])
                    if h < 0:
                        return NULL
                    u = u * 16 + h
                if 0xD800 <= u <= 0xDFFF:
                    return NULL        # surrogates: orjson's pairing rules are its own
                p += 6
                continue
            if c == 34 or c == 92 or c == 47 or c == 98 or c == 102 or c == 110 \
                    or c == 114 or c == 116:
                p += 2
                continue
            return NULL
        if c < 128:
            p += 1
            continue
        # UTF-8: well-formed sequences only (no overlongs, no surrogates, <= U+10FFFF)
        if 0xC2 <= c <= 0xDF:
            if p + 2 > end or p[1] & 0xC0 != 0x80:
                return NULL
            p += 2
        elif 0xE0 <= c <= 0xEF:
            if p + 3 > end or p[1] & 0xC0 != 0x80 or p[2] & 0xC0 != 0x80:
                return NULL
            if (c == 0xE0 and p[1] < 0xA0) or (c == 0xED and p[1] > 0x9F):
                return NULL
            p += 3
        elif 0xF0 <= c <= 0xF4:
            if p + 4 > end or p[1] & 0xC0 != 0x80 or p[2] & 0xC0 != 0x80 \
                    or p[3] & 0xC0 != 0x80:
                return NULL
            if (c == 0xF0 and p[1] < 0x90) or (c == 0xF4 and p[1] > 0x8F):
                return NULL
            p += 4
        else:
            return NULL
    return NULL


cdef pa_ptr pa_number(pa_ptr p, pa_ptr end, bint* integer) noexcept:
    """p at '-' or a digit -> after the number; NULL when invalid, with an exponent or with
    more than PA_MAX_INT_DIGITS digits before any fraction (orjson turns those into doubles,
    and refuses what a double cannot hold). integer: no fraction."""
    cdef pa_ptr digits
    if p < end and p[0] == 45:         # '-'
        p += 1
    digits = p
    if p >= end or not 48 <= p[0] <= 57:
        return NULL
    if p[0] == 48:
        p += 1
    else:
        while p < end and 48 <= p[0] <= 57:
            p += 1
    if p - digits > PA_MAX_INT_DIGITS:
        return NULL
    integer[0] = True
    if p < end and p[0] == 46:         # '.'
        integer[0] = False
        p += 1
        if p >= end or not 48 <= p[0] <= 57:
            return NULL
        while p < end and 48 <= p[0] <= 57:
            p += 1
    if p < end and (p[0] == 101 or p[0] == 69):
        return NULL                    # exponents: left to orjson (it refuses infinities)
    return p


cdef inline pa_ptr pa_word(pa_ptr p, pa_ptr end, const char* word, Py_ssize_t n) noexcept:
    if end - p < n or memcmp(p, word, n) != 0:
        return NULL
    return p + n


cdef pa_ptr pa_skip(pa_ptr p, pa_ptr end, int depth) noexcept:
    """p at a value -> after it, having checked it is valid; NULL when not sure."""
    cdef bint flag = False
    cdef unsigned char c
    if p >= end:
        return NULL
    c = p[0]
    if c == 34:
        return pa_string(p + 1, end, &flag)
    if c == 123 or c == 91:            # '{' '['
        if depth >= PA_MAX_DEPTH:
            return NULL
        p = pa_ws(p + 1, end)
        if p < end and p[0] == c + 2:  # '}' ']'
            return p + 1
        while True:
            if c == 123:
                if p >= end or p[0] != 34:
                    return NULL
                p = pa_string(p + 1, end, &flag)
                if p == NULL:
                    return NULL
                p = pa_ws(p, end)
                if p >= end or p[0] != 58:      # ':'
                    return NULL
                p = pa_ws(p + 1, end)
            p = pa_skip(p, end, depth + 1)
            if p == NULL:
                return NULL
            p = pa_ws(p, end)
            if p >= end:
                return NULL
            if p[0] == c + 2:
                return p + 1
            if p[0] != 44:                      # ','
                return NULL
            p = pa_ws(p + 1, end)
    if c == 45 or 48 <= c <= 57:
        return pa_number(p, end, &flag)
    if c == 116:
        return pa_word(p, end, "true", 4)
    if c == 102:
        return pa_word(p, end, "false", 5)
    if c == 110:
        return pa_word(p, end, "null", 4)
    return NULL


cdef object PA_UNSURE = object()


cdef object pa_value(pa_ptr p, pa_ptr end, pa_ptr* after):
    """The value at p as orjson.loads gives it, PA_UNSURE when not handled; *after set."""
    cdef bint flag = False
    cdef pa_ptr q
    cdef long long n
    cdef bint negative
    cdef unsigned char c = p[0] if p < end else 0
    if c == 34:
        q = pa_string(p + 1, end, &flag)
        if q == NULL or flag:
            return PA_UNSURE
        after[0] = q
        return PyUnicode_DecodeUTF8(<const char*>p + 1, q - p - 2, NULL)
    if c == 45 or 48 <= c <= 57:
        q = pa_number(p, end, &flag)
        if q == NULL or not flag:
            return PA_UNSURE
        after[0] = q
        negative = c == 45
        if negative:
            p += 1
        n = 0
        while p < q:
            n = n * 10 + (p[0] - 48)
            p += 1
        return PyLong_FromLongLong(-n if negative else n)
    if c == 123 or c == 91:
        q = pa_skip(p, end, 1)
        if q == NULL:
            return PA_UNSURE
        after[0] = q
        return _pa_orjson.loads(PyBytes_FromStringAndSize(<const char*>p, q - p))
    q = pa_skip(p, end, 1)
    if q == NULL:
        return PA_UNSURE
    after[0] = q
    return True if c == 116 else (False if c == 102 else None)


cdef dict pm_answer_fields(bytes body, tuple keys, tuple names):
    """{name: value} of body's top-level object for the `keys` (the names' UTF-8 bytes) it
    has, in the body's order, exactly as orjson.loads(body) has them; None when not sure."""
    cdef pa_ptr start = <pa_ptr>PyBytes_AS_STRING(body)
    cdef pa_ptr end = start + PyBytes_GET_SIZE(body)
    cdef pa_ptr p = pa_ws(start, end)
    cdef pa_ptr k
    cdef bint escaped
    cdef Py_ssize_t i, n = len(keys)
    cdef Py_ssize_t klen
    cdef dict out = {}
    cdef object value
    if p >= end or p[0] != 123:
        return None
    p = pa_ws(p + 1, end)
    if p < end and p[0] == 125:
        p += 1
    else:
        while True:
            if p >= end or p[0] != 34:
                return None
            escaped = False
            k = p + 1
            p = pa_string(k, end, &escaped)
            if p == NULL or escaped:
                return None
            klen = p - 1 - k
            p = pa_ws(p, end)
            if p >= end or p[0] != 58:
                return None
            p = pa_ws(p + 1, end)
            for i in range(n):
                if PyBytes_GET_SIZE(keys[i]) == klen and \
                        memcmp(PyBytes_AS_STRING(keys[i]), k, klen) == 0:
                    break
            else:
                i = -1
            if i < 0:
                p = pa_skip(p, end, 1)
                if p == NULL:
                    return None
            else:
                name = names[i]
                if name in out:
                    return None            # a repeated wanted key
                value = pa_value(p, end, &p)
                if value is PA_UNSURE:
                    return None
                out[name] = value
            p = pa_ws(p, end)
            if p >= end:
                return None
            if p[0] == 125:
                p += 1
                break
            if p[0] != 44:
                return None
            p = pa_ws(p + 1, end)
    if pa_ws(p, end) != end:
        return None
    return out


def pm_answer_fields_of(bytes body, keys):
    """pm_answer_fields for tests: keys as str."""
    return pm_answer_fields(body, tuple(k.encode("utf-8") for k in keys), tuple(keys))


cdef class PmAnswerPart:
    """What a call's `body` slot holds when its reader took only the used fields: those
    fields, and the body itself for the generic decode wherever the whole value is needed.
    Only the one op the module proved reads that slot ever sees it (driver_codegen.py)."""
    cdef readonly dict fields
    cdef readonly bytes body

    cdef object whole(self):
        return ops_call_body_value(self.body)


cdef class PmAnswerFields(CallAnswerReader):
    """The core's reader of one call's answer: the fields its one reader uses (keys), or the
    generic decode when pm_answer_fields is not sure."""
    cdef tuple keys
    cdef tuple names

    def __cinit__(self, names):
        self.names = tuple(names)
        self.keys = tuple(k.encode("utf-8") for k in self.names)

    cdef object read(self, bytes body):
        cdef dict fields
        try:
            fields = pm_answer_fields(body, self.keys, self.names)
        except Exception:
            return None         # not expected (the body was validated first): orjson decides
        if fields is None:
            return None
        cdef PmAnswerPart part = PmAnswerPart.__new__(PmAnswerPart)
        part.fields = fields
        part.body = body
        return part
'''
