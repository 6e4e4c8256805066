"""Multi-worker configuration changes: the admin process and each worker talk over a socketpair
made before the fork (one per worker).

Messages are length-prefixed JSON (4 bytes big-endian, then the object); every request gets one
reply, in order. The admin process sends:
  {"op": "apply", "doc": {...}, "hash": "..."} -> {"ok": true, "hash": "..."} | {"ok": false, "error": "..."}
  {"op": "stats"}                                -> the worker's status entry (jqgate.admin.status)
  {"op": "ping"}                                 -> {"ok": true} (the supervisor's heartbeat)
  {"op": "health", "upstream": name}             -> {"ok": true, "report": jqgate.health.health_report}
  {"op": "set_health", "upstream", "host", "port", "healthy"} -> {"ok": true}
A worker loads, compiles and swaps on its own (jqgate.gateway.swap), so each worker runs a plan it
built itself; the admin process validated the same document first, so a refusal here means
something local (memory), reported to the Admin API caller as 500 with the worker's pid.
When the admin process goes away, the worker's channel sees EOF and the worker drains and exits.
"""
from __future__ import annotations

import asyncio
import json
import logging
import struct

from jqgate.admin.reload import ApplyError

log = logging.getLogger("jqgate.admin")
_LEN = struct.Struct(">I")


async def read_message(reader: asyncio.StreamReader):
    head = await reader.readexactly(_LEN.size)
    return json.loads(await reader.readexactly(_LEN.unpack(head)[0]))


def write_message(writer: asyncio.StreamWriter, message) -> None:
    data = json.dumps(message, separators=(",", ":"), default=str).encode()
    writer.write(_LEN.pack(len(data)) + data)


class WorkerLink:
    """The admin process's end of one worker's channel."""

    def __init__(self, pid: int, sock):
        self.pid = pid
        self.sock = sock
        self.reader = self.writer = None
        self.lock = asyncio.Lock()
        self.hash = None
        self.seq = 0
        self.gone = False          # the worker closed its end: it exited (or is exiting)

    async def request(self, message, timeout: float = 60.0):
        """One exchange. Replies carry the request's `seq`: a reply that arrives after its
        request timed out is skipped by the next request instead of being taken for its own."""
        async with self.lock:
            try:
                return await self._exchange(message, timeout)
            except (asyncio.IncompleteReadError, ConnectionError, RuntimeError):
                # EOF, reset, or writing to the transport that EOF closed: the worker is gone.
                self.gone = True
                raise

    async def _exchange(self, message, timeout):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(sock=self.sock)
        self.seq += 1
        seq = self.seq
        write_message(self.writer, dict(message, seq=seq))
        await self.writer.drain()

        async def reply():
            while True:
                answer = await read_message(self.reader)
                if answer.get("seq") == seq:
                    return answer
        return await asyncio.wait_for(reply(), timeout)


def live(links: list[WorkerLink]) -> list[WorkerLink]:
    """Links to workers still there. A worker that exited serves nothing any more, so it
    neither blocks a change nor shows in /status (the parent logs its exit status)."""
    return [link for link in links if not link.gone]


class WorkersApplier:
    """ConfigStore applier for N workers: all apply concurrently; any failure is an ApplyError."""

    def __init__(self, links: list[WorkerLink]):
        self.links = links

    async def __call__(self, doc, config_hash, compiled):
        message = {"op": "apply", "doc": doc, "hash": config_hash}
        links = live(self.links)
        replies = await asyncio.gather(*(link.request(message) for link in links),
                                       return_exceptions=True)
        failed = []
        for link, reply in zip(links, replies):
            if isinstance(reply, BaseException):
                if link.gone:
                    log.warning("worker %d has exited; configuration not sent to it", link.pid)
                    continue
                failed.append(f"worker {link.pid}: {reply!r}")
            elif not reply.get("ok"):
                failed.append(f"worker {link.pid}: {reply.get('error')}")
            else:
                link.hash = reply["hash"]
        if failed:
            raise ApplyError("; ".join(failed))


class WorkerStats:
    """Stats source for the admin process: asks every worker."""

    def __init__(self, links: list[WorkerLink], admin_metrics):
        self.links = links
        self.admin_metrics = admin_metrics     # reload counters live in the admin process

    def expected_workers(self) -> int:
        return len(self.links)

    async def workers(self) -> list[dict]:
        links = live(self.links)
        replies = await asyncio.gather(*(link.request({"op": "stats"}, 10.0) for link in links),
                                       return_exceptions=True)
        out = []
        for link, reply in zip(links, replies):
            if isinstance(reply, BaseException):
                log.warning("worker %d did not answer: %r", link.pid, reply)
                continue
            out.append(reply)
        return out


    async def upstream_health(self, name: str) -> list[dict]:
        """Each worker's jqgate.health.health_report of the upstream (workers that do not
        answer are left out)."""
        replies = await self._ask_all({"op": "health", "upstream": name})
        return [r["report"] for r in replies if r.get("report") is not None]

    async def set_target_health(self, name: str, host: str, port: int, healthy: bool) -> None:
        """Every worker marks the target: Kong's manual health is cluster-wide."""
        await self._ask_all({"op": "set_health", "upstream": name, "host": host, "port": port,
                             "healthy": healthy})

    async def _ask_all(self, message) -> list[dict]:
        links = live(self.links)
        replies = await asyncio.gather(*(link.request(message, 10.0) for link in links),
                                       return_exceptions=True)
        out = []
        for link, reply in zip(links, replies):
            if isinstance(reply, BaseException):
                log.warning("worker %d did not answer: %r", link.pid, reply)
            else:
                out.append(reply)
        return out


async def serve_control(sock, switch, settings, pool, on_parent_gone) -> None:
    """A worker's end: answer the admin process until it goes away."""
    from jqgate.admin.status import worker_entry
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        while True:
            try:
                message = await read_message(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            op = message.get("op")
            if op == "apply":
                try:
                    await switch.apply_document_off_loop(message["doc"], message["hash"])
                    reply = {"ok": True, "hash": switch.hash}
                except Exception as exc:      # ConfigError or anything local: keep running
                    log.error("worker could not apply configuration %s: %s", message.get("hash"), exc)
                    reply = {"ok": False, "error": str(exc)}
            elif op == "stats":
                reply = worker_entry(switch, settings, pool)
            elif op == "health":              # jqgate.health: this worker's view of an upstream
                from jqgate.health import health_report
                reply = {"ok": True,
                         "report": health_report(switch.running.gateway, message["upstream"])}
            elif op == "set_health":
                from jqgate.health import set_target_health
                set_target_health(switch.running.gateway, message["upstream"], message["host"],
                                  message["port"], message["healthy"])
                reply = {"ok": True}
            elif op == "ping":                # the parent's heartbeat (jqgate.admin.supervisor)
                reply = {"ok": True}
            else:
                reply = {"ok": False, "error": f"unknown op {op!r}"}
            reply["seq"] = message.get("seq")
            write_message(writer, reply)
            await writer.drain()
    finally:
        writer.close()
    on_parent_gone()
