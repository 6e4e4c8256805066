"""`jqgate check` and `jqgate plan` as a user runs them: exit codes, one located error per line,
never a traceback."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jqgate.examples import dense_flow

SEED = Path(__file__).parent.parent / "cases" / "seed"


def jqgate(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "jqgate", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


@pytest.mark.parametrize("name", ["declarative-global.yaml", "admin-global.json", "admin-service.json",
                                  "admin-route.json", "bare-config.yaml"])
def test_seed_forms_check_valid(name):
    result = jqgate("check", str(SEED / name))
    assert result.returncode == 0, result.stderr
    assert "valid (1 DataKit plan(s)" in result.stdout


def test_seed_manifest_with_single_quoted_jq_is_a_located_error():
    # The docs' KongPlugin manifest writes jq strings in single quotes: Kong's jq rejects that too.
    result = jqgate("check", str(SEED / "kongplugin.yaml"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("config.nodes[1].jq: invalid jq program: syntax error")
    assert "single quotes" in lines[0]
    assert lines[1].startswith("config.nodes[3].jq: ")
    assert "Traceback" not in result.stderr


def test_consumer_scoped_plugin_is_refused():
    result = jqgate("check", str(SEED / "declarative-consumer.yaml"))
    assert result.returncode == 1
    assert "consumer scoping needs an authentication plugin" in result.stderr


def test_check_reports_every_error_with_its_location(tmp_path):
    doc = {"_format_version": "3.0", "plugins": [{"name": "datakit", "config": {"nodes": [
        {"name": "BUILD_HEADERS", "type": "jq", "jq": "."},
        {"name": "CALL", "type": "call", "url": "http://127.0.0.1/", "method": "post",
         "inputs": {"headers": "BUILD_HEADER"}},
        {"name": "X", "type": "jq", "jq": "nope!"},
    ]}}]}
    path = tmp_path / "kong.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = jqgate("check", str(path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith("plugins[0].config.nodes[1].method: ") for line in lines)
    assert 'plugins[0].config.nodes[1].inputs.headers: unknown node "BUILD_HEADER"' in lines
    assert any(line.startswith("plugins[0].config.nodes[2].jq: invalid jq program") for line in lines)


@pytest.mark.parametrize("content", ["{{{not yaml", "- just\n- a list\n", "", "\x00\x01binary"])
def test_unreadable_config_is_a_clean_error(tmp_path, content):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    result = jqgate("check", str(path))
    assert result.returncode == 1
    assert result.stderr.strip()
    assert "Traceback" not in result.stderr


def test_missing_file_is_a_clean_error(tmp_path):
    result = jqgate("check", str(tmp_path / "nope.yaml"))
    assert result.returncode in (1, 2)
    assert "Traceback" not in result.stderr


def test_dense_64_node_config_and_10kb_program_compile(tmp_path):
    config = dense_flow(64)
    config["nodes"][1]["jq"] = "(" + " + ".join(["1"] * 2500) + ") | tostring"   # ~10 KB of jq
    assert len(config["nodes"][1]["jq"]) <= 10240
    path = tmp_path / "dense.json"
    path.write_text(json.dumps(config))
    result = jqgate("plan", str(path), "--format", "json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert len([op for op in plan["ops"] if op["kind"] == "jq"]) == 62
    assert plan["ops"][-1]["kind"] == "exit"


@pytest.mark.parametrize("fmt,marker", [("text", "request window:"), ("json", '"response_start"'),
                                        ("dot", "digraph datakit")])
def test_plan_formats(fmt, marker):
    result = jqgate("plan", str(SEED / "declarative-global.yaml"), "--format", fmt)
    assert result.returncode == 0, result.stderr
    assert marker in result.stdout
