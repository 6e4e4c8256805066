"""Data-driven engine cases (tests/cases/engine/*.yaml), each run on all three engines: the
reference executor, the generic core, and the core running the plan of a compiled plan module
(jqgate build; one module holding every case's plan, built once per session, with the
third-party URL fixed to a port reserved for the session). Each case also runs traced (debug on,
X-DataKit-Debug-Trace) on the core and the reference, whose trace documents must agree
(`test_case_trace_agrees`).

A case file holds a list of cases:

    - name: ...
      config: {nodes: [...], debug: ...}     # "T1" in URLs -> the loopback third-party server
      request: {method, path, query, headers: [[n, v]...] | {n: v}, body}
      ctx_shared: {...}                       # initial kong.ctx.shared
      thirdparty: {/path: {status, headers, body, delay}}
      upstream: {status, headers: [[n, v]], body}     # answer for the response window
      expect:
        exited: bool
        status: int                           # exit/answer status or final response status
        headers: {name: value | null}         # null = must be absent (case-insensitive)
        body: text | body_json: value
        service_request: {headers: {...}, query: str|null, body: text|null, body_json: ...}
        thirdparty: [{method, path, headers: {...}, body | body_form | body_json}]
        ctx_shared: {...}
        run: {attr: value}                    # service_target, service_scheme, ...
        log: text that must appear in a jqgate.datakit log record
"""
from __future__ import annotations

import asyncio
import glob
import logging
import os
import re
import time
import types
from urllib.parse import parse_qs

import orjson
import pytest
import yaml

from engine_harness import ThirdParty, drive, make_pool, request_view
from engine_plans import compile_config
from ports import free_port

CASE_DIR = os.path.join(os.path.dirname(__file__), "..", "cases", "engine")


def case_files():
    out = {}
    for path in sorted(glob.glob(os.path.join(CASE_DIR, "*.yaml"))):
        with open(path) as f:
            out[os.path.basename(path)[:-5]] = yaml.safe_load(f)
    return out


def load_cases():
    return [pytest.param(case, id="%s:%s" % (name, case["name"]))
            for name, cases in case_files().items() for case in cases]


CASES = load_cases()


class PlanModules:
    """The engine cases' plans compiled into one plan module (one C compilation: the Cython
    runtime code every module carries is compiled once, not once per case file)."""

    def __init__(self, out_dir):
        from jqgate.plan_module.build import compile_modules
        from jqgate.plan_module.loading import import_module_file
        from jqgate.plan_module.source import module_source
        from jqgate.plan_module.version import core_version

        self.port = free_port()
        base = "http://127.0.0.1:%d" % self.port
        plans = {}
        for cases in case_files().values():
            for case in cases:
                plan = compile_config(_subst(case["config"], base))
                plans.setdefault(plan.config_hash, plan)
        name = "jqgate_plan_engine_cases"
        [path] = compile_modules({name: module_source(name, list(plans.values()), core_version())},
                                 out_dir).values()
        mod = import_module_file(path)
        self.plans = dict(zip(mod.PLAN_HASHES, mod.PLANS))

    def plan_for(self, config):
        return self.plans[compile_config(config).config_hash]


@pytest.fixture(scope="session")
def plan_modules(tmp_path_factory):
    return PlanModules(str(tmp_path_factory.mktemp("plan_modules")))


def _subst(obj, base):
    if isinstance(obj, str):
        return obj.replace("http://T1", base)
    if isinstance(obj, list):
        return [_subst(x, base) for x in obj]
    if isinstance(obj, dict):
        return {k: _subst(v, base) for k, v in obj.items()}
    return obj


def header_values(pairs, name):
    return [v for n, v in pairs if n.lower() == name.lower()]


def check_headers(pairs, expected, what):
    for name, want in (expected or {}).items():
        got = header_values(pairs, name)
        if want is None:
            assert not got, "%s: header %s should be absent, got %r" % (what, name, got)
        elif isinstance(want, list):
            assert got == [str(x) for x in want], "%s: header %s: %r" % (what, name, got)
        else:
            assert got == [str(want)], "%s: header %s: %r != %r" % (what, name, got, want)


def check_body(body, exp, what):
    if "body" in exp:
        want = exp["body"]
        assert (body or b"").decode() == ("" if want is None else want), \
            "%s body: %r" % (what, body)
    if "body_json" in exp:
        assert orjson.loads(body) == exp["body_json"], "%s body: %r" % (what, body)
    if "body_form" in exp:
        assert parse_qs(body.decode(), keep_blank_values=True) == \
            {k: v if isinstance(v, list) else [v] for k, v in exp["body_form"].items()}, body


async def run_case(case, executor, modules=None):
    t1 = await ThirdParty().start(modules.port if modules is not None else 0)
    try:
        for path, spec in (case.get("thirdparty") or {}).items():
            t1.route(path, **spec)
        config = _subst(case["config"], t1.base)
        plan = modules.plan_for(config) if modules is not None else compile_config(config)
        req = request_view(case.get("request"))
        ctx = dict(case.get("ctx_shared") or {})
        up = case.get("upstream")
        upstream = None
        if up:
            body = up.get("body", "")
            body = orjson.dumps(body) if isinstance(body, (dict, list)) else body.encode()
            upstream = (up.get("status", 200), [tuple(h) for h in up.get("headers", [])], body)
        run = await drive(executor, plan, req, make_pool(), ctx, upstream)
        return run, t1, ctx, req
    finally:
        await t1.stop()


# The first module case also waits for the session's module build (Cython + the C compiler).
@pytest.mark.parametrize("executor", ["core", "reference",
                                      pytest.param("module", marks=pytest.mark.timeout(900))])
@pytest.mark.parametrize("case", CASES)
def test_case(case, executor, caplog, request):
    caplog.set_level(logging.ERROR, logger="jqgate.datakit")
    modules = request.getfixturevalue("plan_modules") if executor == "module" else None
    run, t1, ctx, req = asyncio.run(run_case(case, executor, modules))
    exp = case["expect"]
    if "exited" in exp:
        assert run.exited == exp["exited"], (run.exited, run.exit_body)
    if run.exited:
        status, headers, body = run.exit_status, run.exit_headers, run.exit_body
    elif run.needs_response_window:
        status, headers, body = run.response_status, run.response_headers, run.response_body
    else:
        status, headers, body = run.response_status, [], None
    if "status" in exp:
        assert status == exp["status"], (status, body)
    check_headers(headers, exp.get("headers"), "answer")
    check_body(body, exp, "answer")
    if "service_request" in exp:
        sr = exp["service_request"]
        original = [(n, v) for n, v in req.headers]
        final = run.service_request_headers(original)
        check_headers(final, sr.get("headers"), "service_request")
        if "query" in sr:
            assert run.service_request.query == sr["query"]
        check_body(run.service_request.body, sr, "service_request")
    if "thirdparty" in exp:
        got = sorted(t1.received, key=lambda r: r.path)
        want = sorted(exp["thirdparty"], key=lambda r: r["path"])
        assert len(got) == len(want), [(r.method, r.path) for r in got]
        for g, w in zip(got, want):
            assert g.method == w.get("method", "GET")
            assert g.path == w["path"]
            check_headers(g.headers, w.get("headers"), "thirdparty " + g.path)
            check_body(g.body, w, "thirdparty " + g.path)
    if "ctx_shared" in exp:
        assert ctx == exp["ctx_shared"]
    for attr, want in (exp.get("run") or {}).items():
        assert getattr(run, attr) == want, (attr, getattr(run, attr))
    if "consumer" in exp:
        assert req.consumer == exp["consumer"]
    if "log" in exp:
        assert any(exp["log"] in r.getMessage() for r in caplog.records), \
            [r.getMessage() for r in caplog.records]


def test_case_modules_carry_straight_line_jq(plan_modules):
    """The module engine above is more than the generic executor on a thawed plan: most of the
    cases' native jq programs (98 of 114 when written) run as straight-line code there."""
    runners = [op.params.program for plan in plan_modules.plans.values() for op in plan.ops
               if op.kind == "jq" and type(op.params.program).__name__ == "StraightJq"]
    assert len(runners) >= 90


# two calls racing, one failing: whether the other reached the server is timing
CALLS_RACING = {"examples:C1-one-call-fails-generic-500"}
CALL_CASES = [c for c in CASES if c.id not in CALLS_RACING and (
    c.values[0].get("thirdparty") or "thirdparty" in c.values[0].get("expect", {}))]


@pytest.mark.parametrize("case", CALL_CASES)
def test_module_calls_send_the_cores_requests_byte_for_byte(case, plan_modules, caplog):
    """What a module's prebuilt call heads send (ops_call_prebuild) is what the generic core's
    exchange sends: the same requests, fields in the same order, the same bodies."""
    caplog.set_level(logging.CRITICAL, logger="jqgate.datakit")

    async def sent(plan_of):
        t1 = await ThirdParty().start(plan_modules.port)
        try:
            for path, spec in (case.get("thirdparty") or {}).items():
                t1.route(path, **spec)
            config = _subst(case["config"], t1.base)
            await drive("core", plan_of(config), request_view(case.get("request")),
                        make_pool(), dict(case.get("ctx_shared") or {}))
            return sorted((r.method, r.path, r.headers, r.body) for r in t1.received)
        finally:
            await t1.stop()

    module = asyncio.run(sent(plan_modules.plan_for))
    assert module == asyncio.run(sent(compile_config))


def test_a_traced_run_of_a_module_plan_is_the_generic_trace(plan_modules):
    """A module's generated pass is not used while a trace is recorded (the executor's own
    pass records it): the trace's nodes and events are the generic core's."""
    [case] = [c for c in case_files()["module_specialised"]
              if c["name"] == "traced-request-runs-the-executors-own-pass"]

    def trace_of(plan):
        run = PlanRun(plan, request_view(case["request"]), None, {})
        assert run.start_request_window(None) == 0 and run.tracing
        doc = orjson.loads(run.exit_body)
        return ([(n["name"], n["status"]) for n in doc["nodes"]],
                [(e["name"], e["action"], e.get("values")) for e in doc["events"]])

    from jqgate._core.core import PlanRun, compile_plan
    module_plan = plan_modules.plan_for(case["config"])
    assert compile_plan(module_plan).driver is not None
    nodes, events = trace_of(module_plan)
    assert (nodes, events) == trace_of(compile_config(case["config"]))
    assert ("J2", "complete", [{"key": "$self", "type": "object", "value": {"n": 6}}]) in events


# ---------------------------------------------------------------------------------------------
# The trace of every case (§8.2, D14-D16): the core's and the reference's documents agree on the
# plan status, every node's status and error, and each node's events with their values. Times
# are left out, and so is the order between nodes (independent nodes have none, §6.2); the
# detail after "invalid JSON in <what>:" is the JSON parser's own wording, and a network error's
# text is the HTTP client's, so those are compared up to that point.

# Cases whose traces differ between two runs by nature: a random node id per executor and RSS;
# two calls racing, one failing (the other may complete or be cancelled first).
TRACE_UNCOMPARABLE = {"property:version-and-node-id", "examples:C1-one-call-fails-generic-500"}
# Each run has its own third-party server: its port is not part of the outcome.
LOOPBACK_PORT = re.compile(r"127\.0\.0\.1:[0-9]+")


def _traced(case):
    case = dict(case)
    case["config"] = dict(case["config"], debug=True)
    request = dict(case.get("request") or {})
    headers = request.get("headers") or []
    headers = list(headers.items()) if isinstance(headers, dict) else list(headers)
    request["headers"] = headers + [["X-DataKit-Debug-Trace", "true"]]
    case["request"] = request
    return case


def _trace_of(run):
    body = run.exit_body if run.exited else run.response_body
    return orjson.loads(body)


def _comparable_error(text):
    if text.startswith("invalid JSON in "):
        return text.split(":", 1)[0]
    return text


def _comparable_values(values):
    out = []
    for v in values or ():
        v = dict(v)
        if v.get("type") == "error":
            v["value"] = _comparable_error(v["value"])
        out.append(v)
    return orjson.loads(LOOPBACK_PORT.sub("T1", orjson.dumps(out).decode()))


def trace_outline(doc, network_failures):
    """What both executors must agree on, from one trace document."""
    nodes = {}
    for n in doc["nodes"]:
        err = n.get("error")
        if err is not None:
            err = "<network>" if n["name"] in network_failures else _comparable_error(err)
        nodes[n["name"]] = (n["type"], n["status"], err)
    events = {}
    for e in doc["events"]:
        values = e.get("values")
        if e["name"] in network_failures and e["action"] == "fail":
            values = "<network>"
        else:
            values = _comparable_values(values)
        events.setdefault(e["name"], []).append((e["action"], values))
    return {"version": doc["version"], "status": doc["status"], "nodes": nodes,
            "events": events}


@pytest.mark.parametrize("case", [c for c in CASES if c.id not in TRACE_UNCOMPARABLE])
def test_case_trace_agrees(case, monkeypatch):
    # jwt_sign stamps `iat` from the clock: both engines read one instant, or a second
    # boundary between their two runs makes the traces differ
    from jqgate.nodes.jwt import tokens
    instant = time.time()
    monkeypatch.setattr(tokens, "time", types.SimpleNamespace(time=lambda: instant))
    case = _traced(case)
    runs = {ex: asyncio.run(run_case(case, ex))[0] for ex in ("core", "reference")}
    docs = {ex: _trace_of(run) for ex, run in runs.items()}
    # a call that failed without an HTTP answer: the two HTTP clients word it differently
    failed = {n["name"] for n in docs["core"]["nodes"]
              if n["type"] == "call" and n.get("error") and not n["error"].startswith(
                  ("non-2XX", "invalid JSON", "input ", "no URL", "property "))}
    core, ref = (trace_outline(docs[ex], failed) for ex in ("core", "reference"))
    assert core == ref
