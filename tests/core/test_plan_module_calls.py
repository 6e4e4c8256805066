"""A compiled plan module's `call` nodes (issue #13 item 3): the request head prebuilt with holes,
and a JSON answer read for only the fields its one reader uses, each exact against the generic
core; the engine cases (tests/cases/engine/module_calls.yaml) run the same shapes on all three
engines. Here: the answer reader against orjson itself (every answer it takes, it takes
exactly; the shapes it is not sure of it leaves to orjson), and proof that the module's code
paths, not only the generic fallback, are the ones that ran."""
from __future__ import annotations

import asyncio
import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jqgate
from engine_harness import ThirdParty, drive, make_pool, request_view
from hypothesis_budget import examples
from ports import free_port

TOKEN_FLOW = {"nodes": [
    {"name": "H", "type": "jq", "input": "request.query",
     "jq": '{"Content-Type": "application/x-www-form-urlencoded", "X-Api-Key": (.api_key // "none")}'},
    {"name": "AUTH", "type": "call", "url": "http://T1/token", "method": "POST",
     "inputs": {"headers": "H", "body": "BODY"}},
    {"name": "BODY", "type": "static", "values": {"grant_type": "client_credentials"}},
    {"name": "J", "type": "jq", "input": "AUTH.body",
     "jq": '{Authorization: (.token_type + " " + .access_token)}'},
    {"name": "EXIT", "type": "exit", "inputs": {"body": "J"}},
]}


def _config(flow, port):
    return json.loads(json.dumps(flow).replace("http://T1", "http://127.0.0.1:%d" % port))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(module, third-party port): TOKEN_FLOW built into a module against a fixed port."""
    from jqgate.plan_module.build import compile_modules
    from jqgate.plan_module.loading import import_module_file
    from jqgate.plan_module.source import module_source
    from jqgate.plan_module.version import core_version

    port = free_port()
    plan = jqgate.compile(_config(TOKEN_FLOW, port)).plan
    name = "jqgate_plan_module_calls"
    [path] = compile_modules({name: module_source(name, [plan], core_version())},
                             str(tmp_path_factory.mktemp("module_calls"))).values()
    return import_module_file(path), port


def _ops(plan):
    return {plan.nodes[op.node].name: op.index for op in plan.ops}


async def _run(plan, port, answer, query="api_key=K"):
    t1 = await ThirdParty().start(port)
    try:
        t1.route("/token", status=200, headers={"Content-Type": "application/json"}, body=answer)
        run = await drive("core", plan, request_view({"method": "GET", "path": "/",
                                                       "query": query}), make_pool())
        return run, [(r.method, r.path, r.headers, r.body) for r in t1.received]
    finally:
        await t1.stop()


def _outcome(run):
    return run.exited, run.exit_status, run.exit_headers, run.exit_body, run.error_text


ANSWERS = [
    # (body, how many times J ran its straight-line code on the fields the reader took)
    (b'{"access_token":"tok-K","token_type":"Bearer"}', 1),
    (b'{"token_type":"Bearer","skip":{"x":[1,2.5,"\\u00e9",null]},"access_token":"t"}', 1),
    (b'{"access_token":"t","token_type":"B\\u0065arer"}', 0),      # an escape in a wanted value
    (b'{"access_token":"t","token_type":"B","access_token":"u"}', 0),   # repeated wanted key
    (b'{"access_\\u0074oken":"t","token_type":"B"}', 0),            # an escaped key
    (b'{"access_token":"t","token_type":"B","x":1e2}', 0),         # an exponent anywhere
    (b'["access_token"]', 0),                                      # not an object
    (b'{"access_token":"t","token_type":"B",}', 0),               # invalid: the call fails
    (b'{"access_token":1,"token_type":"B"}', 0),          # taken, but a jq error: generic
    (b'{"access_token":"t","token_type":9007199254740993}', 0),   # taken, outside the domain
]


@pytest.mark.parametrize("answer,fast", ANSWERS)
def test_the_token_flow_agrees_with_the_generic_core_on_every_answer_shape(built, answer, fast):
    from jqgate._core.core import compile_plan
    mod, port = built
    generic = jqgate.compile(_config(TOKEN_FLOW, port)).plan
    driver = compile_plan(mod.PLAN).driver
    j = _ops(mod.PLAN)["J"]
    assert type(mod.PLAN.ops[j].params.program).__name__ == "StraightJq"
    before = getattr(driver, "answer_parts%d" % j)
    module_run, module_sent = asyncio.run(_run(mod.PLAN, port, answer))
    generic_run, generic_sent = asyncio.run(_run(generic, port, answer))
    assert _outcome(module_run) == _outcome(generic_run)
    assert module_sent == generic_sent            # the prebuilt head: the very same request
    assert getattr(driver, "answer_parts%d" % j) - before == fast


def test_the_token_flow_request_is_the_generic_cores_byte_for_byte(built):
    mod, port = built
    generic = jqgate.compile(_config(TOKEN_FLOW, port)).plan
    _, module_sent = asyncio.run(_run(mod.PLAN, port, b"{}", "api_key=K%20two"))
    _, generic_sent = asyncio.run(_run(generic, port, b"{}", "api_key=K%20two"))
    assert module_sent == generic_sent
    [(method, path, headers, body)] = module_sent
    assert (method, path, body) == ("POST", "/token", b"grant_type=client_credentials")
    assert headers == [("Host", "127.0.0.1:%d" % port),
                       ("Content-Type", "application/x-www-form-urlencoded"),
                       ("X-Api-Key", "K two"), ("Content-Length", "29")]


def test_the_module_installs_its_head_and_answer_reader_only_on_its_own_plan(built):
    from jqgate._core.core import call_specialisations_of
    mod, port = built
    assert call_specialisations_of(mod.PLAN) == {"AUTH": (True, True)}
    generic = jqgate.compile(_config(TOKEN_FLOW, port)).plan
    assert call_specialisations_of(generic) == {"AUTH": (False, False)}


# -- the answer reader against orjson ------------------------------------------------------------

def _fields_of(mod):
    return mod.pm_answer_fields_of


def _exact(a, b):
    """Equal with the same types throughout (1 == 1.0 == True in Python)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_exact(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_exact(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)


def _agrees(fields_of, body, keys):
    got = fields_of(body, keys)
    try:
        whole = orjson.loads(body)
    except orjson.JSONDecodeError:
        assert got is None, (body, got)
        return None
    if got is None:
        return None
    assert type(whole) is dict, (body, got)
    want = {k: whole[k] for k in whole if k in keys}
    assert set(got) == set(want) and all(_exact(got[k], want[k]) for k in want), (body, got, want)
    return got


KEYS = ("a", "b", "é")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=4),
    max_leaves=12)


@settings(max_examples=examples(2000))
@given(st.dictionaries(st.sampled_from(KEYS + ("c", "aa", "")), json_values, max_size=5),
       st.booleans())
def test_answer_reader_takes_only_what_orjson_gives(built, doc, ascii_only):
    fields_of = _fields_of(built[0])
    body = json.dumps(doc, ensure_ascii=ascii_only).encode()
    _agrees(fields_of, body, KEYS)
    _agrees(fields_of, json.dumps(doc, separators=(",", ":")).encode(), KEYS)


@settings(max_examples=examples(3000))
@given(st.binary(max_size=40) | st.text(alphabet='{}[]",:0123456789-+.eE \\ntrufalsn\u00e9ab',
                                        max_size=40).map(lambda s: s.encode()))
def test_answer_reader_on_arbitrary_bytes_never_takes_what_orjson_refuses(built, body):
    _agrees(_fields_of(built[0]), body, KEYS)


@settings(max_examples=examples(3000))
@given(st.dictionaries(st.sampled_from(KEYS + ("c",)), json_values, max_size=4),
       st.integers(0, 200), st.binary(min_size=1, max_size=3))
def test_answer_reader_on_damaged_documents(built, doc, at, junk):
    body = json.dumps(doc, separators=(",", ":")).encode()
    at = at % (len(body) + 1)
    _agrees(_fields_of(built[0]), body[:at] + junk + body[at:], KEYS)
    _agrees(_fields_of(built[0]), body[:at] + body[at + 1:], KEYS)


@pytest.mark.parametrize("body,fields", [
    (b'{"a": "x", "b": 1, "c": {"d": [1]}}', {"a": "x", "b": 1}),
    (b' \t\r\n{"b":-0}\n', {"b": 0}),
    (b'{"a": {"k": [1, 2.5, "s"]}, "b": [true, false, null]}',
     {"a": {"k": [1, 2.5, "s"]}, "b": [True, False, None]}),
    (b'{"\xc3\xa9": "\xe6\x97\xa5", "a": 123456789012345678}', {"\u00e9": "\u65e5", "a": 123456789012345678}),
    (b'{}', {}),
    (b'{"c": 1}', {}),
])
def test_answer_reader_takes_the_usual_shapes(built, body, fields):
    got = _agrees(_fields_of(built[0]), body, KEYS)
    assert got == fields and list(got) == list(fields)


@pytest.mark.parametrize("body", [
    b'', b'  ', b'null', b'[{"a": 1}]', b'"a"',                       # not one object
    b'{"a": 1, "a": 2}',                                              # repeated wanted key
    b'{"\\u0061": 1}', b'{"a": "\\n"}',                               # escapes where wanted
    b'{"a": 1.0}', b'{"a": 1e2}', b'{"c": 1E-2}',                      # floats and exponents
    b'{"a": 1234567890123456789}',                                    # beyond 18 digits
    b'{"c": "\\ud800"}', b'{"c": "\\udc00\\ud800"}',                  # surrogate escapes
    b'{"c": "\xed\xa0\x80"}', b'{"c": "\xc0\xaf"}', b'{"c": "\xff"}',  # not UTF-8 as orjson takes it
    b'{"c": "a\x01b"}',                                               # a control character
    b'{"a": 1} x', b'\xef\xbb\xbf{"a": 1}', b'{"a": 1,}', b'{"a" 1}',  # not one valid document
    b'{"c": ' + b'[' * 600 + b']' * 600 + b'}',                       # deeper than it follows
])
def test_answer_reader_leaves_what_it_is_not_sure_of_to_orjson(built, body):
    assert _fields_of(built[0])(body, KEYS) is None
