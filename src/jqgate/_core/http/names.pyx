# Recognising header names without building a lower-cased copy.
#
# The proxy looks at every header name several times per request (hop-by-hop, framing,
# X-Forwarded-*, Via). `name.lower()` plus a set lookup allocates a bytes object and hashes it
# each time; header_kind() compares in place, ASCII case-insensitively, and most names fall out
# at the length switch. Only the names the gateway treats specially have a kind.


cdef inline bint _names_equal(const char* name, const char* lower, Py_ssize_t n) noexcept:
    """name[:n] equals the lower-case ASCII `lower`, ignoring ASCII case."""
    cdef Py_ssize_t i
    cdef char c
    for i in range(n):
        c = name[i]
        if 65 <= c <= 90:          # A-Z
            c = c + 32
        if c != lower[i]:
            return False
    return True


cdef inline int header_kind(bytes name) noexcept:
    return header_kind_at(<const char*>name, len(name))


cdef int header_kind_at(const char* s, Py_ssize_t n) noexcept:
    """header_kind() of the name s[:n] (a span of a scanned head, see http/head.pyx)."""
    if n >= 6 and _names_equal(s, b"proxy-", 6):
        return HK_PROXY_ANY
    if n == 2:
        return HK_TE if _names_equal(s, b"te", 2) else HK_OTHER
    if n == 3:
        return HK_VIA if _names_equal(s, b"via", 3) else HK_OTHER
    if n == 4:
        return HK_HOST if _names_equal(s, b"host", 4) else HK_OTHER
    if n == 6:
        return HK_EXPECT if _names_equal(s, b"expect", 6) else HK_OTHER
    if n == 7:
        if _names_equal(s, b"upgrade", 7):
            return HK_UPGRADE
        return HK_TRAILER if _names_equal(s, b"trailer", 7) else HK_OTHER
    if n == 8:
        return HK_TRAILER if _names_equal(s, b"trailers", 8) else HK_OTHER
    if n == 9:
        return HK_X_REAL_IP if _names_equal(s, b"x-real-ip", 9) else HK_OTHER
    if n == 10:
        if _names_equal(s, b"connection", 10):
            return HK_CONNECTION
        return HK_KEEP_ALIVE if _names_equal(s, b"keep-alive", 10) else HK_OTHER
    if n == 14:
        return HK_CONTENT_LENGTH if _names_equal(s, b"content-length", 14) else HK_OTHER
    if n == 17:
        if _names_equal(s, b"transfer-encoding", 17):
            return HK_TRANSFER_ENCODING
        if _names_equal(s, b"x-kong-request-id", 17):
            return HK_X_KONG_REQUEST_ID
    if n >= 15 and n <= 18 and _names_equal(s, b"x-forwarded-", 12):
        s += 12
        n -= 12
        if n == 3:
            return HK_X_FORWARDED_FOR if _names_equal(s, b"for", 3) else HK_OTHER
        if n == 4 and (_names_equal(s, b"host", 4) or _names_equal(s, b"port", 4)
                       or _names_equal(s, b"path", 4)):
            return HK_X_FORWARDED_OTHER
        if n == 5 and _names_equal(s, b"proto", 5):
            return HK_X_FORWARDED_OTHER
        if n == 6 and _names_equal(s, b"prefix", 6):
            return HK_X_FORWARDED_OTHER
    return HK_OTHER


def header_kind_of(name):
    """header_kind() for tests."""
    return header_kind(name)
