"""The bridge against the PyPI `jq` binding: same results, same failures, same messages.

The PyPI binding feeds jq the text of json.dumps and converts results with the same int/float
rule as the bridge, so for JSON-like Python values the two must agree exactly. Documented
differences, normalised here and tested directly in test_jq_bridge.py:
- integers beyond 2**53 carried as literals come back exact from the bridge; the binding rounds
  them through a double (`as_pypi_would_return`);
- a non-string error value: the bridge says `(not a string): <jq's JSON>` as the jq CLI does and
  keeps the value in `.value`; the binding's message is Python's json.dumps of it;
- str with lone surrogates: the binding fails to parse them, the bridge repairs them (not
  generated here).
"""
import json

import jq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples

from jqgate._core.core import JqProgram, JqRuntimeError

EXACT_LIMIT = 2**53

# Programs whose cost grows with a number in the input (`range(0; n)`, `"s" * n`) only see small
# numbers, or one example could allocate gigabytes.
PROGRAMS = [
    ".", ".a.b", '.["x-y"]', ".a?", ".[0]?", ".[]?", ".[1:3]?", ".[-1:]?",
    "{a: .a?, b: [.b?, 1]}", "[.[]?]", '.a? // "default"', "(.a? | objects) * (.b? | objects)", ".a? + .b?",
    ".a? - .b?", ".a? / .b?", ".a? % .b?",
    "[.a? < .b?, .a? == .b?, .a? != .b?, .a? >= .b?]", "[.a? and .b?, .a? or .b?, (.a? | not)]",
    'if type == "object" then keys else type end', "type", "length", "tostring", "tonumber",
    "keys", 'has("a")', "ascii_downcase", "with_entries(.key |= ascii_downcase)", "to_entries",
    "to_entries | from_entries", "map(type)", 'map(select(type == "number"))', '"v=\\(.)"',
    ". as $x | [$x, $x]", "reduce .[]? as $x (0; . + ($x | length))", 'error("boom")', "error",
    "empty", ".[]", "tojson", "tojson | fromjson", "tostring | @base64", "tostring | @uri",
    '[.. | strings | test("a.c")]', '[.. | strings | test("^[a-z]+$"; "i")]', "sort",
    "sort_by(tostring)", "group_by(type)", "unique", "add", "[range(0; [.[]?] | length)]",
    "[limit(2; .[]?)]", "first(.[]?)", "[paths]", 'getpath(["a", "b"])?', '[.. | strings | splits(", *")]',
    '[.. | strings | sub("a"; "b")]', '[.. | strings | gsub("[aeiou]"; "")]',
    '[.. | strings | ltrimstr("a")]', '[.. | strings | split("a")]', '[.[]? | tostring] | join(",")',
    "now | type", "[.. | numbers | select(. >= 0 and . < 128 and . == floor) | [.] | implode]",
    "[.. | strings | explode]", "[.. | strings | explode | implode]", "[.. | scalars]",
    "del(.a)?", '.a = 1', ".a |= tostring", '@text "\\(.)"', "[.. | numbers | . * 2, -., floor]",
    "tostream", "[paths(type == \"number\")]", "[.. | arrays | length]", "walk(if type == \"number\" then . + 1 else . end)",
    "any", "all", "flatten?", "[.[]?] | min, max", "to_entries? | map(.value)",
]

KEYS = st.sampled_from(["a", "b", "x-y", "key", "value", "A", "é", "😀"]) | st.text(max_size=6)
# Unicode text with non-BMP characters; surrogates excluded (see the module docstring).
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["a", "abc", "aXc", "Hello, world", "a, b,c", "ÉCOLE", "日本語", "😀 emoji", ""])
NUMBERS = (
    st.integers(min_value=-EXACT_LIMIT, max_value=EXACT_LIMIT)
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, 1, -1, 0.5, -0.0, 1.0, 1e17, 1e300, -1e-300, 2**53 + 1, 97, 65.0])
)
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=10,
)


def as_pypi_would_return(value):
    """The bridge's result as the PyPI binding returns it: big integers rounded via a double."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and abs(value) > EXACT_LIMIT:
        return int(float(value))
    if isinstance(value, list):
        return [as_pypi_would_return(item) for item in value]
    if isinstance(value, dict):
        return {key: as_pypi_would_return(item) for key, item in value.items()}
    return value


def exact(value):
    """Text that differs whenever values or types differ (1 vs 1.0, order of keys)."""
    return json.dumps(value)


def outcome_of_bridge(program, value):
    try:
        return "ok", exact(as_pypi_would_return(program.run_all(value)))
    except JqRuntimeError as error:
        return "error", error


def outcome_of_pypi(source, value):
    try:
        return "ok", exact(pypi_compiled(source).input_value(value).all())
    except ValueError as error:
        return "error", error


def assert_same_error(bridge_error, pypi_error):
    bridge_text = str(bridge_error)
    pypi_text = str(pypi_error)
    if bridge_text.startswith("(not a string): "):
        assert as_pypi_would_return(bridge_error.value) == json.loads(pypi_text)
    else:
        assert bridge_text == pypi_text


COMPILED = {}
PYPI_COMPILED = {}


def compiled(source):
    if source not in COMPILED:
        COMPILED[source] = JqProgram(source)
    return COMPILED[source]


def pypi_compiled(source):
    # Compiling costs milliseconds (libjq binds all builtins each time): once per program.
    if source not in PYPI_COMPILED:
        PYPI_COMPILED[source] = jq.compile(source)
    return PYPI_COMPILED[source]


def test_the_corpus_is_large_and_compiles():
    assert len(PROGRAMS) >= 40
    assert len(set(PROGRAMS)) == len(PROGRAMS)
    for source in PROGRAMS:
        compiled(source)


@pytest.mark.parametrize("source", PROGRAMS)
@settings(max_examples=examples(25), suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON_VALUES)
def test_bridge_matches_the_pypi_binding(source, value):
    program = compiled(source)
    bridge_kind, bridge_result = outcome_of_bridge(program, value)
    pypi_kind, pypi_result = outcome_of_pypi(source, value)
    if bridge_kind == pypi_kind == "ok":
        assert (bridge_kind, bridge_result) == (pypi_kind, pypi_result)
        return
    assert bridge_kind == pypi_kind == "error", (bridge_result, pypi_result)
    assert_same_error(bridge_result, pypi_result)


@pytest.mark.parametrize("source", [".[]?", "..", ".a?, .b?", "empty", "first(.[]?)"])
@settings(max_examples=examples(30))
@given(value=JSON_VALUES)
def test_run_one_follows_d1_over_the_pypi_results(source, value):
    results = pypi_compiled(source).input_value(value).all()
    program = compiled(source)
    if len(results) > 1:
        with pytest.raises(JqRuntimeError, match="^jq program produced %d results; wrap it in "
                           r"\[ \.\.\. \] to collect them$" % len(results)):
            program.run_one(value)
    else:
        expected = results[0] if results else None
        assert exact(as_pypi_would_return(program.run_one(value))) == exact(expected)


TYPE_EXAMPLES = [None, False, True, 0, 3, -2.5, 2**60, "", "ab", [], [1, "x"], {}, {"a": {"b": 1}}]


@pytest.mark.parametrize("operator", ["+", "-", "*", "/", "%", "<", "==", "and", "//"])
def test_binary_operators_on_every_pair_of_types_match(operator):
    source = ".[0] %s .[1]" % operator
    program = compiled(source)
    for left in TYPE_EXAMPLES:
        for right in TYPE_EXAMPLES:
            value = [left, right]
            bridge_kind, bridge_result = outcome_of_bridge(program, value)
            pypi_kind, pypi_result = outcome_of_pypi(source, value)
            assert bridge_kind == pypi_kind, (value, bridge_result, pypi_result)
            if bridge_kind == "ok":
                assert bridge_result == pypi_result, value
            else:
                assert_same_error(bridge_result, pypi_result)
