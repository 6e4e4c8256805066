"""Requests over upstream connections that are closed at random while idle (issue 19, item 2),
at volume: `jqgate run` (service retries 0) -> a proxy that closes idle keep-alive connections
at random moments (tests/harness/idle_closing_proxy_proc.py) -> an HTTP/1.1 upstream
(tests/harness/closing_upstream_proc.py, closing nothing itself). `--clients` keep-alive
clients send GET and POST in turn until `--requests` answers are in; prints the statuses by
method, how many connections the proxy closed, and the gateway's pool counters (from its
/status listener), as JSON. The target is `"failed": 0`.

    .venv/bin/python bench/idle_close_soak.py [--requests 50000] [--clients 8]
        [--close-share 0.5] [--max-delay-ms 2]

How a request meets a close (seen on loopback with a uvloop client shaped like the pool, and
in the gateway's counters): most closes are caught on checkout (`stale`: the FIN already
waits). A request written just as the proxy closes meets one of two things. (1) The FIN, and
then, because the request reached a closed socket, a reset: the FIN is read first, not one
byte of the request is acknowledged (SIOCOUTQ counts them all), and the request is sent again
whatever its method (`replayed_unsent`). (2) A reset alone, no FIN: the request reached the
proxy's socket between its check for a waiting request and its close(), and Linux answers a
close() with unread bytes with a reset. The reset is processed before the ACK it carries, so
SIOCOUTQ still counts the whole request and cannot tell this apart; the reset itself proves
the proxy never read it. A GET goes again as always; a POST (with its body buffered) goes
again once on a fresh connection (`replayed_reset`). Before that rule, these POSTs were the
soak's failures: 7 to 14 of 50,000 answered 502 (each a reset alone on a reused connection).
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
import urllib.request
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


def pool_counters(port: int) -> dict:
    """The gateway's pool counters that tell how requests met the closes (see the docstring)."""
    with urllib.request.urlopen(f"http://{HOST}:{port}/status", timeout=30) as answer:
        doc = json.load(answer)
    pool = doc["workers"][0]["pool"]
    return {k: pool.get(k) for k in ("requests", "reused", "stale", "retried",
                                      "replayed_unsent", "replayed_reset")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--close-share", type=float, default=0.5)
    parser.add_argument("--max-delay-ms", type=float, default=2.0)
    args = parser.parse_args()
    up_port, gw_port, status_port = free_port(), free_port(), free_port()
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
                                    "--no-admin", "--access-log", "off", "--log-level", "error",
                                    "--status-listen", f"{HOST}:{status_port}"])
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
            pool = pool_counters(status_port)
        finally:
            gateway.terminate()
            gateway.wait(30)
            proxy.terminate()
            closes = int(proxy.stdout.read().split()[-1])
            upstream.terminate()
    failed = {k: v for k, v in stats.items() if not k.endswith(" 200")}
    print(json.dumps({"requests": sum(stats.values()), "by_outcome": dict(stats),
                      "failed": sum(failed.values()), "proxy_idle_closes": closes,
                      "gateway_pool": pool}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
