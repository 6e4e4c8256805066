# Declarations of server/http2.pyx: what the rest of the core uses from it (via core.pxd).

cdef class Http2Limits:
    cdef public int max_concurrent_streams
    cdef public object max_header_list_size
    cdef public int max_continuation_frames
    cdef public int initial_window_size
    cdef public int max_resets
    cdef public double reset_interval

cdef class _H2Stream:
    cdef int stream_id
    # The request head as the header callback sorts it (no second pass over the fields):
    cdef list fields                # the regular fields, (name, value) as on HTTP/1.1; no cookie
    cdef Py_ssize_t field_bytes     # their size as SETTINGS_MAX_HEADER_LIST_SIZE counts it
    cdef bytes method, path, authority
    cdef bytes cookie               # the cookie fields joined with "; " (RFC 9113 8.2.3)
    cdef bytes host                 # the first Host field's value
    cdef int n_host
    cdef bint expect_continue
    cdef int head_status            # the first field-level refusal (417, 400), 0 when none
    cdef HttpRequest req
    cdef Http2Responder resp
    cdef Http2RequestBody body
    cdef list pending               # response bytes nghttp2 has not taken into DATA frames yet
    cdef object nocopy              # the piece of it the DATA frame being sent carries uncopied
    cdef Py_ssize_t pending_at      # how much of pending[0] it took already
    cdef Py_ssize_t pending_bytes
    cdef bint end_pending           # END_STREAM goes after the pending data
    cdef bint deferred              # the data source said "nothing yet": resume it on a write
    cdef bint ended                 # our END_STREAM (or RST_STREAM) is queued
    cdef bint reset_after_end       # answered before the request body ended: RST NO_ERROR then
    cdef bint dispatched
    cdef bint reset                 # the stream is gone (reset by either side): write nothing
    cdef bint producer_paused
    cdef double blocked_since       # pending bytes waiting on the client's window since
    cdef double last_data           # the request head or body bytes last arrived

cdef class Http2RequestBody(RequestBody):
    cdef Http2ServerProtocol _h2
    cdef int _stream_id
    cdef Py_ssize_t _unacked
    cdef bint _consumer_paused

    cdef void _feed(self, bytes data)
    cdef void _maybe_ack(self)

cdef class Http2Responder(Responder):
    cdef _H2Stream _stream
    cdef Http2ServerProtocol _h2

    cdef list _h2_head(self, int status, list headers, long long content_length)
    cdef void _h2_framing(self, list out, int status, long long content_length)
    cdef size_t _h2_framing_nv(self, void* nva, size_t n, int status, long long content_length,
                               char* length_text)
    cpdef send(self, int status, list headers, bytes body=*)
    cpdef start(self, int status, list headers, long long content_length=*)
    cdef int start_relayed(self, int status, const char* src, const unsigned char* keep,
                           list extra, long long content_length) except -1
    cpdef write(self, bytes data)
    cpdef flush(self)
    cpdef end(self)

cdef class Http2ServerProtocol(HttpServerProtocol):
    cdef void* _session             # the nghttp2_session (void*: core.pxd needs no nghttp2.h)
    cdef Http2Limits _limits
    cdef Py_ssize_t _header_list_size
    cdef dict _streams              # stream id -> _H2Stream, until nghttp2 closes it
    cdef _H2Stream _head_stream     # the stream whose request head is being received
    cdef bint _flush_scheduled
    cdef bint _in_receive           # inside nghttp2 (receiving or sending): no flush from here
    cdef bint _goaway_sent
    # One flush's bytes, gathered for one write: the frames nghttp2 serialised, copied into
    # _out; a large body piece goes by reference, _out cut before it (_out_pieces).
    cdef char* _out
    cdef size_t _out_len
    cdef size_t _out_cap
    cdef list _out_pieces
    cdef int _resets
    cdef double _resets_since

    cdef void _on_request(self, _H2Stream s, bint ended)
    cdef int _check_head(self, _H2Stream s, HttpRequest req) except -1
    cdef void _on_data(self, int sid, bytes data, int flow_len)
    cdef void _on_stream_end(self, int sid)
    cdef void _dispatch_stream(self, _H2Stream s)
    cdef void _refuse(self, _H2Stream s, int status, str message)
    cdef void _send_headers(self, _H2Stream s, list headers, bint end)
    cdef void _send_nv(self, _H2Stream s, const void* nva, size_t n, bint end)
    cdef void _sent_head(self, _H2Stream s, int rv, bint end)
    cdef void _send_data(self, _H2Stream s, bytes data, bint end)
    cdef void _end_stream(self, _H2Stream s)
    cdef void _resume(self, _H2Stream s)
    cdef Py_ssize_t _take(self, _H2Stream s, unsigned char* buf, size_t length, bint* eof)
    cdef Py_ssize_t _take_piece(self, _H2Stream s, size_t length, bint* eof)
    cdef void _took(self, _H2Stream s, Py_ssize_t n, bint* eof)
    cdef int _out_add(self, const char* data, size_t n) except -1
    cdef void _out_cut(self)
    cdef void _on_stream_close(self, int sid)
    cdef void _pause_producer(self, _H2Stream s)
    cdef void _resume_producer(self, _H2Stream s)
    cdef void _response_done(self, Responder resp)
    cdef void _response_aborted(self, Responder resp)
    cdef void _reset_stream(self, _H2Stream s, int code)
    cdef void _forget_if_done(self, _H2Stream s)
    cdef void _on_reset(self, int sid)
    cdef void _on_settings_ack(self)
    cdef void _cancel_stream(self, _H2Stream s, str why)
    cdef void _abandon_streams(self)
    cdef void _goaway(self, int code)
    cdef void _fail_connection(self)
    cdef void _drain(self)
    cdef void _close_when_idle(self)
    cdef bint _busy(self)
    cdef void _acknowledge(self, int sid, int n)
    cdef void _wrote(self)
    cdef void _flush(self)
    cdef void _close_transport(self)
    cdef double _check_interval(self)

cdef class _ProtocolNegotiation:
    cdef ServerSettings settings
    cdef object loop
    cdef object transport
    cdef bytes _seen
    cdef object _timer

    cdef void _hand_over(self, bint http2, bytes data)
