"""A long-running soak of `jqgate run` (issue 15 item 8): mixed traffic with faults for a while,
then what happened — requests sent, answered (by status), failed (by cause) — and the gateway's
RSS over time.

    .venv/bin/python bench/soak.py [--seconds 600] [--clients 16] [--sighup-every 5]

Traffic, from `--clients` concurrent keep-alive clients, in a fixed rotation:
  - GET through a plain proxied route;
  - POST 256 KiB through a DataKit flow that reads request.body;
  - GET through a DataKit flow whose call node fetches 1 MiB from a third party;
  - GET through a call node whose third party resets the connection (a 500 every time);
  - a client that sends half a 1 MiB body and goes away (counted as "aborted by us").
SIGHUP every `--sighup-every` seconds (0: never) reloads the configuration under load.
The upstream and third party are one small asyncio server in a child process, on loopback.
RSS is read from /proc every 5 s. Not a benchmark: throughput here means nothing on a shared
machine; the figures that matter are failures by cause and whether RSS comes back.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import multiprocessing
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"
GATEWAY_PORT = 18091
PEER_PORT = 18092
BIG = 1024 * 1024


# -- the upstream and third party ------------------------------------------------------------

async def _peer(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            line = head.split(b"\r\n", 1)[0].split()
            length = 0
            for field in head.split(b"\r\n")[1:]:
                name, _, value = field.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            path = line[1] if len(line) > 1 else b"/"
            if path.startswith(b"/reset"):
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            body = b"x" * BIG if path.startswith(b"/big") else b'{"ok":true}'
            ctype = b"text/plain" if path.startswith(b"/big") else b"application/json"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                         % (ctype, len(body)) + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


def run_peer():
    async def main():
        server = await asyncio.start_server(_peer, HOST, PEER_PORT, backlog=1024)
        async with server:
            await server.serve_forever()
    asyncio.run(main())


def config() -> dict:
    peer = f"http://{HOST}:{PEER_PORT}"
    return {"_format_version": "3.0",
            "services": [{"name": "svc", "url": peer, "retries": 0, "routes": [
                {"name": "plain", "paths": ["/plain"]},
                {"name": "reads", "paths": ["/reads"]},
                {"name": "calls", "paths": ["/calls"]},
                {"name": "resets", "paths": ["/resets"]}]}],
            "plugins": [
                {"name": "datakit", "route": "reads", "config": {"nodes": [
                    {"name": "SIZE", "type": "jq", "inputs": {"b": "request.body"},
                     "jq": "{size: (.b | length)}"},
                    {"name": "EXIT", "type": "exit", "inputs": {"body": "SIZE"}}]}},
                {"name": "datakit", "route": "calls", "config": {"nodes": [
                    {"name": "CALL", "type": "call", "url": peer + "/big"},
                    {"name": "EXIT", "type": "exit", "inputs": {"body": "CALL.status"}}]}},
                {"name": "datakit", "route": "resets", "config": {"nodes": [
                    {"name": "CALL", "type": "call", "url": peer + "/reset"},
                    {"name": "EXIT", "type": "exit", "inputs": {"body": "CALL.status"}}]}}]}


# -- the clients ------------------------------------------------------------------------------

REQUESTS = [
    ("plain", b"GET /plain/x HTTP/1.1\r\nHost: soak\r\n\r\n"),
    ("reads", b"POST /reads HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\n\r\n" % (256 * 1024)
     + b"r" * (256 * 1024)),
    ("calls", b"GET /calls HTTP/1.1\r\nHost: soak\r\n\r\n"),
    ("resets", b"GET /resets HTTP/1.1\r\nHost: soak\r\n\r\n"),
    ("abort", None),
]


async def read_answer(reader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = None
    chunked = False
    for field in head.split(b"\r\n")[1:]:
        name, _, value = field.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def client(index: int, stop_at: float, stats: dict):
    conn = None
    turn = index
    while time.monotonic() < stop_at:
        kind, raw = REQUESTS[turn % len(REQUESTS)]
        turn += 1
        stats["sent"][kind] += 1
        try:
            if kind == "abort":
                r, w = await asyncio.open_connection(HOST, GATEWAY_PORT)
                w.write(b"POST /reads HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\n\r\n" % BIG
                        + b"a" * (BIG // 2))
                await w.drain()
                w.close()
                stats["answered"]["aborted by us"] += 1
                continue
            if conn is None:
                conn = await asyncio.open_connection(HOST, GATEWAY_PORT)
            reader, writer = conn
            writer.write(raw)
            await writer.drain()
            status = await asyncio.wait_for(read_answer(reader), 60)
            stats["answered"]["%s %d" % (kind, status)] += 1
        except asyncio.TimeoutError:
            stats["failed"]["%s: no answer in 60 s" % kind] += 1
            conn = _drop(conn)
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            stats["failed"]["%s: %s" % (kind, type(exc).__name__)] += 1
            conn = _drop(conn)


def _drop(conn):
    if conn is not None:
        conn[1].close()
    return None


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def soak(args, gateway: subprocess.Popen) -> dict:
    stats = {"sent": collections.Counter(), "answered": collections.Counter(),
             "failed": collections.Counter()}
    start = time.monotonic()
    stop_at = start + args.seconds
    rss = [(0, rss_kib(gateway.pid))]
    clients = [asyncio.ensure_future(client(i, stop_at, stats)) for i in range(args.clients)]
    next_hup = start + args.sighup_every if args.sighup_every else None
    while time.monotonic() < stop_at:
        await asyncio.sleep(1)
        now = time.monotonic()
        if int(now - start) % 5 == 0:
            rss.append((round(now - start), rss_kib(gateway.pid)))
        if next_hup is not None and now >= next_hup:
            gateway.send_signal(signal.SIGHUP)
            stats["answered"]["(SIGHUP sent)"] += 1
            next_hup = now + args.sighup_every
    await asyncio.gather(*clients)
    await asyncio.sleep(2)
    rss.append((round(time.monotonic() - start), rss_kib(gateway.pid)))
    return {"seconds": args.seconds, "clients": args.clients,
            "sent": dict(stats["sent"]), "answered": dict(stats["answered"]),
            "failed": dict(stats["failed"]), "rss_kib": rss}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--sighup-every", type=float, default=5.0)
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args()
    peer = multiprocessing.Process(target=run_peer, daemon=True)
    peer.start()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "soak.json"
        conf.write_text(json.dumps(config()))
        exe = Path(sys.executable).parent / "jqgate"
        gateway = subprocess.Popen([str(exe), "run", str(conf), "--listen",
                                    f"{HOST}:{GATEWAY_PORT}", "--no-admin", "--log-level",
                                    "error"], stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    socket.create_connection((HOST, GATEWAY_PORT), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            report = asyncio.run(soak(args, gateway))
        finally:
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(30)
            peer.terminate()
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0 if gateway.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
