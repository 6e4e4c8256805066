"""The embedding API (interface.md): run a compiled plan from Python, sync and async."""
import asyncio

import orjson

from jqgate.embed import runnable
from engine_harness import ThirdParty
from engine_plans import compile_config


def test_sync_run_without_calls():
    plan = runnable(compile_config({"nodes": [
        {"name": "S", "type": "static", "values": {"greeting": "hi"}},
        {"name": "J", "type": "jq", "inputs": {"s": "S", "q": "request.query", "b": "request.body",
                                               "m": "request.method"},
         "jq": "{g: .s.greeting, q: .q, b: .b, m: .m}"},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "J"}, "status": 200}]}))
    r = plan.run({"method": "POST", "path": "/x", "query": {"a": "1", "f": True},
                  "headers": {"X-A": "1"}, "body": {"k": "v"}})
    assert r.exited and r.status == 200
    assert r.json() == {"g": "hi", "q": {"a": "1", "f": True}, "b": {"k": "v"}, "m": "POST"}
    assert plan.ops is plan.plan.ops                 # still reads like the Plan


def test_sync_run_proxy_patch_and_response_window():
    plan = runnable(compile_config({"nodes": [
        {"name": "H", "type": "jq", "output": "service_request.headers", "jq": '{"X-Auth": "t"}'},
        {"name": "B", "type": "jq", "input": "service_response.body", "output": "response.body",
         "jq": "{up: .}"}]}))
    r = plan.run({"path": "/p", "headers": [("X-Client", "c")]})
    assert not r.exited
    sr = r.service_request
    assert ("X-Auth", "t") in sr["headers"] and ("X-Client", "c") in sr["headers"]
    assert sr["path"] == "/p" and sr["body"] is None
    r = plan.run({"path": "/p"}, upstream={"status": 200, "headers": {"Content-Type": "application/json"},
                                          "body": {"x": 1}})
    assert r.status == 200 and orjson.loads(r.body) == {"up": {"x": 1}}


def test_error_result():
    plan = runnable(compile_config({"debug": True, "nodes": [
        {"name": "BAD", "type": "jq", "jq": "error(\"boom\")"}]}))
    r = plan.run({})
    assert r.exited and r.status == 500
    assert r.error == {"node": "BAD", "index": 1, "type": "jq", "message": "boom"}


def _call_config(base):
    return {"nodes": [
        {"name": "A", "type": "call", "url": base + "/a"},
        {"name": "B", "type": "call", "url": base + "/b"},
        {"name": "J", "type": "jq", "inputs": {"a": "A.body", "b": "B.body"}, "jq": "[.a, .b]"},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "J"}}]}


def test_async_run_with_calls():
    async def main():
        t1 = await ThirdParty().start()
        try:
            t1.route("/a", body={"a": 1})
            t1.route("/b", body="bee")
            plan = runnable(compile_config(_call_config(t1.base)))
            r = await plan.run_async({"path": "/"})
            return r
        finally:
            await t1.stop()
    r = asyncio.run(main())
    assert r.exited and r.json() == [{"a": 1}, "bee"]


def test_sync_run_with_calls_uses_own_loop():
    import threading
    ready = threading.Event()
    box = {}

    def serve():
        async def main():
            t1 = await ThirdParty().start()
            t1.route("/a", body={"a": 2})
            t1.route("/b", body="b")
            box["t1"] = t1
            box["loop"] = asyncio.get_running_loop()
            box["stop"] = asyncio.Event()
            ready.set()
            await box["stop"].wait()
            await t1.stop()
        asyncio.run(main())
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    assert ready.wait(5)
    try:
        plan = runnable(compile_config(_call_config(box["t1"].base)))
        r1 = plan.run({})
        r2 = plan.run({})
        assert r1.json() == [{"a": 2}, "b"] and r2.json() == r1.json()
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        th.join(5)


def test_embed_compile_wraps_the_compiler():
    from jqgate import embed
    plan = embed.compile({"nodes": [{"name": "EXIT", "type": "exit", "status": 204}]})
    assert plan.run({}).status == 204
    assert plan.response_start == plan.plan.response_start


def test_unknown_request_field_is_an_error():
    import pytest
    plan = runnable(compile_config({"nodes": [{"name": "EXIT", "type": "exit"}]}))
    with pytest.raises(TypeError, match="metod"):
        plan.run({"metod": "GET"})
    r = plan.run({"request_id": "given"})
    assert r.run.request.request_id == "given"
    assert plan.run({}).run.request.request_id          # generated when absent
