"""`GET /`, `GET /status` and `GET /metrics`: what the node is and what each worker runs.

Statistics come from a stats source: `LocalStats` when the proxy runs in this process, or
`jqgate.admin.control.WorkerStats` asking every worker over its control channel. Both give one
entry per worker: {"pid", "configuration_hash", "server": {...}, "metrics": snapshot}.
"""
from __future__ import annotations

import os
import socket

from jqgate import __version__
from jqgate.metrics import METRICS, merge, render

NODE_ID = None


def worker_entry(switch, settings, pool, metrics=METRICS) -> dict:
    """This process's statistics (a proxy worker)."""
    return {
        "pid": os.getpid(),
        "configuration_hash": switch.hash,
        "server": {"connections_active": len(settings.connections),
                   "connections_busy": settings.busy,
                   "total_requests": settings.n_requests},
        "pool": pool.stats,
        "metrics": metrics.snapshot(pool.stats),
    }


class LocalStats:
    """The proxy runs in this process (one worker)."""

    def __init__(self, switch, settings, pool):
        self.switch, self.settings, self.pool = switch, settings, pool
        self.admin_metrics = None        # the store counts reloads in the same METRICS

    async def workers(self) -> list[dict]:
        return [worker_entry(self.switch, self.settings, self.pool)]

    def expected_workers(self) -> int:
        return 1


def _node_id() -> str:
    global NODE_ID
    if NODE_ID is None:
        import uuid
        NODE_ID = str(uuid.uuid4())
    return NODE_ID


def node_info(admin) -> dict:
    return {
        "version": __version__, "tagline": "Welcome to jqgate", "hostname": socket.gethostname(),
        "node_id": _node_id(), "lua_version": None,
        "configuration": {"database": "off", "role": "traditional",
                          "proxy_listen": [admin.proxy_listen],
                          "admin_listen": [admin.admin_listen]},
        "plugins": {"available_on_server": {"datakit": {"version": __version__, "priority": 800}},
                    "enabled_in_cluster": sorted({p["name"] for p in admin.store.doc.get("plugins", [])})},
    }


async def node_status(admin) -> dict:
    workers = await admin.stats.workers()
    return {
        "database": {"reachable": True},
        "configuration_hash": admin.store.hash,
        "server": {
            "connections_active": sum(w["server"]["connections_active"] for w in workers),
            "total_requests": sum(w["server"]["total_requests"] for w in workers),
        },
        "workers": [{k: w[k] for k in ("pid", "configuration_hash", "server", "pool")}
                    for w in workers],
        **({"supervisor": admin.stats.supervisor.status()}
           if getattr(admin.stats, "supervisor", None) is not None else {}),
    }


async def metrics_text(admin) -> bytes:
    workers = await admin.stats.workers()
    snaps = [w["metrics"] for w in workers]
    if admin.stats.admin_metrics is not None:
        snaps.append(admin.stats.admin_metrics.snapshot())
    info = [(str(w["pid"]), w["configuration_hash"]) for w in workers]
    # process_*: the whole gateway, this process and every worker (jqgate.process_metrics).
    pids = sorted({os.getpid()} | {w["pid"] for w in workers})
    return render(merge(snaps), info, pids)
