# One upstream connection of the pool (client/pool.pyx): an asyncio.Protocol that runs one
# exchange at a time -- writes its request, parses the response, reports it, and goes back to
# the pool or closes. Its callbacks are where exchanges complete (no Task, no Future per
# request). A response whose head arrives whole and plain is read by the C scanner
# (http/head.pyx) and its Content-Length body counted here; any other goes to llhttp.
#
# What an upstream may answer is checked before anything is relayed (ERR_PROTOCOL, a 502):
# a status outside 100-599, a 101 to anything but an upgrade request, a transfer coding
# other than chunked, a head over the pool's max_header_bytes. Field names and values follow
# the one validator's rules (http/head.pyx) in both readers: the scanner applies them itself,
# llhttp (strict) refuses the same bytes.


class _TunnelRefused(Exception):
    """A forward proxy did not open the tunnel (its CONNECT answer was not 2xx)."""


CLIENT_TUNNEL_HEAD_LIMIT = 16384     # bytes of a proxy's CONNECT answer read at most


cdef class ClientConnection:
    """One upstream connection (asyncio.Protocol). Runs at most one exchange at a time."""


    def __init__(self, ConnectionPool pool, _HostSlot slot):
        self.pool = pool
        self.slot = slot
        self.state = CONN_CONNECTING
        self.scanned_left = -1
        self.fd = -1

    async def _connect(self, double connect_timeout):
        cdef _HostSlot slot = self.slot
        loop = self.pool.loop
        try:
            if slot.tunnel is not None:
                coro = self._connect_tunnelled(loop, slot)
            else:
                coro = loop.create_connection(lambda: self, slot.host, slot.port, ssl=slot.ssl,
                                              server_hostname=slot.server_hostname)
            if connect_timeout > 0:
                await _asyncio.wait_for(coro, connect_timeout)
            else:
                await coro
        except _ssl.SSLError as exc:
            self.state = CONN_CLOSED
            self.pool._connect_failed(self, CERR_TLS, "TLS handshake failed: %s" % (exc,))
            return
        except (TimeoutError, _asyncio.TimeoutError):
            self.state = CONN_CLOSED
            self.pool._connect_failed(self, CERR_TIMEOUT, "connect timed out")
            return
        except _TunnelRefused as exc:
            self.state = CONN_CLOSED
            self.pool._connect_failed(self, CERR_CONNECT, str(exc))
            return
        except OSError as exc:
            self.state = CONN_CLOSED
            self.pool._connect_failed(self, CERR_CONNECT, "connect failed: %s" % (exc,))
            return
        except Exception as exc:  # e.g. a malformed host name
            self.state = CONN_CLOSED
            self.pool._connect_failed(self, CERR_CONNECT, "connect failed: %r" % (exc,))
            return
        if self.state == CONN_CLOSED:   # the pool was closed while we connected
            if self.transport is not None:
                self.transport.close()
            return
        self.state = CONN_IDLE
        self.pool._connection_ready(self)

    async def _connect_tunnelled(self, loop, _HostSlot slot):
        """A connection to the target through a forward proxy's tunnel: TCP to the proxy,
        `CONNECT host:port`, a 2xx answer, then TLS with the target inside the tunnel."""
        from jqgate.nodes.call.proxy import connect_request
        proxy = slot.tunnel
        infos = await loop.getaddrinfo(proxy.host, proxy.port, type=_socket.SOCK_STREAM)
        if not infos:
            raise OSError("cannot resolve the proxy %s" % proxy.host)
        family, kind, proto, _, address = infos[0]
        sock = _socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
            await loop.sock_sendall(sock, connect_request(slot.host, slot.port,
                                                          proxy.authorization))
            answer = b""
            while b"\r\n\r\n" not in answer:
                piece = await loop.sock_recv(sock, 4096)
                if not piece:
                    raise _TunnelRefused("proxy %s:%d closed the connection during CONNECT"
                                         % (proxy.host, proxy.port))
                answer += piece
                if len(answer) > CLIENT_TUNNEL_HEAD_LIMIT:
                    raise _TunnelRefused("proxy %s:%d answered CONNECT with a head over %d bytes"
                                         % (proxy.host, proxy.port, CLIENT_TUNNEL_HEAD_LIMIT))
            status_line = answer.split(b"\r\n", 1)[0].split(None, 2)
            if (len(status_line) < 2 or not status_line[0].startswith(b"HTTP/")
                    or not status_line[1].startswith(b"2")):
                raise _TunnelRefused("proxy %s:%d refused CONNECT %s:%d: %s"
                                     % (proxy.host, proxy.port, slot.host, slot.port,
                                        answer.split(b"\r\n", 1)[0][:80].decode("latin-1")))
            await loop.create_connection(lambda: self, sock=sock, ssl=slot.ssl,
                                         server_hostname=slot.server_hostname)
        except BaseException:
            if self.transport is None:
                sock.close()
            raise

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        self._transport_write = transport.write
        self._transport_closing = transport.is_closing
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            except (OSError, AttributeError):
                pass
            try:
                self.fd = sock.fileno()
            except (OSError, AttributeError):
                self.fd = -1

    cdef bint _peer_closed(self):
        """On checkout of a used connection: whether the peer already closed it (its EOF, or
        a reset, waits in the socket while this loop has not read it yet) or sent bytes
        nobody asked for. One non-blocking peek; such a connection is never written to, so a
        request is not lost to a keep-alive race the peer won."""
        if self.fd < 0 or self.slot.ssl is not None:
            return False        # TLS records (tickets, alerts) make a peek meaningless
        cdef char byte
        cdef ssize_t n = recv(self.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT)
        if n < 0 and (errno == EAGAIN or errno == EINTR):
            return False
        self.pool.n_stale += 1
        return True

    def connection_lost(self, exc):
        cdef int prev = self.state
        self.state = CONN_CLOSED
        if self.tunnel is not None:
            (<Tunnel>self.tunnel).close()
            self.tunnel = None
        self._stop_gap_timer()
        self.parser = None          # it holds our bound methods: break the cycle
        self._feed = None
        self._transport_write = None
        self._transport_closing = None
        cdef ClientExchange ex = self.ex
        self.ex = None
        if ex is not None and not ex._done:
            ex._conn = None
            if self.headers_done and not self.has_length and not self.skip_message:
                # close-delimited body: EOF is the end of the response.
                self._complete(ex, False)
            elif (not self.got_bytes and self.reused_now and ex.attempts < 2
                  and not ex._body_started
                  and (ex.idempotent or self.unsent
                       or (not ex.stream_body and isinstance(exc, ConnectionResetError)))):
                # The peer closed a pooled connection before answering (it had timed it out):
                # an idempotent request may go once more on a fresh connection; any other only
                # when it provably never reached the peer (see eof_received), or when the peer
                # reset the connection with no FIN first: Linux resets a close() that leaves
                # received bytes unread (or bytes arriving after it), while a peer that read
                # the request and then closed sends a FIN -- so its application never read the
                # request whole; the body is still in hand (buffered, not streamed). ECONNRESET
                # means no FIN came first (eof_received not called; a reset after the peer's FIN
                # is reported as EPIPE), under TLS too. The known limit: a peer that reads the
                # request and then resets on purpose (SO_LINGER 0) gets it twice.
                if self.unsent:
                    self.pool.n_replayed_unsent += 1
                elif not ex.idempotent:
                    self.pool.n_replayed_reset += 1
                self.pool._forget(self)
                self.pool._retry(ex)
                return
            else:
                ex._finish(CERR_RESET, "upstream closed the connection"
                           if exc is None else "upstream connection lost: %s" % (exc,))
        if prev != CONN_CONNECTING:
            self.pool._connection_closed(self)

    def eof_received(self):
        """The peer's FIN. Before any answer byte on a reused connection, it may be a
        keep-alive close that crossed our request: then the request is sent again, whatever
        its method, when it provably never reached the peer -- the FIN came while not one of
        its bytes was acknowledged (SIOCOUTQ still counts all of them), so the peer closed
        before its TCP had the request, and a peer that has closed cannot answer it."""
        cdef ClientExchange ex = self.ex
        if ex is not None and not self.got_bytes and self.reused_now and not ex._done \
                and not ex.stream_body and not ex.idempotent and not self.unsent:
            self.unsent = self._nothing_acknowledged()
        return False   # close our side too; connection_lost follows

    cdef bint _nothing_acknowledged(self):
        """Whether none of the current request's bytes has been acknowledged by the peer's
        TCP. Every byte of earlier requests was (their answers carried the ACKs), so the
        socket's unacknowledged count covering all the request's bytes in the kernel proves it.
        Plain TCP only: a TLS layer writes records of its own."""
        if self.fd < 0 or self.slot.ssl is not None or self.transport is None:
            return False
        cdef int unacked = 0
        if ioctl(self.fd, SIOCOUTQ, &unacked) != 0:
            return False
        cdef Py_ssize_t in_kernel = self.sent_bytes - self.transport.get_write_buffer_size()
        return in_kernel <= 0 or unacked >= in_kernel

    def pause_writing(self):
        self.write_paused = True
        if self.ex is not None:
            self.ex._pause_producer()
        elif self.tunnel is not None:
            (<Tunnel>self.tunnel).upstream_full(True)

    def resume_writing(self):
        self.write_paused = False
        cdef ClientExchange ex = self.ex
        if ex is None and self.tunnel is not None:
            (<Tunnel>self.tunnel).upstream_full(False)
        if ex is not None:
            self.last_activity = mono_now()
            if ex._pending_size <= CLIENT_BODY_HIGH_WATER:
                ex._resume_producer()

    def data_received(self, bytes data):
        cdef ClientExchange ex = self.ex
        if ex is None:
            if self.tunnel is not None:
                (<Tunnel>self.tunnel).from_upstream(data)
                return
            # Bytes on an idle connection: the peer is confused; it cannot be reused.
            self._close()
            return
        self.got_bytes = True
        self.last_activity = mono_now()
        if self.scanned_left >= 0:
            self._scanned_body(ex, data, 0)
            return
        if self.head_bytes == 0 and not self.headers_done \
                and jqg_scan_response_head(data, len(data), &scanned_head) \
                and <Py_ssize_t>scanned_head.head_len <= self.pool.max_header_bytes:
            self._scanned_response(ex, data)
            return
        if not self.headers_done:
            self.head_bytes += len(data)
        self.feeding = ex
        try:
            self._feed(data)
        except _httptools.HttpParserUpgrade as e:
            if self.switching and self.ex is ex:
                self._switch(ex, data[<Py_ssize_t>e.args[0]:] if e.args else b"")
            else:
                self._fail_current(CERR_PROTOCOL, "upstream switched protocols")
            return
        except _httptools.HttpParserError as e:
            if self.ex is ex and not ex._done:
                cause = e.__context__
                self._fail_current(CERR_PROTOCOL, str(cause) if isinstance(cause, _ClientLimit)
                                   else "invalid response from upstream: %s" % (e,))
            elif ex._done:
                self._close()   # bytes after a complete answer: the stream can't be trusted
            return
        finally:
            self.feeding = None
        if not self.headers_done and self.head_bytes > self.pool.max_header_bytes \
                and self.ex is ex:
            self._fail_current(CERR_PROTOCOL, "upstream response head too large")
            return
        if self.head_request and self.headers_done and self.ex is ex:
            self._complete(ex, self.parser.should_keep_alive())
        elif ex.sink is not None and self.ex is ex:
            ex.sink.on_flush(ex)

    # -- responses whose head the C scanner read -------------------------------------------

    cdef int _scanned_response(self, ClientExchange ex, bytes data) except -1:
        cdef list headers = None
        if ex.sink is not None and ex.sink.takes_raw_head:
            ex.raw_head = data      # the sink reads the fields in place
        elif ex.sink is None and head_keep_fields(&ex._resp_fields):
            ex._resp_raw = data     # listed only if read (ClientExchange.header_list)
        else:
            headers = scanned_fields(data, 0)
        cdef long long length = scanned_head.content_length
        cdef Py_ssize_t head_len = scanned_head.head_len
        if length < 0 or self.head_request:
            length = 0
        self.scanned_keep_alive = not scanned_head.connection_close
        self.scanned_left = length
        self.resp_headers = headers
        self.has_length = True
        self._report_head(ex, scanned_head.status)
        ex.raw_head = None
        if self.ex is ex:
            self._scanned_body(ex, data, head_len)
        return 0

    cdef int _scanned_body(self, ClientExchange ex, bytes data, Py_ssize_t start) except -1:
        """Counts a Content-Length body in; bytes past its end mean the peer is confused, so
        the connection is not reused."""
        cdef Py_ssize_t n = len(data) - start
        if n > self.scanned_left:
            n = <Py_ssize_t>self.scanned_left
            self.scanned_keep_alive = False
        if n > 0:
            self.scanned_left -= n
            if not self._body_piece(ex, write_slice(data, start, start + n)) or self.ex is not ex:
                return 0        # over the limit, or the sink gave the exchange up
        if self.scanned_left == 0:
            self.scanned_left = -1
            self._complete(ex, self.scanned_keep_alive)
        elif ex.sink is not None:
            ex.sink.on_flush(ex)
        return 0

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self):
        if self.ex is not self.feeding:
            raise _StrayBytes("bytes after the end of the response")

    def on_header(self, bytes name, bytes value):
        if not self.headers_done:       # trailers of a chunked body are dropped
            # The head is counted as it is parsed: one that arrives whole in a single read
            # would otherwise be over the limit before anyone looked.
            self.head_budget -= len(name) + len(value) + 4
            if self.head_budget < 0:
                raise _ClientLimit("upstream response head too large")
            self.resp_headers.append((name, value))

    def on_status(self, bytes status):
        self.head_budget -= len(status)
        if self.head_budget < 0:
            raise _ClientLimit("upstream response head too large")

    def on_headers_complete(self):
        cdef int status = self.parser.get_status_code()
        if status < 100 or status > 599:
            raise _ClientLimit("upstream answered with status %d" % status)
        if status == 101:
            if self.ex is None or not self.ex.upgrade or self.ex.sink is None:
                raise _ClientLimit("upstream switched protocols without an upgrade request")
            self.switching = True       # llhttp stops after this head: data_received switches
            self.headers_done = True
            return
        if 100 <= status < 200:
            self.skip_message = True
            self.head_budget = self.pool.max_header_bytes   # the final head gets its own
            return
        self.skip_message = False
        cdef int kind
        self.has_length = (status == 204 or status == 304 or self.head_request)
        for item in self.resp_headers:      # on_header's own (bytes, bytes) tuples
            kind = header_kind(<bytes>(<tuple>item)[0])
            if kind == HK_TRANSFER_ENCODING:
                # llhttp de-chunks "gzip, chunked" and would relay it as plain chunked, the
                # gzip coding silently dropped: only chunked alone is relayed.
                if not _conn_is_chunked(<bytes>(<tuple>item)[1]):
                    raise _ClientLimit("upstream transfer coding %r is not supported"
                                       % ((<tuple>item)[1],))
                self.has_length = True
            elif kind == HK_CONTENT_LENGTH:
                self.has_length = True
        self._report_head(self.ex, status)

    def on_body(self, bytes body):
        if self.skip_message or self.head_request:
            return
        if not self._body_piece(self.ex, body):
            raise _ClientLimit("upstream response body over %d bytes" % self.ex.max_body)

    # -- shared by both readers ------------------------------------------------------------

    cdef void _report_head(self, ClientExchange ex, int status):
        self.headers_done = True
        ex.status = status
        ex._headers = self.resp_headers     # None for a head kept in place (_scanned_response)
        if ex.sink is not None:
            ex.sink.on_head(ex)

    cdef int _body_piece(self, ClientExchange ex, bytes body) except -1:
        """Hands a piece of the response body on; 0 (and the exchange failed when the scanner
        is reading) when a buffered body goes over its limit."""
        if ex.sink is not None:
            ex.sink.on_data(ex, body)
            return 1
        self.body_size += len(body)
        if ex.max_body > 0 and self.body_size > ex.max_body:
            ex.body_over_limit = True
            if self.scanned_left >= 0:
                self.scanned_left = -1
                self._fail_current(CERR_PROTOCOL,
                                   "upstream response body over %d bytes" % ex.max_body)
            return 0
        if self.body_parts is None:
            self.body_parts = []
        self.body_parts.append(body)
        return 1

    def on_message_complete(self):
        if self.switching:
            return
        if self.skip_message:
            # 1xx interim answer: forget it and wait for the real one.
            self.skip_message = False
            self.resp_headers = []
            return
        cdef ClientExchange ex = self.ex
        if ex is not None and not self.head_request:
            self._complete(ex, self.parser.should_keep_alive())

    # -- exchange handling -----------------------------------------------------------------

    cdef void _start(self, ClientExchange ex, bint reused):
        if ex._wait_timer is not None:
            ex._wait_timer.cancel()
            ex._wait_timer = None
        self.state = CONN_BUSY
        self.ex = ex
        ex._conn = self
        ex.attempts += 1
        ex.reused = reused
        self.reused_now = reused
        self.got_bytes = False
        self.headers_done = False
        self.has_length = False
        self.skip_message = False
        self.head_request = ex.method == _METHOD_HEAD
        self.resp_headers = []
        self.body_parts = None          # made when a buffered body arrives
        self.head_bytes = 0
        self.head_budget = self.pool.max_header_bytes
        self.body_size = 0
        self.scanned_left = -1
        if self.parser is None or self.parser_dirty:
            # One parser per connection: llhttp resets itself between messages, and building
            # a parser costs several failed attribute lookups.
            self.parser = _httptools.HttpResponseParser(self)
            self._feed = self.parser.feed_data
            self.parser_dirty = False
        self.last_activity = mono_now()
        self.chunked_out = False
        if ex.stream_body:
            self.chunked_out = ex._head.find(b"Transfer-Encoding: chunked\r\n") >= 0
            self._transport_write(ex._head)
            if ex._pending is not None:
                pending = ex._pending
                ex._pending = None
                ex._pending_size = 0
                for chunk in pending:
                    self._write_body(chunk)
            if ex._eof_pending:
                self._write_body_eof()
            if not self.write_paused:
                ex._resume_producer()
        elif ex.body:
            if len(ex.body) < 16384:
                self._transport_write(write_join(ex._head, ex.body, None))
            else:
                self.transport.writelines([ex._head, ex.body])
        else:
            self._transport_write(ex._head)
        if reused and not ex.idempotent:
            # What may prove it never reached the peer (see eof_received): its size, and
            # whether the write failed at once (the peer reset the connection since the check
            # on checkout) -- the transport tries the first write synchronously, so then not
            # one byte of the request left; connection_lost follows and sends it again.
            self.sent_bytes = len(ex._head) + (len(ex.body) if ex.body else 0)
            self.unsent = self._transport_closing()
        else:
            self.unsent = False
        if ex.read_timeout > 0 or ex.write_timeout > 0 or ex._deadline > 0:
            self._arm_gap_timer(ex)

    cdef void _write_body(self, bytes data):
        cdef ClientExchange ex = self.ex
        ex._body_started = True
        self.last_activity = mono_now()
        if self.chunked_out:
            self.transport.writelines([b"%x\r\n" % len(data), data, b"\r\n"])
        else:
            self.transport.write(data)

    cdef void _write_body_eof(self):
        self.ex._eof_pending = False
        if self.chunked_out:
            self.transport.write(b"0\r\n\r\n")

    cdef void _arm_gap_timer(self, ClientExchange ex):
        """The timer stays armed across exchanges and is re-checked against timestamps when
        it fires; it is only moved when this exchange needs an earlier check. It also enforces
        the exchange's total timeout (its _deadline)."""
        cdef double gap = ex.read_timeout
        if ex.write_timeout > 0 and (gap <= 0 or ex.write_timeout < gap):
            gap = ex.write_timeout
        cdef double want = self.last_activity + gap if gap > 0 else ex._deadline
        if ex._deadline > 0 and ex._deadline < want:
            want = ex._deadline
        if self.gap_timer is not None:
            if self.gap_fire_at <= want:
                return
            self.gap_timer.cancel()
        self.gap_fire_at = want
        self.gap_timer = self.pool.loop.call_later(max(want - self.last_activity, 0.0),
                                                   self._on_gap_timer)

    cdef void _stop_gap_timer(self):
        if self.gap_timer is not None:
            self.gap_timer.cancel()
            self.gap_timer = None

    def _on_gap_timer(self):
        """read_timeout: no response byte for that long; write_timeout: the socket stayed full
        for that long. One timer per exchange, re-armed lazily from a timestamp."""
        self.gap_timer = None
        cdef ClientExchange ex = self.ex
        if ex is None or ex._done:
            return
        cdef double now = mono_now()
        if ex._deadline > 0 and now >= ex._deadline:
            self._fail_current(CERR_TIMEOUT, "upstream timed out")
            return
        cdef double limit = ex.write_timeout if (self.write_paused and ex.write_timeout > 0) \
            else ex.read_timeout
        if limit <= 0:
            limit = ex.write_timeout
        cdef double left
        if limit > 0:
            left = self.last_activity + limit - now
            if left <= 0:
                self._fail_current(CERR_TIMEOUT, "upstream %s timed out" % (
                    "write" if self.write_paused else "read"))
                return
            if ex._deadline > 0 and ex._deadline - now < left:
                left = ex._deadline - now
        else:
            left = ex._deadline - now
        self.gap_fire_at = now + left
        self.gap_timer = self.pool.loop.call_later(left, self._on_gap_timer)

    cdef void _set_reading(self, bint on):
        if self.transport is None or self.state == CONN_CLOSED or on != self.read_paused:
            return
        self.read_paused = not on
        if on:
            self.transport.resume_reading()
        else:
            self.transport.pause_reading()

    cdef void _complete(self, ClientExchange ex, bint keep_alive):
        self.ex = None
        if self.read_paused:
            # The sink paused us while the last bytes were already in hand: the next
            # exchange on this connection must not start deaf.
            self._set_reading(True)
        self.n_served += 1
        if ex.sink is None:
            ex.body = b"".join(self.body_parts) if self.body_parts else b""
        else:
            ex.body = b""
        self.body_parts = None
        self.resp_headers = None
        if ex.stream_body and (not ex._body_ended or ex._eof_pending or ex._pending is not None):
            keep_alive = False   # the response came before the request body ended
        if ex._close_after or (self.pool.keepalive_max_requests > 0
                               and self.n_served >= self.pool.keepalive_max_requests):
            keep_alive = False
        if keep_alive and self.state == CONN_BUSY and not self.pool._closed:
            if self.head_request and self.head_bytes:
                self.parser_dirty = True   # llhttp still expects the body HEAD announced
            ex._finish(CERR_NONE, "")
            if self.state == CONN_BUSY and self.ex is None:
                self.pool._connection_ready(self)
        else:
            self._close()
            ex._finish(CERR_NONE, "")

    cdef void _switch(self, ClientExchange ex, bytes rest):
        """The 101 to ex's upgrade request is read: the connection leaves the pool's reuse for
        good (its slot stays taken until it closes: connection_lost settles the books) and
        goes to the sink with whatever the upstream sent behind the head."""
        self._stop_gap_timer()
        self.ex = None
        self.state = CONN_TUNNEL
        self.parser = None              # it holds our bound methods: break the cycle
        self._feed = None
        ex.status = 101
        ex.set_headers(self.resp_headers)
        self.resp_headers = None
        cdef ResponseSink sink = ex.sink
        ex.sink = None
        ex._callback = None
        ex._finish(CERR_NONE, "")       # done: timers stopped, no callback
        sink.on_switch(ex, self, rest)

    cdef void _fail_current(self, int kind, str message):
        cdef ClientExchange ex = self.ex
        self.ex = None
        self._close()
        if ex is not None:
            ex._finish(kind, message)

    cdef void _abandon(self):
        self.ex = None
        self._close()

    cdef void _close(self):
        self._stop_gap_timer()
        if self.state == CONN_CLOSED:
            return
        if self.state == CONN_IDLE:
            try:
                self.slot.idle.remove(self)
            except ValueError:
                pass
        self.state = CONN_CLOSED
        if self.transport is not None:
            self.transport.close()   # connection_lost updates the pool's books


cdef bint _conn_is_chunked(bytes value):
    """A Transfer-Encoding value that is `chunked` alone (any case, optional spaces)."""
    cdef bytes v = value.strip()
    return len(v) == 7 and _names_equal(<const char*>v, b"chunked", 7)
