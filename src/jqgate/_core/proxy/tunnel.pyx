# An upgraded connection (WebSocket, or any `Connection: Upgrade` protocol the upstream accepted
# with 101): after the 101 head went to the client, the client's server connection
# (HttpServerProtocol) and the upstream connection (ClientConnection, out of the pool for good)
# are joined, and bytes are relayed both ways as they are, until either side closes.
#
#   ProxyCall.on_switch (proxy/handler.pyx) builds the Tunnel, Responder.switch_protocols writes the
#   101 and hands the client socket over (HttpServerProtocol._start_tunnel), then start() relays
#   what either side sent early (frames behind the request head or the 101 head).
#
# Back-pressure: a side whose socket is full stops reading the other (pause_reading), as the
# proxy does for bodies. Idle timeout: nothing either way for `idle_timeout` seconds closes
# both -- Kong's proxy_read_timeout for upgraded connections, which Kong takes from the
# service's read_timeout (60 s by default). The upstream connection still counts in its host's
# max_per_host (a tunnel is an open connection there): the pool's limit, when set, bounds tunnels too.
# A close of either side closes the other once what it was sent is written.


cdef class Tunnel:

    def __init__(self, HttpServerProtocol client, ClientConnection upstream, double idle_timeout):
        self.client = client
        self.upstream = upstream
        self.loop = upstream.pool.loop
        self.idle_timeout = idle_timeout

    cdef void start(self, bytes from_upstream, bytes from_client):
        self.last_activity = mono_now()
        self.upstream.tunnel = self
        if self.idle_timeout > 0:
            self.timer = self.loop.call_later(self.idle_timeout, self._on_timer)
        if from_upstream:
            self.from_upstream(from_upstream)
        if from_client:
            self.from_client(from_client)

    cdef void from_client(self, bytes data):
        cdef object transport = self.upstream.transport
        self.last_activity = mono_now()
        self.bytes_from_client += len(data)
        if transport is not None and not self.closed:
            transport.write(data)

    cdef void from_upstream(self, bytes data):
        cdef object transport = self.client.transport
        self.last_activity = mono_now()
        self.bytes_from_upstream += len(data)
        if transport is not None and not self.closed:
            transport.write(data)

    # back-pressure: a full socket on one side stops reading the other

    cdef void client_full(self, bint full):
        transport = self.upstream.transport
        if transport is not None and not self.closed:
            if full:
                transport.pause_reading()
            else:
                transport.resume_reading()

    cdef void upstream_full(self, bint full):
        transport = self.client.transport
        if transport is not None and not self.closed:
            if full:
                transport.pause_reading()
            else:
                transport.resume_reading()

    # either side gone: the other is closed once its pending bytes are written

    cdef void close(self):
        if self.closed:
            return
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.upstream.transport is not None:
            self.upstream.transport.close()
        if self.client.transport is not None:
            self.client.transport.close()

    def _on_timer(self):
        self.timer = None
        if self.closed:
            return
        cdef double left = self.last_activity + self.idle_timeout - mono_now()
        if left <= 0:
            self.close()
            return
        self.timer = self.loop.call_later(left, self._on_timer)
