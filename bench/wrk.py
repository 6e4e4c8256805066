"""Run wrk (pinned to the load core) with --latency and read its figures from a Lua `done` hook,
which prints one JSON line: more exact than parsing the human report, and it gives p99.9.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

REPORT_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99.9":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(75),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
"""


NICE = 0   # set by run.py --nice


def lua_script(run_dir: Path) -> Path:
    path = run_dir / "wrk_report.lua"
    if not path.exists():
        path.write_text(REPORT_LUA)
    return path


def run(url: str, connections: int, seconds: float, threads: int, cores: str, run_dir: Path,
        timeout_s: int = 5, headers: tuple = ()) -> dict:
    """One wrk run; returns requests/s, latency percentiles (ms) and error counts. `headers`
    go on every request (`Connection: close`: a new connection, and TLS handshake, each)."""
    threads = max(1, min(threads, connections))
    extra = [arg for h in headers for arg in ("-H", h)]
    argv = (["nice", "-n", str(NICE)] if NICE else []) + [
        "taskset", "-c", cores, "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s}s", "--latency", "-s", str(lua_script(run_dir)), *extra, url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    line = next((l for l in done.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout[-500:]}")
    raw = json.loads(line[len("WRKJSON "):])
    seconds_run = raw["duration_us"] / 1e6
    errors = raw["errors"]
    return {
        "connections": connections,
        "requests": raw["requests"],
        "seconds": seconds_run,
        "rps": raw["requests"] / seconds_run if seconds_run else 0.0,
        "latency_ms": {k: v / 1000 for k, v in raw["latency_us"].items()},
        "errors": errors,
        "error_count": sum(errors.values()),
    }
