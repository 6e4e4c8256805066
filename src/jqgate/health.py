"""Active health checks (Kong's `healthchecks.active`), off the request path.

The health flags themselves live in each upstream's Balancer (jqgate/_core/proxy/balancer.pyx),
where the proxy reads them in C and passive checks move them as exchanges end. This module
runs the probes: per upstream with active checks, one asyncio task for its healthy targets
(every `active.healthy.interval` seconds) and one for its unhealthy ones (every
`active.unhealthy.interval` seconds); a group whose interval is 0 is not probed, Kong's
default. A probe is Kong's: a fresh connection, `GET <http_path> HTTP/1.0` with `Host` and the
configured `headers`, the status line read within `timeout` seconds (type `tcp`: the
connection alone), at most `concurrency` probes at once per upstream.

A HealthChecker belongs to one process's running gateway; attach() is called with each new
configuration: targets that stay keep their health, probes restart on the new balancers.

With several workers the health is one per gateway, as Kong's is one per node: the balancers'
records live in memory every worker shares (jqgate.shared_health), so a failure any worker sees
counts toward the target and a target marked down is avoided by all; the probes run once, in
the parent (ParentProbes), not once per worker.
"""
from __future__ import annotations

import asyncio
import logging
import ssl

from jqgate import shared_health
from jqgate._core.core import (PROBE_ANSWERED, PROBE_CONNECTED, PROBE_TCP_FAILURE, PROBE_TIMEOUT,
                               Balancer)
from jqgate.config.healthchecks import active_enabled, healthchecks_enabled

log = logging.getLogger("jqgate.health")

MAX_STATUS_LINE = 8192          # bytes of the probe's status line read at most
USER_AGENT = b"jqgate-healthcheck"

# Kong's per-target health in GET /upstreams/{u}/health
HEALTHCHECKS_OFF = "HEALTHCHECKS_OFF"


class HealthChecker:
    def __init__(self, probes: bool | None = None):
        self.gateway = None
        self._tasks: list[asyncio.Task] = []
        # None: probe unless this process is one of several workers (their parent probes)
        self.probes = probes

    def attach(self, gateway) -> None:
        """Run `gateway`'s health checks from now on (on the event loop thread)."""
        shared_health.bind(gateway.balancers.values())
        previous = self.gateway
        if previous is not None and previous is not gateway:
            for name, balancer in gateway.balancers.items():
                old = previous.balancers.get(name)
                if old is not None and not balancer.shared:
                    balancer.adopt_health(old.health_snapshot())
        self._stop()
        self.gateway = gateway
        probes = self.probes if self.probes is not None else shared_health.current() is None
        if not probes:
            return
        for balancer in gateway.balancers.values():
            hc = balancer.healthchecks
            if hc is None or not active_enabled(hc) or not balancer.peers:
                continue
            limit = asyncio.Semaphore(hc["active"]["concurrency"])
            for group in ("healthy", "unhealthy"):
                interval = hc["active"][group]["interval"]
                if interval > 0:
                    self._tasks.append(asyncio.get_running_loop().create_task(
                        self._probe_group(balancer, group == "healthy", interval, limit)))

    def close(self) -> None:
        self._stop()
        self.gateway = None

    def _stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []

    async def _probe_group(self, balancer, healthy: bool, interval: float, limit) -> None:
        active = balancer.healthchecks["active"]
        while True:
            await asyncio.sleep(interval)
            targets = [i for i in range(len(balancer.peers)) if balancer.is_healthy(i) == healthy]
            if targets:
                await asyncio.gather(*(self._probe(balancer, i, active, limit) for i in targets))

    async def _probe(self, balancer, index: int, active: dict, limit) -> None:
        host, port = balancer.peers[index]
        async with limit:
            try:
                outcome, status = await asyncio.wait_for(_probe_once(host, port, active),
                                                         active["timeout"])
            except asyncio.TimeoutError:
                outcome, status = PROBE_TIMEOUT, 0
            except (OSError, ssl.SSLError, ValueError, EOFError,
                    asyncio.LimitOverrunError) as exc:
                log.debug("health probe %s:%d (upstream %s) failed: %s", host, port,
                          balancer.name, exc)
                outcome, status = PROBE_TCP_FAILURE, 0
        was = balancer.is_healthy(index)
        balancer.report_active(index, outcome, status)
        if balancer.is_healthy(index) != was:
            log.warning("upstream %s target %s:%d is now %s (active check)", balancer.name,
                        host, port, "healthy" if not was else "unhealthy")


class ParentProbes:
    """The active probes of a gateway with several workers, run once in the parent on balancers
    of its current configuration; their records are the workers' shared ones, so what a probe
    finds moves every worker's balancing. Also the Admin API's view of health (health_report,
    set_target_health take it as their `gateway`)."""

    def __init__(self, config):
        self.checker = HealthChecker(probes=True)
        self.upstreams: dict = {}
        self.balancers: dict = {}
        self._targets: set = set()
        self.follow(config)

    def follow(self, config) -> None:
        """Probe `config`'s upstreams from now on (after the workers applied it)."""
        self.upstreams = {u.name: u for u in config.upstreams}
        self.balancers = {name: Balancer(u) for name, u in self.upstreams.items()}
        shared = shared_health.current()
        targets = {(b.name, host, port) for b in self.balancers.values() for host, port in b.peers}
        if shared is not None and targets != self._targets:
            shared.forget_except(targets)       # a scan of the table: only when targets changed
        self._targets = targets
        self.checker.attach(self)

    def all_shared(self) -> bool:
        """Every balancer reads the shared records (false only when the table is full)."""
        return all(b.shared for b in self.balancers.values())

    def applying(self, applier):
        """A ConfigStore applier that also moves the probes to the applied configuration."""
        async def apply(doc, config_hash, compiled):
            await applier(doc, config_hash, compiled)
            self.follow(compiled.config)
        return apply

    def close(self) -> None:
        self.checker.close()


async def _probe_once(host: str, port: int, active: dict) -> tuple[int, int]:
    """(outcome, status) of one probe; raises OSError and friends for a failed connection."""
    kind = active["type"]
    context = None
    if kind == "https":
        context = ssl.create_default_context()
        if not active["https_verify_certificate"]:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(
        host, port, ssl=context, limit=MAX_STATUS_LINE,
        server_hostname=(active["https_sni"] or host) if context is not None else None)
    try:
        if kind == "tcp":
            return PROBE_CONNECTED, 0
        writer.write(_probe_request(host, active))
        await writer.drain()
        line = await reader.readuntil(b"\n")
        return PROBE_ANSWERED, _status_of(line)
    finally:
        writer.close()


def _probe_request(host: str, active: dict) -> bytes:
    lines = [b"GET " + active["http_path"].encode("latin-1") + b" HTTP/1.0",
             b"Host: " + host.encode("idna" if not host.isascii() else "ascii"),
             b"User-Agent: " + USER_AGENT]
    for name, values in (active["headers"] or {}).items():
        for value in values:
            if "\r" in name + value or "\n" in name + value:
                raise ValueError("a header with CR or LF")
            lines.append(f"{name}: {value}".encode("latin-1"))
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _status_of(line: bytes) -> int:
    """The status of `HTTP/1.x NNN ...`; ValueError for anything else (a tcp failure, as Kong)."""
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ValueError("bad status line %r" % line[:80])
    return int(parts[1])


def target_health(balancer, host: str, port: int) -> str:
    """Kong's health of one target: HEALTHY / UNHEALTHY, HEALTHCHECKS_OFF when the upstream
    has no checks and nobody marked it (a weight-0 target is not balanced: HEALTHCHECKS_OFF)."""
    index = balancer.index_of(host, port)
    if index < 0:
        return HEALTHCHECKS_OFF
    if balancer.is_healthy(index):
        hc = balancer.healthchecks
        if hc is None or not healthchecks_enabled(hc):
            return HEALTHCHECKS_OFF
        return "HEALTHY"
    return "UNHEALTHY"


def health_report(gateway, upstream_name: str) -> dict | None:
    """This process's view of one upstream: {"balancer": HEALTHY | UNHEALTHY |
    HEALTHCHECKS_OFF, "targets": {"host:port": health}}; None when it has no such upstream."""
    balancer = gateway.balancers.get(upstream_name)
    upstream = gateway.upstreams.get(upstream_name)
    if balancer is None or upstream is None:
        return None
    hc = balancer.healthchecks
    checks_on = hc is not None and healthchecks_enabled(hc)
    marked = any(not balancer.is_healthy(i) for i in range(len(balancer.peers)))
    overall = ("HEALTHY" if balancer.balancer_healthy() else "UNHEALTHY") \
        if checks_on or marked else HEALTHCHECKS_OFF
    return {"balancer": overall,
            "targets": {f"{t.host}:{t.port}": target_health(balancer, t.host, t.port)
                        for t in upstream.targets}}


def set_target_health(gateway, upstream_name: str, host: str, port: int, healthy: bool) -> bool:
    """Kong's POST .../healthy|unhealthy in this process; False when there is no such target
    with weight (a weight-0 target takes no traffic either way)."""
    balancer = gateway.balancers.get(upstream_name)
    if balancer is None:
        return False
    index = balancer.index_of(host, port)
    if index < 0:
        return False
    balancer.set_healthy(index, healthy)
    log.warning("upstream %s target %s:%d set %s through the Admin API", upstream_name, host,
                port, "healthy" if healthy else "unhealthy")
    return True
