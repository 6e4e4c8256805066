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


def test_the_module_runs_its_plan_through_its_generated_pass(built):
    """The core runs the module's plan through the module's forward pass (a PlanDriver of the
    module), not the executor's pass over the op records; what it answers is checked against
    the generic core above and in every engine case (tests/core/test_cases.py)."""
    from jqgate._core.core import PlanDriver, compile_plan
    _, _, mod = built
    driver = compile_plan(mod.PLAN).driver
    assert isinstance(driver, PlanDriver) and type(driver) is not PlanDriver
    assert type(driver).__module__ == mod.__name__
    # the generic core's own plan of the same configuration has none
    assert compile_plan(jqgate.compile(FLOW).plan).driver is None


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


# -- another core: refused before the module's code runs ----------------------------------------

def _installed_package():
    return os.path.dirname(os.path.abspath(jqgate.__file__))


def _declarations_with_another_plan_run(root):
    """A copy of the installed core's declarations (the .pxd files and C headers a module is
    compiled against) in which PlanRun has one more attribute: the declarations of a core
    whose classes are laid out differently from the one installed."""
    import shutil
    src = os.path.join(_installed_package(), "_core")
    dst = root / "jqgate" / "_core"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    (root / "jqgate" / "__init__.py").write_text("")
    executor = dst / "engine" / "executor.pxd"
    text = executor.read_text()
    assert "cdef class PlanRun:\n" in text
    executor.write_text(text.replace("cdef class PlanRun:\n",
                                     "cdef class PlanRun:\n    cdef object another_core\n"))
    return str(root), str(dst / "include")


def _build_against(declarations, monkeypatch, out, name, version):
    from jqgate.plan_module import build
    from jqgate.plan_module.source import module_source
    monkeypatch.setattr(build, "core_declarations", lambda: declarations)
    plan = jqgate.compile({"nodes": [{"name": "A", "type": "jq", "jq": "1"}]}).plan
    [(_, path)] = build.compile_modules({name: module_source(name, [plan], version)},
                                        str(out)).items()
    return path


def _load_in_a_child(path, how="loader", env=None):
    """Load the module file in a fresh interpreter: a crash there fails the test, not pytest."""
    name = os.path.basename(path).split(".")[0]
    code = ("from jqgate.plan_module.loading import import_module_file\n"
            "import_module_file(%r)\n" % path) if how == "loader" else (
            "import sys; sys.path.insert(0, %r)\nimport %s\n" % (os.path.dirname(path), name))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)


def test_a_module_built_against_another_cores_layout_is_refused_before_it_loads(
        tmp_path, monkeypatch):
    """Built against the declarations of a core whose PlanRun differs, for that core's version:
    the loader reads the version mark from the file and refuses it without loading it."""
    from jqgate.plan_module.loading import import_module_file
    from jqgate.plan_module.version import PlanModuleVersionError, core_version, module_core_of
    other = "0.1.0+core.0123456789abcdef"
    path = _build_against(_declarations_with_another_plan_run(tmp_path / "decl"), monkeypatch,
                          tmp_path / "out", "jqgate_plan_other_layout", other)
    assert module_core_of(path) == other
    with pytest.raises(PlanModuleVersionError) as e:
        import_module_file(path)
    assert str(e.value) == (
        "plan module jqgate_plan_other_layout was built for jqgate core %s, but this is jqgate "
        "core %s: rebuild it with `jqgate build CONFIG -o DIR`" % (other, core_version()))
    assert "jqgate_plan_other_layout" not in sys.modules


def test_a_module_whose_layout_differs_is_refused_even_when_its_mark_matches(
        tmp_path, monkeypatch):
    """The second line: a module built against another layout but marked with this core's
    version (as if the version could not tell them apart) fails its load with the same error
    class and the reason, in a clean way (checked in a child process: no crash)."""
    from jqgate.plan_module.version import core_version
    path = _build_against(_declarations_with_another_plan_run(tmp_path / "decl"), monkeypatch,
                          tmp_path / "out", "jqgate_plan_same_mark", core_version())
    done = _load_in_a_child(path)
    assert done.returncode == 1, (done.returncode, done.stderr)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("jqgate.plan_module.version.PlanModuleVersionError: plan module "
                           "jqgate_plan_same_mark cannot be loaded by this jqgate core ("), last
    assert "PlanRun size changed" in last, last


def test_a_module_is_refused_under_another_core_build(built, tmp_path):
    """A real second core: a copy of the installed jqgate whose core extension is another file
    (so another digest, another CORE_VERSION). Under it, the module built for the installed
    core is refused by the loader and by a plain `import` alike, with both versions named."""
    import shutil
    _, out, mod = built
    other_root = tmp_path / "other"
    shutil.copytree(_installed_package(), other_root / "jqgate",
                    ignore=shutil.ignore_patterns("__pycache__"))
    [core_file] = (other_root / "jqgate" / "_core").glob("core.*.so")
    with open(core_file, "ab") as f:
        f.write(b"\0another build of the core\0")          # past the end of the ELF image
    env = dict(os.environ, PYTHONPATH=str(other_root))
    probe = subprocess.run([sys.executable, "-c", "import jqgate, sys\n"
                            "from jqgate.plan_module.version import core_version\n"
                            "print(jqgate.__file__); print(core_version())"],
                           capture_output=True, text=True, timeout=120, env=env)
    assert probe.returncode == 0, probe.stderr
    where, other_version = probe.stdout.split()
    assert where.startswith(str(other_root)) and other_version != mod.CORE_VERSION
    path = [str(p) for p in out.glob(mod.__name__ + ".*.so")][0]
    want = ("jqgate.plan_module.version.PlanModuleVersionError: plan module %s was built for "
            "jqgate core %s, but this is jqgate core %s: rebuild it with `jqgate build CONFIG "
            "-o DIR`" % (mod.__name__, mod.CORE_VERSION, other_version))
    for how in ("loader", "import"):
        done = _load_in_a_child(path, how, env)
        assert done.returncode == 1, (how, done.stderr)
        assert done.stderr.strip().splitlines()[-1] == want, (how, done.stderr)
