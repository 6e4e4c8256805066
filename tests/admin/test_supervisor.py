"""The worker supervisor (jqgate.admin.supervisor) with stand-in workers: a worker that stops
answering its heartbeat is killed and replaced, counted as "unresponsive". (A killed worker of
the real gateway: tests/admin/test_admin_workers.py.)"""
from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import types

from jqgate.admin.control import WorkerLink
from jqgate.admin.supervisor import Supervisor
from jqgate.metrics import Metrics


def test_a_worker_that_stops_answering_is_killed_and_replaced():
    spawned = []

    def spawn(doc):
        # A stand-in worker that never reads its control channel: every heartbeat goes
        # unanswered.
        parent_end, child_end = socket.socketpair()
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        spawned.append((proc, child_end))
        return proc.pid, parent_end

    metrics = Metrics()
    store = types.SimpleNamespace(hash="h", doc={})

    async def main():
        pid, sock = spawn(None)
        links = [WorkerLink(pid, sock)]
        sup = Supervisor(links, spawn, store, metrics, heartbeat_interval=0.05,
                         heartbeat_timeout=0.1)
        task = asyncio.get_running_loop().create_task(sup.run())

        async def replaced():
            while len(spawned) < 2:
                await asyncio.sleep(0.02)
        await asyncio.wait_for(replaced(), 30)
        sup.stop(signal.SIGTERM)
        await asyncio.wait_for(task, 30)
        return sup

    sup = asyncio.run(main())
    assert sup.restarts >= 1
    assert metrics.counters["worker_restarts_total"][("unresponsive",)] >= 1
    assert "exited" not in {reason for (reason,) in metrics.counters["worker_restarts_total"]}
    for proc, child_end in spawned:
        child_end.close()
        assert proc.poll() is not None or proc.wait(10) is not None
