# What the server hands a handler: the parsed request and its body.
#
# A body arrives while the handler runs; RequestBody buffers what nobody reads yet, up to
# SRV_BODY_HIGH_WATER, then stops the connection reading (see server/protocol.pyx for the whole
# handler interface).

cdef bytes _SERVER_HEADER_NAME = b"Server"


class _LimitExceeded(Exception):
    """Raised from a parser callback to stop parsing with an HTTP status."""

    def __init__(self, status, message):
        self.status = status
        self.message = message


cdef class BodyConsumer:
    """Receives a streamed request body (RequestBody.pipe)."""

    cdef void on_body_data(self, bytes data):
        pass

    cdef void on_body_end(self):
        pass

    cdef void on_body_error(self, int status, str message):
        pass


# The per-request objects (this one, Responder, ClientExchange, ProxyCall, ...) keep free lists:
# their memory is reused by the next request instead of going back to the allocator.
@cython.freelist(64)
@cython.auto_pickle(False)      # a live request (and its C array of kept fields) is not data
cdef class HttpRequest:
    """One parsed request. Headers keep arrival order and original casing."""

    property headers:
        """[(name, value)] bytes, in arrival order and original casing; a handler may replace
        the list (the proxy sends what it holds then)."""

        def __get__(self):
            return self.header_list()

        def __set__(self, list headers):
            self.set_headers(headers)

    cdef void set_headers(self, list headers):
        self._headers = headers
        self._raw = None

    cdef list header_list(self):
        """The fields as a list, made from the scanned head the first time it is asked for."""
        if self._raw is not None:
            self._headers = head_kept_list(&self._raw_fields,
                                           PyBytes_AS_STRING(self._raw) + self._raw_at)
            self._raw = None
        return self._headers

    cdef inline bint keeps_raw_fields(self) noexcept:
        """Whether the fields are still only the scanned head's (_raw_fields into _raw)."""
        return self._raw is not None

    def header(self, name, default=None):
        """First value of a header (case-insensitive name, bytes or str)."""
        if isinstance(name, str):
            name = name.encode()
        name = name.lower()
        for k, v in self.header_list():
            if k.lower() == name:
                return v
        return default

    def __repr__(self):
        return "<HttpRequest %s %s>" % (self.method, self.target)


cdef class RequestBody:
    """A request body that arrives while the handler runs. Unread data is buffered up to
    SRV_BODY_HIGH_WATER, then the connection stops reading until the consumer catches up."""

    def __init__(self):
        self._buffer = []
        self._high_water = SRV_BODY_HIGH_WATER

    cdef void _feed(self, bytes data):
        self.received += len(data)
        if self._consumer is not None and not self._buffer:
            self._consumer.on_body_data(data)
            return
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered > self._high_water and self._proto is not None:
            self._proto._pause(PAUSE_BODY)

    cdef void _feed_eof(self):
        self.eof = True
        cdef BodyConsumer consumer = self._consumer
        if consumer is not None and not self._buffer:
            # The consumer's work is done: forget it, so it and what it points at (often
            # this body's request) die by reference count, not in a cycle.
            self._consumer = None
            consumer.on_body_end()

    cdef void _fail(self, int status, str message):
        if self.eof or self.error is not None:
            return
        self.error_status = status
        self.error = message
        cdef BodyConsumer consumer = self._consumer
        if consumer is not None:
            self._consumer = None
            consumer.on_body_error(status, message)

    cdef bytes _take_all(self):
        cdef bytes data = b"".join(self._buffer)
        self._buffer = []
        self._buffered = 0
        return data

    def pipe(self, BodyConsumer consumer):
        """Deliver everything (buffered first) to `consumer`."""
        self._consumer = consumer
        cdef bytes chunk
        while self._buffer and self._consumer is consumer:
            chunk = self._buffer.pop(0)
            self._buffered -= len(chunk)
            consumer.on_body_data(chunk)
        if self._proto is not None:
            self._proto._unpause(PAUSE_BODY)
        if self._consumer is not consumer:
            return
        if self.error is not None:
            self._consumer = None
            consumer.on_body_error(self.error_status, self.error)
        elif self.eof and not self._buffer:
            self._consumer = None
            consumer.on_body_end()

    def read_all(self, callback, long long limit=0):
        """Collect the whole body; callback(bytes), or callback(None) on error / over limit."""
        self.pipe(_BodyCollector(callback, limit))

    def pause(self):
        if self._proto is not None:
            self._proto._pause(PAUSE_CONSUMER)

    def resume(self):
        if self._proto is not None:
            self._proto._unpause(PAUSE_CONSUMER)


cdef class _BodyCollector(BodyConsumer):
    """read_all's consumer. It keeps the pieces only until it hands them over joined."""

    def __init__(self, callback, long long limit):
        self.callback = callback
        self.parts = []
        self.limit = limit

    cdef void on_body_data(self, bytes data):
        if self.parts is None:
            return
        self.size += len(data)
        if self.limit and self.size > self.limit:
            self.parts = None
            cb = self.callback
            self.callback = None
            if cb is not None:
                cb(None)
            return
        self.parts.append(data)

    cdef void on_body_end(self):
        cb = self.callback
        self.callback = None
        parts = self.parts
        self.parts = None
        if cb is not None:
            cb(b"".join(parts))

    cdef void on_body_error(self, int status, str message):
        cb = self.callback
        self.callback = None
        self.parts = None
        if cb is not None:
            cb(None)
