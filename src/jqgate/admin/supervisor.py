"""Keeping `--workers N` workers running: the parent's supervisor (jqgate.admin.attach.run_parent).

A worker that dies for any reason other than the shutdown the parent asked for is replaced by a
new one, forked from the parent with the configuration the gateway runs now (the store's, so a
change applied since the start is not lost), after a back-off that doubles while workers keep
dying young (0.5 s, 1 s, 2 s ... at most 30 s; a worker that lived a minute resets it).
A worker that stops answering its control channel (two heartbeats in a row without a reply
within `heartbeat_timeout`) is killed with SIGKILL and replaced the same way: a wedged event
loop serves nobody.

Every replacement counts in `jqgate_worker_restarts_total{reason="exited"|"unresponsive"}` and
in GET /status (`supervisor`: restarts, and the workers' pids).
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal

from jqgate.admin.control import WorkerLink, live

log = logging.getLogger("jqgate")

BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0          # a worker that lived this long resets the back-off
HEARTBEAT_INTERVAL = 5.0
HEARTBEAT_TIMEOUT = 10.0
HEARTBEAT_MISSES = 2


class Supervisor:
    """Watches the workers behind `links` (the list the applier and the stats share: a new
    worker's link replaces the dead one's in place). spawn(doc) forks a worker running the
    configuration document `doc` (None: the one the gateway started with) and returns (pid,
    the parent's end of its control socket)."""

    def __init__(self, links: list[WorkerLink], spawn, store, metrics, *,
                 heartbeat_interval: float = HEARTBEAT_INTERVAL,
                 heartbeat_timeout: float = HEARTBEAT_TIMEOUT):
        self.links = links
        self.spawn = spawn
        self.store = store
        self.metrics = metrics
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.stopping = False
        self.restarts = 0
        self.started_hash = store.hash
        self._killed: set[int] = set()
        self._missed: dict[int, int] = {}

    def status(self) -> dict:
        return {"restarts": self.restarts, "workers": [link.pid for link in live(self.links)]}

    def stop(self, signum: int) -> None:
        """Shutdown: nothing is restarted any more; every worker gets the signal."""
        self.stopping = True
        for link in self.links:
            try:
                os.kill(link.pid, signum)
            except ProcessLookupError:
                pass

    async def run(self) -> list[int]:
        """Until every worker exited after stop(): their exit codes."""
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat())
        try:
            return await asyncio.gather(*(self._keep(i) for i in range(len(self.links))))
        finally:
            heartbeat.cancel()

    async def _keep(self, index: int) -> int:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            link = self.links[index]
            started = loop.time()
            code = await loop.run_in_executor(None, wait_child, link.pid)
            link.gone = True
            if self.stopping:
                if code != 0:
                    log.error("worker %d exited with status %d", link.pid, code)
                return code
            reason = "unresponsive" if link.pid in self._killed else "exited"
            self._killed.discard(link.pid)
            self._missed.pop(link.pid, None)
            failures = 1 if loop.time() - started >= STABLE_AFTER else failures + 1
            delay = min(BACKOFF_MAX, BACKOFF_INITIAL * 2 ** (failures - 1))
            self.restarts += 1
            self.metrics.inc("worker_restarts_total", (reason,))
            log.error("worker %d %s (status %d); starting a new one in %.1f s", link.pid,
                      "stopped answering" if reason == "unresponsive" else "exited", code, delay)
            await asyncio.sleep(delay)
            if self.stopping:
                return code
            try:
                changed = self.store.hash != self.started_hash
                pid, sock = self.spawn(self.store.doc if changed else None)
            except OSError as exc:          # fork failed (memory, process limit): try again
                log.error("could not start a worker: %s", exc)
                continue
            self.links[index] = WorkerLink(pid, sock)
            log.info("worker %d started in place of %d", pid, link.pid)

    async def _heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.stopping:
            await asyncio.sleep(self.heartbeat_interval)
            for link in live(self.links):
                loop.create_task(self._ping(link))

    async def _ping(self, link: WorkerLink) -> None:
        try:
            await asyncio.wait_for(link.request({"op": "ping"}, self.heartbeat_timeout),
                                   self.heartbeat_timeout)
            self._missed[link.pid] = 0
        except asyncio.TimeoutError:
            missed = self._missed.get(link.pid, 0) + 1
            self._missed[link.pid] = missed
            if missed >= HEARTBEAT_MISSES and not link.gone and not self.stopping:
                log.error("worker %d has not answered %d heartbeats: replacing it", link.pid,
                          missed)
                self._killed.add(link.pid)
                try:
                    os.kill(link.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        except (ConnectionError, asyncio.IncompleteReadError, RuntimeError, OSError):
            pass        # the worker is gone: _keep sees its exit and replaces it


def wait_child(pid: int) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)
        except InterruptedError:
            continue
        except ChildProcessError:
            return 0
