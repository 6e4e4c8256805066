"""The trace document (§8.2, D14–D16) and the debug switches (C20c–C20f), on both executors."""
import asyncio

import orjson
import pytest

from engine_harness import EXECUTORS, ThirdParty, drive, make_pool, request_view
from engine_plans import compile_config

SIMPLE = {"nodes": [
    {"name": "S", "type": "static", "values": {"a": 1}},
    {"name": "J", "type": "jq", "inputs": {"s": "S", "q": "request.query"}, "jq": ".s.a"},
    {"name": "EXIT", "type": "exit", "inputs": {"body": "J"}, "status": 201},
]}


def run_sync(executor, cfg, headers, query=""):
    run = EXECUTORS[executor](compile_config(cfg), request_view({"headers": headers, "query": query}),
                              None, {})
    assert run.start_request_window(None) == 0
    return run


@pytest.mark.parametrize("executor", list(EXECUTORS))
@pytest.mark.parametrize("value", ["true", "TRUE", "yes", "On", "1", "enabled"])
def test_trace_enabled_values(executor, value):
    run = run_sync(executor, dict(SIMPLE, debug=True), [("X-DataKit-Debug-Trace", value)])
    doc = orjson.loads(run.exit_body)
    assert doc["version"] == 1
    assert run.exit_status == 201                      # D14: status unchanged


@pytest.mark.parametrize("executor", list(EXECUTORS))
@pytest.mark.parametrize("value", ["false", "0", "banana", ""])
def test_trace_other_values_ignored_C20e(executor, value):
    run = run_sync(executor, dict(SIMPLE, debug=True), [("X-DataKit-Debug-Trace", value)])
    assert run.exit_body == b"1"


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_trace_needs_debug_C20d(executor):
    run = run_sync(executor, SIMPLE, [("x-datakit-debug-trace", "true")])
    assert run.exit_body == b"1"
    assert not run.tracing


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_trace_document_structure(executor):
    run = run_sync(executor, dict(SIMPLE, debug=True), [("X-DataKit-Debug-Trace", "yes")],
                   query="b=123&a=true")
    doc = orjson.loads(run.exit_body)
    assert set(doc) == {"version", "started_at", "ended_at", "duration", "status", "nodes",
                        "events"}
    assert doc["status"] == "PLAN_COMPLETE"           # D15
    # §8.2: seconds; the duration is the span of the two timestamps, every event inside it
    assert doc["duration"] == pytest.approx(doc["ended_at"] - doc["started_at"], abs=2e-6)
    assert all(0 <= ev["at"] <= doc["duration"] + 2e-6 for ev in doc["events"])
    assert [n["name"] for n in doc["nodes"]] == ["S", "J", "EXIT", "request"]
    assert all(n["status"] == "NODE_COMPLETE" for n in doc["nodes"])
    for ev in doc["events"]:
        assert {"name", "type", "action", "at"} <= set(ev)
    actions = [(e["name"], e["action"]) for e in doc["events"]]
    assert actions.index(("J", "run")) < actions.index(("J", "complete"))
    assert actions.index(("request", "complete")) < actions.index(("J", "run"))
    req_done = [e for e in doc["events"] if e["name"] == "request" and e["action"] == "complete"][0]
    assert {"key": "query", "type": "map", "value": {"b": "123", "a": "true"}} in req_done["values"]
    j_run = [e for e in doc["events"] if e["name"] == "J" and e["action"] == "run"][0]
    assert {"key": "s", "type": "object", "value": {"a": 1}} in j_run["values"]
    ats = [e["at"] for e in doc["events"]]
    assert ats == sorted(ats)
    headers = {n.lower(): v for n, v in run.exit_headers}
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(run.exit_body))


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_response_sink_skipped_when_tracing_C20f(executor):
    cfg = {"debug": True, "nodes": [
        {"name": "T", "type": "jq", "input": "service_response.body", "output": "response.body",
         "jq": "{wrapped: .}"}]}
    req = request_view({"headers": [("X-DataKit-Debug-Trace", "on")]})

    async def main():
        return await drive(executor, compile_config(cfg), req, None, {},
                           (202, [("Content-Type", "application/json"), ("X-Up", "u"),
                                  ("Content-Length", "7")], b'{"a":1}'))
    run = asyncio.run(main())
    assert not run.exited
    assert run.response_status == 202
    doc = orjson.loads(run.response_body)
    nodes = {n["name"]: n["status"] for n in doc["nodes"]}
    assert nodes["response"] == "NODE_SKIPPED"
    assert nodes["T"] == "NODE_COMPLETE" and nodes["service_response"] == "NODE_COMPLETE"
    assert ("response", "skip") in [(e["name"], e["action"]) for e in doc["events"]]
    headers = dict((n.lower(), v) for n, v in run.response_headers)
    assert headers["x-up"] == "u"
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(run.response_body))


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_trace_without_response_window_replaces_upstream_body(executor):
    cfg = {"debug": True, "nodes": [
        {"name": "H", "type": "jq", "output": "service_request.headers", "jq": '{"X-A": "1"}'}]}
    req = request_view({"headers": [("X-DataKit-Debug-Trace", "1")]})

    async def main():
        return await drive(executor, compile_config(cfg), req, None, {},
                           (200, [("Content-Type", "text/plain")], None))
    run = asyncio.run(main())
    assert run.needs_response_window
    doc = orjson.loads(run.response_body)
    assert doc["status"] == "PLAN_COMPLETE"
    assert {n["name"]: n["status"] for n in doc["nodes"]}["service_request"] == "NODE_COMPLETE"


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_call_events(executor):
    async def main():
        t1 = await ThirdParty().start()
        try:
            t1.route("/x", body={"k": 1}, delay=0.05)
            cfg = {"debug": True, "nodes": [
                {"name": "API", "type": "call", "url": t1.base + "/x"},
                {"name": "EXIT", "type": "exit", "inputs": {"body": "API.body"}}]}
            req = request_view({"headers": [("X-DataKit-Debug-Trace", "true")]})
            return await drive(executor, compile_config(cfg), req, make_pool(), {})
        finally:
            await t1.stop()
    run = asyncio.run(main())
    doc = orjson.loads(run.exit_body)
    api = [e["action"] for e in doc["events"] if e["name"] == "API"]
    assert api == ["run", "schedule", "dispatch", "resume", "complete"]
    resume = [e for e in doc["events"] if e["name"] == "API" and e["action"] == "resume"][0]
    # the call's duration covers the third party's 50 ms hold (less slack for time.time()
    # against the loop's clock) and fits inside the plan's time
    assert 0.04 <= resume["duration"] <= resume["at"] + 2e-6
    complete = [e for e in doc["events"] if e["name"] == "API" and e["action"] == "complete"][0]
    assert {v["key"]: v.get("value") for v in complete["values"]}["status"] == 200


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_skipped_nodes_in_trace(executor):
    cfg = {"debug": True, "nodes": [
        {"name": "COND", "type": "jq", "jq": "true"},
        {"name": "BR", "type": "branch", "input": "COND", "then": ["YES"], "else": ["NO"]},
        {"name": "YES", "type": "jq", "jq": "1"},
        {"name": "NO", "type": "jq", "jq": "2"},
        {"name": "AFTER_NO", "type": "jq", "input": "NO", "jq": "."},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "YES"}}]}
    run = run_sync(executor, cfg, [("X-DataKit-Debug-Trace", "true")])
    doc = orjson.loads(run.exit_body)
    status = {n["name"]: n["status"] for n in doc["nodes"]}
    assert status["NO"] == "NODE_SKIPPED" and status["AFTER_NO"] == "NODE_SKIPPED"
    assert status["YES"] == "NODE_COMPLETE" and status["BR"] == "NODE_COMPLETE"
    skip = [e for e in doc["events"] if e["action"] == "skip" and e["name"] == "NO"][0]
    assert skip["values"] == [{"key": "$self", "type": "boolean", "value": True}]
    assert doc["status"] == "PLAN_COMPLETE"


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_branch_completes_without_outputs_and_skips_carry_the_condition(executor):
    """§5.6: a branch has no outputs, so its `complete` lists none (the core listed the
    condition there until the reference, written from §8.2.1, disagreed); the 3.15 `skip`
    event carries the routing value. A jq node's null output is listed without a value."""
    cfg = {"debug": True, "nodes": [
        {"name": "COND", "type": "jq", "jq": "false"},
        {"name": "NOTHING", "type": "jq", "jq": "empty"},
        {"name": "B", "type": "branch", "input": "COND", "then": ["YES"], "else": ["NO"]},
        {"name": "YES", "type": "exit", "status": 201},
        {"name": "NO", "type": "exit", "status": 202},
    ]}
    run = run_sync(executor, cfg, [("X-DataKit-Debug-Trace", "1")])
    assert run.exit_status == 202
    events = [(e["name"], e["action"], e.get("values")) for e in orjson.loads(run.exit_body)["events"]]
    assert ("B", "complete", []) in events
    assert ("YES", "skip", [{"key": "$self", "type": "boolean", "value": False}]) in events
    assert ("NOTHING", "complete", [{"key": "$self", "type": "any"}]) in events
