"""The idle keep-alive check: open COUNT keep-alive connections to a server, send one request on
each, leave them all open and idle, then read the server's RSS from /proc.

    python bench/idle_conns.py --port 18040 --pids 123,124 [--count 10000] [--path /anything]

Prints one JSON line. Run pinned to the load core; the caller raises the open-file limit.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time

import procs


async def one(port: int, path: str, gate: asyncio.Semaphore, held: list, failures: list) -> None:
    async with gate:    # bounded connect burst, so the listen backlog is not the thing measured
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: idle-check\r\n\r\n".encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await asyncio.wait_for(reader.readexactly(length), 10)
            if not head.startswith(b"HTTP/1.1 2"):
                failures.append(head.split(b"\r\n", 1)[0].decode(errors="replace"))
            held.append((reader, writer))
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            failures.append(exc.__class__.__name__)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pids", required=True, help="server process tree, comma-separated")
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--path", default="/anything")
    parser.add_argument("--settle", type=float, default=3.0, help="idle seconds before reading RSS")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    pids = [int(p) for p in args.pids.split(",")]

    before = procs.memory_kib(pids)
    held, failures = [], []
    gate = asyncio.Semaphore(200)
    started = time.monotonic()
    await asyncio.gather(*(one(args.port, args.path, gate, held, failures) for _ in range(args.count)))
    open_seconds = time.monotonic() - started
    await asyncio.sleep(args.settle)
    idle = procs.memory_kib(pids)
    # a server that closed an idle connection has fed EOF to its reader during the settle sleep
    still_open = sum(1 for reader, _ in held if not reader.at_eof())
    for _, writer in held:
        writer.close()
    print(json.dumps({
        "count": args.count, "opened": len(held), "still_open_after_idle": still_open,
        "failures": len(failures), "failure_kinds": sorted(set(failures))[:5],
        "open_seconds": round(open_seconds, 2), "settle_seconds": args.settle,
        "rss_before_mib": before["rss_kib"] / 1024, "rss_idle_mib": idle["rss_kib"] / 1024,
        "peak_rss_mib": idle["peak_rss_kib"] / 1024,
        "pss_idle_mib": idle["pss_kib"] / 1024, "processes": len(pids), "fd_limit": hard,
    }))


if __name__ == "__main__":
    asyncio.run(main())
