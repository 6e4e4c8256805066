# Message heads read by the C scanners (csrc/http_head.c) instead of llhttp, when they are
# whole and plain: the server takes bodiless requests this way, the pool upstream responses
# framed by Content-Length. Everything else still goes through httptools.

# -- the one field validator (every path: call nodes, the service request, responses, exits,
#    relayed answers; the client's own fields are llhttp's or the scanner's, which apply the
#    same rules) -------------------------------------------------------------------------------

cdef inline bint header_name_is_token(bytes name) noexcept:
    """RFC 9110 token: one or more of ! # $ % & ' * + - . ^ _ ` | ~ digits letters."""
    return jqg_is_token(<const char*>name, len(name))


cdef inline bint header_value_is_valid(bytes value) noexcept:
    """RFC 9110 field-value bytes: visible ASCII, SP, HTAB, obs-text (no CR, LF, NUL, other
    controls or DEL)."""
    return jqg_is_field_value(<const char*>value, len(value))


cdef str header_field_problem(bytes name, bytes value):
    """None for a field that may go on the wire, else what is wrong with it (for the error)."""
    if not jqg_is_token(<const char*>name, len(name)):
        return "invalid header name %r" % (name,)
    if not jqg_is_field_value(<const char*>value, len(value)):
        return "invalid value for header %r" % (name,)
    return None


cdef inline bint authority_is_valid(bytes authority) noexcept:
    """Host / absolute-form authority: reg-name, IPv4 or [IPv6], optional :port (RFC 3986)."""
    return jqg_is_authority(<const char*>authority, len(authority))


def header_name_is_token_of(name):
    """header_name_is_token() for tests."""
    return header_name_is_token(name)


def header_field_problem_of(name, value):
    """header_field_problem() for tests."""
    return header_field_problem(name, value)


def authority_is_valid_of(authority):
    """authority_is_valid() for tests."""
    return authority_is_valid(authority)


# One scan result for the whole process: it is read out before any callback can run.
cdef jqg_head scanned_head


cdef list scanned_fields(bytes data, Py_ssize_t start):
    """The scanned head's fields as llhttp's callbacks give them: (name, value) bytes."""
    cdef const char* buf = <const char*>data + start
    cdef list fields = []
    cdef jqg_field* f
    cdef int i
    for i in range(scanned_head.n_fields):
        f = &scanned_head.fields[i]
        fields.append((buf[f.name_at:f.name_at + f.name_len],
                       buf[f.value_at:f.value_at + f.value_len]))
    return fields


cdef bint head_keep_fields(KeptFields* kept) noexcept:
    """The last scan's fields into *kept; False (nothing kept) when there are too many."""
    if scanned_head.n_fields > HEAD_KEPT_FIELDS:
        return False
    kept.n = scanned_head.n_fields
    memcpy(kept.at, scanned_head.fields, scanned_head.n_fields * sizeof(jqg_field))
    return True


cdef list head_kept_list(const KeptFields* kept, const char* buf):
    """The kept fields (their head starting at buf) as scanned_fields gives them."""
    cdef list fields = []
    cdef const jqg_field* f
    cdef int i
    for i in range(kept.n):
        f = &kept.at[i]
        fields.append((PyBytes_FromStringAndSize(buf + f.name_at, f.name_len),
                       PyBytes_FromStringAndSize(buf + f.value_at, f.value_len)))
    return fields


cdef bytes head_kept_value(const KeptFields* kept, const char* buf, const char* lower_name,
                           Py_ssize_t n):
    """The first value of the field named lower_name (n bytes, lower case; any case in the
    head), or None."""
    cdef const jqg_field* f
    cdef int i
    for i in range(kept.n):
        f = &kept.at[i]
        if f.name_len == n and _names_equal(buf + f.name_at, lower_name, n):
            return PyBytes_FromStringAndSize(buf + f.value_at, f.value_len)
    return None


def scan_response_head_of(bytes data):
    """Test hook: what the response scanner makes of data -- None when it leaves it to
    llhttp, else (status, [(name, value)], head_len, content_length or -1, connection_close)."""
    if not jqg_scan_response_head(data, len(data), &scanned_head):
        return None
    return (scanned_head.status, scanned_fields(data, 0), scanned_head.head_len,
            scanned_head.content_length, bool(scanned_head.connection_close))


def scan_request_head_of(bytes data):
    """Test hook: what the request scanner makes of data -- None when it leaves it to llhttp,
    else (method, target, [(name, value)], head_len)."""
    if not jqg_scan_request_head(data, len(data), &scanned_head):
        return None
    cdef const char* buf = data
    return (buf[:scanned_head.method_len],
            buf[scanned_head.target_at:scanned_head.target_at + scanned_head.target_len],
            scanned_fields(data, 0), scanned_head.head_len)


cdef bytes _scanned_method(const char* m, unsigned int n):
    """The request scanner's methods (see common_method in http_head.c) as shared constants,
    so a request's method costs no allocation."""
    if n == 3:
        return b"GET" if m[0] == c'G' else b"PUT"
    if n == 4:
        return b"HEAD" if m[0] == c'H' else b"POST"
    if n == 5:
        return b"PATCH"
    if n == 6:
        return b"DELETE"
    return b"OPTIONS"
