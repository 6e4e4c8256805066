"""Start servers pinned to a core, wait until they listen, read their CPU and memory from /proc,
and stop them by PID. Nothing here ever kills by name.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class Server:
    """One started process (and the children it forks: nginx workers, jqgate workers)."""
    name: str
    proc: subprocess.Popen
    port: int
    log_path: Path
    pids_seen: set = field(default_factory=set)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tree(self) -> list[int]:
        """The process and all its live descendants, from /proc (children appear after fork)."""
        pids = [self.pid] + descendants(self.pid)
        self.pids_seen.update(pids)
        return pids

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def descendants(pid: int) -> list[int]:
    kids, out, todo = children_map(), [], [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of each process (all its threads), summed."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])   # fields 14 and 15 of stat(5)
    return total / CLOCK_TICKS


def core_times() -> dict[str, tuple[int, int]]:
    """Per core (busy, total) jiffies from /proc/stat: how busy each core was, whoever used it."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            name, *values = line.split()
            values = [int(v) for v in values[:8]]
            idle = values[3] + values[4]          # idle + iowait
            out[name[3:]] = (sum(values) - idle, sum(values))
    return out


def core_busy(before: dict, after: dict) -> dict[str, float]:
    busy = {}
    for core, (b1, t1) in after.items():
        b0, t0 = before.get(core, (0, 0))
        busy[core] = (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
    return busy


def memory_kib(pids: list[int]) -> dict:
    """Current RSS and peak RSS (VmHWM), summed over the processes; and PSS, which shares the
    pages several processes map (a master and its forked workers) out between them instead of
    counting them once per process."""
    rss = hwm = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm += int(line.split()[1])
    return {"rss_kib": rss, "peak_rss_kib": hwm, "pss_kib": pss}


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def start(name: str, argv: list[str], port: int, cores: str, log_dir: Path, cwd: Path | None = None,
          env: dict | None = None, timeout: float = 20.0) -> Server:
    """Start `argv` under `taskset -c cores` (taskset execs, so the PID is the server's) and wait
    until `port` accepts connections. Raises RuntimeError with the log tail if it never does."""
    if port_open(port):
        raise RuntimeError(f"{name}: port {port} is already in use by something this run did not start")
    log_path = log_dir / f"{name.replace('/', '_').replace(' ', '_')}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(["taskset", "-c", cores, *argv], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, cwd=cwd, env=env, start_new_session=True)
    log.close()
    server = Server(name, proc, port, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            tail = server.log_tail()
            last = (tail.strip().splitlines() or ["(no output)"])[-1]
            raise RuntimeError(f"{name} exited with status {proc.returncode} before listening: {last}\n{tail}")
        if port_open(port):
            server.tree()
            return server
        time.sleep(0.1)
    stop(server)
    raise RuntimeError(f"{name} did not listen on {port} within {timeout:.0f} s:\n{server.log_tail()}")


def stop(server: Server, timeout: float = 10.0) -> None:
    """SIGTERM the server, wait, then SIGKILL whatever of its recorded process tree is left."""
    tree = server.tree() if server.alive() else sorted(server.pids_seen)
    if server.alive():
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(5)
    for pid in tree:
        if pid != server.pid and Path(f"/proc/{pid}").exists():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
