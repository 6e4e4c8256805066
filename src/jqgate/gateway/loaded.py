"""What `jqgate.load()` returns: a compiled gateway configuration that can also run a request
through the gateway's routing, from Python, without the HTTP server.

    gw = jqgate.load("kong.yaml")
    answer = gw.run({"method": "GET", "path": "/orders", "headers": {"Host": "api"}})
    answer.route, answer.service       the names (or ids) Kong's routing chose; None when none
    answer.status / .headers / .body   when the gateway answers itself (no route: 404, a route
                                       without a service: 503) or the route's flow exited
    answer.service_request             what would go upstream (jqgate.embed.Result)
    await gw.run_async({...})          inside a running event loop

Routing is the server's own (jqgate.gateway.router, Kong's precedence); the DataKit instance that runs is
the most specific one for the route (route+service > route > service > global), as served.
"""
from __future__ import annotations

from dataclasses import dataclass

import orjson

from jqgate.gateway.plans import CompiledGateway
from jqgate.embed import RunnablePlan, plain_request
from jqgate.gateway.router import NO_ROUTE_MESSAGE, Router
from jqgate.http_path import normalize_path

NO_SERVICE_MESSAGE = "no Service found with those values"


@dataclass
class GatewayAnswer:
    """The gateway's own answer (no route, no service): Result's fields, nothing proxied."""
    status: int
    message: str
    route: str | None = None
    service: str | None = None
    exited = True
    service_request = None
    error = None

    @property
    def headers(self):
        return [("Content-Type", "application/json; charset=utf-8")]

    @property
    def body(self) -> bytes:
        return orjson.dumps({"message": self.message})

    def json(self):
        return {"message": self.message}


class RoutedResult:
    """jqgate.embed.Result plus the route and service that were chosen."""

    def __init__(self, result, route: str, service: str | None):
        self.result, self.route, self.service = result, route, service

    def __getattr__(self, name):
        return getattr(self.result, name)

    def __repr__(self):
        return "<RoutedResult route=%s %r>" % (self.route, self.result)


def _name(entity):
    return None if entity is None else (entity.name or entity.id)


def _specificity(plugin, route) -> int | None:
    from jqgate.gateway.plan_selection import _specificity as rank     # the server's own rule
    return rank(plugin, route)


class LoadedGateway(CompiledGateway):
    """CompiledGateway (config, plans) + run(request)."""

    def __init__(self, compiled: CompiledGateway):
        super().__init__(compiled.config, compiled.plans)
        self._services = {s.id: s for s in self.config.services}
        self.router = Router([(r, r) for r in self.config.routes])
        self._runnable: dict[str, RunnablePlan | None] = {}

    def _plan_for(self, route) -> RunnablePlan | None:
        if route.id not in self._runnable:
            best = None
            for plugin, plan in self.plans:
                rank = _specificity(plugin, route)
                if rank is not None and (best is None or rank > best[0]):
                    best = (rank, plan)
            self._runnable[route.id] = None if best is None else RunnablePlan(best[1])
        return self._runnable[route.id]

    def _route(self, request: dict):
        method = str(request.get("method", "GET")).upper()
        host = ""
        for name, value in (request.get("headers") or []):
            if name.lower() == "host":
                host = value
                break
        match = self.router.match(method.encode("latin-1"), host,
                                  normalize_path(request.get("path", "/")))
        if match is None:
            return None, None, GatewayAnswer(404, NO_ROUTE_MESSAGE)
        route = match.route
        service = self._services.get(route.service_id) if route.service_id else None
        if service is None:
            return route, None, GatewayAnswer(503, NO_SERVICE_MESSAGE, _name(route))
        return route, service, None

    def _prepare(self, request):
        request = plain_request(request or {})
        headers = request.get("headers") or []
        if isinstance(headers, dict):
            request = dict(request, headers=list(headers.items()))
        route, service, answer = self._route(request)
        if answer is None:
            request = dict(request, route=_name(route), service=_name(service))
        return request, route, service, answer

    def run(self, request=None, upstream=None, ctx_shared=None):
        request, route, service, answer = self._prepare(request)
        if answer is not None:
            return answer
        plan = self._plan_for(route) or _PASS_THROUGH
        return RoutedResult(plan.run(request, upstream, ctx_shared), _name(route), _name(service))

    async def run_async(self, request=None, upstream=None, ctx_shared=None):
        request, route, service, answer = self._prepare(request)
        if answer is not None:
            return answer
        plan = self._plan_for(route) or _PASS_THROUGH
        return RoutedResult(await plan.run_async(request, upstream, ctx_shared), _name(route),
                            _name(service))


class _PassThroughResult:
    """A route without a DataKit instance: the request goes upstream as it came."""
    exited = False
    status = headers = body = error = None

    def __init__(self, request: dict):
        self.service_request = {
            "method": request.get("method", "GET"), "path": request.get("path", "/"),
            "query": request.get("query") or "", "headers": list(request.get("headers") or []),
            "body": request.get("body"), "target": None, "scheme": None, "upstream": None}
        self.ctx_shared = {}

    def __repr__(self):
        return "<Result proxy %r>" % (self.service_request,)


class _PassThrough:
    def run(self, request, upstream=None, ctx_shared=None):
        return _PassThroughResult(request)

    async def run_async(self, request, upstream=None, ctx_shared=None):
        return _PassThroughResult(request)


_PASS_THROUGH = _PassThrough()
