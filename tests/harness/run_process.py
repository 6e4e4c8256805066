"""`python -m jqgate run CONFIG --listen 127.0.0.1:<free port> --no-admin ...` in a subprocess
for tests: its stderr collected in `lines`, ready once it logs its ready line, stopped with
SIGTERM (its exit status returned)."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading

from netutil import free_port


class RunProcess:
    """`python -m jqgate run CONFIG ...` with its stderr collected; ready when it says so."""

    def __init__(self, config_path, *args):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jqgate", "run", str(config_path), "--listen",
             "127.0.0.1:%d" % self.port, "--no-admin", *args],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.lines = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(60):
            self.proc.kill()
            raise RuntimeError("gateway did not start:\n" + "".join(self.lines))

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            if "jqgate ready" in line:
                self.ready.set()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
