"""Compiled plan modules (issue #13 item 3): `jqgate build CONFIG -o DIR`, importing a module
and running it from Python, the core-version refusal, straight-line jq with its exact fallback,
and `jqgate run --plan-modules DIR` serving through the module's plan.

The module of this file's configuration is built once (module-scoped fixture): a build runs
Cython and the C compiler, which takes seconds."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
import yaml

import jqgate
from adminutil import call
from run_process import RunProcess

FLOW = {"nodes": [
    {"name": "HEADERS", "type": "jq", "inputs": {"h": "request.headers", "q": "request.query"},
     "jq": '{"X-Who": (.h["x-user"] // .h["X-User"] // "nobody"), "X-Greeting": "hello \\(.q.name // "you")"}'},
    {"name": "SHAPE", "type": "jq", "input": "request.body",
     "jq": '.order.id'},
    {"name": "ANSWER", "type": "jq", "inputs": {"id": "SHAPE", "who": "HEADERS"},
     "jq": '{id: .id, who: .who["X-Who"], merged: (.who * {"X-Extra": "1"})}'},
    {"name": "BRANCH_ON_QUERY", "type": "jq", "input": "request.query",
     "jq": '.stop == "yes"'},
    {"name": "STOP", "type": "branch", "input": "BRANCH_ON_QUERY", "then": ["EXIT"]},
    {"name": "EXIT", "type": "exit", "inputs": {"body": "ANSWER"}, "status": 203},
], "debug": False}
# HEADERS -> service_request.headers, so a proxied request shows what the plan computed
FLOW["nodes"][0]["output"] = "service_request.headers"


def declarative(upstream_port):
    return {"_format_version": "3.0", "services": [{
        "name": "svc", "url": "http://127.0.0.1:%d" % upstream_port,
        "routes": [{"name": "r", "paths": ["/"],
                    "plugins": [{"name": "datakit", "config": FLOW}]}]}]}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(config file, module directory, the module) from the real `jqgate build` command."""
    root = tmp_path_factory.mktemp("plan_module_build")
    config = root / "kong.yaml"
    config.write_text(yaml.safe_dump(declarative(9)))      # the service URL is not in the plan
    out = root / "modules"
    done = subprocess.run([sys.executable, "-m", "jqgate", "build", str(config), "-o", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    [path] = done.stdout.split()
    assert os.path.dirname(path) == str(out) and os.path.exists(path)
    from jqgate.plan_module.loading import import_module_file
    return config, out, import_module_file(path)


REQUESTS = [
    {"method": "POST", "path": "/a", "headers": {"x-user": "ann", "Content-Type": "application/json"},
     "query": {"stop": "yes", "name": "bo"}, "body": {"order": {"id": 7}}},
    {"method": "POST", "path": "/a", "headers": {"Content-Type": "application/json"},
     "query": {"stop": "yes"}, "body": {"order": {"id": 1.0}}},           # 1.0: not canonical
    {"method": "POST", "path": "/a", "headers": {"Content-Type": "application/json"},
     "query": {"stop": "yes"}, "body": {"order": "flat"}},                # .id on a string: error
    {"method": "GET", "path": "/b", "headers": {"x-user": "cy"}, "query": {"name": "dee"}},
    {"method": "POST", "path": "/c", "query": "name=flo&stop=no",         # as the server has them
     "headers": [("Content-Type", "application/json"), ("X-User", "gus")], "body": b'{"order":{}}'},
]


for i, r in enumerate(REQUESTS):
    r["request_id"] = "req-%d" % i          # error bodies carry it: the same on both engines


def outcome(result):
    return (result.exited, result.status, result.headers, result.body,
            None if result.exited else result.service_request["headers"],
            None if result.error is None else result.error["message"])


def test_build_writes_an_importable_module_carrying_hash_and_core_version(built):
    from jqgate.plan_module.version import core_version
    config, out, mod = built
    [(plugin, plan)] = jqgate.load(str(config)).plans
    assert mod.PLAN_HASH == plan.config_hash == jqgate.compile(FLOW).plan.config_hash
    assert mod.INSTANCE == plan.instance == plugin.id
    assert mod.CORE_VERSION == core_version()
    assert mod.__name__.endswith(mod.PLAN_HASH)
    assert os.path.exists(os.path.join(out, mod.__name__ + ".pyx"))     # the source, for readers
    # every jq program of this flow is in the straight-line subset
    assert mod.STRAIGHT_JQ == ("ANSWER", "BRANCH_ON_QUERY", "HEADERS", "SHAPE")


def test_module_run_agrees_with_the_generic_core(built):
    _, _, mod = built
    generic = jqgate.compile(FLOW, instance=mod.INSTANCE)
    for request in REQUESTS:
        got, want = mod.run(dict(request)), generic.run(dict(request))
        assert outcome(got) == outcome(want), request
    answer = mod.run(dict(REQUESTS[0]))
    assert (answer.status, answer.json()) == (203, {
        "id": 7, "who": "ann",
        "merged": {"X-Who": "ann", "X-Greeting": "hello bo", "X-Extra": "1"}})


def test_module_agrees_over_the_jq_step_budget(built):
    """Work the straight-line code charges counts against the program's step budget as the
    native evaluator's does: over it, the generic program (then libjq, under the same budget)
    decides, so a tiny budget gives the same answers (here: libjq's budget error) on both."""
    from jqgate._core.core import jq_budgets, set_jq_budgets
    _, _, mod = built
    generic = jqgate.compile(FLOW, instance=mod.INSTANCE)
    steps, _memory = jq_budgets()
    set_jq_budgets(steps=1)
    try:
        for request in REQUESTS:
            got, want = mod.run(dict(request)), generic.run(dict(request))
            assert outcome(got) == outcome(want), request
        assert "budget" in mod.run(dict(REQUESTS[0])).error["message"]
    finally:
        set_jq_budgets(steps=steps)


def test_module_run_async(built):
    _, _, mod = built
    generic = jqgate.compile(FLOW, instance=mod.INSTANCE)

    async def both():
        return [(await mod.run_async(dict(r)), await generic.run_async(dict(r))) for r in REQUESTS]

    for got, want in asyncio.run(both()):
        assert outcome(got) == outcome(want)


def test_straight_line_jq_answers_and_falls_back_exactly(built):
    _, _, mod = built
    runner = {mod.PLAN.nodes[op.node].name: op.params.program
              for op in mod.PLAN.ops if op.kind == "jq"}["SHAPE"]
    assert type(runner).__name__ == "StraightJq"
    straight, fallback = runner.straight_runs, runner.fallback_runs
    assert runner.run_one({"order": {"id": 7}}) == 7
    assert (runner.straight_runs, runner.fallback_runs) == (straight + 1, fallback)
    assert runner.run_one({"order": {"id": 1.0}}) == runner.fallback.run_one({"order": {"id": 1.0}})
    assert runner.fallback_runs == fallback + 1          # 1.0 is outside the canonical domain
    with pytest.raises(Exception) as straight_error:
        runner.run_one({"order": "flat"})
    with pytest.raises(Exception) as generic_error:
        runner.fallback.run_one({"order": "flat"})
    assert str(straight_error.value) == str(generic_error.value)   # libjq's own message
    assert runner.fallback_runs == fallback + 2


def test_a_module_built_for_another_core_refuses_to_import(tmp_path):
    from jqgate.plan_module.build import compile_modules
    from jqgate.plan_module.loading import import_module_file
    from jqgate.plan_module.source import module_source
    from jqgate.plan_module.version import PlanModuleVersionError, core_version

    plan = jqgate.compile({"nodes": [{"name": "A", "type": "jq", "jq": "1"}]}).plan
    other = "0.0.1+core.0123456789abcdef"
    assert other != core_version()
    [(name, path)] = compile_modules({"jqgate_plan_other_core": module_source(
        "jqgate_plan_other_core", [plan], other)}, str(tmp_path)).items()
    with pytest.raises(PlanModuleVersionError) as e:
        import_module_file(path)
    assert str(e.value) == (
        "plan module jqgate_plan_other_core was built for jqgate core %s, but this is jqgate "
        "core %s: rebuild it with `jqgate build CONFIG -o DIR`" % (other, core_version()))


def test_jqgate_run_with_plan_modules_serves_through_the_module(built, upstream, tmp_path):
    _, out, mod = built
    config = tmp_path / "kong.yaml"
    config.write_text(yaml.safe_dump(declarative(upstream.port)))
    run = RunProcess(str(config), "--access-log", "off", "--plan-modules", str(out))
    try:
        assert any("jqgate ready" in l for l in run.lines), run.lines
        assert any("plan modules: 1 plan(s) from %s" % out in l for l in run.lines), run.lines
        assert any("runs the plan of module %s" % mod.__name__ in l for l in run.lines), run.lines
        status, body, _ = call(run.port, "POST", "/x?stop=yes&name=zed", b'{"order": {"id": 5}}',
                               {"Content-Type": "application/json", "X-User": "eve"})
        assert (status, body["id"], body["merged"]["X-Greeting"]) == (203, 5, "hello zed")
        status, body, _ = call(run.port, "POST", "/echo?name=ivy", b'{"order": {"id": 9}}',
                               {"Content-Type": "application/json", "X-User": "max"})
        assert status == 200, (body, run.lines)
        sent = {n.lower(): v for n, v in body["headers"]}
        assert (sent["x-who"], sent["x-greeting"]) == ("max", "hello ivy")
    finally:
        run.stop()
    assert run.proc.returncode == 0


def test_jqgate_run_without_a_module_for_the_plan_says_so_once(upstream, tmp_path, built):
    _, out, mod = built
    flow = dict(FLOW, debug=True)                        # other content: another config hash
    doc = declarative(upstream.port)
    doc["services"][0]["routes"][0]["plugins"][0]["config"] = flow
    config = tmp_path / "kong.yaml"
    config.write_text(yaml.safe_dump(doc))
    run = RunProcess(str(config), "--access-log", "off", "--plan-modules", str(out))
    try:
        assert any("jqgate ready" in l for l in run.lines), run.lines
        warned = [l for l in run.lines if "none built for DataKit instance" in l]
        assert len(warned) == 1 and "generic executor" in warned[0], run.lines
        assert call(run.port, "POST", "/echo", b'{}', {"Content-Type": "application/json"})[0] == 200
    finally:
        run.stop()


def test_jqgate_run_builds_missing_modules_into_the_cache_directory(upstream, tmp_path):
    config = tmp_path / "kong.yaml"
    config.write_text(yaml.safe_dump(declarative(upstream.port)))
    cache = tmp_path / "cache"
    run = RunProcess(str(config), "--access-log", "off",
                     "--plan-modules", str(cache), "--build-plan-modules")
    try:
        assert any("jqgate ready" in l for l in run.lines), run.lines
        assert any("plan modules: built 1 into %s" % cache in l for l in run.lines), run.lines
        assert any("runs the plan of module jqgate_plan_" in l for l in run.lines), run.lines
        status, body, _ = call(run.port, "POST", "/x?stop=yes", b'{"order": {"id": 3}}',
                               {"Content-Type": "application/json"})
        assert (status, body["id"]) == (203, 3)
    finally:
        run.stop()
    assert len(list(cache.glob("jqgate_plan_*.so"))) == 1          # cached for the next start


def test_jqgate_run_without_a_c_compiler_falls_back_with_one_line(upstream, tmp_path, monkeypatch):
    config = tmp_path / "kong.yaml"
    config.write_text(yaml.safe_dump(declarative(upstream.port)))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))        # inherited by the gateway
    run = RunProcess(str(config), "--access-log", "off",
                     "--plan-modules", str(tmp_path / "cache"), "--build-plan-modules")
    try:
        assert any("jqgate ready" in l for l in run.lines), run.lines
        failed = [l for l in run.lines if "plan modules: not built" in l]
        assert len(failed) == 1 and "needs a C compiler" in failed[0], run.lines
        status, body, _ = call(run.port, "POST", "/x?stop=yes", b'{"order": {"id": 4}}',
                               {"Content-Type": "application/json"})
        assert (status, body["id"]) == (203, 4)                     # the generic executor
    finally:
        run.stop()
