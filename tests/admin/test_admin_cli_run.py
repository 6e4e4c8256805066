"""The `jqgate run` flags for the Admin API: --admin-listen, --no-admin, --log-format, quick
start with SIGHUP re-reading the --plugin files, invalid configurations never serving."""
from __future__ import annotations

import json
import os
import signal
import sys

import pytest

from adminutil import SEED, call, wait_until
from netutil import HARNESS
from run_process import RunProcess


def Run(*argv) -> RunProcess:
    """harness/cli_run_proc.py (jqgate run through cli_run, in its own process) with `argv`."""
    return RunProcess(command=[sys.executable, os.path.join(HARNESS, "cli_run_proc.py"), *argv],
                      must_start=False)


def test_quick_start_with_admin_and_sighup(tmp_path, upstream):
    plugin = tmp_path / "datakit.json"
    plugin.write_text(open(os.path.join(SEED, "admin-global.json")).read())
    run = Run("--upstream", "http://127.0.0.1:%d" % upstream.port, "--plugin", str(plugin),
              "--listen", "127.0.0.1:{port}", "--admin-listen", "127.0.0.1:{admin}",
              "--log-format", "json", "--access-log", "stderr")
    try:
        assert any("jqgate ready" in l for l in run.lines), run.lines
        [p] = call(run.admin_port, "GET", "/plugins", None, {})[1]["data"]
        assert p["config"]["nodes"][2]["url"] == "https://my-token-service/auth-token"
        before = call(run.admin_port, "GET", "/status", None, {})[1]["configuration_hash"]
        doc = json.loads(plugin.read_text())
        doc["config"]["nodes"][2]["url"] = "https://changed/auth-token"
        plugin.write_text(json.dumps(doc))
        run.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: call(run.admin_port, "GET", "/status", None, {})[1]["configuration_hash"]
                   != before, "SIGHUP re-read the --plugin file")
        [p] = call(run.admin_port, "GET", "/plugins", None, {})[1]["data"]
        assert p["config"]["nodes"][2]["url"] == "https://changed/auth-token"
        call(run.port, "GET", "/x", None, {})
        wait_until(lambda: any(l.startswith("{") and json.loads(l)["path"] == "/x"
                               for l in run.lines), "a JSON access line")
    finally:
        run.stop()
    assert run.proc.returncode == 0


def test_no_admin(tmp_path, upstream):
    run = Run("--upstream", "http://127.0.0.1:%d" % upstream.port, "--listen", "127.0.0.1:{port}",
              "--admin-listen", "127.0.0.1:{admin}", "--no-admin")
    try:
        assert call(run.port, "GET", "/a", None, {})[0] == 200
        with pytest.raises(ConnectionRefusedError):
            call(run.admin_port, "GET", "/", None, {})
    finally:
        run.stop()


def test_invalid_configuration_never_serves(tmp_path):
    bad = tmp_path / "kong.yaml"
    bad.write_text('_format_version: "3.0"\nplugins:\n- name: datakit\n  config:\n    nodes:\n'
                   '    - name: A\n      type: jq\n      jq: ".a"\n      inputs: {x: NOPE.body}\n')
    run = Run(str(bad), "--listen", "127.0.0.1:{port}", "--admin-listen", "127.0.0.1:{admin}")
    run.proc.wait(30)
    assert run.proc.returncode == 1
    assert any(l.startswith("plugins[0].config.nodes[0]") for l in run.lines), run.lines
    assert not any("jqgate ready" in l for l in run.lines)
