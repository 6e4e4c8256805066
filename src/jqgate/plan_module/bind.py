"""What a compiled plan module does when it is imported (the generated code calls bind()).

    import jqgate_plan_<instance>_<hash>  as mod
    mod.run(request)            -> jqgate.embed.Result   (as jqgate.compile(config).run)
    await mod.run_async(request)
    mod.PLAN                    the frozen Plan, its jq programs replaced by the module's
                                straight-line runners where it has them
    mod.PLAN_HASH, mod.INSTANCE, mod.CORE_VERSION, mod.STRAIGHT_JQ (node names)

The module refuses to import under another core (version.check_core, before anything else).
"""
from __future__ import annotations

import dataclasses

from jqgate.plan_module.freeze import thaw
from jqgate.plan_module.version import check_core


def specialise(plan, runners: dict):
    """plan with the jq program of op i replaced by runners[i](program) for each i given."""
    if not runners:
        return plan
    ops = list(plan.ops)
    for i, make in runners.items():
        op = ops[i]
        ops[i] = dataclasses.replace(op, params=dataclasses.replace(
            op.params, program=make(op.params.program)))
    return dataclasses.replace(plan, ops=tuple(ops))


def bind(namespace: dict, frozen: bytes, runners: dict) -> None:
    """Fill a freshly imported plan module's namespace: PLANS (and PLAN, run, run_async for a
    one-plan module). runners: {(plan index, op index): factory(generic program) -> runner}."""
    check_core(namespace["__name__"], namespace["CORE_VERSION"])
    from jqgate.embed import runnable

    plans = thaw(frozen)
    plans = tuple(specialise(plan, {op: make for (p, op), make in runners.items() if p == i})
                  for i, plan in enumerate(plans))
    namespace["PLANS"] = plans
    namespace["STRAIGHT_JQ"] = tuple(sorted(
        plans[p].nodes[plans[p].ops[op].node].name for p, op in runners))
    if len(plans) == 1:
        namespace["PLAN"] = plans[0]
        target = runnable(plans[0])
        namespace["runnable"] = target

        def run(request=None, upstream=None, ctx_shared=None):
            """Run the plan on a request dict (jqgate.embed): -> Result."""
            return target.run(request, upstream, ctx_shared)

        async def run_async(request=None, upstream=None, ctx_shared=None):
            """As run(), on the running event loop (calls go out on its connection pool)."""
            return await target.run_async(request, upstream, ctx_shared)

        namespace["run"] = run
        namespace["run_async"] = run_async
