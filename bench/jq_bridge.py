"""Per-call cost of the seed flow's two jq programs: the libjq bridge vs the PyPI `jq` binding.

Both run in the same process on the same inputs; each figure is the median of 5 repetitions of
N calls. Usage: .venv/bin/python bench/jq_bridge.py [N]   (prints a table, then one JSON line)
"""
import importlib.metadata
import json
import statistics
import sys
import time

import jq

from jqgate._core.core import JqProgram

SEED_CASES = [
    ("headers_api_key",
     '.headers * { "X-Api-Key": (.query.api_key // "none") }',
     {"headers": {"Content-Type": "application/x-www-form-urlencoded"},
      "query": {"api_key": "K"}}),
    ("authorization",
     '{ Authorization: (.token_type + " " + .access_token) }',
     {"token_type": "Bearer", "access_token": "abc"}),
]
REPETITIONS = 5


def per_call_us(call, value, calls):
    """Median over REPETITIONS of the mean time of `calls` calls, in microseconds."""
    samples = []
    for _ in range(REPETITIONS):
        start = time.perf_counter()
        for _ in range(calls):
            call(value)
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def main():
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rows = []
    for name, source, value in SEED_CASES:
        bridge = JqProgram(source).run_one
        pypi_program = jq.compile(source)

        def pypi(v, program=pypi_program):
            return program.input_value(v).first()

        assert bridge(value) == pypi(value), name  # same answer before timing it
        bridge(value), pypi(value)  # warm up
        bridge_us = per_call_us(bridge, value, calls)
        pypi_us = per_call_us(pypi, value, max(1, calls // 5))
        rows.append({"case": name, "program": source, "bridge_us": round(bridge_us, 3),
                     "pypi_jq_us": round(pypi_us, 3), "speedup": round(pypi_us / bridge_us, 2)})

    print("%-16s %10s %11s %8s" % ("case", "bridge µs", "PyPI jq µs", "speedup"))
    for row in rows:
        print("%-16s %10.2f %11.2f %7.1fx" % (row["case"], row["bridge_us"], row["pypi_jq_us"],
                                             row["speedup"]))
    print(json.dumps({"benchmark": "jq_bridge", "calls": calls, "repetitions": REPETITIONS,
                      "statistic": "median of per-call means", "python": sys.version.split()[0],
                      "jq_pypi_version": importlib.metadata.version("jq"), "results": rows}))


if __name__ == "__main__":
    main()
