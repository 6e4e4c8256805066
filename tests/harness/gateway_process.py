"""A gateway in its own process (gateway_proc.py: one service on an upstream port, one route
"/"), for tests and bench/memory.py: started, waited for (its ready line), stopped with SIGTERM."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from netutil import HARNESS, free_port


class GatewayProcess:
    def __init__(self, upstream_port, workers=1, read_timeout_ms=60000):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HARNESS, "gateway_proc.py"), str(upstream_port),
             "127.0.0.1:%d" % self.port, str(workers), str(read_timeout_ms)],
            stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.ready.wait(60):
            self.proc.kill()
            raise RuntimeError("gateway did not start:\n" + "".join(self.lines))

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            if "jqgate ready" in line:
                self.ready.set()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc/*/stat)."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:     # field 4, after "(comm)"
            children.append(int(entry))
    return children


def listens_on(pid: int, port: int) -> bool:
    """Does process `pid` hold a socket listening on loopback `port` (IPv4)?"""
    listening = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                listening.add(f"socket:[{inode}]")
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in listening:
                return True
        except OSError:
            continue
    return False
