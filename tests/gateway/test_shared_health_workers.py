"""Health is one state per gateway with `--workers 2`, as Kong's is one per node (its shm):

  - passive checks: failures seen by either worker count toward the same target, so it is
    taken out after exactly `unhealthy.http_failures` failed requests in all (per-worker counts
    would let it fail up to that many times in each worker), and then neither worker sends to it;
  - GET /upstreams/{u}/health shows that shared state;
  - active checks: the probes come from one process only (the parent), not one per worker, and
    a good probe brings the target back in both workers.

Requests go over fresh connections, so the kernel spreads them over both workers' sockets.
"""
from __future__ import annotations

import asyncio
import json
import os

import pytest

from adminutil import AdminGateway, call, wait_until
from netutil import LoopThread, free_port


def _socket_inode(local_port: int, remote_port: int) -> str | None:
    """The inode of the loopback TCP socket from local_port to remote_port (/proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            local, remote, inode = parts[1], parts[2], parts[9]
            if int(local.split(":")[1], 16) == local_port and int(remote.split(":")[1], 16) == remote_port:
                return inode
    return None


def _process_tree(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                todo.extend(int(p) for p in f.read().split())
        except OSError:
            pass
    return pids


def _owner(pids: list[int], inode: str) -> int | None:
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


class Backend:
    """A loopback HTTP/1.1 target: proxied requests answer `status`; a probe (/healthz) answers
    `probe_status` and is attributed to the gateway process that sent it (found through /proc
    while the probe waits for its status line)."""

    def __init__(self, name: str):
        self.name = name
        self.status = 200
        self.probe_status = 200
        self.seen = 0
        self.probers: list[int | None] = []
        self.gateway_pid = None
        self.port = free_port()
        self.lt = LoopThread()
        self.lt.call(self._start())

    async def _start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                if path == b"/healthz":
                    peer_port = writer.get_extra_info("peername")[1]
                    inode = _socket_inode(peer_port, self.port)
                    pids = _process_tree(self.gateway_pid) if self.gateway_pid else []
                    self.probers.append(_owner(pids, inode) if inode else None)
                    status = self.probe_status
                else:
                    self.seen += 1
                    status = self.status
                body = json.dumps({"backend": self.name}).encode()
                writer.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (status, len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    def read(self, attr):
        async def get():
            return list(getattr(self, attr)) if isinstance(getattr(self, attr), list) \
                else getattr(self, attr)
        return self.lt.call(get())

    def stop(self):
        async def stop():
            self.server.close()
        self.lt.call(stop())
        self.lt.stop()


@pytest.fixture
def backends():
    made = [Backend("a"), Backend("b")]
    yield made
    for b in made:
        b.stop()


def pool_doc(backends, healthchecks):
    return {"_format_version": "3.0",
            "upstreams": [{"name": "pool", "healthchecks": healthchecks,
                           "targets": [{"target": "127.0.0.1:%d" % b.port} for b in backends]}],
            "services": [{"name": "s", "host": "pool", "port": 80, "retries": 0}],
            "routes": [{"name": "r", "service": "s", "paths": ["/"]}]}


def fresh_get(gw):
    status, body, _ = call(gw.port, "GET", "/x", None, {"Connection": "close"})
    return status, body.get("backend") if isinstance(body, dict) else body


def health(gw):
    s, body, _ = gw.admin("GET", "/upstreams/pool/health")
    assert s == 200, body
    return [t["health"] for t in body["data"]]


def test_passive_failures_from_both_workers_count_toward_one_target(tmp_path, backends):
    a, b = backends
    hc = {"passive": {"unhealthy": {"http_failures": 4, "http_statuses": [500]}}}
    gw = AdminGateway(tmp_path, pool_doc(backends, hc), workers=2)
    try:
        b.status = 500
        answers = [fresh_get(gw) for _ in range(40)]
        # exactly four failures in all: the fourth, whichever worker saw it, took b out of both
        assert b.read("seen") == 4, answers
        assert [s for s, _ in answers].count(500) == 4
        assert answers[-20:] == [(200, "a")] * 20
        assert health(gw) == ["HEALTHY", "UNHEALTHY"]
    finally:
        gw.stop()


def test_probes_run_once_for_all_workers_and_move_both(tmp_path, backends):
    a, b = backends
    hc = {"active": {"http_path": "/healthz",
                     "healthy": {"interval": 0.2, "successes": 1},
                     "unhealthy": {"interval": 0.2, "http_failures": 1, "http_statuses": [500]}}}
    for backend in backends:
        backend.gateway_pid = None
    gw = AdminGateway(tmp_path, pool_doc(backends, hc), workers=2)
    try:
        for backend in backends:
            backend.gateway_pid = gw.proc.pid
        wait_until(lambda: len(a.read("probers")) >= 8, "eight probes of a", attempts=400)
        probers = [p for p in a.read("probers")[2:] if p is not None]   # attributed ones
        assert len(probers) >= 4, a.read("probers")
        assert set(probers) == {gw.proc.pid}, (probers, _process_tree(gw.proc.pid))

        b.probe_status = 500
        wait_until(lambda: health(gw) == ["HEALTHY", "UNHEALTHY"], "b probed unhealthy")
        before = b.read("seen")
        assert [fresh_get(gw) for _ in range(30)] == [(200, "a")] * 30
        assert b.read("seen") == before

        b.probe_status = 200
        wait_until(lambda: health(gw) == ["HEALTHY", "HEALTHY"], "b probed healthy again")
        answers = [fresh_get(gw)[1] for _ in range(40)]
        assert answers.count("b") >= 10, answers
    finally:
        gw.stop()
