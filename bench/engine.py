"""Per-request cost of the engine on a plan without I/O: static -> jq -> jq -> exit.

    .venv/bin/python bench/engine.py [--loops N] [--repeats R]

Prints the median (and best) per-request time (µs) over R interleaved repeats for:
  embed      plan.run({...}) through the embedding API (RequestView built from a dict)
  core       PlanRun(...).start_request_window() on a prebuilt RequestView
  reference  the plain-Python reference executor, same plan, same request
and the ratio reference / core, plus the two jq programs run alone (so the engine's own
overhead can be read off in the same run). The goal for `embed` is <= 10 µs per request.
"""
from __future__ import annotations

import argparse
import statistics
import time

from jqgate._core import core

CONFIG = {"nodes": [
    {"name": "S", "type": "static", "values": {"a": 1, "tag": "x"}},
    {"name": "J1", "type": "jq", "inputs": {"s": "S"}, "jq": ".s.a + 1"},
    {"name": "J2", "type": "jq", "input": "J1", "jq": "{n: ., ok: true}"},
    {"name": "EXIT", "type": "exit", "inputs": {"body": "J2"}, "status": 200},
]}


def compile_plan():
    import jqgate
    p = jqgate.compile(CONFIG)
    return getattr(p, "plan", p), "libjq bridge (JqProgram)"


def measure_all(fns, loops, repeats):
    """Median and best per-call µs of each fn; the fns take turns within every repeat so a
    noisy machine slows them alike and the ratios stay meaningful."""
    times = {name: [] for name, _, _ in fns}
    for _ in range(repeats):
        for name, fn, n in fns:
            n = max(1, loops // n)
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            times[name].append((time.perf_counter() - t0) / n * 1e6)
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loops", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    from jqgate.embed import runnable
    from jqgate.reference.executor import PlanRun as RefRun

    plan, jq_kind = compile_plan()
    rp = runnable(plan)
    request = {"method": "GET", "path": "/x", "request_id": "bench"}
    view = core.RequestView(method="GET", path="/x", request_id="bench")
    cp = core.compile_plan(plan)

    def embed():
        return rp.run(request)

    def direct():
        run = core.PlanRun(cp, view, None, {})
        run.start_request_window(None)
        return run

    def reference():
        run = RefRun(plan, view, None, {})
        run.start_request_window(None)
        return run

    j1 = next(op.params.program for op in plan.ops if op.kind == "jq"
              and op.params.source == ".s.a + 1")
    j2 = next(op.params.program for op in plan.ops if op.kind == "jq"
              and op.params.source.startswith("{n:"))
    s_values = {"a": 1, "tag": "x"}

    def jq_alone():                       # the two programs' own work, for the overhead figure
        return j2.run_one(j1.run_one({"s": s_values}))

    assert embed().body == b'{"n":2,"ok":true}', embed().body
    assert direct().exit_body == reference().exit_body == b'{"n":2,"ok":true}'
    r = measure_all([("embed", embed, 1), ("core", direct, 1), ("reference", reference, 10),
                     ("jq alone", jq_alone, 1)], args.loops, args.repeats)
    print("plan: static -> jq -> jq -> exit   jq: %s" % jq_kind)
    print("per request, median (best) of %d interleaved repeats" % args.repeats)
    print("  embed      %7.2f us (%5.2f)   goal <= 10 us" % r["embed"])
    print("  core       %7.2f us (%5.2f)" % r["core"])
    print("  reference  %7.2f us (%5.2f)   %.1fx the core"
          % (r["reference"] + (r["reference"][0] / r["core"][0],)))
    print("  jq alone   %7.2f us (%5.2f)   the two programs called directly" % r["jq alone"])
    print("  engine overhead beyond jq (medians): core %.2f us, embed %.2f us"
          % (r["core"][0] - r["jq alone"][0], r["embed"][0] - r["jq alone"][0]))


if __name__ == "__main__":
    main()
