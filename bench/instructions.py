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

--tls counts over TLS instead (issue #17): jqgate's `ssl` listener against nginx's `listen ...
ssl` (F2: the plain proxy, F1: nginx + njs), the same ECDSA P-256 pair (peers.bench_tls_files),
three counts per server: per request on kept-alive TLS connections ("keep-alive", --requests of
them), and per request on a new connection each with `Connection: close` (--handshakes of
them): a full handshake ("handshake") and a resumed one, offering the previous connection's
session ticket ("resumed": what wrk's new-connection rows in bench/run.py measure, as wrk keeps
its sessions); the clients are bench/tls_load.py's. It first prints what
each server's handshake agrees on (openssl s_client: version, cipher, group, signature, tickets)
and says so when two servers differ there: such a difference is a bench defect, not a speed-up.
--no-sni sends no server name (by default the client sends one, as wrk and browsers do).

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
                http2: bool = False, tls: tuple | None = None) -> tuple[list[str], int] | None:
    """(argv, port) of one server for a flow, or None when the peer has no such flow.
    tls=(cert, key): the server's listener speaks TLS with that pair."""
    if http2:
        return h2_server_argv(peer, flow, log_on, out_dir)
    if tls is not None:
        return tls_server_argv(peer, flow, log_on, out_dir, tls)
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


def tls_server_argv(peer: str, flow: str, log_on: bool, out_dir: Path,
                    pair: tuple) -> tuple[list[str], int] | None:
    """Over TLS: jqgate's `ssl` listener, or the nginx peer's listeners with `ssl`, one pair."""
    if log_on:
        return None
    if peer == JQGATE:
        return list(peers.jqgate_argv(flow, PORT, tls=pair)), PORT
    if (peer, flow) not in NGINX_PEERS:
        return None
    conf, port = NGINX_PEERS[(peer, flow)]
    argv = peers.nginx_argv(conf, out_dir, f"callgrind-{peer.replace('+', '-')}-tls",
                            master_process=False, tls=pair)
    return list(argv), port + layout.TLS_PORT_OFFSET


# What a server is sent: (label, client function(port, path, n), warm-up count, n from args).
PLAIN_PHASES = [("", requests, 500, "requests")]
H2_PHASES = [("", h2_requests, 500, "requests")]


def tls_phases(sni: str | None) -> list[tuple]:
    import tls_load

    def keepalive(port, path, n):
        tls_load.keepalive_requests(port, path, n, sni, read_response)

    def handshakes(port, path, n):
        tls_load.new_connection_requests(port, path, n, sni, read_response)

    def resumed(port, path, n):
        tls_load.new_connection_requests(port, path, n, sni, read_response, resume=True)

    return [("keep-alive", keepalive, 500, "requests"),
            ("handshake", handshakes, 50, "handshakes"),
            ("resumed", resumed, 50, "handshakes")]


def measure(key: str, argv: list[str], port: int, flow: str, counts: dict,
            out_dir: Path, phases: list[tuple], describe=None) -> list[tuple]:
    """Start the server under callgrind; for each phase, warm up, zero the counters, send the
    phase's requests, dump. [(label, instructions per request, the core's costliest
    functions)], one per phase; `describe(port)` (if given) is printed after the start."""
    out = out_dir / f"callgrind-{key}.out"
    for old in out_dir.glob(f"callgrind-{key}.out*"):
        old.unlink()
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv]
    # A fixed hash seed: dict and set layouts (and so the counts) otherwise move by ±200
    # instructions per request from one run to the next.
    env = dict(os.environ, PYTHONHASHSEED="0")
    server = procs.start(f"callgrind-{key}", argv, port, "1", out_dir, env=env, timeout=180)
    path = layout.FLOW_PATHS[flow]
    dumps = []
    try:
        if describe is not None:
            print(f"    handshake: {describe(port)}", flush=True)
        for label, send, warm_up, count_of in phases:
            n = counts[count_of]
            send(port, path, warm_up)
            subprocess.run(["callgrind_control", "--zero", str(server.pid)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            before = set(out_dir.glob(f"callgrind-{key}.out.*"))
            send(port, path, n)
            subprocess.run(["callgrind_control", "--dump", str(server.pid)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            dump, = set(out_dir.glob(f"callgrind-{key}.out.*")) - before
            dumps.append((label, n, dump))
    finally:
        procs.stop(server, timeout=60)
    return [(label,) + per_request(dump, n) for label, n, dump in dumps]


def per_request(dump: Path, n: int) -> tuple[float, list]:
    """Instructions per request in one dump, and the core's ten costliest functions."""
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
    ap.add_argument("--handshakes", type=int, default=200,
                    help="with --tls: how many new-connection requests are counted")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--peers", default=JQGATE,
                    help="comma-separated: " + ",".join(ALL_PEERS) + " (or 'all')")
    ap.add_argument("--access-log", choices=["off", "file", "both"], default="off",
                    help="count with the servers' access logs off, on (to a file), or both")
    ap.add_argument("--http2", action="store_true",
                    help="F2 over HTTP/2 (h2c prior knowledge, h2load as the client)")
    ap.add_argument("--tls", action="store_true",
                    help="count over TLS: kept-alive requests and new-connection handshakes")
    ap.add_argument("--no-sni", action="store_true",
                    help="with --tls: the client sends no server name")
    args = ap.parse_args()
    if args.tls and args.http2:
        ap.error("--tls and --http2 are separate runs")
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
    pair = peers.bench_tls_files(out_dir) if args.tls else None
    phases = H2_PHASES if args.http2 else PLAIN_PHASES
    describe, agreed = None, {}        # with --tls: each server's handshake, by port
    if args.tls:
        import tls_load
        sni = None if args.no_sni else tls_load.SNI_NAME
        phases = tls_phases(sni)
        describe = lambda port: agreed.setdefault(port, tls_load.describe_handshake(port, sni))
    over = " over TLS" if args.tls else " over HTTP/2" if args.http2 else ""
    sizes = {"requests": args.requests, "handshakes": args.handshakes}
    counts: dict[tuple[str, str, bool], float] = {}
    try:
        for flow in args.flows.split(","):
            for log_on in logs:
                state = "access log on (file)" if log_on else "access log off"
                for peer in chosen:
                    found = server_argv(peer, flow, log_on, out_dir, args.http2, pair)
                    if found is None:
                        continue
                    argv, port = found
                    key = (f"{peer.replace('+', '-')}-{flow}{'-h2' if args.http2 else ''}"
                           f"{'-tls' if args.tls else ''}{'-log' if log_on else ''}")
                    print(f"{flow}{over}, {state}, {peer}:", flush=True)
                    for label, per_request, top in measure(key, argv, port, flow, sizes, out_dir,
                                                           phases, describe):
                        counts[(peer, flow + (" " + label if label else ""), log_on)] = per_request
                        print(f"  {label + ': ' if label else ''}{per_request:,.0f} instructions per "
                              "request (user space)" + ("; the core's costliest functions, "
                                                        "inclusive, per request:"
                                                        if top and peer in (JQGATE, JQGATE_MODULE)
                                                        else ""), flush=True)
                        if peer in (JQGATE, JQGATE_MODULE):
                            for cost, name in top:
                                print(f"    {cost:>9,}  {name}")
                    if not args.keep:
                        for f in out_dir.glob(f"callgrind-{key}.out*"):
                            f.unlink()
    finally:
        procs.stop(mocks)
    print_ratios(counts)
    if len(set(agreed.values())) > 1:
        print("NOT COMPARABLE: the servers' handshakes differ (see 'handshake:' above); "
              "fix the bench before reading the TLS ratios")
        return 1
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
