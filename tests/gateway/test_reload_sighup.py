"""SIGHUP reloads the declarative file from disk with the hot-reload guarantees: a valid file is
applied by every worker, an invalid one is refused (errors logged) and the running one kept."""
from __future__ import annotations

import os
import signal

import pytest

from adminutil import SEED, AdminGateway, declarative, wait_until


@pytest.mark.parametrize("workers", [1, 2])
def test_sighup_reloads_the_file(tmp_path, upstream, workers):
    gw = AdminGateway(tmp_path, declarative(upstream.port, service_path="/one/"), workers=workers)
    try:
        first = gw.status()["configuration_hash"]
        assert gw.proxy("/a")[1]["path"] == "/one/a"
        gw.write_config(declarative(upstream.port, service_path="/two/"))
        gw.signal(signal.SIGHUP)
        status = wait_until(lambda: (lambda s: s if s["configuration_hash"] != first else None)(
            gw.status()), "configuration hash changes after SIGHUP")
        second = status["configuration_hash"]
        wait_until(lambda: {w["configuration_hash"] for w in gw.status()["workers"]} == {second},
                   "every worker runs the reloaded configuration")
        for _ in range(4):                       # several connections: every worker answers so
            assert gw.proxy("/b")[1]["path"] == "/two/b"

        # An invalid file: refused with its located errors in the log, the running one kept.
        gw.write_config('{"_format_version": "3.0", "services": [{"name": "s", "port": "x"}]}')
        gw.signal(signal.SIGHUP)
        wait_until(lambda: any("SIGHUP: configuration refused" in l for l in gw.lines),
                   "the refusal is logged")
        assert any("services[0]" in l for l in gw.lines if "SIGHUP" in l)
        assert gw.status()["configuration_hash"] == second
        assert gw.proxy("/c")[1]["path"] == "/two/c"
        s, text, _ = gw.admin("GET", "/metrics")
        assert b'jqgate_config_reloads_total{result="success",source="sighup"} 1.0' in text
        assert b'jqgate_config_reloads_total{result="failure",source="sighup"} 1.0' in text
    finally:
        gw.stop()
    assert gw.proc.returncode == 0


def test_sighup_without_admin_api(tmp_path, upstream):
    gw = AdminGateway(tmp_path, declarative(upstream.port, service_path="/one/"), admin=False)
    try:
        gw.write_config(declarative(upstream.port, service_path="/two/"))
        gw.signal(signal.SIGHUP)
        wait_until(lambda: gw.proxy("/x")[1]["path"] == "/two/x", "the proxy follows the file")
    finally:
        gw.stop()


def test_sighup_reloads_a_plugin_document(tmp_path, upstream):
    """CONFIG may be any plugin form (here a bare DataKit config): SIGHUP reads it again; errors
    are located in the file as written."""
    manifest = tmp_path / "plugin.yaml"
    manifest.write_text(open(os.path.join(SEED, "bare-config.yaml")).read())
    gw = AdminGateway(tmp_path, declarative(upstream.port))
    try:
        before = gw.status()["configuration_hash"]
        os.replace(manifest, gw.config_file)
        gw.signal(signal.SIGHUP)
        wait_until(lambda: gw.status()["configuration_hash"] != before, "reloaded")
        [plugin] = gw.admin("GET", "/plugins")[1]["data"]
        assert plugin["name"] == "datakit" and plugin["config"]["nodes"][0]["name"] == "STATIC_INPUTS"
        assert gw.admin("GET", "/services")[1]["data"] == []
        gw.write_config("nodes:\n- name: A\n  type: jq\n  jq: \"{'a': 1}\"\n")
        gw.signal(signal.SIGHUP)
        wait_until(lambda: any("configuration refused" in l for l in gw.lines), "refused")
        assert any("SIGHUP: config.nodes[0].jq: " in l for l in gw.lines), gw.lines[-5:]
    finally:
        gw.stop()
