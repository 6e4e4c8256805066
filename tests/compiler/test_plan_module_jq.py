"""Straight-line jq in compiled plan modules (plan_module/jq_codegen.py, straight_jq_source.py)
against the generic program on the same inputs: every construct the emitter covers, on inputs
of every kind (including those it must hand to the generic program: 1.0, big integers, NaN,
strings where objects are assumed). Results must be equal, errors must carry the same message.
One module holds every program (built once for this file)."""
from __future__ import annotations

import math

import pytest

import jqgate

PROGRAMS = [
    ".", ".a", ".a.b", ".[0]", ".[-1]", '.a // "d"', ".a // .b // 3", ".a and .b", ".a or .b",
    ".a | not", "if .a then .b elif .c then 1 else null end", "if .a then 1 end",
    '{a: .x, "b": 1, c: [.y, 2.5], d: true, e: null}', "{a: 1, a: 2}", ".a + .b", ".a * .b",
    ".a == .b", ".a != 1", '"x\\(.s)y"', '.h * {"k": "v", "n": {"m": 1}}', "[.a, .b, .c]",
    ".a.b.c // .d", "(.n // 0) + 1", ".a * 2", ".a * .b + 0.25", '.a + " " + .b', "[.a] + [.b]", "{} + .a", ".a == null", "1000", '"\\u00e9"',
]
INPUTS = [
    None, {}, {"a": 1, "b": 2}, {"a": True, "b": 1}, {"a": "s", "b": "t"}, {"a": [1], "b": [2]},
    {"a": {"x": 1}, "b": {"x": {"y": 2}}}, {"a": 1.5, "b": 1}, {"a": 1.0}, "str", [1, 2, 3],
    {"a": None, "b": False, "c": 0, "d": "D"}, {"s": 5}, {"s": "mid"}, {"h": {"k": "old", "n": {"o": 2}}},
    {"x": math.nan}, {"a": 2 ** 60, "b": 1}, {"a": {"b": {"c": False}}, "d": [1]}, {"a": "\udc80"},
    {"x": "é", "y": [None]}, {"a": {"k": 1}, "b": {"k": 2}}, {1: 2}, {"a": True, "b": True},
    {"n": 2 ** 53}, {"n": 41, "a": 0.5, "b": 3}, {"a": -0.5, "b": 0}, {"a": 2 ** 52, "b": 4},
    {"a": 1e300, "b": 1e300}, {"a": 7, "b": -7}, {"a": 3, "b": "x"},
]


@pytest.fixture(scope="module")
def runners(tmp_path_factory):
    from jqgate.plan_module.build import compile_modules
    from jqgate.plan_module.loading import import_module_file
    from jqgate.plan_module.source import module_source
    from jqgate.plan_module.version import core_version

    plan = jqgate.compile({"nodes": [{"name": "P%d" % i, "type": "jq", "jq": p}
                                     for i, p in enumerate(PROGRAMS)]}).plan
    name = "jqgate_plan_straight_jq_test"
    [path] = compile_modules({name: module_source(name, [plan], core_version())},
                             str(tmp_path_factory.mktemp("straight_jq"))).values()
    mod = import_module_file(path)
    return {mod.PLAN.ops[i].params.source: mod.PLAN.ops[i].params.program
            for i in range(len(mod.PLAN.ops)) if mod.PLAN.ops[i].kind == "jq"}


def answer(run, value):
    try:
        return ("ok", run(value))
    except Exception as e:             # libjq's errors (JqRuntimeError): compare the text
        return ("error", str(e))


def same(a, b):
    """Equal results, NaN equal to NaN, and ints not equal to floats or bools."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def test_every_program_is_straight_line(runners):
    assert sorted(runners) == sorted(PROGRAMS)
    assert {type(r).__name__ for r in runners.values()} == {"StraightJq"}


@pytest.mark.parametrize("program", PROGRAMS)
def test_straight_line_agrees_with_the_generic_program(runners, program):
    runner = runners[program]
    for value in INPUTS:
        got = answer(runner.run_one, value)
        want = answer(runner.fallback.run_one, value)
        assert got[0] == want[0] and same(got[1], want[1]), (program, value, got, want)
        if got[0] == "ok":
            assert answer(runner.run_all, value) == answer(runner.fallback.run_all, value)


def test_both_paths_are_taken(runners):
    runner = runners[".a + .b"]
    before = (runner.straight_runs, runner.fallback_runs)
    assert runner.run_one({"a": "x", "b": "y"}) == "xy"           # straight
    assert runner.run_one({"a": 1.0, "b": 2}) == 3                # 1.0: the generic program
    assert (runner.straight_runs, runner.fallback_runs) == (before[0] + 1, before[1] + 1)
