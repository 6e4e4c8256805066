# The access log, written from the core: one line per answered request, formatted in C
# (csrc/access_log.c) straight from the request's fields into a buffer, and written in batches
# like nginx's `access_log PATH buffer=64k flush=1s`: when the next line would not fit, from a
# timer at most `flush_interval` seconds after a line was buffered, on SIGHUP (reopen()) and at
# shutdown (close()). Going through the `logging` module per request cost about three times
# the whole proxy path.
#
# The RequestObserver (observe/metrics.pyx) calls write() as a C method; nothing here makes a
# Python object per request.

from posix.fcntl cimport open as c_open, O_WRONLY, O_APPEND, O_CREAT
from posix.unistd cimport close as c_close
from libc.errno cimport errno as c_errno

import logging as _alog_logging
import os as _os
import time as _alog_time

# The defaults, documented in interface.md: nginx's `buffer=64k flush=1s`.
ACCESS_LOG_BUFFER_SIZE = 65536
ACCESS_LOG_FLUSH_INTERVAL = 1.0
ACCESS_LOG_FORMATS = ("plain", "json")
ACCESS_LOG_STREAMS = {"stdout": 1, "stderr": 2}

_alog_log = _alog_logging.getLogger("jqgate")


cdef inline void _alog_span(bytes value, const char **at, size_t *n) noexcept:
    """(pointer, length) of a bytes field; "" for None (a request the parser never filled)."""
    if value is None:
        at[0] = ""
        n[0] = 0
    else:
        at[0] = <const char *>value
        n[0] = len(value)


cdef inline void _alog_name(bytes name, const char **at, size_t *n) noexcept:
    """(pointer, length) of a route or service name; NULL for None (no route / service: the
    line says "-" or null, not an empty name)."""
    if name is None:
        at[0] = NULL
        n[0] = 0
    else:
        at[0] = <const char *>name
        n[0] = len(name)


cdef class AccessLog:
    """Where the access log lines go: `destination` is "stdout", "stderr" or a file path
    (opened O_APPEND, created 0644); `format` "plain" (nginx-like, one line per request) or
    "json" (one JSON object per line, with an ISO 8601 UTC "time"); `buffer_size` bytes of
    lines are kept before a write (0: each line is written at once), and `flush_interval`
    seconds is the longest a line waits once start() runs the timer. Each worker process has
    its own AccessLog; since every write carries whole lines only, workers sharing one file or
    pipe never interleave inside a line."""
                                 # request path reads anyway; set again at every timer tick

    def __cinit__(self):
        self._log.fd = -1

    def __init__(self, destination="stdout", format="plain",
                 buffer_size=ACCESS_LOG_BUFFER_SIZE, flush_interval=ACCESS_LOG_FLUSH_INTERVAL):
        if format not in ACCESS_LOG_FORMATS:
            raise ValueError('access log format must be "plain" or "json", not %r' % (format,))
        if not destination or destination == "off":
            raise ValueError("an AccessLog needs a destination (\"off\" means: make none)")
        if buffer_size < 0 or flush_interval <= 0:
            raise ValueError("access log buffer_size must be >= 0 and flush_interval > 0")
        self.destination = destination
        self.format = format
        self._json = format == "json"
        self.flush_interval = flush_interval
        cdef int fd = self._open_destination()
        if jqg_alog_init(&self._log, fd, buffer_size) != 0:
            self._close_fd(fd)
            raise MemoryError()
        self._open = True
        self._sync_clock()

    cdef void _sync_clock(self):
        self._wall_offset = _alog_time.time() - mono_now()

    cdef int _open_destination(self) except -1:
        stream = ACCESS_LOG_STREAMS.get(self.destination)
        if stream is not None:
            return stream
        cdef bytes path = _os.fsencode(self.destination)
        cdef int fd = c_open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0:
            err = c_errno
            raise OSError(err, "access log %s: %s" % (self.destination, _os.strerror(err)))
        return fd

    cdef void _close_fd(self, int fd) noexcept:
        if fd > 2:
            c_close(fd)

    def __dealloc__(self):
        if self._open:
            jqg_alog_flush(&self._log)
            self._close_fd(self._log.fd)
        jqg_alog_free(&self._log)

    cdef int write(self, HttpRequest req, Responder resp, bytes route, bytes service,
                   long long upstream_ms, double now) except -1:
        """Buffer the line of an answered request (route / service: UTF-8 names, None when
        it matched none; upstream_ms < 0 when no upstream answered; now: mono_now())."""
        if not self._open:
            self._log.lines_dropped += 1
            return 0
        cdef jqg_access_fields f
        _alog_span(req.client_ip_bytes, &f.client, &f.client_len)
        _alog_span(req.method, &f.method, &f.method_len)
        _alog_span(req.target, &f.target, &f.target_len)
        _alog_span(req.path, &f.path, &f.path_len)
        _alog_span(req.request_id, &f.request_id, &f.request_id_len)
        version = req.http_version
        if version == "1.1" or version is None:
            f.version = "1.1"
            f.version_len = 3
        elif version == "1.0":
            f.version = "1.0"
            f.version_len = 3
        else:
            version_bytes = version.encode("latin-1", "replace")
            f.version = <const char *>version_bytes
            f.version_len = len(version_bytes)
        _alog_name(route, &f.route, &f.route_len)
        _alog_name(service, &f.service, &f.service_len)
        f.status = resp.status
        f.bytes = resp.bytes_sent
        f.latency_ms = <long long>((now - req.start_time) * 1000)
        f.upstream_ms = upstream_ms
        f.time = now + self._wall_offset
        if self._json:
            jqg_alog_append_json(&self._log, &f)
        else:
            jqg_alog_append_plain(&self._log, &f)
        return 0

    def log(self, HttpRequest req, Responder resp, route=None, service=None, upstream_ms=-1):
        """write() for Python callers (tests, embedders with their own server loop)."""
        self.write(req, resp, None if route is None else str(route).encode("utf-8", "replace"),
                   None if service is None else str(service).encode("utf-8", "replace"),
                   upstream_ms, mono_now())

    def flush(self):
        """Write out every buffered line now."""
        if self._open and self._log.len:
            jqg_alog_flush(&self._log)
        self._report_drops()
        self._sync_clock()

    def start(self, loop):
        """Flush from `loop` at most every flush_interval seconds while lines wait."""
        if self._timer is None:
            self._timer = loop.call_later(self.flush_interval, self._tick, loop)

    def _tick(self, loop):
        self._timer = None
        if not self._open:
            return
        self.flush()
        self._timer = loop.call_later(self.flush_interval, self._tick, loop)

    def reopen(self):
        """SIGHUP: flush, then open the file again by name, so a log rotated away (renamed)
        is left behind and a new one is started at the same path."""
        if not self._open:
            return
        self.flush()
        if self.destination in ACCESS_LOG_STREAMS:
            return
        cdef int old = self._log.fd
        try:
            fd = self._open_destination()
        except OSError as exc:
            _alog_log.error("access log: cannot reopen, still writing the old file: %s", exc)
            return
        self._log.fd = fd
        self._close_fd(old)

    def close(self):
        """Shutdown: stop the timer, write out every line, close the file. Lines written
        after this are counted as dropped."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._open:
            return
        self.flush()
        self._open = False
        self._close_fd(self._log.fd)

    cdef void _report_drops(self):
        cdef long long dropped = self._log.lines_dropped
        if dropped != self._reported_dropped:
            _alog_log.error("access log %s: %d line(s) lost (%s)", self.destination,
                            dropped - self._reported_dropped,
                            _os.strerror(self._log.last_errno) if self._log.last_errno
                            else "closed")
            self._reported_dropped = dropped

    @property
    def buffered(self):
        """Bytes of lines not written out yet."""
        return self._log.len

    @property
    def lines_written(self):
        return self._log.lines_written

    @property
    def lines_dropped(self):
        return self._log.lines_dropped
