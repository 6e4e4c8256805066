"""The running configuration and how it changes: validate and compile off to the side, then
apply everywhere, or keep what runs.

`ConfigStore` owns the canonical declarative document (jqgate.admin.entities) and its hash. A
change is `await store.replace(new_doc, source)`:
  1. load + compile the new document in this process (nothing running is touched); any error
     raises ConfigError and the running configuration stays as it is;
  2. hand the document and its compiled form to the applier: in one process, a PlanSwitch swaps
     the request handler atomically (jqgate.gateway.swap); with workers, every worker is told over
     its control channel and loads, compiles and swaps on its own (jqgate.admin.control);
  3. only then does the store's document change.
Changes are serialised by a lock: two admin requests never interleave their read-modify-write.
Steps 1 and 2's compiling run on the compile thread (jqgate.gateway.reload_thread), never on
the event loop, so proxied requests keep flowing while a large configuration compiles; the lock
is held across those awaits, so changes still apply one at a time and in order.
"""
from __future__ import annotations

import asyncio
import copy
import logging
import time

from jqgate.gateway.reload_thread import off_loop
from jqgate.admin.entities import canonical_document, document_hash
from jqgate.gateway.plans import compile_document, compile_gateway
from jqgate.config.model import GatewayConfig
from jqgate.errors import ConfigError, Issues
from jqgate.metrics import METRICS

log = logging.getLogger("jqgate.admin")


def _compile_for_store(doc: dict, canonical: bool):
    """replace()'s off-loop part: (compiled, the document to store, its hash)."""
    compiled = compile_document(doc, "<admin>")
    if canonical:
        doc = canonical_document(compiled.config)
    return compiled, doc, document_hash(doc)


def _load_file(config_file):
    """reload_file()'s off-loop part: load, and compile once as loaded so errors are located
    in the file as the user wrote it (replace() compiles the canonical form again)."""
    from jqgate.config import load_any
    config = config_file() if callable(config_file) else load_any(config_file)
    issues = Issues()
    compile_gateway(config, issues)
    issues.raise_if_any()
    return canonical_document(config)


class ApplyError(Exception):
    """A valid configuration that some worker could not apply (it keeps running what it had)."""


class ConfigStore:
    def __init__(self, config: GatewayConfig, applier, config_file: str | None = None,
                 metrics=METRICS):
        self.doc = canonical_document(config)
        self.hash = document_hash(self.doc)
        self.config = config
        self.applier = applier          # async applier(doc, hash, compiled) -> None | ApplyError
        self.config_file = config_file
        self.metrics = metrics
        self.lock = asyncio.Lock()
        now = int(time.time())
        self.created: dict[str, int] = {}        # entity id -> created_at (Kong shows them)
        self.updated: dict[str, int] = {}
        self._stamp(now)

    def _stamp(self, now: int) -> None:
        for key in ("services", "routes", "upstreams", "plugins", "certificates", "snis"):
            for record in self.doc.get(key, []):
                self.created.setdefault(record["id"], now)
                self.updated.setdefault(record["id"], now)

    def copy_document(self) -> dict:
        return copy.deepcopy(self.doc)

    async def replace(self, doc: dict, source: str, canonical: bool = False) -> str:
        """Validate, compile, apply; returns the new hash. ConfigError/ApplyError keep the old.
        `canonical`: store the loaded form (top-level entities with ids) rather than `doc`."""
        async with self.lock:
            try:
                compiled, doc, new_hash = await off_loop(_compile_for_store, doc, canonical)
            except ConfigError:
                self.metrics.count_reload(source, False)
                raise
            try:
                await self.applier(doc, new_hash, compiled)
            except ApplyError:
                self.metrics.count_reload(source, False)
                raise
            self.doc, self.hash, self.config = doc, new_hash, compiled.config
            self._stamp(int(time.time()))
            self.metrics.count_reload(source, True)
            log.info("configuration %s applied (%s)", new_hash, source)
            return new_hash

    async def reload_file(self, source: str = "sighup") -> str:
        """SIGHUP: the configuration from disk again, with the same guarantees as POST /config.

        `config_file` is a path (any form `jqgate run CONFIG` takes: a declarative file or a
        plugin document, read with config.load_any) or a zero-argument callable returning a
        GatewayConfig (quick start re-reading its --plugin files)."""
        if not self.config_file:
            self.metrics.count_reload(source, False)
            raise ConfigError([_issue("", "no configuration file to reload (started without one)")])
        try:
            doc = await off_loop(_load_file, self.config_file)
        except ConfigError:
            self.metrics.count_reload(source, False)
            raise
        return await self.replace(doc, source)


def _issue(location, message):
    from jqgate.errors import ConfigIssue
    return ConfigIssue(location, message)
