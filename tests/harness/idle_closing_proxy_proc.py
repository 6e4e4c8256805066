"""A TCP proxy that closes idle keep-alive connections at random, in its own process (so its
close truly races the gateway's next request instead of waiting for the test's GIL):

    python idle_closing_proxy_proc.py TARGET_PORT CLOSE_SHARE MAX_DELAY_MS [SEED]

It forwards both ways; after each complete answer it closes the client's connection, with
probability CLOSE_SHARE, at a random moment up to MAX_DELAY_MS later -- unless a request came
meanwhile -- the way servers' keep-alive timeouts close connections a client may be about to
reuse. Its close is a plain close (FIN). It does not close with a request already waiting in
its socket (it peeks first), but a request that arrives between the peek and the close is
reset unread -- Linux answers a close() with unread bytes with a reset, no FIN -- and one that
arrives after the close meets the FIN and then a reset: the two races a real server's
keep-alive timeout makes, which the gateway's pool must survive (docs/limits-and-safety.md,
"Stale pooled connections"). Prints "ready PORT" once it listens, then, on SIGTERM, "closes N".
"""
import asyncio
import random
import signal
import socket
import sys

import httptools


class _AnswerEnds:
    """llhttp over the upstream's bytes, to know where each answer ends."""

    def __init__(self, on_end):
        self.on_end = on_end
        self.parser = httptools.HttpResponseParser(self)

    def on_message_complete(self):
        self.on_end()


class _Upstream(asyncio.Protocol):
    """The proxy's connection to the target: answers go to the client as they come."""

    def __init__(self, client):
        self.client = client
        self.ends = _AnswerEnds(client.answer_done)

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.client.transport.write(data)
        try:
            self.ends.parser.feed_data(data)
        except httptools.HttpParserError:
            self.client.transport.close()

    def connection_lost(self, exc):
        self.client.transport.close()


class Proxied(asyncio.Protocol):
    """One client connection. A Protocol, so every byte the proxy's TCP delivered is seen (and
    forwarded) before a close is decided: a stream reader would hold bytes the close would
    silently drop, which is a server losing a request it had read, not an idle close."""

    def __init__(self, proxy):
        self.proxy = proxy
        self.timer = None
        self.in_flight = 0          # request reads forwarded and not yet answered
        self.upstream = None
        self.early = []

    def connection_made(self, transport):
        self.transport = transport
        asyncio.ensure_future(self._connect())

    async def _connect(self):
        loop = asyncio.get_running_loop()
        try:
            _, self.upstream = await loop.create_connection(
                lambda: _Upstream(self), "127.0.0.1", self.proxy.target)
        except OSError:
            self.transport.close()
            return
        for data in self.early:
            self.upstream.transport.write(data)
        self.early = None

    def data_received(self, data):
        self.cancel_close()
        self.in_flight += 1
        if self.upstream is None:
            self.early.append(data)
        else:
            self.upstream.transport.write(data)

    def connection_lost(self, exc):
        self.cancel_close()
        if self.upstream is not None:
            self.upstream.transport.close()

    def answer_done(self):
        self.in_flight = 0
        if self.proxy.rng.random() < self.proxy.close_share:
            delay = self.proxy.rng.random() * self.proxy.max_delay
            self.timer = asyncio.get_running_loop().call_later(delay, self.close_idle)

    def cancel_close(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def close_idle(self):
        self.timer = None
        transport = self.transport
        if self.in_flight or transport.is_closing() or transport.get_write_buffer_size():
            return
        sock = transport._sock      # the real socket: to peek, and to close at once
        try:
            if sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                return              # a request is waiting: serve it (see the module comment)
        except BlockingIOError:
            pass
        except OSError:
            return
        # Closed at once after the peek (a request arriving in between would be reset unread):
        # transport.abort() alone closes the socket only on the loop's next round. Nothing is
        # buffered either way: a plain FIN.
        sock.close()
        transport.abort()           # takes it off the selector; its own close is a no-op now
        self.proxy.closes += 1


class Proxy:
    def __init__(self, target, close_share, max_delay, seed):
        self.target = target
        self.close_share = close_share
        self.max_delay = max_delay
        self.rng = random.Random(seed)
        self.closes = 0



async def main(target, close_share, max_delay, seed):
    proxy = Proxy(target, close_share, max_delay, seed)
    server = await asyncio.get_running_loop().create_server(
        lambda: Proxied(proxy), "127.0.0.1", 0, backlog=1024)
    print("ready %d" % server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()
    print("closes %d" % proxy.closes, flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]) / 1000.0,
                     int(sys.argv[4]) if len(sys.argv) > 4 else 19))
