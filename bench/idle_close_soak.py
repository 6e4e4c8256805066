"""Requests over upstream connections that are closed at random while idle (issue 19, item 2),
at volume: `jqgate run` (service retries 0) -> a proxy that closes idle keep-alive connections
at random moments (tests/harness/idle_closing_proxy_proc.py) -> an HTTP/1.1 upstream
(tests/harness/closing_upstream_proc.py, closing nothing itself). `--clients` keep-alive
clients send GET and POST in turn until `--requests` answers are in; prints the statuses by
method and how many connections the proxy closed, as JSON.

    .venv/bin/python bench/idle_close_soak.py [--requests 50000] [--clients 8]
        [--close-share 0.5] [--max-delay-ms 2]

A GET (idempotent) is sent again whenever a closed connection gave no answer byte; a POST only
when it provably never reached the peer (its bytes unacknowledged when the FIN came, or its
write failed). A POST the peer's TCP acknowledged and the peer then reset unread is not sent
again (nothing proves the peer did not act on it) -- those are the POST failures counted here.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"
TESTS = Path(__file__).resolve().parent.parent / "tests" / "harness"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


async def client(port: int, i: int, left: list, stats: collections.Counter):
    reader = writer = None
    j = 0
    while left[0] > 0:
        left[0] -= 1
        j += 1
        method = b"POST" if j % 2 else b"GET"
        body = b"x" * ((i + j) % 97) if method == b"POST" else b""
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(b"%s /p HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s"
                         % (method, len(body), body))
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            stats["%s %s" % (method.decode(), head.split(b" ")[1].decode())] += 1
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
            stats["%s %s" % (method.decode(), type(exc).__name__)] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--close-share", type=float, default=0.5)
    parser.add_argument("--max-delay-ms", type=float, default=2.0)
    args = parser.parse_args()
    up_port, gw_port = free_port(), free_port()
    upstream = subprocess.Popen([sys.executable, str(TESTS / "closing_upstream_proc.py"),
                                 str(up_port), "0"], stdout=subprocess.PIPE, text=True)
    assert upstream.stdout.readline().strip() == "ready"
    proxy = subprocess.Popen([sys.executable, str(TESTS / "idle_closing_proxy_proc.py"),
                              str(up_port), str(args.close_share), str(args.max_delay_ms)],
                             stdout=subprocess.PIPE, text=True)
    proxy_port = int(proxy.stdout.readline().split()[1])
    doc = {"_format_version": "3.0", "services": [
        {"name": "svc", "url": f"http://{HOST}:{proxy_port}", "retries": 0,
         "routes": [{"name": "all", "paths": ["/"]}]}]}
    stats = collections.Counter()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "soak.json"
        conf.write_text(json.dumps(doc))
        exe = Path(sys.executable).parent / "jqgate"
        gateway = subprocess.Popen([str(exe), "run", str(conf), "--listen", f"{HOST}:{gw_port}",
                                    "--no-admin", "--access-log", "off", "--log-level", "error"])
        try:
            for _ in range(300):
                try:
                    socket.create_connection((HOST, gw_port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            left = [args.requests]

            async def run():
                await asyncio.gather(*(client(gw_port, i, left, stats)
                                       for i in range(args.clients)))
            asyncio.run(run())
        finally:
            gateway.terminate()
            gateway.wait(30)
            proxy.terminate()
            closes = int(proxy.stdout.read().split()[-1])
            upstream.terminate()
    failed = {k: v for k, v in stats.items() if not k.endswith(" 200")}
    print(json.dumps({"requests": sum(stats.values()), "by_outcome": dict(stats),
                      "failed": sum(failed.values()), "proxy_idle_closes": closes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
