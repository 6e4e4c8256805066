"""A gateway in its own process (gateway_proc.py: one service on an upstream port, one route
"/"), for tests and bench/memory.py: started, waited for and stopped as every test gateway
process is (harness/run_process.py)."""
from __future__ import annotations

import os
import sys

from netutil import HARNESS
from run_process import RunProcess


class GatewayProcess(RunProcess):
    def __init__(self, upstream_port, workers=1, read_timeout_ms=60000):
        super().__init__(command=[sys.executable, os.path.join(HARNESS, "gateway_proc.py"),
                                  str(upstream_port), "127.0.0.1:{port}", str(workers),
                                  str(read_timeout_ms)],
                         stdout=None)


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
