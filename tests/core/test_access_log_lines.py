"""The access log's lines as the core formats them (jqgate._core AccessLog): JSON lines are
JSON whatever bytes the request carried, plain lines cannot be forged, lines wait in the buffer
until flushed, and a failed write is counted and reported, never silent."""
from __future__ import annotations

import datetime
import json
import logging
import re
from types import SimpleNamespace as NS

import pytest

from jqgate._core.core import AccessLog, HttpRequest, Responder, monotonic_now
from jqgate.gateway.serve import make_request_observer


def request(target=b"/a?b=1", path=b"/a", method=b"GET", rid=b"rid-1", status=200, sent=123):
    req = HttpRequest()
    req.method = method
    req.target = target
    req.path = path
    req.http_version = "1.1"
    req.client_ip_bytes = b"10.0.0.7"
    req.request_id = rid
    req.start_time = monotonic_now()
    resp = Responder()
    resp.status = status
    resp.bytes_sent = sent
    return req, resp


def lines_of(path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def test_json_line_fields_and_escaping(tmp_path):
    path = tmp_path / "a.log"
    log = AccessLog(str(path), "json")
    nasty = b'/x"y\\z\n\x01\xe9\x7f'
    req, resp = request(target=nasty, path=nasty, method=b"P\"OST")
    log.log(req, resp, route="r\u00fcte \"1\"", service=None, upstream_ms=7)
    req2, resp2 = request(rid=b"rid-2", status=502)
    log.log(req2, resp2)
    log.close()
    first, second = [json.loads(l) for l in lines_of(path)]
    assert first["path"] == nasty.decode("latin-1") and first["method"] == 'P"OST'
    assert first["route"] == 'r\u00fcte "1"' and first["service"] is None
    assert first["upstream_latency_ms"] == 7 and first["status"] == 200 and first["bytes"] == 123
    assert first["client"] == "10.0.0.7" and first["request_id"] == "rid-1"
    assert first["http_version"] == "1.1" and isinstance(first["latency_ms"], int)
    stamp = datetime.datetime.strptime(first["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs(stamp - datetime.datetime.utcnow()) < datetime.timedelta(days=1)
    assert second["route"] is None and second["upstream_latency_ms"] is None
    assert second["status"] == 502 and second["request_id"] == "rid-2"


def test_plain_line_escapes_what_could_forge_a_line(tmp_path):
    path = tmp_path / "a.log"
    log = AccessLog(str(path), "plain")
    req, resp = request(target=b'/x" 200 0\nfake \xff')
    log.log(req, resp, route="main", service="svc", upstream_ms=3)
    log.close()
    [line] = lines_of(path)
    assert re.fullmatch(
        r'10\.0\.0\.7 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] '
        r'"GET /x\\x22 200 0\\x0afake \\xff HTTP/1\.1" 200 123 rid=rid-1 route=main '
        r'service=svc latency=\d+ms upstream=3ms', line), line


def test_lines_wait_in_the_buffer_until_flushed(tmp_path):
    path = tmp_path / "a.log"
    log = AccessLog(str(path), "plain")
    for i in range(3):
        log.log(*request(rid=b"r%d" % i))
    assert lines_of(path) == [] and log.buffered > 0     # no timer started: nothing wrote
    log.flush()
    assert len(lines_of(path)) == 3 and log.buffered == 0 and log.lines_written == 3
    log.close()


def test_a_zero_buffer_writes_every_line_at_once(tmp_path):
    path = tmp_path / "a.log"
    log = AccessLog(str(path), "plain", buffer_size=0)
    log.log(*request(rid=b"r0"))
    assert len(lines_of(path)) == 1 and log.buffered == 0
    log.close()


def test_a_full_buffer_is_written_out_in_whole_lines(tmp_path):
    path = tmp_path / "a.log"
    log = AccessLog(str(path), "json", buffer_size=4096)
    pad = b"/" + b"p" * 1000
    for i in range(20):
        log.log(*request(target=pad, path=pad, rid=b"r%d" % i))
    written = lines_of(path)
    assert 0 < len(written) < 20            # the buffer filled: whole lines went out
    log.close()
    records = [json.loads(l) for l in lines_of(path)]
    assert [r["request_id"] for r in records] == ["r%d" % i for i in range(20)]


def test_a_line_larger_than_the_buffer_is_written_whole(tmp_path):
    path = tmp_path / "a.log"
    log = AccessLog(str(path), "json", buffer_size=4096)
    big = b"/" + b"\x01" * 5000                # escapes to 30 KB
    log.log(*request(target=big, path=big))
    log.close()
    [record] = [json.loads(l) for l in lines_of(path)]
    assert record["path"] == big.decode("latin-1")


def test_a_failed_write_is_counted_and_reported(caplog):
    log = AccessLog("/dev/full", "plain")
    for i in range(4):
        log.log(*request(rid=b"r%d" % i))
    with caplog.at_level(logging.ERROR, logger="jqgate"):
        log.flush()
    assert log.lines_dropped == 4 and log.lines_written == 0
    assert any("4 line(s) lost" in r.getMessage() for r in caplog.records)
    log.close()


def test_bad_destination_and_format_fail_at_once(tmp_path):
    with pytest.raises(OSError):
        AccessLog(str(tmp_path / "no" / "such" / "dir.log"))
    with pytest.raises(ValueError):
        AccessLog(str(tmp_path / "a.log"), "xml")


def test_lines_after_close_are_counted_as_dropped(tmp_path):
    log = AccessLog(str(tmp_path / "a.log"))
    log.close()
    log.log(*request())
    assert log.lines_dropped == 1


def test_the_observer_writes_route_and_service_names(tmp_path):
    path = tmp_path / "a.log"
    log = AccessLog(str(path), "json")
    observe = make_request_observer(metrics=None, access_log=log)
    decision = NS(route=NS(name=None, id="route-id"), service=NS(service=NS(name="s")))
    for _ in range(2):                      # the second one from the observer's cache
        req, resp = request()
        req.ctx = decision
        resp.log_extra = NS(upstream_latency_ms=12)
        observe(req, resp)
    req, resp = request()
    observe(req, resp)                      # matched no route
    log.close()
    a, b, c = [json.loads(l) for l in lines_of(path)]
    assert a["route"] == b["route"] == "route-id" and a["service"] == b["service"] == "s"
    assert a["upstream_latency_ms"] == 12
    assert c["route"] is None and c["service"] is None and c["upstream_latency_ms"] is None


@pytest.mark.parametrize("special", [b'"', b"\\", b"\n", b"\x7f", b"\xe9", b"\x00"])
def test_escapes_at_every_position_of_a_copied_block(tmp_path, special):
    """Clean bytes are copied 8 at a time: a byte to escape must be found wherever it sits."""
    path = tmp_path / "a.log"
    log = AccessLog(str(path), "json")
    targets = [b"/" + b"a" * i + special + b"b" * (22 - i) for i in range(23)]
    for t in targets:
        log.log(*request(target=t, path=t))
    log.close()
    assert [json.loads(l)["path"] for l in lines_of(path)] == [t.decode("latin-1") for t in targets]
    plain = tmp_path / "p.log"
    log = AccessLog(str(plain), "plain")
    for t in targets:
        log.log(*request(target=t, path=t))
    log.close()
    escaped = "\\x%02x" % special[0]
    lines = lines_of(plain)
    assert len(lines) == len(targets)
    for i, line in enumerate(lines):
        assert '"GET /%s%s%s HTTP/1.1"' % ("a" * i, escaped, "b" * (22 - i)) in line
