"""User-space instructions per request of `jqgate run` and its nginx peers, counted by callgrind.

    .venv/bin/python bench/instructions.py [--flows F1,F2] [--requests N] [--keep]
        [--peers jqgate,jqgate-module,nginx+njs,nginx+lua,nginx] [--access-log off|file|both]
        [--http2]

Wall-clock numbers on this shared 2-core machine move by 10-20 % between runs; an instruction
count does not, so a change to the request path can be judged before a full `make bench`.
For each flow it starts the bench mocks (nginx, as bench/run.py does), runs the gateway under
callgrind with the flow's declarative file, sends 500 warm-up requests, zeroes the counters,
sends N requests over 4 keep-alive connections, dumps, and prints instructions per request
and, for jqgate, the ten most expensive functions of its core (inclusive). Kernel time is not
counted: it is what nginx pays too (see bench/RESULTS.md for CPU per request). Needs valgrind
(bench/install.sh); --keep leaves the callgrind files in bench/run/ for callgrind_annotate.

--peers jqgate-module counts jqgate running the plan modules `jqgate build` compiled from the
flow's file (`jqgate run --plan-modules`); with jqgate too, the ratios show compiled ÷ generic.
--peers also counts the nginx peers the same way (one process: `master_process off`, `daemon
off`, the same requests): nginx + njs (F1, F3), nginx + Lua (F1) and the plain nginx proxy
(F2), and prints jqgate's count over each. --access-log file counts with every server's access
log on, to a file (jqgate's default buffered log; nginx's `access_log ... buffer=64k
flush=1s`), `both` counts off and on.

--http2 counts F2 over HTTP/2 instead (h2c with prior knowledge): jqgate with `--http2` and
the plain nginx proxy listening with `http2`, the requests sent by h2load (the same client for
both: 4 connections, 10 streams each, a fresh h2load run for the warm-up and for the count).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
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


H2_CONNECTIONS, H2_STREAMS = 4, 10


def h2_requests(port: int, path: str, n: int) -> None:
    """n GETs over HTTP/2 (h2load: h2c prior knowledge, H2_CONNECTIONS × H2_STREAMS in
    flight); every answer must be 2xx."""
    import h2load
    done = subprocess.run(["h2load", "-n", str(n), "-c", str(H2_CONNECTIONS),
                           "-m", str(H2_STREAMS), "-t", "1",
                           f"http://{layout.HOST}:{port}{path}"],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"h2load failed: {done.stderr.strip() or done.stdout[-500:]}")
    result = h2load.parse(done.stdout)
    if result.get("status", {}).get("2xx") != n:
        raise SystemExit(f"unexpected h2load answers: {result}")


JQGATE = "jqgate"
JQGATE_MODULE = "jqgate-module"     # jqgate running the flow's compiled plan modules
# The nginx peers and the flows they serve: (config in bench/peers, port).
NGINX_PEERS = {
    ("nginx+njs", "F1"): ("njs_proxy.conf", layout.NJS_F1_PORT),
    ("nginx+njs", "F3"): ("njs_proxy.conf", layout.NJS_F3_PORT),
    ("nginx+lua", "F1"): ("lua_proxy.conf", layout.LUA_F1_PORT),
    ("nginx", "F2"): ("plain_proxy.conf", layout.NGINX_PROXY_PORT),
}
ALL_PEERS = [JQGATE, JQGATE_MODULE, "nginx+njs", "nginx+lua", "nginx"]


def server_argv(peer: str, flow: str, log_on: bool, out_dir: Path,
                http2: bool = False) -> tuple[list[str], int] | None:
    """(argv, port) of one server for a flow, or None when the peer has no such flow."""
    if http2:
        return h2_server_argv(peer, flow, log_on, out_dir)
    if peer == JQGATE:
        access_log = str(out_dir / "jqgate-access.log") if log_on else "off"
        return list(peers.jqgate_argv(flow, PORT, access_log=access_log)), PORT
    if peer == JQGATE_MODULE:
        access_log = str(out_dir / "jqgate-module-access.log") if log_on else "off"
        return list(peers.jqgate_argv(flow, PORT, access_log=access_log,
                                      plan_modules=peers.build_plan_modules(flow, out_dir))), PORT
    if (peer, flow) not in NGINX_PEERS:
        return None
    conf, port = NGINX_PEERS[(peer, flow)]
    name = f"callgrind-{peer.replace('+', '-')}{'-log' if log_on else ''}"
    argv = peers.nginx_argv(conf, out_dir, name, access_log=log_on, master_process=False)
    return list(argv), port + (layout.LOG_PORT_OFFSET if log_on else 0)


def h2_server_argv(peer: str, flow: str, log_on: bool, out_dir: Path) -> tuple[list[str], int] | None:
    """F2 over HTTP/2: jqgate with --http2, the plain nginx proxy with `listen ... http2`."""
    if flow != "F2" or log_on:
        return None
    if peer == JQGATE:
        return list(peers.jqgate_argv(flow, PORT)) + ["--http2"], PORT
    if peer == "nginx":
        argv = peers.nginx_argv("plain_proxy.conf", out_dir, "callgrind-nginx-h2",
                                master_process=False, http2_port=layout.NGINX_H2_PORT)
        return list(argv), layout.NGINX_H2_PORT
    return None


def measure(key: str, argv: list[str], port: int, flow: str, n: int,
            out_dir: Path, http2: bool = False) -> tuple[float, list[str]]:
    out = out_dir / f"callgrind-{key}.out"
    for old in out_dir.glob(f"callgrind-{key}.out*"):
        old.unlink()
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv]
    # A fixed hash seed: dict and set layouts (and so the counts) otherwise move by ±200
    # instructions per request from one run to the next.
    env = dict(os.environ, PYTHONHASHSEED="0")
    server = procs.start(f"callgrind-{key}", argv, port, "1", out_dir, env=env, timeout=180)
    try:
        path = layout.FLOW_PATHS[flow]
        send = h2_requests if http2 else requests
        send(port, path, 500)
        subprocess.run(["callgrind_control", "--zero", str(server.pid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        send(port, path, n)
        subprocess.run(["callgrind_control", "--dump", str(server.pid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        procs.stop(server, timeout=60)
    dump = next(out_dir.glob(f"callgrind-{key}.out.*"))       # the --dump between zero and dump
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
    ap.add_argument("--peers", default=JQGATE,
                    help="comma-separated: " + ",".join(ALL_PEERS) + " (or 'all')")
    ap.add_argument("--access-log", choices=["off", "file", "both"], default="off",
                    help="count with the servers' access logs off, on (to a file), or both")
    ap.add_argument("--http2", action="store_true",
                    help="F2 over HTTP/2 (h2c prior knowledge, h2load as the client)")
    args = ap.parse_args()
    if args.http2 and shutil.which("h2load") is None:
        ap.error("--http2 needs h2load (bench/install.sh installs nghttp2-client)")
    chosen = ALL_PEERS if args.peers == "all" else [p for p in args.peers.split(",") if p]
    unknown = set(chosen) - set(ALL_PEERS)
    if unknown:
        ap.error("unknown peer(s): " + ", ".join(sorted(unknown)))
    logs = {"off": [False], "file": [True], "both": [False, True]}[args.access_log]
    out_dir = layout.RUN_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    import flows
    flows.write_flows()
    spec = peers.mocks(out_dir)
    mocks = procs.start(spec.key, list(spec.argv), spec.port, "0", out_dir)
    counts: dict[tuple[str, str, bool], float] = {}
    try:
        for flow in args.flows.split(","):
            for log_on in logs:
                state = "access log on (file)" if log_on else "access log off"
                for peer in chosen:
                    found = server_argv(peer, flow, log_on, out_dir, args.http2)
                    if found is None:
                        continue
                    argv, port = found
                    key = (f"{peer.replace('+', '-')}-{flow}{'-h2' if args.http2 else ''}"
                           f"{'-log' if log_on else ''}")
                    per_request, top = measure(key, argv, port, flow, args.requests, out_dir,
                                               args.http2)
                    counts[(peer, flow, log_on)] = per_request
                    print(f"{flow}{' over HTTP/2' if args.http2 else ''}, {state}, {peer}: "
                          f"{per_request:,.0f} instructions per request "
                          "(user space)" + ("; the core's costliest functions, inclusive, per request:"
                                            if top and peer in (JQGATE, JQGATE_MODULE) else ""),
                          flush=True)
                    if peer in (JQGATE, JQGATE_MODULE):
                        for cost, name in top:
                            print(f"    {cost:>9,}  {name}")
                    if not args.keep:
                        for f in out_dir.glob(f"callgrind-{key}.out*"):
                            f.unlink()
    finally:
        procs.stop(mocks)
    print_ratios(counts)
    return 0


def print_ratios(counts: dict) -> None:
    """jqgate's count over each peer's, per flow and access-log state."""
    rows = []
    for (peer, flow, log_on), value in sorted(counts.items()):
        mine = counts.get((JQGATE, flow, log_on))
        if peer in (JQGATE, JQGATE_MODULE) or mine is None:
            continue
        rows.append(f"  {flow} {'log on ' if log_on else 'log off'}  jqgate {mine:>9,.0f}  "
                    f"{peer:<10} {value:>9,.0f}  ratio {mine / value:.2f}x")
    for (peer, flow, log_on), value in sorted(counts.items()):
        generic = counts.get((JQGATE, flow, log_on))
        if peer == JQGATE_MODULE and generic is not None:
            rows.append(f"  {flow} {'log on ' if log_on else 'log off'}  compiled module {value:>9,.0f}  "
                        f"generic {generic:>9,.0f}  ratio {value / generic:.2f}x")
    for flow in sorted({f for _, f, _ in counts}):
        off, on = counts.get((JQGATE, flow, False)), counts.get((JQGATE, flow, True))
        if off is not None and on is not None:
            rows.append(f"  {flow} jqgate's access log costs {on - off:,.0f} instructions per request")
    if rows:
        print("jqgate ÷ peer, instructions per request:")
        print("\n".join(rows))


if __name__ == "__main__":
    sys.exit(main())
