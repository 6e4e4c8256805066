"""Memory checks that read the resident set size: not part of the test suite, where RSS
depends on the allocator and on whatever else the machine runs, but here, run on purpose:

    .venv/bin/python bench/memory.py [--check jq_runs,jq_compile_failures,reload_swaps,stream_50mb]

Each check prints one JSON line ({"check", "growth_kib", "limit_kib", "ok"}); the exit status is
1 when any check went over its limit. The gateway checks start servers with the tests' loopback
harness (tests/harness). Moved out of tests/ (core/test_jq_bridge.py,
gateway/test_reload_under_load.py, gateway/test_http_serve.py)."""
from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import socket
import sys
import tempfile
from pathlib import Path

HARNESS = Path(__file__).resolve().parent.parent / "tests" / "harness"
sys.path.insert(0, str(HARNESS))


def rss_kib(pid: int | None = None) -> int:
    """Resident set size now (Linux), or this process's peak where /proc is missing."""
    try:
        with open(f"/proc/{pid or 'self'}/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() // 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM")).split()[1])


def jq_runs() -> tuple[int, int]:
    """200 000 libjq runs over every path (success, error, several results, big ints, floats,
    unicode): leaking one small jv string on any one path adds over 1.5 MiB."""
    from jqgate._core.core import JqProgram, JqRuntimeError
    programs = [
        (JqProgram('.headers * {"X-Api-Key": (.query.api_key // "none")}'),
         {"headers": {"Content-Type": "text/plain", "é": ["😀", 1.5, 2**70]},
          "query": {"api_key": "K"}}),
        (JqProgram('{Authorization: (.token_type + " " + .access_token)}'),
         {"token_type": "Bearer", "access_token": "abc"}),
        (JqProgram('.a - 1'), {"a": "text"}),
        (JqProgram('error({"a": [1, "x"]})'), None),
        (JqProgram(".[]"), [1, "two", [3]]),
        (JqProgram("[.[] | tostring]"), [1e300, 2**80, -0.0, "x\ud800"]),
    ]
    rounds = 200_000 // len(programs)

    def run_all_programs(count):
        for _ in range(count):
            for program, value in programs:
                try:
                    program.run_one(value)
                except JqRuntimeError:
                    pass
        for _ in range(count // 200):
            JqProgram(".a").run_one({"a": 1})  # construction and __dealloc__ too

    run_all_programs(2_000)  # warm up allocator pools and caches
    gc.collect()
    before = rss_kib()
    run_all_programs(rounds)
    gc.collect()
    return rss_kib() - before, 1024


def jq_compile_failures() -> tuple[int, int]:
    """3 000 failed compiles free what libjq allocated for them."""
    from jqgate._core.core import JqCompileError, JqProgram

    def compile_many(count):
        for _ in range(count):
            for source in ("}", "env", "nosuch"):
                try:
                    JqProgram(source)
                except JqCompileError:
                    pass

    compile_many(50)
    before = rss_kib()
    compile_many(1_000)
    return rss_kib() - before, 1024


def reload_swaps() -> tuple[int, int]:
    """Old plans (with their compiled jq programs) are freed once nothing uses them: memory
    after 300 configuration swaps is what it was after 100."""
    from adminutil import AdminGateway, declarative, seed_body
    from netutil import Upstream
    upstream = Upstream()
    tmp = tempfile.TemporaryDirectory()
    try:
        plugin = json.loads(seed_body("admin-global.json").replace(
            b"https://my-token-service/auth-token", b"http://127.0.0.1:%d/token" % upstream.port))
        docs = [declarative(upstream.port, "/a/", plugins=[plugin]),
                declarative(upstream.port, "/b/", plugins=[plugin])]
        gw = AdminGateway(Path(tmp.name), docs[0])
        try:
            marks = []
            for n in range(300):
                assert gw.admin("POST", "/config", docs[n % 2])[0] == 201
                assert gw.proxy("/x")[0] == 200
                if n in (99, 299):
                    marks.append(rss_kib(gw.proc.pid))
        finally:
            gw.stop()
    finally:
        upstream.stop()
        tmp.cleanup()
    return marks[1] - marks[0], 4096


def stream_50mb() -> tuple[int, int]:
    """50 MB down (read slowly at first) and 50 MB up through one gateway: its peak memory
    grows by far less than one body."""
    import time
    from gateway_process import GatewayProcess
    from netutil import Upstream, http_get
    upstream = Upstream()
    g = GatewayProcess(upstream.port)
    n = 50 * 1024 * 1024
    try:
        http_get(g.port, "/echo")      # warm up: pools, code paths
        base = rss_kib(g.proc.pid)
        s = socket.create_connection(("127.0.0.1", g.port))
        s.sendall(b"GET /big/%d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % n)
        time.sleep(0.5)                # the gateway must stop reading the upstream meanwhile
        while s.recv(1 << 20):
            pass
        s.close()
        s = socket.create_connection(("127.0.0.1", g.port))
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                  b"Content-Length: %d\r\n\r\n" % n)
        piece = b"p" * (1 << 20)
        for _ in range(50):
            s.sendall(piece)
        while s.recv(65536):
            pass
        s.close()
        peak = peak_kib(g.proc.pid)
    finally:
        g.stop()
        upstream.stop()
    return peak - base, 20 * 1024


CHECKS = {f.__name__: f for f in (jq_runs, jq_compile_failures, reload_swaps, stream_50mb)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", default=",".join(CHECKS), help="comma-separated: " + ", ".join(CHECKS))
    args = parser.parse_args(argv)
    failed = False
    for name in args.check.split(","):
        growth, limit = CHECKS[name]()
        print(json.dumps({"check": name, "growth_kib": growth, "limit_kib": limit,
                          "ok": growth < limit}), flush=True)
        failed |= growth >= limit
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
