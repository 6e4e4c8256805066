# Writing one answer on a server connection: whole, or head then streamed body.
# See server/protocol.pyx for the handler interface this belongs to.

cdef class ResponseProducer:
    """Whoever feeds a Responder: told when the client socket is full / drained / gone."""

    cdef void pause_producing(self):
        pass

    cdef void resume_producing(self):
        pass

    cdef void client_gone(self):
        pass


@cython.freelist(64)
cdef class Responder:
    """Writes one response, in order, on its connection (see the module comment)."""

    cdef void _framing(self, int status, long long content_length, WriteFraming* fr):
        """The framing and connection fields the server owns, into *fr (see write_framed_head):
        the request id, Content-Length or chunked, Connection."""
        cdef HttpRequest req = self.request
        cdef HttpServerProtocol proto = self._proto
        cdef bytes rid_name = proto.settings.request_id_header
        self._chunked = False
        fr.rid_name = NULL
        fr.rid = NULL
        fr.length = -1
        fr.chunked = False
        fr.connection = WF_CONNECTION_NONE
        if rid_name is not None:
            fr.rid_name = <PyObject*>rid_name      # both alive while the head is written:
            fr.rid = <PyObject*>req.request_id     # the settings' and the request's own
        self._no_body = req.method == b"HEAD" or status == 204 or status == 304 or status < 200
        if status == 204 or status == 304 or status < 200:
            pass
        elif content_length >= 0:
            fr.length = content_length
        elif req.http_version == "1.1":
            self._chunked = not self._no_body
            fr.chunked = True
        else:
            self._close = True      # HTTP/1.0 without a length: the close ends the body
        if (not req.keep_alive or ((proto._dead or proto.settings.draining) and proto._last_answer())
                or (req._body is not None and not req._body.eof)):
            # An unread request body can't be skipped safely: close after this response.
            self._close = True
        if self._close:
            fr.connection = WF_CONNECTION_CLOSE
        elif req.http_version == "1.0":
            fr.connection = WF_CONNECTION_KEEP_ALIVE

    cpdef send(self, int status, list headers, bytes body=b""):
        """The whole response at once."""
        if self.started:
            raise RuntimeError("response already started")
        # The head is built before anything counts as started: headers a handler got wrong
        # (a str name) fail here, and the server can still answer 500.
        cdef WriteFraming fr
        self._framing(status, len(body), &fr)
        cdef bytes head = write_framed_head(write_status_line(status), headers, NULL, NULL,
                                            None, &fr)
        self.started = True
        self.status = status
        if self._no_body or not body:
            self._proto._write(head)
        elif len(body) < 16384:
            self._proto._write(write_join(head, body, None))
        else:
            self._proto._write(head)
            self._proto._write(body)
        self.bytes_sent += len(head) + (0 if self._no_body else len(body))
        self._finish()

    cpdef send_error(self, int status, str message, list headers=None):
        """The gateway's own answer, Kong-shaped: JSON {"message", "request_id"}."""
        if self.started:
            self.abort()
            return
        cdef list h = [(b"Content-Type", b"application/json; charset=utf-8"),
                       (b"Date", write_http_date())]
        if self._proto.settings.server_header is not None:
            h.append((_SERVER_HEADER_NAME, self._proto.settings.server_header))
        if headers:
            h.extend(headers)
        self.send(status, h, write_error_body(message, self.request.request_id))

    cpdef start(self, int status, list headers, long long content_length=-1):
        """Send the head; the body follows with write() and end()."""
        if self.started:
            raise RuntimeError("response already started")
        cdef WriteFraming fr
        self._framing(status, content_length, &fr)
        self._started(status, write_framed_head(write_status_line(status), headers, NULL, NULL,
                                                None, &fr))

    cdef int start_relayed(self, int status, const char* src, const unsigned char* keep,
                           list extra, long long content_length) except -1:
        """start() with the scanned upstream head's kept fields, then `extra`, as headers
        (see write_framed_head)."""
        if self.started:
            raise RuntimeError("response already started")
        cdef WriteFraming fr
        self._framing(status, content_length, &fr)
        self._started(status, write_framed_head(write_status_line(status), None, src, keep,
                                                extra, &fr))
        return 0

    cdef void _started(self, int status, bytes head):
        self.started = True
        self.status = status
        self.bytes_sent += len(head)
        self._head_buf = head

    cdef void switch_protocols(self, list headers, Tunnel tunnel, bytes from_upstream):
        """The upstream's 101 to an upgrade request: the head (its Connection and Upgrade
        fields in `headers`) and then the socket goes to `tunnel`."""
        cdef list extra = []
        if self._proto.settings.request_id_header is not None:
            extra.append((self._proto.settings.request_id_header, self.request.request_id))
        cdef bytes head = write_head(101, headers, extra)
        self.started = True
        self.finished = True
        self.status = 101
        self.bytes_sent += len(head)
        self._proto._write(head)
        self._proto._start_tunnel(self, tunnel, from_upstream)

    cpdef write(self, bytes data):
        if self.finished or self._no_body or not data:
            return
        self.bytes_sent += len(data)
        cdef bytes head = self._head_buf
        if self._chunked:
            if head is not None:
                self._head_buf = None
                self._proto._writelines([head, b"%x\r\n" % len(data), data, b"\r\n"])
            else:
                self._proto._writelines([b"%x\r\n" % len(data), data, b"\r\n"])
        elif head is not None:
            self._head_buf = None
            if len(data) < 16384:
                self._proto._write(write_join(head, data, None))
            else:
                self._proto._writelines([head, data])
        else:
            self._proto._write(data)

    cpdef flush(self):
        """Write a head that start() kept back (write() and end() do this themselves)."""
        if self._head_buf is not None:
            self._proto._write(self._head_buf)
            self._head_buf = None

    cpdef end(self):
        if self.finished:
            return
        cdef bytes head = self._head_buf
        self._head_buf = None
        if self._chunked:
            self._proto._write(b"0\r\n\r\n" if head is None else head + b"0\r\n\r\n")
        elif head is not None:
            self._proto._write(head)
        self._finish()

    cpdef abort(self):
        """Give up on this response: the client sees the connection close."""
        if self.finished:
            return
        self.finished = True
        self._close = True
        self._head_buf = None
        self._proto._response_aborted(self)

    cdef void _finish(self):
        self.finished = True
        self._proto._response_done(self)

    @property
    def closing(self):
        return self._close

    @property
    def client_gone(self):
        return self._proto.transport is None
