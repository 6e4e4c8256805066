"""How long a proxied request waits while a large configuration is applied (issue #15, item 4).

    .venv/bin/python bench/reload_stall.py [--plugins 1000] [--rounds 1]

Starts `jqgate run` (one worker, Admin API on loopback) in front of a small loopback upstream,
keeps one client proxying requests back to back over a keep-alive connection, and meanwhile
POSTs /config with N routes, each with its own DataKit plugin whose jq program is compiled by
libjq (not the native evaluator). Prints how long the POST took and the longest wait of any
proxied request sent while it was in flight (target: <= 50 ms, since compiling happens on the
compile thread and only the swap runs on the event loop). Before that change, 1,000 plugins
stopped proxying for 4.3 s.

Wall-clock figures: on a shared or loaded machine they move a lot from run to run; read them
as an order of magnitude, not a benchmark. Not part of the test suite for that reason.
"""
from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_upstream(port: int) -> None:
    """A loopback HTTP/1.1 upstream answering 200 "ok" to anything, in a daemon thread."""
    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    def run():
        loop = asyncio.new_event_loop()
        loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", port))
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()


def document(upstream_port: int, plugins: int, salt: int) -> dict:
    routes = [{"name": "r%d" % i, "paths": ["/r%d" % i]} for i in range(plugins)]
    routes.append({"name": "main", "paths": ["/"]})
    # `reduce` keeps the program on libjq (outside the native subset): each one is a real compile.
    return {"_format_version": "3.0",
            "services": [{"name": "svc", "url": "http://127.0.0.1:%d" % upstream_port,
                          "routes": routes}],
            "plugins": [{"name": "datakit", "route": "r%d" % i, "config": {"nodes": [
                {"name": "J", "type": "jq", "input": "request.query",
                 "jq": "reduce (.[]?) as $v ({n: %d}; .n += 1) | .n" % (i + salt)},
                {"name": "EXIT", "type": "exit", "inputs": {"body": "J"}}]}}
                for i in range(plugins)]}


class Proxier(threading.Thread):
    """Back-to-back GETs on one keep-alive connection; records (start, duration) of each."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.samples: list[tuple[float, float]] = []
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        while not self.stop.is_set():
            start = time.monotonic()
            try:
                conn.request("GET", "/")
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    self.errors.append("status %d" % response.status)
            except Exception as exc:        # reported, not hidden
                self.errors.append(repr(exc))
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.samples.append((start, time.monotonic() - start))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plugins", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()

    upstream_port, port, admin_port = free_port(), free_port(), free_port()
    start_upstream(upstream_port)
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "kong.json")
        with open(config, "w") as f:
            json.dump(document(upstream_port, 1, 0), f)
        jqgate = os.path.join(os.path.dirname(sys.executable), "jqgate")
        proc = subprocess.Popen([jqgate, "run", config, "--listen", "127.0.0.1:%d" % port,
                                 "--admin-listen", "127.0.0.1:%d" % admin_port],
                                # the default access log (stdout) stays on, read by nobody
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            for line in proc.stderr:
                if "jqgate ready" in line:
                    break
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            proxier = Proxier(port)
            proxier.start()
            time.sleep(1.0)      # warm-up: the client is in its steady state before the change
            for round_ in range(args.rounds):
                body = json.dumps(document(upstream_port, args.plugins, round_ + 1)).encode()
                admin = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=600)
                began = time.monotonic()
                admin.request("POST", "/config", body=body,
                              headers={"Content-Type": "application/json"})
                answer = admin.getresponse()
                answer.read()
                ended = time.monotonic()
                admin.close()
                during = [d for s, d in proxier.samples if began - d <= s <= ended]
                print("round %d: POST /config with %d plugins -> %d in %.2f s; %d proxied "
                      "requests meanwhile, longest wait %.1f ms, errors %d"
                      % (round_ + 1, args.plugins, answer.status, ended - began, len(during),
                         1000 * max(during, default=float("nan")), len(proxier.errors)))
                time.sleep(0.5)
            proxier.stop.set()
            proxier.join(10)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
