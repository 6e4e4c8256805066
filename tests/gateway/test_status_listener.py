"""The status listener (--status-listen, Kong's status_listen): /status, /status/ready and
/metrics on their own address, readiness that follows the workers, settings from a file and the
environment reaching a real `jqgate run`, and start-up errors that name what is wrong."""
from __future__ import annotations

import json
import os
import signal
import socket

import pytest

from adminutil import call, declarative, wait_until
from netutil import Upstream, free_port
from run_process import jqgate_run


@pytest.fixture
def upstream():
    u = Upstream()
    yield u
    u.stop()


@pytest.fixture
def config_file(tmp_path, upstream):
    path = tmp_path / "kong.json"
    path.write_text(json.dumps(declarative(upstream.port)))
    return str(path)


def test_status_listener_from_settings_file_and_kong_env(tmp_path, config_file):
    port, admin_port, status_port = free_port(), free_port(), free_port()
    settings = tmp_path / "jqgate.yaml"
    settings.write_text("status_listen: 127.0.0.1:%d\nproxy_listen: 127.0.0.1:1\n"
                        "max_header_bytes: 16k\n" % status_port)
    run = jqgate_run(["--settings", str(settings), "--listen", "127.0.0.1:%d" % port],
                    env={"KONG_DECLARATIVE_CONFIG": config_file,
                         "KONG_ADMIN_LISTEN": "127.0.0.1:%d" % admin_port,
                         "KONG_PG_HOST": "db.example"})
    try:
        assert any("jqgate ready" in l for l in run.lines), run.lines
        assert any("KONG_PG_HOST" in l and "not support" in l for l in run.lines)
        assert call(port, "GET", "/through", None, {})[0] == 200      # the flag beat the file
        status, body, _ = call(status_port, "GET", "/status/ready", None, {})
        assert (status, body) == (200, {"message": "ready"})
        status, body, _ = call(status_port, "GET", "/status", None, {})
        assert status == 200 and body["server"]["total_requests"] >= 1
        assert body["configuration_hash"] == call(admin_port, "GET", "/status", None, {})[1][
            "configuration_hash"]
        status, text, headers = call(status_port, "GET", "/metrics", None, {})
        assert status == 200 and headers["content-type"].startswith("text/plain")
        text = text.decode()
        assert "process_cpu_seconds_total" in text and "process_resident_memory_bytes" in text
        assert "jqgate_http_requests_total" in text
        # read-only: the Admin API's routes are not there; a write is not allowed
        assert call(status_port, "GET", "/plugins", None, {})[0] == 404
        assert call(status_port, "POST", "/status/ready", b"{}",
                    {"Content-Type": "application/json"})[0] == 405
        # the settings file's header limit reached the proxy listener: 16 KiB, not 32 KiB
        big = {"X-Big": "a" * 20000}
        assert call(port, "GET", "/", None, big)[0] == 431
    finally:
        run.stop()
    assert run.proc.returncode == 0


def test_ready_follows_the_workers(config_file):
    port, status_port = free_port(), free_port()
    run = jqgate_run([config_file, "--listen", "127.0.0.1:%d" % port, "--workers", "2",
                     "--no-admin", "--status-listen", "127.0.0.1:%d" % status_port])
    try:
        assert any("jqgate ready" in l for l in run.lines), run.lines
        assert call(status_port, "GET", "/status/ready", None, {})[0] == 200
        workers = call(status_port, "GET", "/status", None, {})[1]["workers"]
        assert len(workers) == 2
        os.kill(workers[0]["pid"], signal.SIGKILL)
        status, body = wait_until(
            lambda: (lambda r: r[:2] if r[0] == 503 else None)(
                call(status_port, "GET", "/status/ready", None, {})), "not ready")
        assert "1 of 2 workers" in body["message"]
    finally:
        run.stop()


def test_busy_status_port_is_named(config_file):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    busy = taken.getsockname()[1]
    try:
        run = jqgate_run([config_file, "--listen", "127.0.0.1:%d" % free_port(), "--no-admin",
                         "--status-listen", "127.0.0.1:%d" % busy])
        code, log = run.exited()
    finally:
        taken.close()
    assert code == 1
    assert "the status listener 127.0.0.1:%d: Address already in use" % busy in log, log


def test_malformed_setting_is_named(config_file):
    run = jqgate_run([config_file, "--no-admin"], env={"JQGATE_WORKERS": "lots"})
    code, log = run.exited()
    assert code == 1
    assert 'JQGATE_WORKERS: expected a number or "auto", got "lots"' in log, log


def test_access_log_to_a_file_and_off(tmp_path, config_file):
    port = free_port()
    access = tmp_path / "access.log"
    run = jqgate_run([config_file, "--listen", "127.0.0.1:%d" % port, "--no-admin",
                     "--log-format", "json"], env={"KONG_PROXY_ACCESS_LOG": str(access)})
    try:
        assert call(port, "GET", "/to-file", None, {})[0] == 200
        line = wait_until(lambda: access.exists() and access.read_text().strip(), "a line")
    finally:
        run.stop()
    record = json.loads(line)                      # a bare JSON line: nothing before it
    assert record["path"] == "/to-file" and record["status"] == 200
    assert not any("/to-file" in l for l in run.lines)
    port = free_port()
    run = jqgate_run([config_file, "--listen", "127.0.0.1:%d" % port, "--no-admin",
                     "--access-log", "off"])
    try:
        assert call(port, "GET", "/quiet", None, {})[0] == 200
    finally:
        run.stop()
    assert any("jqgate ready" in l for l in run.lines)       # off silences access lines only
    assert not any("/quiet" in l for l in run.lines)
