"""The benchmark driver: `make bench` runs it after bench/install.sh.

    .venv/bin/python bench/run.py            # full run (≈20 min on 2 cores)
    .venv/bin/python bench/run.py --quick    # smoke run (≈2 min): fewer connections, 1 repetition

Layout: every measured server on the server core (taskset), mocks and wrk on the load core.
Per target: a correctness check, a warm-up, then for each repetition and connection count one
wrk run (targets interleaved inside a repetition so machine noise spreads over all of them),
server CPU from /proc around each run, peak RSS at the end. Then the 10k idle keep-alive check
and a multi-worker F1 run. Writes bench/results/<date>.json, bench/RESULTS.md and the plots.
Every process it starts is stopped by PID, also on Ctrl-C. Exit status 1 if any target could not
be run or checked (for instance jqgate before its runtime has landed): nothing is skipped silently.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checks  # noqa: E402
import flows as flow_files  # noqa: E402
import h2load  # noqa: E402
import layout  # noqa: E402
import peers  # noqa: E402
import procs  # noqa: E402
import wrk  # noqa: E402

STARTED: list[procs.Server] = []    # everything started, stopped by PID in stop_all()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 2 s runs, 1 repetition, 10/200 connections")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per measured wrk run")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per target")
    p.add_argument("--reps", type=int, default=3, help="repetitions (medians are reported)")
    p.add_argument("--conns", default="10,50,200,1000", help="wrk connection counts")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (one load core)")
    p.add_argument("--server-core", default="1")
    p.add_argument("--load-core", default="0")
    p.add_argument("--nice", type=int, default=0,
                   help="run servers, mocks and wrk at this nice value (e.g. -10 as root) so other work on a "
                        "shared machine crowds them out less; 0 leaves priorities alone")
    p.add_argument("--impls", default=",".join(peers.IMPLEMENTATIONS))
    p.add_argument("--flows", default="F1,F2,F3,F4")
    p.add_argument("--idle-count", type=int, default=10000, help="idle keep-alive connections (0: skip)")
    p.add_argument("--idle-flow", default="F1", help="the flow whose server gets the idle connections")
    p.add_argument("--idle-impls", default=f"{peers.JQGATE},{peers.NJS},{peers.AIOHTTP}")
    p.add_argument("--multi-workers", type=int, default=2, help="workers in the multi-worker run (0: skip)")
    p.add_argument("--multi-conns", type=int, default=200)
    p.add_argument("--h2-conns", default="10,100",
                   help="h2load connection counts for F2 over HTTP/2 (empty: skip)")
    p.add_argument("--h2-streams", type=int, default=10, help="h2load concurrent streams per connection")
    p.add_argument("--out", default=None, help="result JSON (default bench/results/<date>[-quick].json)")
    p.add_argument("--no-report", action="store_true", help="do not rewrite RESULTS.md and the plots")
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.reps = 2.0, 1.0, 1
        args.conns = "10,200" if args.conns == p.get_default("conns") else args.conns
        args.h2_conns = "10" if args.h2_conns == p.get_default("h2_conns") else args.h2_conns
        if args.idle_impls == p.get_default("idle_impls"):
            args.idle_impls = f"{peers.JQGATE},{peers.NJS}"   # aiohttp takes ~40 s to open 10k
    args.conn_list = [int(c) for c in args.conns.split(",")]
    args.h2_conn_list = [int(c) for c in args.h2_conns.split(",") if c]
    args.impl_list = [i for i in args.impls.split(",") if i]
    args.flow_list = [f for f in args.flows.split(",") if f]
    return args


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def first_line(text) -> str:
    return (str(text or "").strip().splitlines() or [""])[0]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def raise_fd_limit() -> int:
    """10k client connections and 1000-connection wrk runs need more than the default 1024;
    children (servers, wrk, the idle client) inherit the raised limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(hard, 65536)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))   # root may raise the hard limit too
    except (ValueError, OSError):
        want = hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if want < 10000 + 1000:   # each side of the idle check (client, server) holds 10k sockets
        log(f"open-file limit {want}: the 10k idle check may not open every connection")
    return want


def tool_versions() -> dict:
    def out(argv):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (done.stdout + done.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return None
    from importlib.metadata import PackageNotFoundError, version
    versions = {"nginx": (out(["nginx", "-v"]) or "").replace("nginx version: nginx/", ""),
                "njs": out(["dpkg-query", "-W", "-f=${Version}", "libnginx-mod-http-js"]),
                "lua-nginx-module": out(["dpkg-query", "-W", "-f=${Version}", "libnginx-mod-http-lua"]),
                "wrk": (out(["wrk", "-v"]) or "").split(" [")[0].replace("wrk ", ""),
                "python": platform.python_version()}
    for package in ("aiohttp", "jq", "uvloop", "httptools"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    try:
        versions["jqgate"] = subprocess.run(["git", "-C", str(layout.ROOT), "rev-parse", "--short", "HEAD"],
                                            capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return versions


def require_tools() -> None:
    missing = [t for t in ("wrk", "nginx", "taskset", "h2load", "curl") if shutil.which(t) is None]
    if not Path("/usr/lib/nginx/modules/ngx_http_js_module.so").exists():
        missing.append("libnginx-mod-http-js (/usr/lib/nginx/modules/ngx_http_js_module.so)")
    if not Path("/usr/lib/nginx/modules/ngx_http_lua_module.so").exists():
        missing.append("libnginx-mod-http-lua (/usr/lib/nginx/modules/ngx_http_lua_module.so)")
    if missing:
        sys.exit(f"bench: missing {', '.join(missing)}; run `bash bench/install.sh` as root (make bench does)")


NICE = 0


def niced(argv: list[str]) -> list[str]:
    """`nice -n N` execs the command, so the PID stays the server's."""
    return ["nice", "-n", str(NICE), *argv] if NICE else argv


def start_server(spec: peers.ServerSpec, cores: str, run_dir: Path) -> procs.Server:
    server = procs.start(spec.key, niced(list(spec.argv)), spec.port, cores, run_dir)
    STARTED.append(server)
    return server


def stop_all() -> None:
    while STARTED:
        server = STARTED.pop()
        procs.stop(server)


def start_servers(specs, cores, run_dir) -> tuple[dict, dict]:
    """Start every spec; a spec that fails is recorded with its error instead of aborting the run."""
    servers, failures = {}, {}
    for spec in specs:
        try:
            servers[spec.key] = start_server(spec, cores, run_dir)
            log(f"started {spec.key} (pid {servers[spec.key].pid}) on core {cores}")
        except RuntimeError as exc:
            failures[spec.key] = str(exc)
            log(f"NOT RUNNABLE {spec.key}: {first_line(exc)}")
    return servers, failures


def prepare_targets(targets, servers, failures) -> dict:
    """Status per target: ok, not_runnable (server did not start) or failed_check."""
    out = {}
    for t in targets:
        entry = {"impl": t.impl, "flow": t.flow, "url": t.url, "server": t.server, "runs": {}}
        if t.server in failures:
            entry.update(status="not_runnable", error=failures[t.server])
        else:
            problem = checks.check(t.flow, t.port, tls=t.tls)
            entry.update(status="ok" if problem is None else "failed_check", error=problem)
            if problem:
                log(f"CHECK FAILED {t.key}: {problem}")
        out[t.key] = entry
    return out


MOCKS: procs.Server | None = None


def measure(target, server: procs.Server, conns: int, args, run_dir: Path) -> dict:
    """One wrk run with the server's CPU time read from /proc before and after; also the mocks'
    CPU and how busy each core was, to tell what limited the run."""
    pids = server.tree()
    mock_pids = MOCKS.tree() if MOCKS else []
    cpu_before, mocks_before, cores_before = procs.cpu_seconds(pids), procs.cpu_seconds(mock_pids), procs.core_times()
    result = wrk.run(target.url, conns, args.duration, args.threads, args.load_core, run_dir,
                     headers=target.headers)
    cpu = procs.cpu_seconds(pids) - cpu_before
    result["mocks_cpu_share"] = (procs.cpu_seconds(mock_pids) - mocks_before) / result["seconds"] if result["seconds"] else None
    result["core_busy"] = procs.core_busy(cores_before, procs.core_times())
    result["server_cpu_s"] = cpu
    result["cpu_us_per_request"] = cpu * 1e6 / result["requests"] if result["requests"] else None
    result["server_cpu_share"] = cpu / result["seconds"] if result["seconds"] else None
    result["loadavg_1m"] = loadavg()   # other work on this shared machine shows up here
    return result


def median_of(runs: list[dict]) -> dict:
    def med(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None
    latency_keys = runs[0]["latency_ms"].keys()
    return {
        "rps": med([r["rps"] for r in runs]),
        "latency_ms": {k: med([r["latency_ms"][k] for r in runs]) for k in latency_keys},
        "cpu_us_per_request": med([r["cpu_us_per_request"] for r in runs]),
        "server_cpu_share": med([r["server_cpu_share"] for r in runs]),
        "loadavg_1m": med([r.get("loadavg_1m") for r in runs]),
        "mocks_cpu_share": med([r.get("mocks_cpu_share") for r in runs]),
        "core_busy": {core: med([r.get("core_busy", {}).get(core) for r in runs])
                      for core in runs[0].get("core_busy", {})},
        "errors": sum(r["error_count"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "repetitions": len(runs),
    }


def benchmark(targets, results, servers, args, run_dir, conn_list, reps) -> None:
    runnable = [t for t in targets if results[t.key]["status"] == "ok"]
    for t in runnable:
        log(f"warm-up {t.key} {args.warmup:.0f} s")
        try:
            wrk.run(t.url, 50, args.warmup, args.threads, args.load_core, run_dir, headers=t.headers)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            results[t.key].update(status="failed_run", error=f"warm-up: {exc}")
        if not servers[t.server].alive():
            results[t.key].update(status="crashed", error=f"server exited during the warm-up:\n"
                                                          f"{servers[t.server].log_tail()}")
        if results[t.key]["status"] != "ok":
            log(f"FAILED {t.key} in the warm-up: {first_line(results[t.key]['error'])}")
    for rep in range(reps):
        for t in runnable:
            entry = results[t.key]
            if entry["status"] != "ok":
                continue
            for conns in conn_list:
                server = servers[t.server]
                try:
                    run = measure(t, server, conns, args, run_dir)
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    run = None
                    entry.update(status="failed_run", error=str(exc))
                if not server.alive():
                    entry.update(status="crashed", error=f"server exited during the run:\n{server.log_tail()}")
                if run is None or entry["status"] != "ok":
                    log(f"FAILED {t.key} at {conns} connections: {first_line(entry['error'])}")
                    break
                # Non-2xx answers mean the flow did not do its work: fast errors must never pass for
                # throughput. Socket errors and timeouts under overload are kept and shown instead.
                if run["errors"]["status"] > max(10, run["requests"] // 1000):
                    entry.update(status="wrong_answers", error=(
                        f"{run['errors']['status']} non-2xx answers of {run['requests']} at {conns} connections"))
                    log(f"FAILED {t.key}: {entry['error']}")
                    break
                entry["runs"].setdefault(str(conns), []).append(run)
                busy = run["core_busy"]
                log(f"rep {rep + 1}/{reps} {t.key:<34} c={conns:<5} {run['rps']:>9.0f} req/s  "
                    f"p99 {run['latency_ms']['p99']:7.2f} ms  cpu {run['cpu_us_per_request'] or 0:6.1f} µs/req  "
                    f"server {100 * (run['server_cpu_share'] or 0):3.0f}% of core {args.server_core.split(',')[0]}, "
                    f"cores busy " + "/".join(f"{100 * busy[c]:.0f}%" for c in sorted(busy))
                    + (f"  errors {run['error_count']}" if run["error_count"] else ""))
    for t in runnable:
        entry = results[t.key]
        entry["median"] = {c: median_of(runs) for c, runs in entry["runs"].items()} if entry["status"] == "ok" else {}
        if t.server in servers:
            entry["memory"] = procs.memory_kib(servers[t.server].tree())


def idle_check(targets, results, servers, args) -> dict:
    """10k idle keep-alive connections to each chosen implementation's server for --idle-flow."""
    out = {}
    wanted = [i for i in args.idle_impls.split(",") if i]
    for t in targets:
        if t.flow != args.idle_flow or t.impl not in wanted:
            continue
        if results[t.key]["status"] != "ok":
            out[t.impl] = {"status": results[t.key]["status"], "error": results[t.key].get("error")}
            continue
        server = servers[t.server]
        pids = ",".join(str(p) for p in server.tree())
        log(f"idle check: {args.idle_count} keep-alive connections to {t.impl}")
        argv = ["taskset", "-c", args.load_core, sys.executable, str(layout.BENCH / "idle_conns.py"),
                "--port", str(t.port), "--pids", pids, "--count", str(args.idle_count),
                "--path", layout.FLOW_PATHS[args.idle_flow]]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
            out[t.impl] = json.loads(done.stdout.strip().splitlines()[-1])
            out[t.impl].update(status="ok", flow=args.idle_flow)
            log(f"idle check {t.impl}: {out[t.impl]['opened']} open, RSS {out[t.impl]['rss_idle_mib']:.1f} MiB")
        except (subprocess.TimeoutExpired, IndexError, json.JSONDecodeError) as exc:
            out[t.impl] = {"status": "failed", "error": f"{exc.__class__.__name__}: {exc}"}
        if not server.alive():
            out[t.impl].update(status="crashed", error=server.log_tail())
        time.sleep(1)    # let the closed connections drain before the next server is loaded
    return out


def multi_worker_run(args, run_dir) -> dict:
    """F1 with N workers per implementation, unpinned across both cores (which mocks and wrk
    share too): what one box delivers, not a per-core figure."""
    if args.multi_workers <= 0:
        return {}
    cores = f"{args.server_core},{args.load_core}"
    specs, targets = peers.multi_worker(run_dir, args.multi_workers, args.impl_list)
    log(f"multi-worker run: {args.multi_workers} workers, F1, {args.multi_conns} connections")
    servers, failures = start_servers(specs, cores, run_dir)
    results = prepare_targets(targets, servers, failures)
    sub_args = argparse.Namespace(**vars(args))
    benchmark(targets, results, servers, sub_args, run_dir, [args.multi_conns], args.reps)
    for key in list(servers):
        procs.stop(servers[key])
        STARTED.remove(servers[key])
    return {"workers": args.multi_workers, "cores": cores, "connections": args.multi_conns, "targets": results}


def http2_run(args, run_dir) -> dict:
    """F2 over HTTP/2 with h2load (h2c prior knowledge), jqgate and nginx on the server core,
    h2load on the load core; per repetition and connection count one timed run, with the
    server's CPU from /proc as for wrk."""
    if not args.h2_conn_list:
        return {}
    specs, targets = peers.http2(run_dir, args.impl_list)
    log(f"HTTP/2 run: F2, {args.h2_streams} streams per connection, connections "
        + ",".join(map(str, args.h2_conn_list)))
    servers, failures = start_servers(specs, args.server_core, run_dir)
    results = {}
    for t in targets:
        entry = {"impl": t.impl, "flow": t.flow, "url": t.url, "server": t.server, "runs": {}}
        if t.server in failures:
            entry.update(status="not_runnable", error=failures[t.server])
        else:
            problem = checks.check_h2(t.flow, t.port)
            entry.update(status="ok" if problem is None else "failed_check", error=problem)
        results[t.key] = entry
    for rep in range(args.reps):
        for t in targets:
            entry = results[t.key]
            for conns in args.h2_conn_list:
                if entry["status"] != "ok":
                    break
                server = servers[t.server]
                pids = server.tree()
                cpu_before = procs.cpu_seconds(pids)
                try:
                    run = h2load.run(t.url, conns, args.h2_streams, args.duration, args.load_core,
                                     args.warmup)
                except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
                    entry.update(status="failed_run", error=str(exc))
                    break
                cpu = procs.cpu_seconds(pids) - cpu_before
                # h2load's -D seconds are the measured part; the warm-up's CPU is counted too,
                # so this is CPU per request over the whole run.
                total = run["requests"] * (1 + args.warmup / run["seconds"]) if run["seconds"] else 0
                run["cpu_us_per_request"] = cpu * 1e6 / total if total else None
                if run.get("status", {}).get("2xx", 0) < run["succeeded"] - max(10, run["requests"] // 1000):
                    entry.update(status="wrong_answers", error=f"non-2xx answers: {run.get('status')}")
                    break
                if not server.alive():
                    entry.update(status="crashed", error=server.log_tail())
                    break
                entry["runs"].setdefault(str(conns), []).append(run)
                log(f"rep {rep + 1}/{args.reps} {t.key:<34} c={conns:<5} m={args.h2_streams:<3} "
                    f"{run['rps']:>9.0f} req/s  cpu {run['cpu_us_per_request'] or 0:6.1f} µs/req"
                    + (f"  errors {run['error_count']}" if run["error_count"] else ""))
    for entry in results.values():
        entry["median"] = {c: {"rps": statistics.median(r["rps"] for r in runs),
                               "cpu_us_per_request": statistics.median(
                                   r["cpu_us_per_request"] or 0 for r in runs),
                               "errors": sum(r["error_count"] for r in runs),
                               "requests": sum(r["requests"] for r in runs)}
                           for c, runs in entry["runs"].items()}
    for key in list(servers):
        procs.stop(servers[key])
        STARTED.remove(servers[key])
    return {"streams": args.h2_streams, "connections": args.h2_conn_list, "targets": results}


def main(argv=None) -> int:
    global NICE
    args = parse_args(argv)
    NICE = args.nice
    wrk.NICE = args.nice
    h2load.NICE = args.nice
    require_tools()
    fd_limit = raise_fd_limit()
    now = datetime.datetime.now(datetime.timezone.utc)
    run_dir = layout.RUN_DIR / now.strftime("%Y%m%dT%H%M%SZ")
    run_dir.mkdir(parents=True)
    flow_files.write_flows()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # so `finally` stops the servers
    started, load_before = time.monotonic(), loadavg()
    try:
        global MOCKS
        mocks = MOCKS = start_server(peers.mocks(run_dir), args.load_core, run_dir)
        log(f"mocks up (pid {mocks.pid}) on core {args.load_core}")
        specs, targets = peers.servers_and_targets(run_dir, args.impl_list, args.flow_list)
        estimate = len(targets) * (args.warmup + args.reps * len(args.conn_list) * (args.duration + 0.3))
        log(f"{len(targets)} targets × {len(args.conn_list)} connection counts × {args.reps} repetitions: "
            f"≈ {estimate / 60:.0f} min of wrk, plus the idle check and the multi-worker run")
        servers, failures = start_servers(specs, args.server_core, run_dir)
        results = prepare_targets(targets, servers, failures)
        benchmark(targets, results, servers, args, run_dir, args.conn_list, args.reps)
        idle = idle_check(targets, results, servers, args) if args.idle_count > 0 else {}
        for key in list(servers):
            procs.stop(servers[key])
            STARTED.remove(servers[key])
        multi = multi_worker_run(args, run_dir)
        http2 = http2_run(args, run_dir)
    finally:
        stop_all()
    doc = {
        "meta": {
            "date": now.isoformat(timespec="seconds"), "mode": "quick" if args.quick else "full",
            "duration_s": args.duration, "warmup_s": args.warmup, "repetitions": args.reps,
            "connections": args.conn_list, "wrk_threads": args.threads, "nice": args.nice,
            "server_core": args.server_core, "load_core": args.load_core, "fd_limit": fd_limit,
            "cpu": platform.processor() or _cpu_model(), "cores": _cores(), "kernel": platform.release(),
            "versions": tool_versions(),
            "loadavg_1m": {"start": load_before, "end": loadavg()}, "wall_s": round(time.monotonic() - started, 1),
            "command": "bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
        },
        "targets": results, "idle": idle, "multi_worker": multi, "http2": http2,
    }
    out = Path(args.out) if args.out else layout.RESULTS / f"{now:%Y-%m-%d}{'-quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    log(f"wrote {out.relative_to(layout.ROOT) if out.is_relative_to(layout.ROOT) else out}")
    if not args.no_report:
        import plot
        import report
        plots = plot.write_plots(doc, layout.RESULTS)
        report.write_results_md(doc, out, plots)
        log("wrote bench/RESULTS.md and " + ", ".join(p.name for p in plots))
    everything = dict(results)
    everything.update({f"{k} (x{multi['workers']})": v for k, v in multi.get("targets", {}).items()})
    everything.update(http2.get("targets", {}))
    bad = {k: v for k, v in everything.items() if v["status"] != "ok"}
    for key, entry in bad.items():
        log(f"{entry['status'].upper()}: {key}: {first_line(entry.get('error'))[:200]}")
    return 1 if bad else 0


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _cores() -> int:
    import os
    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
