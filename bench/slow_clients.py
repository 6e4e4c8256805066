"""Slow clients against one upstream, at the issue's scale (issue 19, item 1; the suite's
scaled-down versions are tests/gateway/test_slow_clients.py and test_body_min_rate.py): `--slow`
clients that announce a 100,000-byte body and send one byte every 5 s, `--fast-then-slow`
clients that send 70,000 bytes at once (a buffer's worth: their request streams upstream) and
then one byte every 5 s, and `--non-readers` clients that ask for a 100 MB answer and never
read it, all at once; meanwhile one normal GET every 0.5 s through the gateway, and the same
GET straight to the upstream (to tell the gateway's delay from the upstream's). Prints, as JSON,
the normal requests' statuses and latencies (median, max), whether every normal request was
answered 200 in under a second (`normal_all_200_under_1s`, the issue's target), the ones that
took a second or more (when they started, how long their connect took, the gateway's own
X-Kong-Proxy-Latency / X-Kong-Upstream-Latency), the direct requests' latencies, the peak of
the kernel's TCP buffer memory (against net.ipv4.tcp_mem), and what the slow clients got.

    .venv/bin/python bench/slow_clients.py [--slow 300] [--fast-then-slow 0]
        [--non-readers 300] [--seconds 70] [--send-timeout 60] [--min-rate 1024]
        [--min-rate-window 10] [--pool 0]

The defaults are the issue's test: 300 slow-body and 300 non-reading clients at once (600
holders) against the gateway's default settings (no per-host cap, `--pool 0`, as in nginx and
Kong). `--fast-then-slow 300` adds 300 clients that each hold an upstream connection until
body_min_rate cuts them. What to expect: trickling bodies take no upstream connection; a
streaming body below the minimum rate gives its connection back within a window or two (408);
a client that does not read holds its upstream connection until send_timeout (60 s, nginx's
default). Without a cap those holders take connections of their own and normal requests are
answered beside them; with a cap (`--pool N`) below the number of holders, normal requests
wait for a connection (queue_timeout 60 s) -- lower send_timeout (or raise the cap) where that
matters. Latency figures on a loaded machine are indicative only.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import statistics
import sys
import time

HOST = "127.0.0.1"


async def _upstream(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            path = head.split(b" ", 2)[1]
            if path.startswith(b"/big/"):
                n = int(path[5:])
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
                piece, sent = b"x" * 65536, 0
                while sent < n:
                    k = min(len(piece), n - sent)
                    writer.write(piece[:k])
                    sent += k
                    await writer.drain()
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


def run_upstream(port):
    async def main():
        server = await asyncio.start_server(_upstream, HOST, port, backlog=4096)
        async with server:
            await server.serve_forever()
    asyncio.run(main())


def run_gateway(port, up_port, args):
    from jqgate.config.model import GatewayConfig, Route, Service
    from jqgate.gateway.serve import serve
    cfg = GatewayConfig(services=[Service(name="svc", id="svc", protocol="http", host=HOST,
                                          port=up_port, path=None)],
                        routes=[Route(name="all", id="all", service_id="svc", paths=["/"])])
    serve(cfg, listen="%s:%d" % (HOST, port), access_log="off",
          server_options={"send_timeout": args.send_timeout, "body_min_rate": args.min_rate,
                          "body_min_rate_window": args.min_rate_window},
          pool_options={"max_per_host": args.pool})


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


async def trickler(port, burst, outcomes, stop):
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(b"POST /upload HTTP/1.1\r\nHost: b\r\nContent-Length: %d\r\n\r\n"
                     % (100_000 if burst == 0 else 1_000_000) + b"b" * max(burst, 1))
        while not stop.is_set():
            try:
                head = await asyncio.wait_for(reader.read(4096), 5)
                outcomes[head.split(b"\r\n")[0].decode() if head else "closed"] += 1
                break
            except asyncio.TimeoutError:
                writer.write(b"b")
        writer.close()
    except OSError as exc:
        outcomes[type(exc).__name__] += 1


async def non_reader(port, held):
    try:
        sock = socket.create_connection((HOST, port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big/100000000 HTTP/1.1\r\nHost: b\r\n\r\n")
        held.append(sock)
    except OSError:
        pass


async def normal(port, results, slow, t_start):
    """One normal GET on a new connection; a slow one (1 s or more) is also noted with when it
    started and how long its connect took, to tell a full accept queue from a late answer."""
    t0 = time.monotonic()
    t_connected = t0
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
        t_connected = time.monotonic()
        writer.write(b"GET /normal HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 120)
        results.append((int(head.split(b" ")[1]), time.monotonic() - t0))
        writer.close()
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
        head = b""
        results.append((type(exc).__name__, time.monotonic() - t0))
    if results[-1][1] >= 1.0:
        note = {"started_s": round(t0 - t_start, 1), "latency_s": round(results[-1][1], 3),
                "connect_s": round(t_connected - t0, 3)}
        # the gateway's own split (Kong's headers, ms): before the upstream was written to,
        # and from then to the upstream's answer head
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() in (b"x-kong-proxy-latency", b"x-kong-upstream-latency"):
                note[name.decode().lower()[7:].replace("-", "_") + "_ms"] = int(value)
        slow.append(note)


def tcp_mem_pages() -> int:
    """Pages the kernel holds in TCP socket buffers, machine-wide (Linux; 0 elsewhere). Past
    net.ipv4.tcp_mem's middle value TCP is under memory pressure and every connection on the
    machine slows down, the direct requests to the upstream too: paused 100 MB answers fill
    their sockets' buffers (the receive side autotunes up to tcp_rmem's maximum)."""
    try:
        with open("/proc/net/sockstat") as f:
            for line in f:
                if line.startswith("TCP:"):
                    words = line.split()
                    return int(words[words.index("mem") + 1])
    except (OSError, ValueError):
        pass
    return 0


def tcp_mem_limits() -> list:
    try:
        with open("/proc/sys/net/ipv4/tcp_mem") as f:
            return [int(v) for v in f.read().split()]
    except (OSError, ValueError):
        return []


async def measure(port, args):
    import collections
    slow_out, fast_out = collections.Counter(), collections.Counter()
    stop = asyncio.Event()
    held = []
    tasks = [asyncio.ensure_future(trickler(port, 0, slow_out, stop)) for _ in range(args.slow)]
    tasks += [asyncio.ensure_future(trickler(port, 70_000, fast_out, stop))
              for _ in range(args.fast_then_slow)]
    for _ in range(args.non_readers):
        await non_reader(port, held)
    results, normals, slow = [], [], []
    direct, direct_slow = [], []        # the same GET straight to the upstream, for comparison
    t_start = time.monotonic()
    end = t_start + args.seconds
    tcp_mem_peak = 0
    while time.monotonic() < end:
        normals.append(asyncio.ensure_future(normal(port, results, slow, t_start)))
        normals.append(asyncio.ensure_future(normal(args.up_port, direct, direct_slow, t_start)))
        tcp_mem_peak = max(tcp_mem_peak, tcp_mem_pages())
        await asyncio.sleep(0.5)
    await asyncio.gather(*normals)
    stop.set()
    for s in held:
        s.close()
    await asyncio.gather(*tasks)
    times = [t for _, t in results]
    return {"holders": {"slow": args.slow, "fast_then_slow": args.fast_then_slow,
                        "non_readers": args.non_readers, "non_readers_connected": len(held)},
            "normal_statuses": dict(collections.Counter(str(s) for s, _ in results)),
            "normal_latency_s": {"median": round(statistics.median(times), 3),
                                 "max": round(max(times), 3)},
            "normal_all_200_under_1s": all(s == 200 and t < 1.0 for s, t in results),
            "normal_slow": slow,
            "direct_to_upstream_latency_s": {
                "median": round(statistics.median([t for _, t in direct]), 3),
                "max": round(max(t for _, t in direct), 3)},
            "direct_slow": direct_slow,
            "kernel_tcp_mem_pages": {"peak": tcp_mem_peak, "tcp_mem": tcp_mem_limits()},
            "slow_body_outcomes": dict(slow_out), "fast_then_slow_outcomes": dict(fast_out)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, default=300)
    parser.add_argument("--fast-then-slow", type=int, default=0)
    parser.add_argument("--non-readers", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=70)
    parser.add_argument("--send-timeout", type=float, default=60)
    parser.add_argument("--min-rate", type=float, default=1024)
    parser.add_argument("--min-rate-window", type=float, default=10)
    parser.add_argument("--pool", type=int, default=0,
                        help="upstream connections per host (0: no cap, the gateway's default)")
    args = parser.parse_args()
    up_port, gw_port = free_port(), free_port()
    args.up_port = up_port
    up = multiprocessing.Process(target=run_upstream, args=(up_port,), daemon=True)
    up.start()
    gw = multiprocessing.Process(target=run_gateway, args=(gw_port, up_port, args), daemon=True)
    gw.start()
    for _ in range(300):
        try:
            socket.create_connection((HOST, gw_port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        report = asyncio.run(measure(gw_port, args))
    finally:
        gw.terminate()
        up.terminate()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
