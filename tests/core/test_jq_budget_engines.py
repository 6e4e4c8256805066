"""The jq budgets in the engines themselves: libjq's step and memory budgets (the build-time
patch in patches/), the native evaluator's work units, the process defaults, the plugin's
`config.jq_budget` and the `jqgate check` warnings (compiler/jq_bounds.py)."""
from __future__ import annotations

import threading

import pytest

from jqgate._core.core import (DEFAULT_JQ_MEMORY_BUDGET, DEFAULT_JQ_STEP_BUDGET, JqBudgetError,
                               JqProgram, JqRuntimeError, NativeJq, jq_budgets, set_jq_budgets)
from jqgate.compiler import compile_datakit
from jqgate.compiler.jq_bounds import unbounded_reasons
from jqgate.compiler.jq_native import compile_native
from jqgate.errors import ConfigError

MiB = 1024 * 1024


@pytest.fixture
def default_budgets():
    """Restore the process's budgets after a test that changes them."""
    saved = jq_budgets()
    yield
    set_jq_budgets(*saved)


@pytest.mark.parametrize("source", ["def f: f; f", "until(false; .)", "[repeat(1)]",
                                    'try (def f: f; f) catch "caught"',
                                    "[limit(1e9; repeat(1))] | length"])
def test_a_program_that_never_ends_stops_at_its_step_budget(source):
    program = JqProgram(source, 100_000)
    with pytest.raises(JqBudgetError) as caught:
        program.run_one(None)
    assert caught.value.budget == "steps"
    assert str(caught.value) == ("jq program exceeded its step budget of 100000 steps "
                                 "(config.jq_budget.steps)")
    assert isinstance(caught.value, JqRuntimeError)     # a node failure like any other


@pytest.mark.parametrize("source", ["[range(1e9)]", "def f: 1 + f; f",
                                    "[limit(1e6; repeat(.))] | tostring",
                                    'reduce range(1e9) as $i (""; . + "0123456789")'])
def test_a_program_that_grows_stops_at_its_memory_budget(source):
    program = JqProgram(source, 10 ** 12, 4 * MiB)
    with pytest.raises(JqBudgetError) as caught:
        program.run_one("some input")
    assert caught.value.budget == "memory"
    assert "exceeded its memory budget of 4 MiB" in str(caught.value)


@pytest.mark.parametrize("source", ['"x" * 1e9', "[] | .[1e8] = 1"])
def test_a_program_sized_allocation_is_refused_before_it_is_made(source):
    # One allocation of 1 GB / 1.6 GB would be made in a single instruction: refused up front.
    program = JqProgram(". as $in | " + source, 10 ** 12, 4 * MiB)
    with pytest.raises(JqRuntimeError, match="memory budget"):
        program.run_one(None)


def test_a_program_runs_again_after_a_budget_stopped_it():
    program = JqProgram("if . then [range(1e9)] else 42 end", 10 ** 12, 4 * MiB)
    with pytest.raises(JqBudgetError):
        program.run_one(True)
    assert program.run_one(False) == 42
    assert program.run_all(False) == [42]


def test_run_all_is_bounded_too():
    with pytest.raises(JqBudgetError):
        JqProgram("repeat(1)", 10_000).run_all(None)


def test_programs_within_budget_are_untouched():
    assert JqProgram("[range(10000)] | length").run_one(None) == 10000
    assert JqProgram("[limit(3; repeat(1))]").run_one(None) == [1, 1, 1]


def test_process_defaults_apply_to_programs_without_their_own(default_budgets):
    assert jq_budgets() == (DEFAULT_JQ_STEP_BUDGET, DEFAULT_JQ_MEMORY_BUDGET)
    assert (DEFAULT_JQ_STEP_BUDGET, DEFAULT_JQ_MEMORY_BUDGET) == (2_000_000, 64 * MiB)
    program = JqProgram("[range(5000)] | length")
    own = JqProgram("[range(5000)] | length", 1_000_000)
    assert program.run_one(None) == 5000
    set_jq_budgets(1000, 8 * MiB)
    assert program.step_budget == 1000 and program.memory_budget == 8 * MiB
    with pytest.raises(JqBudgetError, match="1000 steps"):
        program.run_one(None)
    assert own.run_one(None) == 5000           # its own budget wins
    for bad in (0, -1, 1.5, True, 2 ** 63):
        with pytest.raises(ValueError):
            set_jq_budgets(bad)


def test_native_evaluator_hands_an_exploding_value_to_libjq_which_fails_it():
    # `[., .]` shares its items, so 40 of them make a value of 2**40 leaves that costs
    # nothing to build but everything to print: the native run bails, libjq's budget ends it.
    source = " | ".join(["[., .]"] * 40) + " | tostring | length"
    program, reason = compile_native(JqProgram(source, 200_000, 16 * MiB))
    assert isinstance(program, NativeJq), reason
    assert program.run_native(1) == ("bail", None)
    with pytest.raises(JqBudgetError):
        program.run_one(1)
    small, _ = compile_native(JqProgram(" | ".join(["[., .]"] * 3) + " | tostring"))
    assert small.run_native(1) == ("ok", "[[[1,1],[1,1]],[[1,1],[1,1]]]")


def test_native_string_doubling_is_charged():
    source = " | ".join([". + ."] * 40) + " | length"
    program, reason = compile_native(JqProgram(source, 200_000, 16 * MiB))
    assert isinstance(program, NativeJq), reason
    assert program.run_native("ab") == ("bail", None)
    with pytest.raises(JqBudgetError, match="memory"):
        program.run_one("ab")


def test_compiling_in_threads_gives_the_same_programs():
    # jq_compile runs with the GIL released (reloads compile on a worker thread).
    sources = ["[.[] | . * %d]" % i for i in range(40)]
    results = {}

    def work(chunk):
        for s in chunk:
            results[s] = JqProgram(s).run_one([1, 2])

    threads = [threading.Thread(target=work, args=(sources[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {s: [i, 2 * i] for i, s in enumerate(sources)}


def test_compile_errors_still_carry_libjq_messages():
    from jqgate._core.core import JqCompileError
    with pytest.raises(JqCompileError) as caught:
        JqProgram(".a | foo(")
    assert caught.value.messages and "syntax error" in caught.value.messages[0]


# -- config.jq_budget ---------------------------------------------------------------------------

def flow(program: str, budget=None) -> dict:
    config = {"nodes": [{"name": "J", "type": "jq", "jq": program},
                        {"name": "EXIT", "type": "exit", "inputs": {"body": "J"}}]}
    if budget is not None:
        config["jq_budget"] = budget
    return config


def test_plugin_budget_reaches_its_programs():
    plan = compile_datakit(flow("[range(1e9)]", {"steps": 1234, "memory_mib": 5}))
    (program,) = [p for p in plan_programs(plan)]
    assert program.step_budget == 1234
    assert program.memory_budget == 5 * MiB


def plan_programs(plan):
    found = []
    for op in plan.ops:
        program = getattr(op.params, "program", None)
        if program is not None:
            found.append(getattr(program, "fallback", program))
    return found


@pytest.mark.parametrize("budget, error", [
    ({"steps": 0}, "config.jq_budget.steps: must be between 1 and 10000000000, got 0"),
    ({"memory_mib": 5000}, "config.jq_budget.memory_mib: must be between 1 and 4096, got 5000"),
    ({"steps": "many"}, "config.jq_budget.steps: expected an integer, got string"),
    ({"time": 1}, "config.jq_budget.time: unknown field"),
    (7, "config.jq_budget: expected an object"),
])
def test_plugin_budget_is_validated_where_it_is(budget, error):
    with pytest.raises(ConfigError) as caught:
        compile_datakit(flow(".", budget))
    assert any(str(e).startswith(error) for e in caught.value.errors), caught.value.errors


# -- jqgate check's warnings --------------------------------------------------------------------

@pytest.mark.parametrize("source, reason", [
    ("def f: f; f", "def f calls itself"),
    ("def fact: if . <= 1 then 1 else . * (. - 1 | fact) end; fact", "def fact calls itself"),
    ("def outer: def inner: 1; inner | outer; outer", "def outer calls itself"),
    ("until(false; .)", "until(...)"),
    ("[range(.n)]", "range(...)"),
    ("[limit(3; repeat(.))]", "repeat(...)"),
    ("recurse(.[])", "recurse(f)"),
])
def test_unbounded_constructs_are_named(source, reason):
    assert any(reason in r for r in unbounded_reasons(source)), unbounded_reasons(source)


@pytest.mark.parametrize("source", [
    "{a: .range, b: \"range(1e9) until\", until: 1}",   # a field, a string, a key
    "# recurse(.) in a comment\n.a",
    "def f: .a; f | f",                              # calls f twice, never from its own body
    "def outer: def inner: 1; inner; outer",         # outer's body ends at `inner`
    "recurse",                                       # walks the input: bounded by it
    ".. | numbers",
    "\"\\(.x) until\"",
])
def test_bounded_programs_get_no_warning(source):
    assert unbounded_reasons(source) == []
