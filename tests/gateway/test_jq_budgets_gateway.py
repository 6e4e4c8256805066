"""Bounded jq on the real gateway (`jqgate run`, one worker): a program that never ends or
grows without bound fails its own request with a 500 naming the node, while another route on
the same worker keeps answering, the process stays alive and exits on SIGTERM.

Without the budgets each bad request below held the worker forever (no answer within the
client's timeout, the /ok request behind it starved, SIGTERM ignored) or killed the process
with SIGABRT after growing past 1 GiB (issue #15).
"""
from __future__ import annotations

import concurrent.futures
import json
import signal


from adminutil import AdminGateway, call

CLIENT_TIMEOUT = 10     # seconds: a bound on the wait, not a measurement

BAD_PROGRAMS = {
    "/spin": "def f: f; f",
    "/until": "until(false; .)",
    "/range": "[range(1e9)]",
    "/deep": "def f: 1 + f; f",
    "/caught": 'try (def f: f; f) catch "caught"',     # no try/catch can outlive a budget
    "/query": "[range(.n | tonumber)]",                # the client chooses the size
    "/repeat": '"x" * (.n | tonumber)',
}


def jq_route(path: str, program: str, budget: dict | None = None) -> tuple[dict, dict]:
    name = path.strip("/")
    config = {"debug": True, "nodes": [
        {"name": "J", "type": "jq", "input": "request.query", "jq": program},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "J"}, "status": 200}]}
    if budget is not None:
        config["jq_budget"] = budget
    return ({"name": name, "paths": [path]},
            {"name": "datakit", "route": name, "config": config})


def document(upstream_port: int, bad: dict, budget: dict | None = None) -> dict:
    routes, plugins = [], []
    for path, program in {"/ok": "{ok: true}", **bad}.items():
        route, plugin = jq_route(path, program, None if path == "/ok" else budget)
        routes.append(route)
        plugins.append(plugin)
    return {"_format_version": "3.0",
            "services": [{"name": "svc", "url": "http://127.0.0.1:%d" % upstream_port,
                          "routes": routes}],
            "plugins": plugins}


def bad_and_ok(gw, bad_path):
    """The bad request and, sent while it runs, one to /ok: both answers (or the timeout)."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        bad = pool.submit(call, gw.port, "GET", bad_path, None, {}, CLIENT_TIMEOUT)
        ok = pool.submit(call, gw.port, "GET", "/ok", None, {}, CLIENT_TIMEOUT)
        return bad.result(), ok.result()


def test_unbounded_programs_fail_their_request_and_nothing_else(tmp_path, upstream):
    gw = AdminGateway(tmp_path, document(upstream.port, BAD_PROGRAMS), admin=False)
    try:
        for path in BAD_PROGRAMS:
            target = path + ("?n=1000000000" if path in ("/query", "/repeat") else "")
            (bad_status, bad_body, _), (ok_status, ok_body, _) = bad_and_ok(gw, target)
            assert bad_status == 500, (path, bad_body)
            assert bad_body["message"] == "node execution error", (path, bad_body)
            assert bad_body["node"]["name"] == "J", (path, bad_body)
            assert "budget" in bad_body["error"], (path, bad_body)
            assert (ok_status, ok_body) == (200, {"ok": True}), path
            assert gw.proc.poll() is None, "the gateway died on " + path
        log = "".join(gw.lines)
        assert "node #1 (J) failed" in log and "step budget" in log and "memory budget" in log
        # A request that stays within the budget still gets its answer.
        status, body, _ = call(gw.port, "GET", "/query?n=1000", None, {}, CLIENT_TIMEOUT)
        assert status == 200 and body == list(range(1000))
    finally:
        gw.stop()
    assert gw.proc.returncode == 0      # SIGTERM honoured: a clean exit, not a kill


def test_memory_budget_stops_growth_before_the_process_dies(tmp_path, upstream):
    # Steps raised far beyond what the run needs, so memory is the budget that ends it.
    budget = {"steps": 10_000_000_000, "memory_mib": 16}
    bad = {"/range": "[range(1e9)]", "/deep": "def f: 1 + f; f"}
    gw = AdminGateway(tmp_path, document(upstream.port, bad, budget), admin=False)
    try:
        for path in bad:
            (bad_status, bad_body, _), (ok_status, _, _) = bad_and_ok(gw, path)
            assert bad_status == 500, bad_body
            assert "exceeded its memory budget of 16 MiB" in bad_body["error"], bad_body
            assert ok_status == 200
            assert gw.proc.poll() is None
    finally:
        gw.stop()
    assert gw.proc.returncode == 0


def test_a_plugin_budget_is_its_own(tmp_path, upstream):
    # The same program fits the default step budget but not a plugin's budget of 1,000 steps.
    doc = document(upstream.port, {"/small": "[range(1000)] | length"}, {"steps": 1000})
    route, plugin = jq_route("/default", "[range(1000)] | length")
    doc["services"][0]["routes"].append(route)
    doc["plugins"].append(plugin)
    gw = AdminGateway(tmp_path, doc, admin=False)
    try:
        status, body, _ = call(gw.port, "GET", "/small", None, {}, CLIENT_TIMEOUT)
        assert status == 500
        assert "exceeded its step budget of 1000 steps" in body["error"]
        assert call(gw.port, "GET", "/default", None, {}, CLIENT_TIMEOUT)[:2] == (200, 1000)
    finally:
        gw.proc.send_signal(signal.SIGTERM)
        gw.stop()
    assert gw.proc.returncode == 0


def test_jq_check_warns_but_accepts(tmp_path, upstream):
    import subprocess
    import sys
    path = tmp_path / "kong.json"
    path.write_text(json.dumps(document(upstream.port, {"/spin": "def f: f; f",
                                                        "/until": "until(false; .)"})))
    done = subprocess.run([sys.executable, "-m", "jqgate", "check", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    warnings = [l for l in done.stderr.splitlines() if "warning" in l]
    assert any("plugins[1].config.nodes[0].jq" in l and "def f calls itself" in l
               for l in warnings), done.stderr
    assert any("plugins[2].config.nodes[0].jq" in l and "until(...)" in l
               for l in warnings), done.stderr
    assert not any("plugins[0]" in l for l in warnings), done.stderr     # {ok: true}


SERVE_WITH_BUDGETS = """
import sys
from jqgate import serve
from jqgate.gateway.serve import configure_logging
configure_logging("info")
sys.exit(serve(sys.argv[1], listen=sys.argv[2], jq_step_budget=1000, jq_memory_budget_mib=8))
"""


def test_serve_options_set_the_process_budgets(tmp_path, upstream):
    import sys
    from run_process import RunProcess
    path = tmp_path / "kong.json"
    path.write_text(json.dumps(document(upstream.port, {"/steps": "[range(1000)] | length"})))
    gw = RunProcess(command=[sys.executable, "-c", SERVE_WITH_BUDGETS, str(path),
                             "127.0.0.1:{port}"])
    try:
        status, body, _ = call(gw.port, "GET", "/steps", None, {}, CLIENT_TIMEOUT)
        assert status == 500 and "step budget of 1000 steps" in body["error"], body
        assert call(gw.port, "GET", "/ok", None, {}, CLIENT_TIMEOUT)[:2] == (200, {"ok": True})
    finally:
        code = gw.stop()
    assert code == 0
