"""Runs do not outlive their request: after many runs with calls, failures and cancellations,
no PlanRun (or call waiter) is left alive once the caller drops it."""
import asyncio
import gc

from jqgate._core import core
from engine_harness import ThirdParty, drive, make_pool, request_view
from engine_plans import compile_config


def live(cls_name):
    return sum(1 for o in gc.get_objects() if type(o).__name__ == cls_name
               and type(o).__module__.startswith("jqgate"))


def test_no_runs_left_alive():
    async def main():
        t1 = await ThirdParty().start()
        try:
            t1.route("/ok", body={"k": 1})
            t1.route("/bad", status=500, delay=0.02)
            t1.route("/slow", body="x", delay=0.2)
            ok = compile_config({"nodes": [
                {"name": "A", "type": "call", "url": t1.base + "/ok"},
                {"name": "E", "type": "exit", "inputs": {"body": "A.body"}}]})
            cancel = compile_config({"nodes": [
                {"name": "BAD", "type": "call", "url": t1.base + "/bad"},
                {"name": "SLOW", "type": "call", "url": t1.base + "/slow"}]})
            pool = make_pool()
            for i in range(60):
                run = await drive("core", ok if i % 2 else cancel, request_view({}), pool, {})
                assert run.exited
                if i == 0:
                    assert live("PlanRun") >= 1      # the count does see live runs
                del run
        finally:
            await t1.stop()
    asyncio.run(main())
    gc.collect()
    assert live("PlanRun") == 0
    assert live("_CallWaiter") == 0


def test_the_counted_names_are_the_cores_classes():
    """live() counts by class name: a renamed class would make the zero counts above pass
    without counting anything."""
    assert core.PlanRun.__name__ == "PlanRun" and core.PlanRun.__module__.startswith("jqgate")
    assert core._CallWaiter.__name__ == "_CallWaiter"
