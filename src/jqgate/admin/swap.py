"""The atomic swap of what the proxy runs, in one process.

Everything a request needs from the configuration hangs off one object: the request handler
(ProxyHandler, or what `handler_factory(gateway, pool)` builds, e.g. the DataKit executor), which
holds the Gateway (routes, services, route cache) and the compiled plans (`gateway.compiled`).
The server reads `settings._handler` once per request, when it dispatches it. Swapping is one
attribute assignment on the event loop thread, between two callbacks, so:
  - a request already dispatched finishes with the handler (and plan) it started with: its
    ProxyCall / plan run holds references to them;
  - every request dispatched afterwards, on new or kept-alive connections, gets the new one;
  - connections (client keep-alive, the upstream pool) are untouched.
The new handler is built completely before the assignment; building it may fail and then
nothing changes.
"""
from __future__ import annotations

import logging

from jqgate.compiled import CompiledGateway
from jqgate.gateway import Gateway

log = logging.getLogger("jqgate.admin")


class PlanSwitch:
    def __init__(self, running, config_hash: str):
        self.running = running                # server_main.RunningGateway of the proxy
        self.settings = running.settings      # core.ServerSettings of the proxy listener
        self.hash = config_hash
        self.swaps = 0

    def swap(self, compiled: CompiledGateway, config_hash: str) -> None:
        gateway = Gateway(compiled.config, compiled)
        handler = self.running.build_handler(gateway)
        # The two assignments below are the switch (see the module docstring).
        self.settings.handler = handler
        self.settings._handler = handler
        self.running.gateway, self.running.handler = gateway, handler
        self.hash = config_hash
        self.swaps += 1

    def apply_document(self, doc: dict, config_hash: str) -> None:
        """A worker's side of a change: load, compile and swap (ConfigError leaves all as is)."""
        from jqgate.admin.reload import compile_document
        self.swap(compile_document(doc, "<admin>"), config_hash)
