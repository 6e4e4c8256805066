"""The reload thread: the one thread that loads and compiles a new configuration (and builds
its gateway and handler), so reloads never stall the event loop.

A reload (Admin API write, POST /config, SIGHUP, a worker told by the admin process) loads and
compiles a whole document: a jq compile costs 1-2 ms, so a thousand plugins take seconds. Done
on the event loop, that is seconds in which no proxied request moves. `off_loop(fn, *args)` runs
it here instead and awaits the result; libjq compiles with the GIL released
(_core/jq/bridge.pyx, JqProgram), and the rest is plain Python that shares the GIL with the
loop in switch-interval slices. Only the swap itself (jqgate.gateway.swap.PlanSwitch.commit) runs on
the loop.

One thread, not a pool: changes are applied one at a time and in order anyway (the store's
lock, the control channel read one message at a time), and compiling two documents at once
would only split the CPU between them. The thread is created on first use; a process that
exits waits for a compile in progress (the interpreter joins executor threads). A child forked
while the thread exists (a restarted worker) does not have it: it starts its own on first use.
"""
from __future__ import annotations

import asyncio
import gc
import os
import threading
from concurrent.futures import ThreadPoolExecutor

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _reload_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jqgate-reload")
        return _executor


def _forget_in_child() -> None:
    global _executor, _executor_lock
    _executor = None                    # its thread was not forked with us
    _executor_lock = threading.Lock()   # and may have held this one


os.register_at_fork(after_in_child=_forget_in_child)


def _without_collections(fn, *args):
    # A compile allocates millions of objects; each automatic collection they trigger would run
    # on this thread holding the GIL for its whole length, stalling the loop just the same.
    # Collections wait until the compile is done (the loop thread's allocations still count).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return fn(*args)
    finally:
        if was_enabled:
            gc.enable()


async def off_loop(fn, *args):
    """fn(*args) on the compile thread; its result or its exception, here."""
    return await asyncio.get_running_loop().run_in_executor(
        _reload_executor(), _without_collections, fn, *args)


def release_off_loop(references: list) -> None:
    """Empty `references` on the compile thread: what they held last (a replaced configuration:
    thousands of plans and jq states) is freed there, not on the event loop."""
    _reload_executor().submit(references.clear)
