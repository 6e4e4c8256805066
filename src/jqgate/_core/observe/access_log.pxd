# Declarations of observe/access_log.pyx: what the rest of the core uses from it (via core.pxd).

from posix.fcntl cimport open as c_open, O_WRONLY, O_APPEND, O_CREAT
from posix.unistd cimport close as c_close
from libc.errno cimport errno as c_errno

cdef extern from "access_log.h":
    ctypedef struct jqg_access_log:
        int fd
        int is_pipe
        size_t len
        size_t cap
        long long lines_written
        long long lines_dropped
        int last_errno
    ctypedef struct jqg_access_fields:
        const char *client
        size_t client_len
        const char *method
        size_t method_len
        const char *target
        size_t target_len
        const char *path
        size_t path_len
        const char *version
        size_t version_len
        const char *request_id
        size_t request_id_len
        const char *route
        size_t route_len
        const char *service
        size_t service_len
        int status
        long long bytes
        long long latency_ms
        long long upstream_ms
        double time
    int jqg_alog_init(jqg_access_log *log, int fd, size_t capacity)
    void jqg_alog_free(jqg_access_log *log)
    int jqg_alog_append_plain(jqg_access_log *log, const jqg_access_fields *f)
    int jqg_alog_append_json(jqg_access_log *log, const jqg_access_fields *f)
    int jqg_alog_flush(jqg_access_log *log)

cdef extern from "fcntl.h":
    int O_CLOEXEC

cdef void _alog_span(bytes value, const char **at, size_t *n) noexcept
cdef void _alog_name(bytes name, const char **at, size_t *n) noexcept
cdef class AccessLog:
    cdef jqg_access_log _log
    cdef bint _json
    cdef bint _open
    cdef readonly str destination
    cdef readonly str format
    cdef readonly double flush_interval
    cdef object _timer
    cdef long long _reported_dropped

    cdef double _wall_offset     # wall clock - mono_now(): a line's time from the clock the

    cdef void _sync_clock(self)
    cdef int _open_destination(self) except -1
    cdef void _close_fd(self, int fd) noexcept
    cdef int write(self, HttpRequest req, Responder resp, bytes route, bytes service,
                   long long upstream_ms, double now) except -1
    cdef void _report_drops(self)
