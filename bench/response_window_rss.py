"""Memory while a DataKit flow that reads the service's answer meets answers too big to hold
(issue 15, items 6 and 7): `jqgate run` with one response-window route in front of a loopback
upstream that answers 50 MB, `--concurrent` clients at a time for `--rounds` rounds; each must
get 502 (max_service_response_bytes, 10 MiB by default), and a small answer through the same
route must still be 200. Prints the gateway's RSS at start, its peak (sampled every 10 ms) and
at the end, as one JSON line. Not a speed benchmark: what matters is that the peak stays near
the bound times the concurrency instead of the answer's size.

    .venv/bin/python bench/response_window_rss.py [--size 50000000] [--concurrent 3] [--rounds 3]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"


async def _upstream(reader, writer):
    """GET /N answers N bytes of body, written as fast as the gateway reads them."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            n = int(head.split(b" ", 2)[1].strip(b"/") or b"0")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % n)
            piece = b"x" * 65536
            sent = 0
            while sent < n:
                k = min(len(piece), n - sent)
                writer.write(piece[:k])
                sent += k
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


def run_upstream(port):
    async def main():
        server = await asyncio.start_server(_upstream, HOST, port, backlog=256)
        async with server:
            await server.serve_forever()
    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def get_status(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(b"GET %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n" % path.encode())
    head = await reader.readuntil(b"\r\n\r\n")
    while await reader.read(1 << 20):
        pass
    writer.close()
    return int(head.split(b" ", 2)[1])


async def measure(args, gw_port: int, pid: int) -> dict:
    peak = start = rss_kib(pid)
    statuses = []
    stop = asyncio.Event()

    async def sampler():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_kib(pid))
            await asyncio.sleep(0.01)

    sampling = asyncio.ensure_future(sampler())
    for _ in range(args.rounds):
        statuses += await asyncio.gather(*(get_status(gw_port, "/window/%d" % args.size)
                                           for _ in range(args.concurrent)))
    small = await get_status(gw_port, "/window/1000")
    stop.set()
    await sampling
    return {"answer_bytes": args.size, "concurrent": args.concurrent, "rounds": args.rounds,
            "statuses": {str(s): statuses.count(s) for s in set(statuses)},
            "small_answer_status": small, "rss_kib_start": start, "rss_kib_peak": peak,
            "rss_kib_end": rss_kib(pid)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=50_000_000)
    parser.add_argument("--concurrent", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    up_port, gw_port = free_port(), free_port()
    upstream = multiprocessing.Process(target=run_upstream, args=(up_port,), daemon=True)
    upstream.start()
    doc = {"_format_version": "3.0",
           "services": [{"name": "svc", "url": f"http://{HOST}:{up_port}", "routes": [
               {"name": "window", "paths": ["/window"], "strip_path": True}]}],
           "plugins": [{"name": "datakit", "route": "window", "config": {"nodes": [
               {"name": "SIZE", "type": "jq", "input": "service_response.body",
                "jq": "{size: length}", "output": "response.body"}]}}]}
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "window.json"
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
            report = asyncio.run(measure(args, gw_port, gateway.pid))
        finally:
            gateway.terminate()
            gateway.wait(30)
            upstream.terminate()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
