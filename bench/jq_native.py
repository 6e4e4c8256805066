"""Per-call time of the seed's two jq programs: native vs libjq (JqProgram) vs the PyPI binding.

    .venv/bin/python bench/jq_native.py [--rounds N] [--json]

All variants run in the same process, interleaved round by round (so machine noise hits them
alike). Each round times a batch of calls per variant; the table shows the median and the
minimum per-call time over the rounds, in microseconds. `call floor` is the harness's own cost
(a Python call of a trivial builtin through the same lambda), included in every other number.
Every variant's result is checked against libjq's before timing.
"""
import argparse
import json
import statistics
import sys
import time

import jq

from jqgate._core.core import JqProgram, NativeJq
from jqgate.compiler.jq_native import compile_native

SEED = [
    ('.headers * { "X-Api-Key": (.query.api_key // "none") }',
     {"headers": {"Content-Type": "application/x-www-form-urlencoded"}, "query": {"api_key": "K"}}),
    ('{ Authorization: (.token_type + " " + .access_token) }',
     {"token_type": "Bearer", "access_token": "abc"}),
]


def per_call_us(fn, calls):
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / calls / 1000.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--calls", type=int, default=20000, help="calls per batch (PyPI: /10)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    report = []
    for source, value in SEED:
        libjq = JqProgram(source)
        native, reason = compile_native(libjq)
        assert isinstance(native, NativeJq), reason
        pypi = jq.compile(source)
        expected = libjq.run_one(value)
        assert native.run_native(value) == ("ok", expected)
        assert pypi.input_value(value).first() == expected
        variants = {
            "call floor": (lambda: len(value), args.calls),
            "native": (lambda: native.run_one(value), args.calls),
            "libjq": (lambda: libjq.run_one(value), args.calls),
            "pypi jq": (lambda: pypi.input_value(value).first(), max(1, args.calls // 10)),
        }
        samples = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, (fn, calls) in variants.items():
                samples[name].append(per_call_us(fn, calls))
        row = {"program": source, "result": expected}
        for name, times in samples.items():
            row[name] = {"median_us": round(statistics.median(times), 3),
                         "min_us": round(min(times), 3)}
        report.append(row)

    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return
    for row in report:
        print(row["program"])
        for name in ("call floor", "native", "libjq", "pypi jq"):
            print("  %-10s median %8.3f us   min %8.3f us"
                  % (name, row[name]["median_us"], row[name]["min_us"]))
        print("  native speed-up over libjq (median): %.1fx"
              % (row["libjq"]["median_us"] / row["native"]["median_us"]))


if __name__ == "__main__":
    main()
