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

Off the loop: compiling a document and building its Gateway and handler take from milliseconds
to seconds (a jq compile is 1-2 ms, a thousand plugins are seconds), so the async entry points
(`apply_document_off_loop`, `swap_off_loop`) do that on the compile thread
(jqgate.gateway.reload_thread) while the proxy keeps serving, and only `commit` -- the
assignments -- runs on the event loop.
"""
from __future__ import annotations

import logging

from jqgate.gateway.reload_thread import off_loop, release_off_loop
from jqgate.gateway.plans import CompiledGateway, compile_document
from jqgate.gateway.routing import Gateway

log = logging.getLogger("jqgate.admin")


class PlanSwitch:
    def __init__(self, running, config_hash: str):
        self.running = running                # gateway.serve.RunningGateway of the proxy
        self.settings = running.settings      # core.ServerSettings of the proxy listener
        self.hash = config_hash
        self.swaps = 0

    def prepare(self, compiled: CompiledGateway):
        """The gateway and handler for `compiled`, touching nothing that runs (any thread)."""
        gateway = Gateway(compiled.config, compiled)
        return gateway, self.running.build_handler(gateway)

    def commit(self, prepared, config_hash: str) -> None:
        """Switch to a prepared handler: on the event loop thread."""
        gateway, handler = prepared
        previous = [self.running.gateway, self.running.handler]
        self.running.health.attach(gateway)     # targets keep their health; probes restart
        # The two assignments below are the switch (see the module docstring).
        self.settings.handler = handler
        self.settings._handler = handler
        self.running.gateway, self.running.handler = gateway, handler
        self.hash = config_hash
        self.swaps += 1
        # Freeing the replaced configuration costs as much as building it; requests still
        # running on it keep it alive, whatever remains is freed on the compile thread.
        release_off_loop(previous)

    def swap(self, compiled: CompiledGateway, config_hash: str) -> None:
        self.commit(self.prepare(compiled), config_hash)

    async def swap_off_loop(self, compiled: CompiledGateway, config_hash: str) -> None:
        self.commit(await off_loop(self.prepare, compiled), config_hash)

    def _compile_and_prepare(self, doc: dict):
        return self.prepare(compile_document(doc, "<admin>"))

    def apply_document(self, doc: dict, config_hash: str) -> None:
        """A worker's side of a change: load, compile and swap (ConfigError leaves all as is)."""
        self.commit(self._compile_and_prepare(doc), config_hash)

    async def apply_document_off_loop(self, doc: dict, config_hash: str) -> None:
        """apply_document with the load and compile on the compile thread."""
        self.commit(await off_loop(self._compile_and_prepare, doc), config_hash)
