"""Per-request cost of the engine on a plan without I/O: static -> jq -> jq -> exit.

    .venv/bin/python bench/engine.py [--loops N] [--repeats R]

Prints the median per-request time (µs) over R repeats of N requests for:
  embed      plan.run({...}) through the embedding API (RequestView built from a dict)
  core       PlanRun(...).start_request_window() on a prebuilt RequestView
  reference  the plain-Python reference executor, same plan, same request
and the ratio reference / core, plus the two jq programs run alone (so the engine's own
overhead can be read off in the same run). The goal for `embed` is <= 10 µs per request.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from jqgate._core import core

CONFIG = {"nodes": [
    {"name": "S", "type": "static", "values": {"a": 1, "tag": "x"}},
    {"name": "J1", "type": "jq", "inputs": {"s": "S"}, "jq": ".s.a + 1"},
    {"name": "J2", "type": "jq", "input": "J1", "jq": "{n: ., ok: true}"},
    {"name": "EXIT", "type": "exit", "inputs": {"body": "J2"}, "status": 200},
]}


def compile_plan():
    if hasattr(core, "JqProgram"):
        import jqgate
        p = jqgate.compile(CONFIG)
        return getattr(p, "plan", p), "libjq bridge (JqProgram)"
    # Before the bridge is built in: the test plan builder with the PyPI jq adapter.
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "engine"))
    from engine_plans import build_plan
    return build_plan(CONFIG), "PyPI jq adapter (bridge not built in)"


def measure(fn, loops, repeats):
    per = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        per.append((time.perf_counter() - t0) / loops * 1e6)
    return statistics.median(per)


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
    t_embed = measure(embed, args.loops, args.repeats)
    t_core = measure(direct, args.loops, args.repeats)
    t_ref = measure(reference, max(1, args.loops // 10), args.repeats)
    t_jq = measure(jq_alone, args.loops, args.repeats)
    print("plan: static -> jq -> jq -> exit   jq: %s" % jq_kind)
    print("median of %d repeats" % args.repeats)
    print("  embed      %8.2f us/request   (goal <= 10 us)" % t_embed)
    print("  core       %8.2f us/request" % t_core)
    print("  reference  %8.2f us/request   (%.1fx the core)" % (t_ref, t_ref / t_core))
    print("  jq alone   %8.2f us           (the two programs called directly)" % t_jq)
    print("  engine overhead beyond jq: core %.2f us, embed %.2f us"
          % (t_core - t_jq, t_embed - t_jq))


if __name__ == "__main__":
    main()
