# Declarations of http/names.pyx: what the rest of the core uses from it (via core.pxd).

cdef enum HeaderKind:
    HK_OTHER = 0
    HK_HOST
    HK_CONTENT_LENGTH
    HK_TRANSFER_ENCODING
    HK_CONNECTION
    HK_KEEP_ALIVE
    HK_PROXY_ANY            # proxy-connection, proxy-authenticate, proxy-authorization, proxy-*
    HK_TE
    HK_TRAILER              # trailer, trailers
    HK_UPGRADE
    HK_EXPECT
    HK_VIA
    HK_X_KONG_REQUEST_ID
    HK_X_FORWARDED_FOR
    HK_X_FORWARDED_OTHER    # x-forwarded-proto / -host / -port / -path / -prefix
    HK_X_REAL_IP

cdef bint _names_equal(const char* name, const char* lower, Py_ssize_t n) noexcept
cdef int header_kind(bytes name) noexcept
cdef int header_kind_at(const char* s, Py_ssize_t n) noexcept
