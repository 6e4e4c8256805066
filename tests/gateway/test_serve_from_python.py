"""jqgate.serve() from Python logs as `jqgate run` does: the ready line (stderr), access lines
(to `access_log`: here stderr, so one stream carries both)."""
from __future__ import annotations

import json
import sys

import pytest

from adminutil import call, declarative, wait_until
from netutil import Upstream, free_port
from run_process import RunProcess

SCRIPT = """
import sys, jqgate
jqgate.serve(sys.argv[1], listen="127.0.0.1:" + sys.argv[2], status_listen="127.0.0.1:" + sys.argv[3],
             access_log="stderr", access_log_flush_interval=0.05)
"""


def test_serve_logs_like_jqgate_run(tmp_path):
    up = Upstream()
    path = tmp_path / "kong.json"
    path.write_text(json.dumps(declarative(up.port)))
    status_port = free_port()
    gw = RunProcess(command=[sys.executable, "-c", SCRIPT, str(path), "{port}", str(status_port)])
    try:
        assert any("jqgate ready: proxy listening on http://127.0.0.1:%d" % gw.port in l
                   for l in gw.lines), gw.lines
        assert call(gw.port, "GET", "/from-python", None, {})[0] == 200
        wait_until(lambda: any('"GET /from-python HTTP/1.1" 200' in l for l in gw.lines),
                   "an access line")
        assert call(status_port, "GET", "/status/ready", None, {})[0] == 200
    finally:
        code = gw.stop()
        up.stop()
    assert code == 0


def test_serving_without_the_admin_attachment_refuses_what_only_it_provides(tmp_path):
    """jqgate.gateway.serve.serve alone (no `control`) serves one plain process; the Admin API,
    the status listener, SIGHUP reload of a file and several workers come from jqgate.admin
    (jqgate.serve, jqgate.admin.attach.serve), so asking for them here is an error, not a no-op."""
    from jqgate.config import load_declarative
    from jqgate.gateway.serve import serve
    config = load_declarative(declarative(free_port()), "<test>")
    for options, named in (({"admin_listen": "127.0.0.1:0"}, "admin_listen"),
                           ({"status_listen": "127.0.0.1:0"}, "status_listen"),
                           ({"config_file": str(tmp_path / "kong.json")}, "config_file"),
                           ({"workers": 2}, "workers > 1")):
        with pytest.raises(ValueError, match="jqgate.admin.attach.serve") as refused:
            serve(config, listen="127.0.0.1:0", **options)
        assert named in str(refused.value)
