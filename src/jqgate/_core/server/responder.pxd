# Declarations of server/responder.pyx: what the rest of the core uses from it (via core.pxd).

cdef class ResponseProducer:
    cdef void pause_producing(self)
    cdef void resume_producing(self)
    cdef void client_gone(self)

cdef class Responder:
    cdef HttpServerProtocol _proto
    cdef public HttpRequest request
    cdef public int status
    cdef public bint started
    cdef public bint finished
    cdef public long long bytes_sent
    cdef public ResponseProducer producer
    cdef public object log_extra      # whatever the handler wants in the access log
    cdef bint _chunked
    cdef bint _no_body
    cdef bint _close
    cdef bytes _head_buf   # head from start(), written with the first body bytes (one send)

    cdef void _framing(self, int status, long long content_length, WriteFraming* fr)
    cpdef send(self, int status, list headers, bytes body=*)
    cpdef send_error(self, int status, str message, list headers=*)
    cpdef start(self, int status, list headers, long long content_length=*)
    cdef int start_relayed(self, int status, const char* src, const unsigned char* keep,
                           list extra, long long content_length) except -1
    cdef void _started(self, int status, bytes head)
    cdef void switch_protocols(self, list headers, Tunnel tunnel, bytes from_upstream)
    cpdef write(self, bytes data)
    cpdef flush(self)
    cpdef end(self)
    cpdef abort(self)
    cdef void _finish(self)
