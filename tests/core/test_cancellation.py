"""An exit or a failure cancels the calls in flight (D13): the exchange is cancel()ed, its
connection closed (the third-party server sees it go away), and the node reported
NODE_CANCELED in the trace."""
import asyncio

import orjson
import pytest

from engine_harness import EXECUTORS, ThirdParty, make_pool, request_view
from engine_plans import compile_config


def trace_request():
    return request_view({"headers": [("X-DataKit-Debug-Trace", "true")]})


async def start(executor, cfg, req):
    run = EXECUTORS[executor](compile_config(cfg), req, make_pool(), {})
    done = asyncio.get_running_loop().create_future()
    assert run.start_request_window(lambda r: done.set_result(r)) == 1
    return run, done


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_exit_cancels_call_in_flight_and_closes_its_connection(executor):
    async def main():
        t1 = await ThirdParty().start()
        try:
            t1.route("/slow", body="never", hold=True)
            t1.route("/fast", body={"ok": True})
            cfg = {"debug": True, "nodes": [
                {"name": "SLOW_API", "type": "call", "url": t1.base + "/slow"},
                {"name": "FAST", "type": "call", "url": t1.base + "/fast"},
                {"name": "EXIT", "type": "exit", "inputs": {"body": "FAST.body"}, "status": 203},
                {"name": "AFTER", "type": "jq", "input": "SLOW_API.body", "jq": "."},
            ]}
            run, done = await start(executor, cfg, trace_request())
            await asyncio.wait_for(done, 5)
            assert run.exited and run.exit_status == 203
            # the slow request had reached the server; its connection must now be closed
            slow = t1.request_to("/slow")
            assert slow is not None
            await t1.wait_for(slow.closed, timeout=5)
            doc = orjson.loads(run.exit_body)
            status = {n["name"]: n["status"] for n in doc["nodes"]}
            assert status["SLOW_API"] == "NODE_CANCELED"
            assert status["AFTER"] == "NODE_CANCELED"
            assert status["EXIT"] == "NODE_COMPLETE"
            assert doc["status"] == "PLAN_COMPLETE"
            cancel = [e for e in doc["events"] if e["action"] == "cancel" and e["name"] == "SLOW_API"]
            assert cancel and "duration" in cancel[0]
        finally:
            t1.release()
            await t1.stop()
    asyncio.run(main())


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_failure_cancels_call_in_flight_C20c(executor):
    async def main():
        t1 = await ThirdParty().start()
        try:
            t1.route("/slow", body="never", hold=True)
            t1.route("/status/403", status=403, body={"denied": True})
            cfg = {"debug": True, "nodes": [
                {"name": "API", "type": "call", "url": t1.base + "/status/403"},
                {"name": "SLOW_API", "type": "call", "url": t1.base + "/slow"},
                {"name": "FILTER", "type": "jq", "inputs": {"a": "API.body", "b": "SLOW_API.body"},
                 "jq": "."},
                {"name": "EXIT", "type": "exit", "inputs": {"body": "FILTER"}},
            ]}
            req = request_view({"headers": [("X-DataKit-Debug-Trace", "true"),
                                            ("X-Other", "q")],
                                "query": "b=123&a=true"})
            run, done = await start(executor, cfg, req)
            await asyncio.wait_for(done, 5)
            await t1.wait_for(lambda: t1.request_to("/slow") is not None, timeout=5)
            await t1.wait_for(t1.request_to("/slow").closed, timeout=5)
            assert run.exit_status == 500
            assert dict((n.lower(), v) for n, v in run.exit_headers)["content-type"] == "application/json"
            doc = orjson.loads(run.exit_body)
            assert doc["status"] == "PLAN_ERROR"
            nodes = {n["name"]: n for n in doc["nodes"]}
            assert nodes["API"]["status"] == "NODE_ERROR"
            assert nodes["API"]["error"] == "non-2XX response code: 403"
            assert nodes["SLOW_API"]["status"] == "NODE_CANCELED"
            assert nodes["FILTER"]["status"] == "NODE_CANCELED"
            assert nodes["EXIT"]["status"] == "NODE_CANCELED"
            fail = [e for e in doc["events"] if e["action"] == "fail"][0]
            assert fail["name"] == "API"
            assert fail["values"][0] == {"type": "error", "value": "non-2XX response code: 403"}
            partial = {v["key"]: v for v in fail["values"][1:]}
            assert partial["status"]["value"] == 403
            assert partial["body"]["value"] == {"denied": True}
        finally:
            t1.release()
            await t1.stop()
    asyncio.run(main())


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_no_callback_after_cancel(executor):
    """A cancelled exchange never resumes the run (on_done is called exactly once)."""
    async def main():
        t1 = await ThirdParty().start()
        try:
            t1.route("/slow", body="late", hold=True)
            t1.route("/bad", status=500, delay=0.1)
            cfg = {"nodes": [
                {"name": "BAD", "type": "call", "url": t1.base + "/bad"},
                {"name": "SLOW", "type": "call", "url": t1.base + "/slow"},
            ]}
            calls = []
            run = EXECUTORS[executor](compile_config(cfg), request_view({}), make_pool(), {})
            assert run.start_request_window(lambda r: calls.append(r)) == 1
            await t1.wait_for(lambda: len(calls) == 1)
            await t1.wait_for(lambda: t1.request_to("/slow") is not None
                              and t1.request_to("/slow").closed())
            t1.release()                     # the server now answers /slow on a closed socket
            await t1.wait_for(lambda: t1.request_to("/slow").answered)
            await asyncio.sleep(0)           # one more turn of the loop for anything it caused
            assert len(calls) == 1 and run.exit_status == 500
        finally:
            t1.release()
            await t1.stop()
    asyncio.run(main())
