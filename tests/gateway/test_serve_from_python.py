"""jqgate.serve() from Python logs as `jqgate run` does: the ready line (stderr), access lines
(to `access_log`: here stderr, so one stream carries both)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading

from adminutil import call, declarative, wait_until
from netutil import Upstream, free_port

SCRIPT = """
import sys, jqgate
jqgate.serve(sys.argv[1], listen="127.0.0.1:" + sys.argv[2], status_listen="127.0.0.1:" + sys.argv[3],
             access_log="stderr", access_log_flush_interval=0.05)
"""


def test_serve_logs_like_jqgate_run(tmp_path):
    up = Upstream()
    path = tmp_path / "kong.json"
    path.write_text(json.dumps(declarative(up.port)))
    port, status_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(path), str(port), str(status_port)],
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read():
        for line in proc.stderr:
            lines.append(line)
            if "jqgate ready" in line:
                ready.set()
        ready.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        ready.wait(60)
        assert any("jqgate ready: proxy listening on http://127.0.0.1:%d" % port in l
                   for l in lines), lines
        assert call(port, "GET", "/from-python", None, {})[0] == 200
        wait_until(lambda: any('"GET /from-python HTTP/1.1" 200' in l for l in lines),
                   "an access line")
        assert call(status_port, "GET", "/status/ready", None, {})[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        reader.join(5)
        up.stop()
    assert proc.returncode == 0
