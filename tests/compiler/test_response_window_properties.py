"""A GET of `kong.service.response.*` runs in the response window (datakit.md §5.4 marks it
"upstream status (response window)"; Kong reads it in the response phase): the compiler gives it an
implicit dependency on `service_response`, which `jqgate plan` shows and the cycle check enforces."""
import json
import subprocess
import sys

import pytest
import yaml

import jqgate
from jqgate.errors import ConfigError

STATUS_GET = {"name": "ST", "type": "property", "property": "kong.service.response.status"}


def plan_of(nodes):
    plan = jqgate.compile({"nodes": nodes})
    return getattr(plan, "plan", plan)


def window_of(plan, name):
    [op] = [op for op in plan.ops if plan.nodes[op.node].name == name]
    return "response" if op.window else "request"


def test_status_get_waits_for_service_response():
    plan = plan_of([STATUS_GET, {"name": "SET", "type": "property",
                                 "property": "kong.ctx.shared.s", "input": "ST"}])
    assert plan.has_response_window
    assert window_of(plan, "ST") == "response"
    assert window_of(plan, "SET") == "response"
    [st] = [op for op in plan.ops if plan.nodes[op.node].name == "ST"]
    assert [plan.nodes[plan.ops[d].node].name for d in st.deps] == ["service_response"]


def test_other_property_gets_stay_in_request_window():
    plan = plan_of([{"name": "V", "type": "property", "property": "kong.version"},
                    {"name": "SET", "type": "property", "property": "kong.ctx.shared.v", "input": "V"}])
    assert not plan.has_response_window
    assert window_of(plan, "V") == "request"


def test_status_get_feeding_the_upstream_request_is_a_cycle():
    with pytest.raises(ConfigError) as err:
        plan_of([STATUS_GET, {"name": "H", "type": "jq", "jq": "{s: .}", "input": "ST",
                              "output": "service_request.headers"}])
    assert "circular dependency: ST -> H -> service_request -> service_response -> ST" in str(err.value)


def test_jqgate_plan_shows_the_status_get_in_the_response_window(tmp_path):
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump({"nodes": [
        STATUS_GET, {"name": "J", "type": "jq", "jq": "{st: .}", "input": "ST", "output": "response.body"}]}))
    text = subprocess.run([sys.executable, "-m", "jqgate", "plan", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert text.returncode == 0, text.stderr
    after = text.stdout.split("response window:", 1)
    assert len(after) == 2, text.stdout
    assert "ST" not in after[0].split("request window:", 1)[-1], text.stdout
    assert "property         ST  after service_response" in after[1], text.stdout
    dumped = subprocess.run([sys.executable, "-m", "jqgate", "plan", str(path), "--format", "json"],
                            capture_output=True, text=True, timeout=60)
    assert dumped.returncode == 0, dumped.stderr
    ops = json.loads(dumped.stdout)["ops"]
    assert [op["window"] for op in ops if op["node"] == "ST"] == ["response"], ops
