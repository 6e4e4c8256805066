"""The status listener (Kong's `status_listen`): what a load balancer, Kubernetes and Prometheus
ask, on its own address, so it can be exposed while the Admin API stays on loopback.

    GET /status         the same body as the Admin API's /status
    GET /status/ready   200 {"message": "ready"} when a configuration is loaded and every worker
                        serves it; else 503 with what is missing (a worker gone, one still on
                        an older configuration)
    GET /metrics        the Prometheus text format, process_* included

Read-only: nothing here changes the gateway. Probes are not written to the Admin access log
(a probe every few seconds would bury the configuration changes that log is for).
"""
from __future__ import annotations

import logging

from jqgate.admin import handlers as h
from jqgate.admin.routes import compile_table, match

log = logging.getLogger("jqgate.admin")


async def get_ready(admin, call):
    expected = admin.stats.expected_workers()
    workers = await admin.stats.workers()
    wanted = admin.store.hash
    if admin.draining:
        return 503, {"message": "shutting down"}
    if wanted is None:
        return 503, {"message": "no configuration loaded"}
    if len(workers) < expected:
        return 503, {"message": "%d of %d workers answering" % (len(workers), expected)}
    behind = [w["pid"] for w in workers if w["configuration_hash"] != wanted]
    if behind:
        return 503, {"message": "worker(s) %s not yet serving configuration %s"
                     % (", ".join(map(str, behind)), wanted)}
    return 200, {"message": "ready"}


STATUS_ROUTES = [
    ("/status", {"GET": h.get_status}),
    ("/status/ready", {"GET": get_ready}),
    ("/metrics", {"GET": h.get_metrics}),
]
STATUS_TABLE = compile_table(STATUS_ROUTES)


def match_status(method: str, path: str):
    return match(method, path, STATUS_TABLE)


async def listen_status(admin, status_listen: str | None, sock=None) -> tuple:
    """Serve the status listener on `sock` (bound by serve() before anything started) or on a
    socket bound here; (server, settings, port), or Nones when there is none."""
    if not status_listen:
        return None, None, None
    from jqgate.admin.server import start_admin
    from jqgate.gateway.serve import parse_listen
    host, port = parse_listen(status_listen)
    server, settings, bound = await start_admin(admin, host, port, sock=sock,
                                                match=match_status, access_log=None,
                                                guarded=False)
    log.info("jqgate status listening on http://%s:%d", host, bound)
    return server, settings, bound
