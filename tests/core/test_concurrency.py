"""Independent calls are in flight at the same time (§1.3, C19m), on both executors.

The third-party server holds every answer until released; if the executor sent the calls one
after the other, the second request would never arrive while the first is held, so waiting
for both requests fails. No timing is involved.
"""
import asyncio

import orjson
import pytest

from engine_harness import EXECUTORS, ThirdParty, make_pool, request_view
from engine_plans import compile_config


def c19m_config(base):
    return {"nodes": [
        {"name": "CALL_FOO", "type": "call", "url": base + "/foo"},
        {"name": "CALL_BAR", "type": "call", "url": base + "/bar"},
        {"name": "JOIN", "type": "jq", "inputs": {"foo": "CALL_FOO.body", "bar": "CALL_BAR.body"},
         "jq": "[.foo, .bar]"},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "JOIN"}},
    ]}


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_two_calls_overlap(executor):
    async def main():
        t1 = await ThirdParty().start()
        try:
            t1.route("/foo", body="foo", hold=True, delay=0.2)
            t1.route("/bar", body="bar", hold=True, delay=0.2)
            plan = compile_config(c19m_config(t1.base))
            run = EXECUTORS[executor](plan, request_view({}), make_pool(), {})
            done = asyncio.get_running_loop().create_future()
            assert run.start_request_window(lambda r: done.set_result(r)) == 1
            # both requests reach the server while neither has been answered
            await t1.wait_for(lambda: len(t1.received) == 2, timeout=5)
            assert not done.done()
            t1.release()
            await asyncio.wait_for(done, 5)
            assert run.exited and run.exit_status == 200
            assert run.exit_body == b'["foo","bar"]'
        finally:
            await t1.stop()
    asyncio.run(main())


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_dependent_call_waits_for_its_source(executor):
    """A call fed by another call's output starts only after that call completed: the trace
    orders the events, so no pause is needed to give a wrong executor the chance to jump ahead."""
    async def main():
        t1 = await ThirdParty().start()
        try:
            t1.route("/first", body={"next": "/second"}, hold=True)
            t1.route("/second", body="done")
            cfg = {"debug": True, "nodes": [
                {"name": "FIRST", "type": "call", "url": t1.base + "/first"},
                {"name": "URL", "type": "jq", "input": "FIRST.body", "jq": '"%s" + .next' % t1.base},
                {"name": "SECOND", "type": "call", "url": t1.base + "/x", "inputs": {"url": "URL"}},
                {"name": "EXIT", "type": "exit", "inputs": {"body": "SECOND.body"}},
            ]}
            trace = request_view({"headers": [("X-DataKit-Debug-Trace", "true")]})
            run = EXECUTORS[executor](compile_config(cfg), trace, make_pool(), {})
            done = asyncio.get_running_loop().create_future()
            assert run.start_request_window(lambda r: done.set_result(r)) == 1
            await t1.wait_for(lambda: len(t1.received) == 1)
            t1.release()
            await asyncio.wait_for(done, 5)
            assert [r.path for r in t1.received] == ["/first", "/second"]   # never the static /x
            doc = orjson.loads(run.exit_body)
            assert doc["status"] == "PLAN_COMPLETE"
            events = [(e["name"], e["action"]) for e in doc["events"]]
            assert events.index(("FIRST", "resume")) < events.index(("SECOND", "dispatch"))
        finally:
            await t1.stop()
    asyncio.run(main())


def test_plan_without_calls_finishes_synchronously():
    cfg = {"nodes": [{"name": "S", "type": "static", "values": {"a": 1}},
                     {"name": "EXIT", "type": "exit", "inputs": {"body": "S"}}]}
    plan = compile_config(cfg)
    for cls in EXECUTORS.values():
        run = cls(plan, request_view({}), None, {})
        assert run.start_request_window(None) == 0
        assert run.exited and run.exit_body == b'{"a":1}'
