# Declarations of http/head.pyx: what the rest of the core uses from it (via core.pxd).

cdef extern from "http_head.h":
    ctypedef struct jqg_field:
        unsigned int name_at, name_len, value_at, value_len
    ctypedef struct jqg_head:
        int status
        unsigned int method_len, target_at, target_len
        int connection_close
        long long content_length
        size_t head_len
        int n_fields
        jqg_field fields[64]
    int jqg_scan_response_head(const char *buf, size_t length, jqg_head *out)
    int jqg_scan_request_head(const char *buf, size_t length, jqg_head *out)
    int jqg_is_token(const char *s, size_t n)
    int jqg_is_field_value(const char *s, size_t n)
    int jqg_is_authority(const char *s, size_t n)

cdef bint header_name_is_token(bytes name) noexcept
cdef bint header_value_is_valid(bytes value) noexcept
cdef str header_field_problem(bytes name, bytes value)
cdef bint authority_is_valid(bytes authority) noexcept
cdef list scanned_fields(bytes data, Py_ssize_t start)

# A scanned head's fields kept in place: the offsets of its fields into the read that holds
# it, so no (name, value) objects are made for fields nobody reads (HttpRequest,
# ClientExchange). A head with more fields than that is read into a list at once.
cdef enum:
    HEAD_KEPT_FIELDS = 16

cdef struct KeptFields:
    int n
    jqg_field at[HEAD_KEPT_FIELDS]

cdef bint head_keep_fields(KeptFields* kept) noexcept
cdef list head_kept_list(const KeptFields* kept, const char* buf)
cdef bytes head_kept_value(const KeptFields* kept, const char* buf, const char* lower_name,
                           Py_ssize_t n)
cdef bytes _scanned_method(const char* m, unsigned int n)
