"""The access log, written from the core: one line per proxied request, plain or JSON, with
request id, route, service, status, bytes, total and upstream latency; buffered, and written
out by the timer, on SIGHUP (which also reopens the file) and at shutdown; several workers
share one file or pipe without interleaving inside a line."""
from __future__ import annotations

import json
import os
import signal
import threading

import pytest

from adminutil import AdminGateway, declarative, wait_until
from netutil import Upstream, http_get
from gateway_process import GatewayProcess

# Long enough that only a shutdown, a SIGHUP or a full buffer can have written a line.
NEVER = "3600"


def read_lines(path) -> list[str]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def test_json_access_log(tmp_path, monkeypatch):
    log_path = str(tmp_path / "access.log")
    monkeypatch.setenv("JQGATE_ACCESS_LOG", log_path)      # = --access-log PATH
    up = Upstream()
    gw = AdminGateway(tmp_path, declarative(up.port), log_format="json")
    try:
        s, body, h = gw.proxy("/logged")
        assert s == 200
        assert gw.proxy("/status/502")[0] == 502
        assert gw.status()["server"]["total_requests"] == 2
        # The timer writes the buffered lines out within a second.
        lines = wait_until(lambda: (lambda l: l if len(l) >= 2 else None)(read_lines(log_path)),
                           "two access lines")
    finally:
        gw.stop()
        up.stop()
    records = [json.loads(l) for l in lines]
    first = records[0]
    assert first["request_id"] == h["x-kong-request-id"]
    assert first["route"] == "main" and first["service"] == "svc" and first["status"] == 200
    assert first["path"] == "/logged" and first["method"] == "GET" and first["client"] == "127.0.0.1"
    assert first["bytes"] > len(json.dumps(body)) and first["http_version"] == "1.1"
    assert isinstance(first["latency_ms"], int) and isinstance(first["upstream_latency_ms"], int)
    assert first["time"].endswith("Z") and first["time"][:4].isdigit()
    assert records[1]["status"] == 502 and records[1]["route"] == "main"
    # The Admin API's own requests are not proxy traffic: they have their own log.
    assert len(records) == 2
    assert any("jqgate.admin.access" in l and '"GET /status HTTP/1.1" 200' in l for l in gw.lines)
    # Nothing of the access log went through the diagnostic log.
    assert not any("/logged" in l for l in gw.lines)


def test_plain_access_log(tmp_path, monkeypatch):
    log_path = str(tmp_path / "access.log")
    monkeypatch.setenv("JQGATE_ACCESS_LOG", log_path)
    up = Upstream()
    gw = AdminGateway(tmp_path, declarative(up.port))
    try:
        s, _, h = gw.proxy("/plain?x=1")
        assert s == 200
        line = wait_until(lambda: next((l for l in read_lines(log_path) if "/plain" in l), None),
                          "access line")
    finally:
        gw.stop()
        up.stop()
    assert line.startswith("127.0.0.1 - - [")
    assert '"GET /plain?x=1 HTTP/1.1" 200' in line
    assert "rid=%s" % h["x-kong-request-id"] in line
    assert "route=main" in line and "service=svc" in line
    assert "latency=" in line and "upstream=" in line and "ms" in line


def test_access_log_off(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCESS_LOG", "off")
    up = Upstream()
    g = GatewayProcess(up.port)
    try:
        assert http_get(g.port, "/echo/unlogged")[0] == 200
    finally:
        g.stop()
        up.stop()
    assert g.proc.returncode == 0
    assert not any("/echo/unlogged" in l for l in g.lines)


def test_a_drained_run_writes_its_last_line(upstream, tmp_path, monkeypatch):
    log_path = str(tmp_path / "access.log")
    monkeypatch.setenv("ACCESS_LOG", log_path)
    monkeypatch.setenv("ACCESS_LOG_FLUSH", NEVER)
    g = GatewayProcess(upstream.port)
    ids = []
    try:
        for i in range(5):
            status, h, _ = http_get(g.port, "/echo/%d" % i)
            assert status == 200
            ids.append(h["x-kong-request-id"])
    finally:
        g.stop()                          # SIGTERM: drain, then the buffer is written out
    assert g.proc.returncode == 0
    lines = read_lines(log_path)
    assert len(lines) == 5
    assert '"GET /echo/4 HTTP/1.1" 200' in lines[-1] and "rid=%s" % ids[-1] in lines[-1]


def test_sighup_writes_out_and_reopens_the_file(upstream, tmp_path, monkeypatch):
    log_path = str(tmp_path / "access.log")
    rotated = log_path + ".1"
    monkeypatch.setenv("ACCESS_LOG", log_path)
    monkeypatch.setenv("ACCESS_LOG_FLUSH", NEVER)
    g = GatewayProcess(upstream.port)
    try:
        assert http_get(g.port, "/echo/before")[0] == 200
        os.rename(log_path, rotated)      # what logrotate does, then it sends SIGHUP
        g.proc.send_signal(signal.SIGHUP)
        before = wait_until(lambda: read_lines(rotated), "the buffered line written on SIGHUP")
        wait_until(lambda: os.path.exists(log_path), "the log reopened at its path")
        assert http_get(g.port, "/echo/after")[0] == 200
    finally:
        g.stop()
    assert g.proc.returncode == 0
    assert len(before) == 1 and "/echo/before" in before[0]
    after = read_lines(log_path)
    assert len(after) == 1 and "/echo/after" in after[0]
    assert read_lines(rotated) == before


@pytest.mark.parametrize("destination", ["file", "stderr"])
def test_workers_never_interleave_lines(upstream, tmp_path, monkeypatch, destination):
    """Two workers, small buffers flushed often while both write (to one O_APPEND file, or to
    one pipe: the test's stderr), long lines: every line must come out whole."""
    log_path = str(tmp_path / "access.log")
    monkeypatch.setenv("ACCESS_LOG", log_path if destination == "file" else "stderr")
    monkeypatch.setenv("ACCESS_LOG_FORMAT", "json")
    monkeypatch.setenv("ACCESS_LOG_BUFFER", "4096")
    monkeypatch.setenv("ACCESS_LOG_FLUSH", NEVER)
    g = GatewayProcess(upstream.port, workers=2)
    ids = set()
    lock = threading.Lock()
    pad = "p" * 900                       # lines of ~1 KiB: a few fill a buffer

    def client(k):
        for i in range(40):
            status, h, _ = http_get(g.port, "/echo/%d-%d-%s" % (k, i, pad))
            assert status == 200
            with lock:
                ids.add(h["x-kong-request-id"])

    try:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        g.stop()
    assert g.proc.returncode == 0 and len(ids) == 240
    if destination == "file":
        lines = read_lines(log_path)
    else:
        lines = [l.rstrip("\n") for l in g.lines if l.startswith('{"time"')]
    records = [json.loads(l) for l in lines]          # a torn line would not parse
    assert {r["request_id"] for r in records} == ids and len(records) == 240
    assert all(r["path"].endswith(pad) for r in records)
