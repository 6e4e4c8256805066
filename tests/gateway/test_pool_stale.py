"""No request fails because a pooled connection went stale (issue 19, item 2): an upstream
that closes its keep-alive connections at random, right behind an answer without saying so
(so the close races the gateway's next request on that connection), costs no request -- POST
included, with the service's retries at 0."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from netutil import HARNESS, GatewayThread, free_port, make_config


class ClosingUpstream:
    """closing_upstream_proc.py in a subprocess (see there)."""

    def __init__(self, close_share):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HARNESS, "closing_upstream_proc.py"), str(self.port),
             str(close_share)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def run_clients(port, n_clients, per_client):
    """n_clients keep-alive clients, each sending per_client requests (POST and GET in turn)
    one after the other; returns every status seen."""
    async def client(i):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        statuses = []
        for j in range(per_client):
            if j % 2:
                body = b"x" * (i + j)
                writer.write(b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))
            else:
                writer.write(b"GET /g HTTP/1.1\r\nHost: a\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            statuses.append(int(head.split(b" ")[1]))
            if statuses[-1] == 200 and j % 2:
                assert body == b"%d" % (i + j)
        writer.close()
        return statuses

    async def main():
        return await asyncio.gather(*(client(i) for i in range(n_clients)))
    return [s for statuses in asyncio.run(main()) for s in statuses]


@pytest.mark.parametrize("close_share", [0.3, 1.0])
def test_no_request_fails_when_the_upstream_closes_idle_connections(close_share):
    up = ClosingUpstream(close_share)
    gw = GatewayThread(make_config(up.port, retries=0))     # no retries to hide behind
    try:
        statuses = run_clients(gw.port, 8, 400)
        assert statuses.count(200) == len(statuses) == 3200
        assert gw.running.pool.stats["stale"] > 0      # the check on checkout did the work
    finally:
        gw.stop()
        up.stop()
