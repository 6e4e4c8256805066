"""Compile-time benchmark (issue: foundation): the seed config and a 64-node fully connected config.

    .venv/bin/python bench/compile.py [--repeat 7]

Prints the median compile time of each (goals: seed <= 5 ms, 64 nodes <= 100 ms) as a table and JSON.
"""
import argparse
import json
import statistics
import time

import jqgate
from jqgate.examples import compute_flow, dense_flow, seed_flow


def median_ms(config, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        jqgate.compile(config)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    results = {
        "seed_ms": median_ms(seed_flow(), args.repeat),
        "dense64_ms": median_ms(dense_flow(64), args.repeat),
        "compute30_ms": median_ms(compute_flow(30), args.repeat),
    }
    goals = {"seed_ms": 5.0, "dense64_ms": 100.0}
    for key, value in results.items():
        goal = goals.get(key)
        verdict = "" if goal is None else ("met" if value <= goal else "short") + f" (goal <= {goal} ms)"
        print(f"{key:<14} {value:8.3f} ms  {verdict}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
