"""User-space instructions per request of `jqgate run`, counted by valgrind's callgrind.

    .venv/bin/python bench/instructions.py [--flows F1,F2] [--requests N] [--keep]

Wall-clock numbers on this shared 2-core machine move by 10-20 % between runs; an instruction
count does not, so a change to the request path can be judged before a full `make bench`.
For each flow it starts the bench mocks (nginx, as bench/run.py does), runs the gateway under
callgrind with the flow's declarative file, sends 500 warm-up requests, zeroes the counters,
sends N requests over 4 keep-alive connections, dumps, and prints instructions per request
and the ten most expensive functions (inclusive). Kernel time is not counted: it is what
nginx pays too (see bench/RESULTS.md for CPU per request). Needs valgrind (apt install
valgrind); --keep leaves the callgrind files in bench/run/ for callgrind_annotate.
"""
from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
from pathlib import Path

import layout
import peers
import procs

PORT = 18099


def requests(port: int, path: str, n: int) -> None:
    """n GETs over 4 keep-alive connections, one at a time on each; every answer must be 200."""
    conns = [socket.create_connection((layout.HOST, port)) for _ in range(4)]
    req = f"GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: instructions\r\n\r\n".encode()
    pending = [b""] * len(conns)
    for i in range(0, n, len(conns)):
        for c in conns:
            c.sendall(req)
        for j, c in enumerate(conns):
            pending[j] = read_response(c, pending[j])
    for c in conns:
        c.close()


def read_response(conn: socket.socket, buf: bytes) -> bytes:
    while b"\r\n\r\n" not in buf:
        buf += conn.recv(65536)
    head, rest = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit("unexpected answer: %r" % head[:200])
    length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
    while len(rest) < length:
        rest += conn.recv(65536)
    return rest[length:]


def measure(flow: str, n: int, out_dir: Path) -> tuple[float, list[str]]:
    out = out_dir / f"callgrind-{flow}.out"
    for old in out_dir.glob(f"callgrind-{flow}.out*"):
        old.unlink()
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
            *peers.jqgate_argv(flow, PORT)]
    server = procs.start(f"callgrind-{flow}", argv, PORT, "1", out_dir, timeout=180)
    try:
        path = layout.FLOW_PATHS[flow]
        requests(PORT, path, 500)
        subprocess.run(["callgrind_control", "--zero", str(server.pid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        requests(PORT, path, n)
        subprocess.run(["callgrind_control", "--dump", str(server.pid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        procs.stop(server, timeout=60)
    dump = next(out_dir.glob(f"callgrind-{flow}.out.*"))      # the --dump between zero and dump
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", str(dump)],
                          capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", text).group(1).replace(",", ""))
    top = []
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+\S*jqgate/_core/core\.c:__pyx_\w+?_4core_(\w+)", line)
        if m and m.group(2) not in {name for _, name in top}:
            top.append((int(m.group(1).replace(",", "")) // n, m.group(2)))
    return total / n, top[:10]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flows", default="F1,F2")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    out_dir = layout.RUN_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    import flows
    flows.write_flows()
    spec = peers.mocks(out_dir)
    mocks = procs.start(spec.key, list(spec.argv), spec.port, "0", out_dir)
    try:
        for flow in args.flows.split(","):
            per_request, top = measure(flow, args.requests, out_dir)
            print(f"{flow}: {per_request:,.0f} instructions per request (user space); "
                  "the core's costliest functions, inclusive, per request:")
            for cost, name in top:
                print(f"    {cost:>9,}  {name}")
            if not args.keep:
                for f in out_dir.glob(f"callgrind-{flow}.out*"):
                    f.unlink()
    finally:
        procs.stop(mocks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
