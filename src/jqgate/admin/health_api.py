"""Kong's health endpoints: `GET /upstreams/{u}/health` (each target with its `health`;
`?balancer_health=1` for the upstream's) and `POST /upstreams/{u}/targets/{t}/healthy|unhealthy`
(204; the target's health set at once, its counters cleared, in every worker).

Health is the gateway's, as Kong's is the node's: with several workers their balancers share
one record per target (jqgate.shared_health), the parent runs the probes and answers from that
shared state. (Should the shared table be full, each worker is asked: a target is HEALTHY only
when every worker has it so, and a balancer UNHEALTHY when any worker has it so.)
"""
from __future__ import annotations

from jqgate.admin import errors
from jqgate.admin.entities import kong_target
from jqgate.admin.handlers import _created
from jqgate.admin.upstream_writes import _document, _upstream_record, target_index
from jqgate.config.declarative import index_by_name_and_id

ORDER = ("UNHEALTHY", "HEALTHCHECKS_OFF", "HEALTHY")     # the worst view wins


def _worst(values):
    values = list(values)
    return min(values, key=ORDER.index) if values else "HEALTHCHECKS_OFF"


def _upstream(admin, ref: str):
    u = index_by_name_and_id(admin.store.config.upstreams).get(ref)
    if u is None:
        raise errors.not_found()
    return u


async def get_health(admin, call):
    from jqgate.admin.status import node_info
    u = _upstream(admin, call.params["upstream"])
    reports = await admin.stats.upstream_health(u.name)
    node_id = node_info(admin).get("node_id")
    if call.query.get("balancer_health") not in (None, "", "0", "false"):
        return 200, {"data": {"id": u.id, "health": _worst(r["balancer"] for r in reports)},
                     "node_id": node_id}
    data = []
    for t in u.targets:
        key = f"{t.host}:{t.port}"
        health = _worst(r["targets"].get(key, "HEALTHCHECKS_OFF") for r in reports)
        entry = kong_target(u, t, _created(admin, u.id))
        entry["health"] = health
        entry["data"] = {"addresses": [{"ip": t.host, "port": t.port, "weight": t.weight,
                                        "health": health}]}
        data.append(entry)
    return 200, {"data": data, "total": len(data), "next": None, "node_id": node_id}


async def _set(admin, call, healthy: bool):
    doc = _document(admin)
    record = _upstream_record(doc, call.params["upstream"])
    i = target_index(record, call.params["target"])
    if i is None:
        raise errors.not_found()
    u = _upstream(admin, record["id"])
    target = next(t for t in u.targets if t.target == record["targets"][i]["target"])
    await admin.stats.set_target_health(u.name, target.host, target.port, healthy)
    return 204, None


async def post_healthy(admin, call):
    return await _set(admin, call, True)


async def post_unhealthy(admin, call):
    return await _set(admin, call, False)
