"""The gateway around the flows: routes, services and upstream targets from a GatewayConfig.

Built once per configuration (cold path). `Gateway.route(request)` returns either
`(status, message)` for the gateway's own answer, or a `ProxyDecision` (compiled, from
jqgate._core) saying where and how to send the request. The lookup is compiled and reads the
decision cache (`_cache`) directly; `Gateway.match` runs the router for a request it has not
seen. `ServiceTarget.pick()` chooses the peer for each attempt (weighted round robin over an
Upstream's targets).
"""
from __future__ import annotations

from dataclasses import dataclass

from jqgate import __version__
from jqgate._core.core import Balancer, ProxyDecision, ServiceTarget, route_request
from jqgate.config.model import GatewayConfig, Route
from jqgate.router import NO_ROUTE_MESSAGE, Router, normalize_path, upstream_path

NO_SERVICE_MESSAGE = "no Service found with those values"
HTTPS_REQUIRED_MESSAGE = "Please use HTTPS protocol"

DEFAULT_VIA = ("1.1 jqgate/%s" % __version__).encode()
DEFAULT_SERVER = ("jqgate/%s" % __version__).encode()


@dataclass
class RouteTarget:
    route: Route
    service: ServiceTarget | None
    protocols: frozenset


# Route lookups are cached per (method, host, path, scheme). The cache is cleared when it
# fills, so hostile traffic with random paths costs a lookup each, never unbounded memory.
ROUTE_CACHE_SIZE = 4096


class Gateway:
    """Routing and service resolution for one configuration."""

    def __init__(self, config: GatewayConfig, compiled=None):
        self.config = config
        # The CompiledGateway (DataKit plans) this configuration was built with, when the
        # caller compiled it (hot reload does): a handler_factory reads its plans from here.
        self.compiled = compiled
        upstreams = {u.name: u for u in config.upstreams}
        # For kong.service.upstream: one balancer per named upstream, shared by the requests
        # a DataKit flow sends there.
        self.balancers = {name: Balancer(u) for name, u in upstreams.items()}
        self.services: dict[str, ServiceTarget] = {}
        for s in config.services:
            self.services[s.id] = ServiceTarget(s, upstreams.get(s.host))
        pairs = []
        for r in config.routes:
            svc = self.services.get(r.service_id) if r.service_id else None
            pairs.append((r, RouteTarget(r, svc, frozenset(r.protocols or ["http", "https"]))))
        self.router = Router(pairs)
        self._cache: dict = {}

    def route(self, req):
        """ProxyDecision, or (status, message) for the gateway's own answer (the compiled
        handlers' cached lookup: jqgate._core http_decision.pyx)."""
        return route_request(self, req)

    def match(self, req, key):
        """A cache miss: run the router and remember the decision (without the request's
        query) under `key`."""
        decision = self._route(req)
        if len(self._cache) >= ROUTE_CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = decision
        return decision

    def _route(self, req):
        path = normalize_path(req.path.decode("latin-1"))
        m = self.router.match(req.method, req.host, path)
        if m is None:
            return (404, NO_ROUTE_MESSAGE)
        rt: RouteTarget = m.target
        if req.scheme not in rt.protocols:
            return (426, HTTPS_REQUIRED_MESSAGE)
        svc = rt.service
        if svc is None:
            return (503, NO_SERVICE_MESSAGE)
        route = rt.route
        up_path = upstream_path(svc.path, m, route.strip_path).encode("latin-1")
        host_header = req.host if (route.preserve_host and req.host) else svc.host_header
        prefix = None
        if route.strip_path and m.matched_prefix:
            prefix = m.matched_prefix.encode("latin-1")
        return ProxyDecision(route, svc, up_path, host_header, prefix, m)

    def make_handler(self, pool, via=DEFAULT_VIA,
                     upstream_latency_header=b"X-Kong-Upstream-Latency",
                     proxy_latency_header=b"X-Kong-Proxy-Latency"):
        """The compiled request handler proxying with `pool` (a core.ConnectionPool)."""
        from jqgate._core import core
        return core.ProxyHandler(self, pool, via=via,
                                 upstream_latency_header=upstream_latency_header,
                                 proxy_latency_header=proxy_latency_header)
