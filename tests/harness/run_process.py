"""A gateway in a subprocess for tests: its stderr collected in `lines`, ready once it logs its
ready line, stopped with SIGTERM (its exit status returned). The one copy of "start `python -m
jqgate run`, wait for the ready line, stop with SIGTERM" every test and helper uses.

    RunProcess(config, *args)     python -m jqgate run CONFIG --listen 127.0.0.1:<port> --no-admin ARGS
    RunProcess(argv=[...])        python -m jqgate run ARGV, as given
    RunProcess(command=[...])     any other command: a harness *_proc.py script

In `argv` and `command`, "{port}" and "{admin}" stand for `.port` and `.admin_port` (free
loopback ports chosen here). `env` is added to this process's environment (`clean_env=True`:
without its JQGATE_* / KONG_* variables, so a test's settings are only its own).
`must_start` (default True): the constructor raises, with the process's log, unless the ready
line comes; False: it returns once the process is ready or has exited, for tests that expect a
refusal (`exited()` gives the exit status and the log).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from netutil import free_port

READY_LINE = "jqgate ready"


class RunProcess:
    def __init__(self, config_path=None, *args, argv=None, command=None, env=None,
                 clean_env: bool = False, must_start: bool = True, start_timeout: float = 60,
                 stdout=subprocess.DEVNULL):
        self.port = free_port()
        self.admin_port = free_port()
        if command is None:
            if argv is None:
                argv = [str(config_path), "--listen", "127.0.0.1:{port}", "--no-admin", *args]
            command = [sys.executable, "-m", "jqgate", "run", *argv]
        command = [self._fill(str(part)) for part in command]
        environ = {k: v for k, v in os.environ.items()
                   if not (clean_env and k.startswith(("JQGATE_", "KONG_")))}
        environ.update(env or {})
        self.proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=stdout, text=True,
                                     env=environ)
        self.lines: list[str] = []
        self.started = False
        self._done = threading.Event()        # the ready line came, or the process exited
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self._done.wait(start_timeout)
        if must_start and not self.started:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("gateway did not start:\n" + self.log)

    def _fill(self, part: str) -> str:
        return part.replace("{port}", str(self.port)).replace("{admin}", str(self.admin_port))

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            if READY_LINE in line:
                self.started = True
                self._done.set()
        self._done.set()

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def signal(self, sig) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then the exit status (killed if it does not exit within `timeout`)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        return self.proc.returncode

    def exited(self, timeout: float = 60) -> tuple[int, str]:
        """Wait for the process to exit by itself: (exit status, its log)."""
        self.proc.wait(timeout)
        self.reader.join(5)
        return self.proc.returncode, self.log


def jqgate_run(argv, env=None) -> RunProcess:
    """`python -m jqgate run ARGV` with `env` as its only JQGATE_* / KONG_* settings; returns
    once it is ready or has exited (tests of start-up refusals read `exited()`)."""
    return RunProcess(argv=argv, env=env, clean_env=True, must_start=False)
