"""The native jq path against libjq (JqProgram): equal results, equal failures, same edges.

JqProgram is the oracle (it is itself tested against the PyPI binding). For every program in
the native subset and every generated input:
- NativeJq.run_native tells what the native evaluator alone answers: "ok" (a value), "empty"
  (no result), "error" (a jq error it hands to libjq for the message) or "bail" (it cannot
  answer exactly; libjq runs). "ok" must equal libjq's only result type-exactly, "empty" must
  match libjq producing nothing, "error" must match libjq failing.
- NativeJq.run_one (what the executor calls) must equal JqProgram.run_one exactly, value or
  error message.
Tests also assert the native path really answers (not everything bails), so a broken
evaluator that always falls back cannot pass. Random programs built from the subset's syntax
(precedence, `?`, bindings, interpolation) check that the front end never mis-parses: whatever
it accepts must agree with libjq.

jq 1.8.2 (the oracle) differs from older jq in ways the tests pin: `.a.b?` makes only the last
index optional; `//` does not swallow errors on its left; from_entries reads key/Key/name/Name
and value/Value; index errors read `Cannot index number with string ("a")`.
"""
import os

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples

from jqgate._core.core import JqProgram, JqRuntimeError, NativeJq
from jqgate.compiler.jq_native import compile_native, lower
from jqgate.compiler.jq_parse import NotNative, parse

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "cases", "jq", "datakit_programs.yaml")
EXACT_LIMIT = 2**53

# Every construct of the subset, each at least once.
PROGRAMS = [
    ".", ".a", ".a.b", '.["x-y"]', '."a"', ".a?", ".a.b?", ".a?.b", ".[0]", ".[-1]", ".[2]",
    ".[0]?", ".a[0]?", '.["a"]["b"]?', "(.a.b)?", ".?", "(.a)?.b?", ".a??",
    '"lit"', "1", "0.5", "null", "true", "false", "[]", "{}",
    "{a: .a?, b: .b?}", "{a}", "{a, b: 1}", '{"a b": 1}', '{("x" + "y"): 1}',
    '{(.a? // "k"): 1}', "{(.a?): 1}", "{a: 1, b: 2, a: 3}", ". as $x | {$x}", '{"k": .a? | type}',
    '{if: 1, then: .b?}', "{a: .a?, b: empty}", "{(.a?): .b?}", '{a: .b? // "x", c: .a? | type}',
    "{a: 1 + 2 | . * 3, b: .a? == null and true}",
    "[.a?, .b?]", '[.[0]?, 1, "s", empty]', "[.a?] | length",
    '.a? // "d"', ".a? // .b? // 3", "false // 1", "empty // 2", "(.a // .b)?", ".a // empty",
    ".a? + .b?", '.a? + "x"', "null + .a?", ".a? + 1", "1 + 2", ".a? + .a?",
    ".a? * .b?", "{x: {y: 1, z: 2}} * .a?", ".a? * 2", "3 * 0.5", ". * .",
    ".a? == .b?", ".a? != .b?", ".a? < .b?", ".a? <= .b?", ".a? > .b?", ".a? >= .b?",
    ". < 1", '. > "m"', ". == .", "[.a?, 1] < [.b?, 2]",
    ".a? and .b?", ".a? or .b?", "(.a? | not)", "not", "(.a? and empty)", "(false and empty)",
    'if .a? then "t" else "f" end', "if .a? then 1 elif .b? then 2 else 3 end", "if .a? then 1 end",
    "if empty then 1 else 2 end",
    "type", "length", ".a? | length", "tostring", ".a? | tostring", "[.a?, .b?] | tostring",
    "tonumber", ".a? | tonumber", "keys", "keys_unsorted", 'has("a")', "has(0)", "has(1)",
    "ascii_downcase", "ascii_upcase", ".a? | ascii_downcase",
    "to_entries", "from_entries", "to_entries | from_entries",
    "with_entries(.key |= ascii_downcase)", 'with_entries(.key = "X-" + .key)',
    "with_entries(select(.value != null))", "with_entries(.value |= type)",
    'map(type)', 'map(select(type == "number"))', "map(. + 1)", "map(.a?)", "map(empty)",
    'select(type == "object")', "select(.a?)", "empty",
    '"v=\\(.)"', '"\\(.a?)-\\(.b?)"', '"[\\(empty)]"', '"\\(1 + 2) \\("s")"',
    ". as $x | [$x, $x]", ". as $x | .a? as $y | {$x, y: $y}", "(.a? as $x | $x) // 0",
    ".a = 1", ".a |= length", ".a |= empty", ".a = .b?", ".a = empty", '.k |= "v"',
]

KEYS = st.sampled_from(["a", "b", "x-y", "key", "value", "Key", "name", "Name", "Value", "A",
                        "é", "😀", "k"]) | st.text(max_size=4)
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=8) | st.sampled_from(
    ["a", "abc", "aXc", "Hello", "ÉCOLE", "日本語", "😀", "", "12", "-7", "0", "1.5", "x\x7f\"\\\n"])
NUMBERS = (
    st.integers(min_value=-EXACT_LIMIT, max_value=EXACT_LIMIT)
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, 1, -1, 2, 0.5, -0.0, 1.0, 2.5, 1e17, 1e300, -1e-300, 2**53, 2**53 + 1,
                       -(2**53), 97, 65.0, 4503599627370496])
)
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=10,
)
# Objects that have the fields the programs read, so most runs reach the interesting code.
SHAPED = st.fixed_dictionaries(
    {"a": JSON_VALUES},
    optional={"b": JSON_VALUES, "key": JSON_VALUES, "value": JSON_VALUES, "k": JSON_VALUES,
              "x-y": JSON_VALUES},
)
ENTRIES = st.lists(st.fixed_dictionaries({}, optional={
    "key": SCALARS, "Key": SCALARS, "name": SCALARS, "Name": SCALARS, "value": JSON_VALUES,
    "Value": JSON_VALUES}) | SCALARS, max_size=4)
INPUTS = JSON_VALUES | SHAPED | ENTRIES

CACHE = {}


def programs(source):
    if source not in CACHE:
        libjq = JqProgram(source)
        native, reason = compile_native(libjq)
        CACHE[source] = (libjq, native, reason)
    return CACHE[source]


def exact(value):
    """Text that differs whenever values or types differ (1 vs 1.0, True vs 1, key order)."""
    return repr(value)


def outcome(run, value):
    try:
        return ("ok", exact(run(value)))
    except JqRuntimeError as error:
        return ("error", str(error))


def check(source, value):
    """Compare native and libjq on one input; return the native status."""
    libjq, native, reason = programs(source)
    assert isinstance(native, NativeJq), (source, reason)
    status, result = native.run_native(value)
    libjq_all = outcome(libjq.run_all, value)
    if status == "ok":
        assert libjq_all == ("ok", exact([result])), (source, value)
    elif status == "empty":
        assert libjq_all == ("ok", "[]"), (source, value)
    elif status == "error":
        assert libjq_all[0] == "error", (source, value, libjq_all)
    # What the executor sees: equal in every case, including after a fallback.
    assert outcome(native.run_one, value) == outcome(libjq.run_one, value), (source, value)
    return status


def test_every_program_of_the_list_is_native():
    assert len(PROGRAMS) == len(set(PROGRAMS))
    for source in PROGRAMS:
        libjq, native, reason = programs(source)
        assert reason is None, (source, reason)
        assert isinstance(native, NativeJq)


@pytest.mark.parametrize("source", PROGRAMS)
@settings(max_examples=examples(100), suppress_health_check=list(HealthCheck))
@given(value=INPUTS)
def test_native_equals_libjq(source, value):
    check(source, value)


@pytest.mark.parametrize("source", PROGRAMS)
def test_native_really_answers(source):
    """Each program answers natively for plain inputs (a broken evaluator that always falls
    back would fail here)."""
    inputs = [None, {"a": 1, "b": "x"}, {"a": "Ab", "b": [1]}, [1, 2, 3], "Ab", 7,
              {"a": {"y": 5}, "b": {"x": 1}}, [{"key": "a", "value": 1}], {"a": None}, 0.5]
    statuses = [check(source, value) for value in inputs]
    assert any(s in ("ok", "empty") for s in statuses), (source, statuses)


# ---- edge semantics, each pinned to the native path ------------------------------------------

EDGES = [
    # (program, input, expected native result)
    ("{a: 1, b: 2, a: 3}", None, {"a": 3, "b": 2}),
    ("{b: 1, a: 2}", None, {"b": 1, "a": 2}),
    ("{a}", {"a": 5, "b": 1}, {"a": 5}),
    (". as $x | {$x}", 3, {"x": 3}),
    ('{"a b": 1}', None, {"a b": 1}),
    ("{(.k): 1}", {"k": "z"}, {"z": 1}),
    (".a", None, None),
    (".a?", 5, "<empty>"),
    (".[0]", None, None),
    (".[-1]", [1, 2, 3], 3),
    (".[-4]", [1, 2, 3], None),
    (".[5]", [1, 2, 3], None),
    ('.a // "d"', {"a": False}, "d"),
    ('.a // "d"', {"a": None}, "d"),
    ('.a // "d"', {"a": 0}, 0),
    ('.a.b? // "d"', {"a": 5}, "d"),
    (".a.b?", {"a": 5}, "<empty>"),           # only the last index is optional (jq 1.8)
    ("(.a.b)?", {"a": "s"}, "<empty>"),
    (".a + .b", {"a": None, "b": "x"}, "x"),
    (".a + .b", {"a": [1], "b": [2]}, [1, 2]),
    (".a + .b", {"a": {"x": 1, "y": 1}, "b": {"x": 2, "z": 3}}, {"x": 2, "y": 1, "z": 3}),
    (".a + .b", {"a": 1, "b": 2.5}, 3.5),
    (".a + .b", {"a": 0.5, "b": 0.5}, 1),    # integral doubles come back as int
    (".a * .b", {"a": {"x": {"p": 1, "q": 1}, "y": 1}, "b": {"x": {"q": 2, "r": 3}, "z": {}}},
     {"x": {"p": 1, "q": 2, "r": 3}, "y": 1, "z": {}}),
    (".a * .b", {"a": {"x": {"p": 1}}, "b": {"x": 5}}, {"x": 5}),
    (".a * .b", {"a": 3, "b": 0.5}, 1.5),
    ("[null < false, false < true, true < 0, 0 < \"\", \"\" < [], [] < {}]", None, [True] * 6),
    ('[{"a": 1} < {"b": 0}, {"a": 2} > {"a": 1}, [1, 2] < [1, 2, 0], "a" < "b", "é" > "z"]',
     None, [True] * 5),
    ("[.a and .b, .a or .b, (.a | not)]", {"a": 0, "b": None}, [False, True, False]),
    ('if . == 1 then "one" elif . == 2 then "two" else "many" end', 2, "two"),
    ("if . then 1 end", False, False),
    ("length", None, 0),
    ("length", -5, 5),
    ("length", -2.5, 2.5),
    ("length", "日本😀", 3),
    ("length", {"a": 1}, 1),
    ("tostring", 1, "1"),
    ("tostring", 9007199254740992, "9007199254740992"),
    ("tostring", {"a": [1, "x\"\n\x7f", None, True]}, '{"a":[1,"x\\"\\n\\u007f",null,true]}'),
    ("tostring", "s", "s"),
    ('"v=\\(.)"', {"b": 1, "a": "é"}, 'v={"b":1,"a":"é"}'),
    ("tonumber", "42", 42),
    ("tonumber", 1.5, 1.5),
    ("keys", {"b": 1, "a": 2, "É": 3, "Z": 4}, ["Z", "a", "b", "É"]),
    ("keys", [5, 6], [0, 1]),
    ("keys_unsorted", {"b": 1, "a": 2}, ["b", "a"]),
    ('has("a")', {"a": None}, True),
    ('has("a")', None, False),
    ("has(1)", [0], False),
    ("ascii_downcase", "ÀBC-É", "Àbc-É"),
    ("ascii_upcase", "àbc-é", "àBC-é"),
    ("to_entries", {"a": 1, "b": 2}, [{"key": "a", "value": 1}, {"key": "b", "value": 2}]),
    ("to_entries", ["x"], [{"key": 0, "value": "x"}]),
    ("from_entries", [{"key": "a", "value": 1}, {"Key": "b", "Value": 2}, {"name": "c"},
                      {"Name": "d", "value": None}, {"key": False, "name": "e", "value": 5}],
     {"a": 1, "b": 2, "c": None, "d": None, "e": 5}),
    ("from_entries", [], {}),
    ("from_entries", {"x": {"key": "a", "value": 1}}, {"a": 1}),
    ("with_entries(.key |= ascii_downcase)", {"Content-Type": "a", "content-type": "b"},
     {"content-type": "b"}),
    ("map(. + 1)", {"a": 1, "b": 2}, [2, 3]),
    ('map(select(type == "number"))', [1, "a", 2.5, None], [1, 2.5]),
    ('select(. == 1)', 2, "<empty>"),
    ("empty", 1, "<empty>"),
    (".a |= empty", {"a": 1, "b": 2}, {"b": 2}),
    (".a = 1", None, {"a": 1}),
    (".b = 1", {"a": 0, "b": 0}, {"a": 0, "b": 1}),
    ('"\\(1 + 2)"', None, "3"),
    (".a", {"a": "日本😀"}, "日本😀"),
    (".a", {"a": 10**30}, 10**30),               # big integers pass through exactly
    (".a + 1", {"a": 2**53 - 1}, 2**53),
]


@pytest.mark.parametrize("source,value,expected", EDGES)
def test_edge_semantics_natively(source, value, expected):
    libjq, native, reason = programs(source)
    assert isinstance(native, NativeJq), reason
    status, result = native.run_native(value)
    if expected == "<empty>":
        assert status == "empty"
    else:
        assert status == "ok", (source, value, status)
        assert exact(result) == exact(expected)
    check(source, value)


ERRORS = [
    # (program, input): jq errors -- native says "error", libjq gives the message.
    (".a", 1, 'Cannot index number with string ("a")'),
    ('.a.b // "d"', {"a": 5}, 'Cannot index number with string ("b")'),   # `//` does not catch errors
    (".a.b?", "s", 'Cannot index string with string ("a")'),              # only .b is optional

    (".a", "s", 'Cannot index string with string ("a")'),
    (".[0]", {"a": 1}, "Cannot index object with number (0)"),
    (".a + .b", {"a": "a", "b": 1}, 'string ("a") and number (1) cannot be added'),
    (".a * .b", {"a": [], "b": {}}, "array ([]) and object ({}) cannot be multiplied"),
    ("length", True, "boolean (true) has no length"),
    ("keys", 1, "number (1) has no keys"),
    ('has("a")', [1], "Cannot check whether array has a string key"),
    ("map(.)", 1, "Cannot iterate over number (1)"),
    ("ascii_downcase", 1, None),
    ("from_entries", ["x"], 'Cannot index string with string ("key")'),
    ("from_entries", [{"key": 1, "value": 2}], None),
    ("{(.a): 1}", {"a": 1}, None),
    (".a = 1", 5, None),
    (".a |= 1", [1], None),
]


@pytest.mark.parametrize("source,value,message", ERRORS)
def test_errors_match_libjq(source, value, message):
    libjq, native, reason = programs(source)
    assert native.run_native(value)[0] == "error"
    with pytest.raises(JqRuntimeError) as native_error:
        native.run_one(value)
    with pytest.raises(JqRuntimeError) as libjq_error:
        libjq.run_one(value)
    assert str(native_error.value) == str(libjq_error.value)
    if message is not None:
        assert str(native_error.value) == message


BAILS = [
    # (program, input): the native model does not cover it; libjq answers (exactly).
    (".", 1.0),                     # jq keeps the literal text of 1.0
    (".", (1, 2)),                  # not a JSON type the evaluator knows
    (".", float("nan")),
    (".a", {"a": "\ud800"}),        # surrogates: the bridge repairs them
    ("tostring", 0.5),              # jq prints a float's literal text
    (".a + 1", {"a": 10**30}),
    (". * 2", 2**53),
    (".a * .b", {"a": 0, "b": -1}),  # -0
    (". * 3", "ab"),                # string repetition
    ("tonumber", "1.50"),
    (".a + .b", {"a": "a", "b": {}, "c": None}),
]


@pytest.mark.parametrize("source,value", [(s, v) for s, v in BAILS])
def test_bails_fall_back_exactly(source, value):
    libjq, native, reason = programs(source)
    status, _ = native.run_native(value)
    assert status in ("bail", "error")
    assert outcome(native.run_one, value) == outcome(libjq.run_one, value)


def test_empty_next_to_an_error_lets_libjq_decide():
    # jq evaluates the right operand of + first: `error + empty` is empty, `empty + error`...
    # whichever order, the evaluator must not guess.
    for source in ["(.a | length) + empty", "empty + (.a | length)", "{a: empty, b: (.a | length)}",
                   '"\\(empty) \\(.a | length)"']:
        libjq, native, reason = programs(source)
        assert native.run_native({"a": True}) == ("bail", None)
        assert outcome(native.run_one, {"a": True}) == outcome(libjq.run_one, {"a": True})


def test_counters_and_fallback_path():
    libjq, native, _ = programs(".a")
    before = (native.native_runs, native.fallback_runs)
    assert native.run_one({"a": 1}) == 1
    with pytest.raises(JqRuntimeError):
        native.run_one(5)
    assert native.native_runs == before[0] + 1
    assert native.fallback_runs == before[1] + 1
    assert native.run_all({"a": 2}) == [2]
    assert native.source == ".a" and native.fallback is libjq


# ---- the decision --------------------------------------------------------------------------

NOT_NATIVE = {
    ".[]": ".[] iterates",
    ".a, .b": "','",
    "[.[] | .a]": ".[] iterates",
    "reduce .[] as $x (0; . + $x)": "reduce",
    "def f: 1; f": "def",
    ".a - 1": "operator -",
    "-1": "unary minus",
    "1.0": "number literal 1.0",
    "1e3": "number literal",
    "100000000000000000000": "number literal",
    "@base64": "format strings",
    ".. | numbers": "recursive descent",
    ".[1:2]": "slice",
    "try .a catch 1": "try",
    "error": "error/0",
    "$__loc__": "$__loc__",
    ". as [$a] | $a": "destructuring",
    ".a += 1": "assignment operator +=",
    ".a.b = 1": "assignment to a path other than .field",
    '"\\ud83d\\ude00"': "surrogate",
    "tojson": "tojson/0",
    "# comment \\\n.": "comment with a backslash",
    "{a: 1 | 2, b: 3}": None,   # valid jq; native or not, it must not mis-parse (checked below)
}


@pytest.mark.parametrize("source,reason", sorted(NOT_NATIVE.items()))
def test_outside_the_subset_stays_on_libjq(source, reason):
    description, slots, why = lower(source)
    if reason is None:
        return
    assert description is None
    assert reason in why, why


def test_parser_keeps_precedence():
    assert parse(".a // .b // .c") == ("alt", ("index", ("identity",), "a"),
                                       ("alt", ("index", ("identity",), "b"),
                                        ("index", ("identity",), "c")))
    assert parse("1 + 2 * 3")[0:2] == ("binop", "+")
    assert parse(". as $x | $x | .a")[0] == "bind"
    assert parse(".a.b?")[0] == "index_opt"
    assert parse("(.a.b)?")[0] == "try"
    assert parse("# c\n.a")[0] == "index"
    with pytest.raises(NotNative):
        parse(".a == .b == .c")


def test_corpus_from_the_spec():
    with open(CORPUS, encoding="utf-8") as f:
        corpus = yaml.safe_load(f)
    assert len(corpus) >= 20
    sample_inputs = [
        None, {"service": {"id": 1}, "ip": "1.2.3.4"}, "text", [1],
        {"original": {"Content-Type": "a", "X-A": "1"}, "updates": {"content-type": "b"}},
        {"path": "p"}, {"query": {"foo": "f"}, "default": "d"}, {"query": {}, "default": "d"},
        {"input1": {"slideshow": {"author": "A"}}, "input2": {"uuid": "u"}},
        {"headers": {"Content-Type": "application/x-www-form-urlencoded"},
         "query": {"api_key": "K"}},
        {"headers": {"Accept": "x"}, "query": None},
        {"token_type": "Bearer", "access_token": "abc"},
        {"static": {"X-Request-Host": "h", "a": 1}, "request": {"Host": "x", "Path": "/"}},
        {"foo": {"a": {"b": 1}}, "bar": {"a": {"c": 2}}}, {"X-Extra": "a"}, {"x-extra": "a"},
        {"t": "tok"},
    ]
    for entry in corpus:
        libjq = JqProgram(entry["jq"])
        program, reason = compile_native(libjq)
        if entry["native"]:
            assert isinstance(program, NativeJq), (entry, reason)
            answered = 0
            for value in sample_inputs:
                status = check(entry["jq"], value)
                answered += status in ("ok", "empty")
            assert answered, entry
        else:
            assert program is libjq
            assert reason == entry["reason"], (entry, reason)


@pytest.mark.parametrize("entry", yaml.safe_load(open(CORPUS, encoding="utf-8")),
                         ids=lambda e: e["jq"].strip()[:40])
@settings(max_examples=examples(100), suppress_health_check=list(HealthCheck))
@given(value=INPUTS | st.fixed_dictionaries({}, optional={
    k: JSON_VALUES for k in ["service", "ip", "original", "updates", "path", "query", "default",
                             "headers", "token_type", "access_token", "static", "request",
                             "foo", "bar", "X-Extra", "t", "input1", "input2"]}))
def test_corpus_on_generated_inputs(entry, value):
    if entry["native"]:
        check(entry["jq"], value)


# ---- the plan shows the decision -----------------------------------------------------------

def test_plan_dump_shows_native_or_libjq_with_reason(monkeypatch):
    import jqgate
    from jqgate.plan_dump import plan_to_dict, plan_to_text

    config = {"nodes": [
        {"name": "A", "type": "jq", "jq": "{x: 1}"},
        {"name": "B", "type": "jq", "input": "A", "jq": "[.[]]"},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "B"}},
    ]}
    plan = jqgate.compile(config, instance="t")
    text = plan_to_text(plan)
    assert "runs: native" in text
    assert "runs: libjq (.[] iterates (multiple results))" in text
    runs = {op["node"]: op.get("runs") for op in plan_to_dict(plan)["ops"]}
    assert runs["A"] == "native" and runs["B"].startswith("libjq (")
    native = [op.params.program for op in plan.ops if op.kind == "jq"]
    assert isinstance(native[0], NativeJq) and isinstance(native[1], JqProgram)

    monkeypatch.setenv("JQGATE_JQ_NATIVE", "0")
    plan = jqgate.compile(config, instance="t")
    assert "runs: libjq (native path disabled)" in plan_to_text(plan)


# ---- random programs: the front end must never mis-parse -------------------------------------

_ATOMS = [".", ".a", ".b", ".a?", '.["x-y"]', ".[0]", ".[-1]?", "null", "true", "false", "1",
          "2", "0.5", '"s"', '"A b"', "[]", "{}", "$x", "empty", "type", "length", "keys",
          "not", "tostring", "ascii_downcase", "to_entries", "from_entries", "tonumber", ".a.b?"]
_BINARY = ["+", "*", "==", "!=", "<", ">=", "and", "or", "//", "|", ","]


def _program(children):
    two = st.tuples(children, children)
    return st.one_of(
        st.builds(lambda ab, op: "%s %s %s" % (ab[0], op, ab[1]), two, st.sampled_from(_BINARY)),
        children.map(lambda a: "(%s)" % a),
        children.map(lambda a: "(%s)?" % a),
        children.map(lambda a: "%s?" % a),
        two.map(lambda ab: "[%s, %s]" % ab),
        two.map(lambda ab: "{k: (%s), (%s): 1}" % ab),
        two.map(lambda ab: "{k: %s, l: %s}" % ab),
        two.map(lambda ab: "{a, $x, \"q\": (%s) | (%s)}" % ab),
        st.tuples(children, children, children).map(lambda c: "if %s then %s else %s end" % c),
        two.map(lambda ab: "if %s then %s end" % ab),
        two.map(lambda ab: "%s as $x | %s" % ab),
        two.map(lambda ab: "(%s) as $y | [$y, %s]" % ab),
        st.builds(lambda name, a: "%s(%s)" % (name, a),
                  st.sampled_from(["select", "map", "with_entries", "has"]), children),
        two.map(lambda ab: '"p\\(%s)q\\(%s)"' % ab),
        children.map(lambda a: ".k = (%s)" % a),
        children.map(lambda a: ".k |= (%s)" % a),
    )


PROGRAM_TEXT = st.recursive(st.sampled_from(_ATOMS), _program, max_leaves=6)
FIXED_INPUTS = [None, {"a": 1, "b": "x"}, {"a": {"b": [1]}, "k": "z"}, [1, "a"], "Ab", 2,
                {"a": [{"key": "k", "value": 1}]}, {"a": False, "x-y": 0.5}]


@settings(max_examples=examples(1000), suppress_health_check=list(HealthCheck))
@given(text=PROGRAM_TEXT, value=st.sampled_from(FIXED_INPUTS) | INPUTS)
def test_random_programs_native_or_equal(text, value):
    from jqgate._core.core import JqCompileError

    source = ". as $x | " + text
    try:
        libjq = JqProgram(source)
    except JqCompileError:
        return
    native, reason = compile_native(libjq)
    if not isinstance(native, NativeJq):
        assert reason
        return
    status, result = native.run_native(value)
    libjq_all = outcome(libjq.run_all, value)
    if status == "ok":
        assert libjq_all == ("ok", exact([result])), (source, value)
    elif status == "empty":
        assert libjq_all == ("ok", "[]"), (source, value)
    elif status == "error":
        assert libjq_all[0] == "error", (source, value, libjq_all)
    assert outcome(native.run_one, value) == outcome(libjq.run_one, value), (source, value)


def test_native_program_pickles_and_repr():
    import pickle

    libjq, native, _ = programs('{a: .b? // "x"}')
    again = pickle.loads(pickle.dumps(native))
    assert isinstance(again, NativeJq) and again.source == native.source
    assert again.run_native({"b": 1}) == ("ok", {"a": 1})
    assert repr(native) == "NativeJq('{a: .b? // \"x\"}')"



def test_length_of_a_float_keeps_double_precision():
    # Found by the differential test: `length` of a float once went through a 32-bit C float.
    libjq, native, _ = programs(".a |= length")
    value = {"a": 1.175494351e-38}
    assert native.run_native(value) == ("ok", libjq.run_one(value))
