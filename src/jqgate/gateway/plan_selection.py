"""From a compiled configuration to the request handler the server runs.

Kong runs one instance of a plugin per request, the most specific one: a plugin scoped to the
route and its service, else to the route, else to the service, else the global one. That choice
is made here once per configuration, so the request path only looks a route id up.
"""
from __future__ import annotations

from jqgate.gateway.plans import CompiledGateway


def _specificity(plugin, route) -> int | None:
    """Kong's precedence of a plugin for a route; None when it does not apply."""
    if plugin.route_id is not None and plugin.route_id != route.id:
        return None
    if plugin.service_id is not None and plugin.service_id != route.service_id:
        return None
    return (2 if plugin.route_id else 0) + (1 if plugin.service_id else 0)


def plans_by_route(compiled: CompiledGateway) -> dict:
    """Route.id -> the executor's compiled plan of the DataKit instance that runs on it."""
    from jqgate._core.core import compile_plan

    executable = {id(plan): compile_plan(plan) for _, plan in compiled.plans}
    chosen = {}
    for route in compiled.config.routes:
        best = None
        for plugin, plan in compiled.plans:
            rank = _specificity(plugin, route)
            if rank is not None and (best is None or rank > best[0]):
                best = (rank, plan)
        if best is not None:
            chosen[route.id] = executable[id(best[1])]
    return chosen


def handler_factory(gateway, pool):
    """The `handler_factory(gateway, pool)` of jqgate.gateway.serve.start/serve: a DataKit handler
    for the plans compiled with this gateway (`gateway.compiled`, set at start and on reload)."""
    from jqgate._core.core import DataKitHandler

    routes = plans_by_route(gateway.compiled) if gateway.compiled is not None else {}
    return DataKitHandler(gateway, pool, routes)


def gateway_for(compiled: CompiledGateway):
    """The routing gateway of a compiled configuration, carrying its plans."""
    from jqgate.gateway.routing import Gateway
    return Gateway(compiled.config, compiled)
