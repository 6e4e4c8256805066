"""An HTTP/1.1 upstream that closes a share of its keep-alive connections silently, right
behind an answer, in its own process (so the FIN leaves with the answer, not a thread switch
later): python closing_upstream_proc.py PORT CLOSE_SHARE. Each answer is 200 with the request
body's length as its body. Prints "ready" once it listens."""
import asyncio
import random
import socket
import sys

import httptools


class Closing(asyncio.Protocol):
    def __init__(self, close_share, rng):
        self.close_share = close_share
        self.rng = rng
        self.parser = httptools.HttpRequestParser(self)
        self.body_len = 0

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_begin(self):
        self.body_len = 0

    def on_body(self, body):
        self.body_len += len(body)

    def on_message_complete(self):
        body = b"%d" % self.body_len
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        if self.rng.random() >= self.close_share:
            self.transport.write(answer)
            return
        # No "Connection: close": the connection just goes, its FIN in the same segment as the
        # answer (corked), so whoever reads the answer finds the FIN already there -- the
        # race a pooled connection's check on checkout must win every time.
        sock = self.transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        self.transport.write(answer)
        if not self.transport.get_write_buffer_size():
            sock.shutdown(socket.SHUT_WR)
        self.transport.close()


async def main(port, close_share):
    rng = random.Random(19)
    server = await asyncio.get_running_loop().create_server(
        lambda: Closing(close_share, rng), "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
