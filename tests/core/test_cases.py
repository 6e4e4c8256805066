"""Data-driven engine cases (tests/cases/engine/*.yaml), each run on BOTH executors.

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
from urllib.parse import parse_qs

import orjson
import pytest
import yaml

from engine_harness import ThirdParty, drive, make_pool, request_view
from engine_plans import compile_config

CASE_DIR = os.path.join(os.path.dirname(__file__), "..", "cases", "engine")


def load_cases():
    out = []
    for path in sorted(glob.glob(os.path.join(CASE_DIR, "*.yaml"))):
        with open(path) as f:
            for case in yaml.safe_load(f):
                out.append(pytest.param(case, id="%s:%s" % (os.path.basename(path)[:-5],
                                                            case["name"])))
    return out


CASES = load_cases()


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


async def run_case(case, executor):
    t1 = await ThirdParty().start()
    try:
        for path, spec in (case.get("thirdparty") or {}).items():
            t1.route(path, **spec)
        config = _subst(case["config"], t1.base)
        plan = compile_config(config)
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


@pytest.mark.parametrize("executor", ["core", "reference"])
@pytest.mark.parametrize("case", CASES)
def test_case(case, executor, caplog):
    caplog.set_level(logging.ERROR, logger="jqgate.datakit")
    run, t1, ctx, req = asyncio.run(run_case(case, executor))
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
