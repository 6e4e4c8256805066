"""A gateway with a plain and a TLS listener in this process (jqgate.gateway.serve.start with
listeners "127.0.0.1:0, 127.0.0.1:0 ssl"), for the TLS and WebSocket tests."""
from __future__ import annotations

from jqgate.gateway.plans import compile_gateway
from jqgate.config import load_declarative
from jqgate.errors import Issues
from jqgate.listen import parse_listeners
from jqgate.gateway.plan_selection import gateway_for, handler_factory
from jqgate.tls import ServerTLS
from netutil import GatewayThread


def kong_doc(upstream_port, certificates=(), routes=None, plugins=None):
    doc = {"_format_version": "3.0",
           "services": [{"name": "svc", "url": "http://127.0.0.1:%d" % upstream_port}],
           "routes": routes or [{"name": "all", "service": "svc", "paths": ["/"]}],
           "certificates": list(certificates)}
    if plugins:
        doc["plugins"] = plugins
    return doc


def gateway_of(doc):
    issues = Issues()
    compiled = compile_gateway(load_declarative(doc, "<test>"), issues)
    issues.raise_if_any()
    return gateway_for(compiled)


class TLSGateway:
    """A plain and a TLS listener (`127.0.0.1:0, 127.0.0.1:0 ssl`) of one gateway; `engine`:
    jqgate.tls.ServerTLS's (the core's TLS by default, "python" for uvloop's)."""

    def __init__(self, doc, files, engine="auto", **options):
        self.tls = ServerTLS(files["cert"], files["key"], engine=engine)
        self.thread = GatewayThread(gateway_of(doc), handler_factory=handler_factory,
                                    listeners=parse_listeners("127.0.0.1:0, 127.0.0.1:0 ssl"),
                                    tls=self.tls, **options)
        self.plain_port, self.tls_port = self.thread.running.ports

    def reload(self, doc):
        gateway = gateway_of(doc)

        async def swap():
            self.thread.running.reload(gateway)
        self.thread.lt.call(swap())

    def stop(self):
        self.thread.stop()
