"""Run h2load (nghttp2's HTTP/2 load generator, pinned to the load core) and read its summary.

h2load speaks h2c with prior knowledge to an http:// URL: the same request path as wrk's F2,
multiplexed `streams` at a time on each of `connections` connections.
"""
from __future__ import annotations

import re
import subprocess

NICE = 0   # set by run.py --nice

_FINISHED = re.compile(r"finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s")
_REQUESTS = re.compile(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                       r"(\d+) failed, (\d+) errored, (\d+) timeout")
_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_REQUEST_TIME = re.compile(r"time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+"
                           r"([\d.]+)(us|ms|s)")


def parse(text: str) -> dict:
    """The figures of one h2load report (raises ValueError when it has none)."""
    fin, req = _FINISHED.search(text), _REQUESTS.search(text)
    if fin is None or req is None:
        raise ValueError("no h2load summary in: " + text[-500:])
    total, started, done, ok, failed, errored, timeout = (int(g) for g in req.groups())
    out = {"seconds": float(fin.group(1)) * _UNITS[fin.group(2)] / 1000, "rps": float(fin.group(3)),
           "requests": done,
           "succeeded": ok, "errors": {"failed": failed, "errored": errored, "timeout": timeout},
           "error_count": failed + errored + timeout}
    st = _STATUS.search(text)
    if st is not None:
        out["status"] = dict(zip(("2xx", "3xx", "4xx", "5xx"), (int(g) for g in st.groups())))
    rt = _REQUEST_TIME.search(text)
    if rt is not None:
        g = rt.groups()
        out["latency_ms"] = {"min": float(g[0]) * _UNITS[g[1]], "max": float(g[2]) * _UNITS[g[3]],
                             "mean": float(g[4]) * _UNITS[g[5]]}
    return out


def run(url: str, connections: int, streams: int, seconds: float, cores: str,
        warmup: float = 1.0) -> dict:
    """One timed h2load run: requests/s, latency (ms) and error counts."""
    argv = (["nice", "-n", str(NICE)] if NICE else []) + [
        "taskset", "-c", cores, "h2load", "-c", str(connections), "-m", str(streams),
        "-t", "1", "-D", str(max(1, round(seconds))), f"--warm-up-time={max(1, round(warmup))}",
        url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + warmup + 60)
    if done.returncode != 0:
        raise RuntimeError(f"h2load failed ({done.returncode}): {done.stderr.strip() or done.stdout[-500:]}")
    result = parse(done.stdout)
    result.update(connections=connections, streams=streams)
    return result
