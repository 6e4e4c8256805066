"""Reloads compile off the event loop (jqgate.gateway.reload_thread): while a configuration
with many jq programs compiles, other callbacks on the loop keep running, and changes still
apply one at a time, in the order they were asked for.

Before, ConfigStore.replace compiled on the loop: the ticker below never ran while a
replace was in progress (a proxy stalled 4.3 s for 1,000 plugins, issue #15)."""
from __future__ import annotations

import asyncio

from jqgate.admin import reload
from jqgate.admin.reload import ConfigStore
from jqgate.config import load_declarative

PLUGINS = 150


def document(salt: int) -> dict:
    routes = [{"name": "r%d" % i, "paths": ["/r%d" % i]} for i in range(PLUGINS)]
    return {"_format_version": "3.0",
            "services": [{"name": "svc", "url": "http://127.0.0.1:9", "routes": routes}],
            "plugins": [{"name": "datakit", "route": "r%d" % i, "config": {"nodes": [
                {"name": "J", "type": "jq",
                 "jq": "reduce (.[]?) as $v ({n: %d}; .n += 1) | .n" % (i + salt)},
                {"name": "EXIT", "type": "exit", "inputs": {"body": "J"}}]}}
                for i in range(PLUGINS)]}


class RecordingApplier:
    def __init__(self):
        self.applied = []

    async def __call__(self, doc, config_hash, compiled):
        self.applied.append(doc["plugins"][0]["config"]["nodes"][0]["jq"])


def test_the_loop_keeps_running_while_a_change_compiles(monkeypatch):
    in_compile = []                 # non-empty while compile_document runs, wherever it runs
    compile_document = reload.compile_document

    def watched_compile(doc, source):
        in_compile.append(True)
        try:
            return compile_document(doc, source)
        finally:
            in_compile.pop()

    monkeypatch.setattr(reload, "compile_document", watched_compile)

    async def scenario():
        applier = RecordingApplier()
        store = ConfigStore(load_declarative({"_format_version": "3.0"}, "<t>"), applier)
        compiling = True
        ticks_while_compiling = 0

        async def ticker():
            nonlocal ticks_while_compiling
            while compiling:
                if in_compile:
                    ticks_while_compiling += 1
                await asyncio.sleep(0)

        task = asyncio.get_running_loop().create_task(ticker())
        # Two changes asked for back to back: both compile off the loop, in order.
        first = asyncio.ensure_future(store.replace(document(1), "admin", canonical=True))
        second = asyncio.ensure_future(store.replace(document(2), "admin", canonical=True))
        hashes = await asyncio.gather(first, second)
        compiling = False
        await task
        return store, applier, hashes, ticks_while_compiling

    store, applier, hashes, ticks = asyncio.run(scenario())
    assert ticks > 0, "the event loop did not run while the configuration compiled"
    assert applier.applied == ["reduce (.[]?) as $v ({n: 1}; .n += 1) | .n",
                               "reduce (.[]?) as $v ({n: 2}; .n += 1) | .n"]
    assert store.hash == hashes[1] != hashes[0]
