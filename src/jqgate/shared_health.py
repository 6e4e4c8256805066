"""Upstream targets' health shared by every worker of one gateway (Kong keeps it in one shm per
node, so all its workers balance on one view).

With `--workers N` the parent maps one anonymous shared region before it forks; every process
(the workers, their replacements, the parent that runs the active probes) inherits the same
pages. The region is a table of records, one per (upstream name, target host, port): an 8-byte
key, then the target's state and its four counters, which the core's Balancer reads and moves
in place (Balancer.share_health). A record is found by its key with linear probing, so a worker
running an older or newer configuration finds the same target's record without talking to the
others, and a target keeps its health across reloads as it did when each worker carried its own.

Records are only ever added (under a lock: two workers must not claim one empty record for two
targets); a full table leaves the targets it cannot hold with per-process health, said once in
the log. Once every worker applied a new configuration, the parent clears the records of the
targets it no longer has, so a target removed and added again starts healthy, as in Kong. Without `enable()` (one worker, embedding) nothing here is used.
"""
from __future__ import annotations

import hashlib
import logging
import mmap
import multiprocessing
import struct

log = logging.getLogger("jqgate.health")

CAPACITY = 16384            # targets with shared health per gateway (256 KiB of shared memory)
RECORD = 16                 # key (8 bytes), state (1), counters (4), padding (3)
KEY = struct.Struct("<Q")
LOCK_TIMEOUT = 5.0          # a worker killed inside the (tiny) critical section must not wedge the rest

_current: SharedHealth | None = None


class SharedHealth:
    def __init__(self, capacity: int = CAPACITY):
        self.capacity = capacity
        self.mem = mmap.mmap(-1, capacity * RECORD, flags=mmap.MAP_SHARED)
        self.lock = multiprocessing.Lock()
        self._full_warned = False

    def offset(self, upstream: str, host: str, port: int) -> int:
        """Byte offset of the target's state (its record's key precedes it); -1 when the table
        is full or the lock could not be had."""
        key = _key(upstream, host, port)
        start = key % self.capacity
        if not self.lock.acquire(timeout=LOCK_TIMEOUT):
            log.warning("shared health: table lock not taken in %.0f s; %s %s:%d keeps "
                        "per-worker health", LOCK_TIMEOUT, upstream, host, port)
            return -1
        try:
            for step in range(self.capacity):
                at = ((start + step) % self.capacity) * RECORD
                (found,) = KEY.unpack_from(self.mem, at)
                if found == key:
                    return at + KEY.size
                if found == 0:
                    # a new record: HEALTHY, no counts (the mapping starts zeroed)
                    KEY.pack_into(self.mem, at, key)
                    return at + KEY.size
        finally:
            self.lock.release()
        if not self._full_warned:
            self._full_warned = True
            log.warning("shared health: all %d records in use; further targets keep per-worker "
                        "health", self.capacity)
        return -1

    def forget_except(self, targets) -> None:
        """Clear the records of targets no longer configured (Kong forgets a removed target's
        health): HEALTHY, no counts. The key stays, so the target finds its record again if it
        comes back. `targets`: (upstream name, host, port) of the configuration now applied."""
        keep = {_key(*t) for t in targets}
        if not self.lock.acquire(timeout=LOCK_TIMEOUT):
            return
        try:
            for at in range(0, self.capacity * RECORD, RECORD):
                (key,) = KEY.unpack_from(self.mem, at)
                if key and key not in keep:
                    self.mem[at + KEY.size:at + RECORD] = bytes(RECORD - KEY.size)
        finally:
            self.lock.release()

    def bind(self, balancers) -> None:
        """Point each balancer's health at its targets' shared records (all or none per
        balancer: a balancer reads one kind of record)."""
        for balancer in balancers:
            if balancer.shared:
                continue
            offsets = [self.offset(balancer.name, host, port) for host, port in balancer.peers]
            if all(o >= 0 for o in offsets):
                balancer.share_health(self.mem, offsets)


def _key(upstream: str, host: str, port: int) -> int:
    digest = hashlib.blake2b(f"{upstream}\0{host}\0{port}".encode(), digest_size=8).digest()
    return KEY.unpack(digest)[0] or 1          # 0 marks an empty record


def enable(capacity: int = CAPACITY) -> SharedHealth:
    """Map the shared table (in the parent, before the workers fork)."""
    global _current
    if _current is None:
        _current = SharedHealth(capacity)
    return _current


def current() -> SharedHealth | None:
    return _current


def bind(balancers) -> None:
    """Share these balancers' health when this process is one of several workers (or their
    parent); otherwise leave them with their own."""
    if _current is not None:
        _current.bind(balancers)
