"""A TCP fault proxy for the fault-injection tests: it sits between the gateway and a third
party or upstream (loopback) and damages the upstream's answer the way networks and broken
servers do. The test sets `mode` before a request:

  pass       forward both ways
  reset      read the request, then reset the connection (RST) without answering
  stall      read the request, forward nothing, never answer (the peer keeps the socket open)
  truncate   forward the first `cut` bytes of the answer (10: inside the status line), then
             close cleanly (FIN)
  drip       forward the answer one byte at a time, `drip_gap` seconds apart, then close
  garbage    answer with bytes that are not HTTP, then close

`accepted` counts connections, `closed` is set (threading.Event) each time a connection ends
(the gateway closed it, or the fault did), so a test can wait for it instead of sleeping.
"""
from __future__ import annotations

import asyncio
import socket
import struct
import threading

from netutil import LoopThread, free_port

MODES = ("pass", "reset", "stall", "truncate", "drip", "garbage")


class FaultProxy:
    def __init__(self, target_port: int, mode: str = "pass"):
        assert mode in MODES
        self.target_port = target_port
        self.mode = mode
        self.cut = 10                # inside the status line
        self.drip_gap = 0.01
        self.port = free_port()
        self.accepted = 0
        self.closed = threading.Event()
        self.lt = LoopThread()
        self.writers: set = set()
        self.lt.call(self._start())

    async def _start(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, reader, writer):
        self.accepted += 1
        self.writers.add(writer)
        mode = self.mode
        try:
            if mode == "pass":
                await self._forward(reader, writer)
            else:
                await self._faulty(reader, writer, mode)
        except (ConnectionError, OSError):
            pass
        finally:
            self.writers.discard(writer)
            if not writer.is_closing():
                writer.close()
            self.closed.set()

    async def _faulty(self, reader, writer, mode):
        request = await reader.read(65536)          # the request head (and some body)
        if not request:
            return
        if mode == "reset":
            _reset(writer)
            return
        if mode == "garbage":
            writer.write(b"\x16\x03\x01 this is not HTTP at all \x00\xff\r\n\r\n")
            await writer.drain()
            return
        if mode == "stall":
            while await reader.read(65536):          # until the gateway gives up and closes
                pass
            return
        ureader, uwriter = await asyncio.open_connection("127.0.0.1", self.target_port)
        try:
            uwriter.write(request)
            await uwriter.drain()
            answer = b""
            while True:
                data = await ureader.read(65536)
                if not data:
                    break
                answer += data
                if mode == "truncate" and len(answer) >= self.cut:
                    break
                if mode == "drip" and _complete(answer):
                    break
            if mode == "truncate":
                writer.write(answer[:self.cut])
                await writer.drain()
                return                                   # FIN in the middle of the answer
            for i in range(len(answer)):                  # drip, then close
                writer.write(answer[i:i + 1])
                await writer.drain()
                await asyncio.sleep(self.drip_gap)
        finally:
            uwriter.close()

    async def _forward(self, creader, cwriter):
        ureader, uwriter = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pump(src, dst):
            try:
                while True:
                    data = await src.read(65536)
                    if not data:
                        break
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                if not dst.is_closing():
                    dst.close()

        await asyncio.gather(pump(creader, uwriter), pump(ureader, cwriter))

    def stop(self):
        async def stop():
            self.server.close()
            for w in list(self.writers):
                w.close()
        self.lt.call(stop())
        self.lt.stop()


def _complete(answer: bytes) -> bool:
    """An answer read whole: its Content-Length body, or its head when it has none (the test
    upstream sends no other kind)."""
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True


def _reset(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
