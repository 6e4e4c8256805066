"""The gateway around the flows: routes, services and upstream targets from a GatewayConfig.

Built once per configuration (cold path). `Gateway.route(request)` returns either
`(status, message)` for the gateway's own answer, or a `ProxyDecision` (compiled, from
jqgate._core) saying where and how to send the request. Routing runs in the core for every
request (`compiled_router`, Kong's traditional router built by jqgate.gateway.router); there is no
per-path cache to fill or bound. `ServiceTarget.pick()` chooses the peer for each attempt
(an Upstream's Balancer: round robin, least connections or consistent hashing over its
healthy targets). One Balancer per upstream, shared by every service that sends there, so
health and connection counts are the upstream's; jqgate.health probes and carries them.
"""
from __future__ import annotations

from jqgate import __version__
from jqgate._core.core import (HTTPS_REQUIRED_MESSAGE, NO_ROUTE_MESSAGE,  # noqa: F401
                               NO_SERVICE_MESSAGE, Balancer, ServiceTarget, route_request)
from jqgate.config.model import GatewayConfig
from jqgate.gateway.router import Router
from jqgate.tls import EMPTY_TABLE, CertificateTable

DEFAULT_VIA = ("1.1 jqgate/%s" % __version__).encode()
DEFAULT_SERVER = ("jqgate/%s" % __version__).encode()


class Gateway:
    """Routing and service resolution for one configuration."""

    def __init__(self, config: GatewayConfig, compiled=None):
        self.config = config
        # The CompiledGateway (DataKit plans) this configuration was built with, when the
        # caller compiled it (hot reload does): a handler_factory reads its plans from here.
        self.compiled = compiled
        upstreams = {u.name: u for u in config.upstreams}
        # One balancer per named upstream, shared by the services that name it and by the
        # requests a DataKit flow sends there (kong.service.upstream).
        self.balancers = {name: Balancer(u) for name, u in upstreams.items()}
        self.upstreams = upstreams
        self.services: dict[str, ServiceTarget] = {}
        for s in config.services:
            self.services[s.id] = ServiceTarget(s, upstreams.get(s.host),
                                                self.balancers.get(s.host))
        pairs = []
        for r in config.routes:
            svc = self.services.get(r.service_id) if r.service_id else None
            if svc is not None and not svc.service.enabled:
                continue            # Kong: the routes of a disabled service do not match
            pairs.append((r, svc))
        self.router = Router(pairs)
        self.compiled_router = self.router.core
        # Kong's certificates by SNI, for the TLS listeners (jqgate.tls): built with the rest of
        # the configuration, so a reload switches certificates when it switches routes.
        self.certificates = CertificateTable(config.certificates) if config.certificates \
            else EMPTY_TABLE

    def route(self, req):
        """ProxyDecision, or (status, message) for the gateway's own answer (the compiled
        handlers' lookup: jqgate._core routing/decision.pyx)."""
        return route_request(self, req)

    def make_handler(self, pool, via=DEFAULT_VIA,
                     upstream_latency_header=b"X-Kong-Upstream-Latency",
                     proxy_latency_header=b"X-Kong-Proxy-Latency", response_buffer_size=None):
        """The compiled request handler proxying with `pool` (a core.ConnectionPool).
        `response_buffer_size`: how far a route with response_buffering (Kong's default)
        reads the upstream's answer ahead of a slow client, bytes per request (1 MiB)."""
        from jqgate._core import core
        extra = {} if response_buffer_size is None else {"response_buffer_size": response_buffer_size}
        return core.ProxyHandler(self, pool, via=via,
                                 upstream_latency_header=upstream_latency_header,
                                 proxy_latency_header=proxy_latency_header, **extra)
