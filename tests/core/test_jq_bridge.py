"""The libjq bridge: conversions, errors, DataKit's result rule (D1), refused builtins, leaks."""
import collections
import enum
import gc
import json
import sys

import pytest

from jqgate._core.core import JqCompileError, JqProgram, JqRuntimeError

DBL_MAX = sys.float_info.max


def run_one(source, value=None):
    return JqProgram(source).run_one(value)


def dumped(value):
    """JSON text that tells int from float, so 1 == 1.0 does not hide a wrong type."""
    return json.dumps(value)


# --- conversions, Python -> jq -> Python ------------------------------------------------------

@pytest.mark.parametrize("value", [
    None, True, False, 0, -1, 7, 2**53, -(2**53), 1.5, -2.25, 1e-7, "", "text",
    [], [1, [2, [3]]], {}, {"a": {"b": [None, True, "x"]}},
])
def test_identity_returns_an_equal_value_of_the_same_types(value):
    assert dumped(run_one(".", value)) == dumped(value)


def test_tuples_become_arrays_and_dict_order_is_kept():
    assert run_one(".", (1, "a", (2,))) == [1, "a", [2]]
    assert list(run_one(".", {"z": 1, "a": 2, "m": 3})) == ["z", "a", "m"]


def test_dict_subclasses_and_int_and_float_subclasses_convert():
    class Colour(enum.IntEnum):
        RED = 3

    ordered = collections.OrderedDict([("b", 1), ("a", 2)])
    ordered.move_to_end("b")
    assert list(run_one(".", ordered)) == ["a", "b"]
    assert dumped(run_one(".", [Colour.RED, Colour.RED + 2**60])) == dumped([3, 3 + 2**60])
    assert run_one(". + 1", type("F", (float,), {})(1.5)) == 2.5


@pytest.mark.parametrize("bad", [{1: "a"}, {None: 1}, {("t",): 1}])
def test_non_string_keys_are_refused_with_a_type_error(bad):
    with pytest.raises(TypeError, match="keys must be str"):
        run_one(".", bad)


@pytest.mark.parametrize("bad", [b"bytes", {1, 2}, object(), [1, {"a": bytearray()}]])
def test_values_jq_cannot_hold_are_refused_with_a_type_error(bad):
    with pytest.raises(TypeError, match="cannot convert"):
        run_one(".", bad)


@pytest.mark.parametrize("number", [
    2**53 + 1, -(2**53) - 1, 2**64 + 1, 10**30 + 7, -(10**40) - 3, 123456789012345678901234567890,
])
def test_integers_beyond_2_53_round_trip_exactly(number):
    assert dumped(run_one(".", number)) == dumped(number)
    assert run_one("tostring", number) == str(number)
    assert run_one("[.] | tojson", number) == "[%d]" % number
    # Arithmetic leaves the literal behind: jq computes in doubles, like every jq.
    assert run_one(". + 0", number) == int(float(number))


@pytest.mark.parametrize("value, expected", [
    (1.0, 1),            # integral doubles come back as int, as the PyPI binding returns them
    (-0.0, 0),
    (1e17, 10**17),
    (1e300, int(1e300)),
    (2.5, 2.5),
    (float("inf"), DBL_MAX),
    (float("-inf"), -DBL_MAX),
    (float("nan"), None),
])
def test_numbers_out_of_jq_follow_the_pypi_binding(value, expected):
    assert dumped(run_one(".", value)) == dumped(expected)


@pytest.mark.parametrize("value, text", [
    (1.0, "1.0"), (-0.0, "-0.0"), (1e-05, "0.00001"), (1e300, "1E+300"), (0.1, "0.1"),
    (float("inf"), "1.7976931348623157e+308"), (float("nan"), "null"), (5, "5"),
])
def test_floats_reach_jq_as_the_text_json_dumps_writes(value, text):
    assert run_one("tostring", value) == text


def test_computed_numbers_become_int_or_float_by_value():
    assert dumped(run_one("[1 / 2, 4 / 2, 1e1000, -1e1000, nan, 3.0]")) == dumped(
        [0.5, 2, DBL_MAX, -DBL_MAX, None, 3])


@pytest.mark.parametrize("text", ["é", "日本語", "😀", "a\x00b", "\U0010ffff", "\t\n\"\\"])
def test_unicode_strings_round_trip_and_count_code_points(text):
    assert run_one(".", text) == text
    assert run_one("length", text) == len(text)
    assert run_one("{(.): .} | keys[0]", text) == text


def test_surrogates_are_repaired_pairs_joined_and_lone_ones_replaced():
    assert run_one(".", "\ud83d\ude00") == "😀"
    assert run_one(".", "a\ud800b") == "a\ufffdb"
    assert run_one(".", "\udc00\ud800") == "\ufffd\ufffd"
    assert run_one("keys", {"k\udfff": 1}) == ["k\ufffd"]


def nested_lists(depth):
    value = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_ten_thousand_levels_convert_both_ways():
    # `[paths | length]`, not `[paths]`: collecting every path (1 + 2 + ... + 9,999 numbers)
    # holds ~800 MB, which the default 64 MiB jq memory budget rightly refuses.
    assert run_one("[paths | length] | length", nested_lists(10_000)) == 9_999
    result = run_one(".", nested_lists(10_000))
    depth = 0
    while result:
        result = result[0]
        depth += 1
    assert depth == 9_999


def test_deeper_input_is_refused_without_crashing():
    with pytest.raises(JqRuntimeError, match="nested deeper than 10000 levels"):
        run_one(".", nested_lists(10_001))
    with pytest.raises(JqRuntimeError, match="nested deeper"):
        run_one(".", nested_lists(200_000))
    cyclic = []
    cyclic.append(cyclic)
    with pytest.raises(JqRuntimeError, match="nested deeper"):
        run_one(".", cyclic)


def test_deeper_results_are_refused_without_crashing():
    with pytest.raises(JqRuntimeError, match="result is nested deeper than 10000 levels"):
        run_one("reduce range(20000) as $i (null; [.])")


# --- D1: zero, one, several results -----------------------------------------------------------

def test_zero_results_give_none_and_one_gives_it():
    assert run_one("empty", 1) is None
    assert run_one("select(. > 5)", 1) is None
    assert run_one(".[0]", [42]) == 42


@pytest.mark.parametrize("source, value, count", [
    (".[]", [1, 2, 3], 3), ("1, 2", None, 2), ("range(7)", None, 7), (".[]", list(range(500)), 500),
])
def test_several_results_are_an_error_naming_the_count(source, value, count):
    with pytest.raises(JqRuntimeError) as failure:
        run_one(source, value)
    assert str(failure.value) == (
        "jq program produced %d results; wrap it in [ ... ] to collect them" % count)
    assert JqProgram("[%s]" % source).run_one(value) == JqProgram(source).run_all(value)


def test_an_endless_program_is_stopped_while_counting_results():
    with pytest.raises(JqRuntimeError, match="more than 10000 results"):
        run_one("repeat(1)")


def test_a_failure_after_results_reports_the_failure():
    with pytest.raises(JqRuntimeError, match="^late$"):
        run_one('1, 2, error("late")')
    with pytest.raises(JqRuntimeError, match="^late$"):
        run_one('1, error("late")')


def test_run_all_returns_every_result_in_order():
    assert JqProgram(".[] | . * 2").run_all([1, 2, 3]) == [2, 4, 6]
    assert JqProgram("empty").run_all(None) == []
    with pytest.raises(JqRuntimeError, match="^x$"):
        JqProgram('1, error("x")').run_all(None)


def test_a_program_runs_many_times_on_different_values():
    program = JqProgram(".a + 1")
    assert [program.run_one({"a": n}) for n in range(5)] == [1, 2, 3, 4, 5]
    with pytest.raises(JqRuntimeError):
        program.run_one({"a": "text"})
    assert program.run_one({"a": 9}) == 10  # the state recovers after a failure


# --- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("source, value, message", [
    ('"a" - 1', None, 'string ("a") and number (1) cannot be subtracted'),
    ('error("x")', None, "x"),
    ("error", "plain", "plain"),
    ('error({"a": 1})', None, '(not a string): {"a":1}'),
    ("error(null)", None, "(not a string): null"),
    (".a", [1], 'Cannot index array with string ("a")'),
    ("1 / 0", None, "number (1) and number (0) cannot be divided because the divisor is zero"),
    ("tonumber", "x1", 'string ("x1") cannot be parsed as a number'),
])
def test_runtime_errors_carry_the_message_jq_prints(source, value, message):
    with pytest.raises(JqRuntimeError) as failure:
        run_one(source, value)
    assert str(failure.value).startswith(message)
    assert isinstance(failure.value, ValueError)


def test_runtime_errors_carry_the_error_value():
    with pytest.raises(JqRuntimeError) as failure:
        run_one('error({"code": 7, "why": ["a"]})')
    assert failure.value.value == {"code": 7, "why": ["a"]}


@pytest.mark.parametrize("source, fragment", [
    ("}", "syntax error, unexpected INVALID_CHARACTER"),
    (".a b", "syntax error, unexpected IDENT"),
    ("nosuch(1)", "nosuch/1 is not defined"),
    ("$nope", "$nope is not defined"),
    ("", "Top-level program not given"),
])
def test_compile_errors_carry_libjq_messages(source, fragment):
    with pytest.raises(JqCompileError) as failure:
        JqProgram(source)
    assert any(fragment in message for message in failure.value.messages), failure.value.messages
    assert str(failure.value) == "\n".join(failure.value.messages)
    assert not any(message.startswith("jq: ") for message in failure.value.messages)
    assert isinstance(failure.value, ValueError)


def test_compile_errors_list_every_message():
    with pytest.raises(JqCompileError) as failure:
        JqProgram("nosuch1 | nosuch2")
    assert len(failure.value.messages) == 2


def test_a_program_with_a_nul_character_is_refused():
    with pytest.raises(JqCompileError, match="NUL"):
        JqProgram(". # \0 hidden")


def test_source_is_kept_and_shown():
    program = JqProgram(".a")
    assert program.source == ".a"
    assert repr(program) == "JqProgram('.a')"


# --- builtins DataKit refuses, and look-alikes it must not refuse ----------------------------

ENV_REFUSAL = "$ENV and env are not available in DataKit jq programs"


@pytest.mark.parametrize("source", [
    "env", "$ENV", "$ENV.HOME", "env.PATH", "{a: env}", "[1, env][1]", '"\\(env)"',
    '"\\("nested \\($ENV)")"', "{$ENV}", ". as $ENV | 1", "def f: env; f",
    "# comment\n$ENV", "# comment with \\\\\n$ENV", 'if . then env else 1 end', "[.[] | env]",
    "reduce env as $x (0; 1)", '"a\\"" + ($ENV | tostring)',
])
def test_env_is_refused_wherever_it_is_used(source):
    with pytest.raises(JqCompileError) as failure:
        JqProgram(source)
    assert failure.value.messages == [ENV_REFUSAL + ": they would expose the gateway's environment"]


@pytest.mark.parametrize("source, value, expected", [
    (".env", {"env": 1}, 1),
    ('."env"', {"env": 2}, 2),
    ('.["env"]', {"env": 3}, 3),
    ('"env"', None, "env"),
    ('"$ENV"', None, "$ENV"),
    ('"\\\\(env)"', None, "\\(env)"),
    ("{env}", {"env": 4}, {"env": 4}),
    ("{env: 5}", None, {"env": 5}),
    ('{"env": 6} | .env', None, 6),
    ("# env $ENV\n7", None, 7),
    ("# comment continued \\\n $ENV\n8", None, 8),
    ("def env: 9; env", None, 9),
    ("def f(env): env; f(10)", None, 10),
    ("[.[] | {environment: .}]", [1], [{"environment": 1}]),
    ("@text \"env\"", None, "env"),
])
def test_look_alikes_of_env_are_allowed(source, value, expected):
    assert JqProgram(source).run_one(value) == expected


def test_variables_merely_named_like_env_are_not_refused_by_the_policy():
    # $ENVX is just undefined: libjq's own message, not the policy's.
    with pytest.raises(JqCompileError) as failure:
        JqProgram("$ENVX")
    assert failure.value.messages[0].startswith("$ENVX is not defined")
    assert JqProgram(". as $ENVIRONMENT | $ENVIRONMENT").run_one(1) == 1


@pytest.mark.parametrize("source, name", [
    ("input", "input"), ("[inputs]", "inputs"), ("halt", "halt"), ("halt_error", "halt_error"),
    ('halt_error(1)', "halt_error"), ("input_filename", "input_filename"),
    ("input_line_number", "input_line_number"), ('"m" | modulemeta', "modulemeta"),
    ("get_search_list", "get_search_list"), ("get_prog_origin", "get_prog_origin"),
    ("get_jq_origin", "get_jq_origin"), ('import "m" as m; .', "import"),
    ('include "m"; .', "include"), ('# leading comment\nmodule {}; .', "module"),
    ("if . then 1 else input end", "input"),
])
def test_builtins_meaningless_or_unsafe_in_a_gateway_are_refused(source, name):
    with pytest.raises(JqCompileError) as failure:
        JqProgram(source)
    [message] = failure.value.messages
    assert message.startswith(name + " is not available in DataKit jq programs: ")


def test_several_refused_builtins_are_all_reported():
    with pytest.raises(JqCompileError) as failure:
        JqProgram("[input, halt, env]")
    assert len(failure.value.messages) == 3


@pytest.mark.parametrize("source, value, expected", [
    ("debug", 1, 1), ('debug("msg")', 2, 2), ("stderr", 3, 3),
    ("$__loc__", None, {"file": "<top-level>", "line": 1}),
    ("def input: 1; input", None, 1), ("{input: 2, halt: 3}", None, {"input": 2, "halt": 3}),
    (".input", {"input": 4}, 4), ("now | type", None, "number"),
])
def test_harmless_builtins_and_look_alikes_are_allowed(source, value, expected, capfd):
    assert JqProgram(source).run_one(value) == expected
    assert capfd.readouterr().err == ""  # debug and stderr write nothing from the gateway


def test_nan_is_a_number_inside_jq_and_none_outside():
    assert run_one("[nan] | .[0] | isnan") is True
    assert run_one("isnan", float("nan")) is True
    assert run_one("nan") is None


def test_a_list_shrinking_while_it_is_converted_fails_cleanly():
    victim = [1, 2, 3]

    class Shrinking(dict):
        def items(self):
            victim.clear()
            return super().items()

    victim.insert(0, Shrinking(a=1))
    with pytest.raises(IndexError):
        run_one(".", victim)
