"""The `cache` node's stores and semantics (datakit.md §2.2, §5.7, D19, D20).

Stores hold JSON text (orjson), so a value comes back with the same JSON types and never aliases
a request's objects.

- `MemoryStore`: per process, one per `memory.dictionary_name`; TTL (monotonic clock) and a
  bounded number of entries with least-recently-used eviction (Kong's shared dicts evict LRU
  too when full).
- `RedisStore`: redis-py's asyncio client. Nothing connects at load time (a config never fails
  because Redis is down, changelog 3.14.0.0): the client is created on first use, one per event
  loop and settings, and connects then. Single server or Sentinel; cluster mode and cloud
  authentication are refused at load time by `check_resource` ("not supported").

Keys are namespaced per DataKit instance (D19): `jqgate:datakit:<instance>:<key>`, the instance
being the plugin id / instance_name / scope the compiler recorded in `Plan.instance`, so two
instances using the same literal key do not see each other's entries, while every worker
process of one instance shares them through Redis.

Node semantics (§5.7, D20), `run_memory` / `run_redis`:
- `key` is required (string); `ttl` input (seconds, > 0) beats the config `ttl`; neither -> no
  expiry (D19);
- `data` non-null -> SET: `{hit: false, miss: false, stored: true, data: v}`;
- otherwise GET: hit `{hit: true, miss: false, stored: false, data: v}`,
  miss `{hit: false, miss: true, stored: false, data: null}`;
- a backend error fails the node, unless `bypass_on_error`: then a GET is a miss and a SET
  reports `stored: false` (its `data` is still the input value, so a flow that answers from the
  SET node keeps working while the cache is down).
"""
from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass

import orjson

from jqgate.nodes.failure import NodeFailure

DEFAULT_DICTIONARY = "kong_db_cache"
DEFAULT_MEMORY_MAX_ENTRIES = 10_000
DEFAULT_NAMESPACE = "default"
KEY_PREFIX = "jqgate:datakit:"
REDIS_DEFAULTS = {"host": "127.0.0.1", "port": 6379, "connect_timeout": 2000,
                  "send_timeout": 2000, "read_timeout": 2000, "database": 0, "ssl": False,
                  "ssl_verify": True, "keepalive_pool_size": 256, "sentinel_role": "master"}


class CacheError(NodeFailure):
    """The node fails with this text."""


def namespaced(instance: str, key: str) -> str:
    return "%s%s:%s" % (KEY_PREFIX, instance or DEFAULT_NAMESPACE, key)


# ------------------------------------------------------------------------------ memory

class MemoryStore:
    def __init__(self, max_entries: int = DEFAULT_MEMORY_MAX_ENTRIES, clock=time.monotonic):
        self.max_entries = max_entries
        self.clock = clock
        self._data: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> tuple[bool, object]:
        entry = self._data.get(key)
        if entry is None:
            return False, None
        raw, expires = entry
        if expires is not None and self.clock() >= expires:
            del self._data[key]
            return False, None
        self._data.move_to_end(key)            # most recently used
        return True, orjson.loads(raw)

    def set(self, key: str, value, ttl: float | None) -> None:
        expires = None if ttl is None else self.clock() + ttl
        self._data[key] = (orjson.dumps(value), expires)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)     # least recently used

    def clear(self) -> None:
        self._data.clear()


MEMORY_STORES: dict[str, MemoryStore] = {}


def memory_store(name: str | None) -> MemoryStore:
    name = name or DEFAULT_DICTIONARY
    store = MEMORY_STORES.get(name)
    if store is None:
        store = MEMORY_STORES[name] = MemoryStore()
    return store


# ------------------------------------------------------------------------------ redis

UNSUPPORTED_REDIS = {
    "cluster_nodes": "Redis cluster mode is not supported (use a single Redis or Sentinel)",
    "cloud_authentication": "Redis cloud authentication is not supported",
}
SENTINEL_UNSUPPORTED = {
    "ssl": "TLS to Sentinel-managed Redis is not supported (use a direct host with ssl)",
    "server_name": "server_name with Sentinel is not supported",
}


def check_resource(cache: dict) -> list[tuple[str, str]]:
    """Load-time refusals of what this gateway cannot do: [(sub-location, message)]."""
    issues = []
    redis = cache.get("redis") if cache.get("strategy") == "redis" else None
    if isinstance(redis, dict):
        for key, message in UNSUPPORTED_REDIS.items():
            if redis.get(key) is not None:
                issues.append(("redis." + key, message))
        if redis.get("sentinel_master") is not None:
            for key, message in SENTINEL_UNSUPPORTED.items():
                if redis.get(key) not in (None, False):
                    issues.append(("redis." + key, message))
    return issues


def redis_settings(cache: dict) -> dict:
    settings = dict(REDIS_DEFAULTS)
    settings.update({k: v for k, v in (cache.get("redis") or {}).items() if v is not None})
    return settings


def _connection_kwargs(s: dict) -> dict:
    kw = {
        "db": s["database"],
        "username": s.get("username"),
        "password": s.get("password"),
        "socket_connect_timeout": s["connect_timeout"] / 1000.0 or None,
        # redis-py has one socket timeout for reads and writes: the larger of the two bounds
        "socket_timeout": max(s["read_timeout"], s["send_timeout"]) / 1000.0 or None,
    }
    if s["ssl"]:
        kw.update(ssl=True, ssl_cert_reqs="required" if s["ssl_verify"] else "none",
                  ssl_check_hostname=bool(s["ssl_verify"]))
    return kw


def _sni_connection_class():
    """redis-py's asyncio SSL connection, sending `server_name` as SNI (and checking the
    certificate against it when ssl_verify is on), as Kong's `redis.server_name` does."""
    from redis.asyncio.connection import SSLConnection

    class SNIConnection(SSLConnection):
        def __init__(self, *, server_name=None, **kwargs):
            super().__init__(**kwargs)
            self.server_name = server_name

        def _connection_arguments(self):
            kwargs = super()._connection_arguments()
            if self.server_name:
                kwargs["server_hostname"] = self.server_name
            return kwargs
    return SNIConnection


def make_client(s: dict):
    """A redis.asyncio client for the settings; creating it does not connect."""
    import redis.asyncio as aioredis
    kw = _connection_kwargs(s)
    if s.get("sentinel_master"):
        from redis.asyncio.sentinel import Sentinel
        nodes = [(n["host"], n.get("port") or 26379) for n in s["sentinel_nodes"]]
        sentinel_kwargs = {"username": s.get("sentinel_username"),
                           "password": s.get("sentinel_password"),
                           "socket_connect_timeout": kw["socket_connect_timeout"],
                           "socket_timeout": kw["socket_timeout"]}
        sentinel = Sentinel(nodes, sentinel_kwargs=sentinel_kwargs, **kw)
        if s.get("sentinel_role") == "slave":
            return sentinel.slave_for(s["sentinel_master"])
        return sentinel.master_for(s["sentinel_master"])   # "master" and "any"
    # keepalive_pool_size bounds the pool; a request finding it full waits for a connection
    # (at most connect_timeout), which is what keepalive_backlog queues in Kong.
    tls = {"connection_class": _sni_connection_class(), "server_name": s.get("server_name")} \
        if s["ssl"] else {}
    pool = aioredis.BlockingConnectionPool(
        host=s["host"], port=s["port"], max_connections=s["keepalive_pool_size"],
        timeout=kw["socket_connect_timeout"], **tls,
        **{k: v for k, v in kw.items() if k != "ssl"})
    return aioredis.Redis(connection_pool=pool)


class RedisStore:
    """One resource's Redis settings; clients are per event loop (asyncio objects are)."""

    def __init__(self, settings: dict):
        self.settings = settings
        self._clients: dict[int, tuple[object, object]] = {}

    def client(self):
        loop = asyncio.get_running_loop()
        held = self._clients.get(id(loop))
        if held is None or held[0] is not loop:
            for lid in [lid for lid, (lp, _) in self._clients.items() if lp.is_closed()]:
                del self._clients[lid]
            held = self._clients[id(loop)] = (loop, make_client(self.settings))
        return held[1]

    async def get(self, key: str) -> tuple[bool, object]:
        raw = await self.client().get(key)
        if raw is None:
            return False, None
        try:
            return True, orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise CacheError("cache entry %r is not JSON" % key) from None

    async def set(self, key: str, value, ttl: float | None) -> None:
        data = orjson.dumps(value)
        if ttl is None:
            await self.client().set(key, data)
        else:
            await self.client().set(key, data, px=max(1, int(ttl * 1000)))


REDIS_STORES: dict[bytes, RedisStore] = {}


def redis_store(settings: dict) -> RedisStore:
    key = orjson.dumps(settings, option=orjson.OPT_SORT_KEYS)
    store = REDIS_STORES.get(key)
    if store is None:
        store = REDIS_STORES[key] = RedisStore(settings)
    return store


# ------------------------------------------------------------------------------ the node

@dataclass(frozen=True)
class CacheOptions:
    strategy: str                       # "memory" | "redis"
    ttl: int | None                     # config ttl, seconds
    bypass_on_error: bool
    instance: str                       # D19 namespace
    dictionary_name: str = DEFAULT_DICTIONARY
    redis: dict | None = None           # full settings with defaults (strategy redis)

    @classmethod
    def from_config(cls, node: dict, resource: dict, instance: str) -> "CacheOptions":
        strategy = resource.get("strategy", "memory")
        memory = resource.get("memory") or {}
        return cls(strategy, node.get("ttl"), bool(node.get("bypass_on_error", False)), instance,
                   memory.get("dictionary_name") or DEFAULT_DICTIONARY,
                   redis_settings(resource) if strategy == "redis" else None)


def HIT(v):
    return {"hit": True, "miss": False, "stored": False, "data": v}


def MISS():
    return {"hit": False, "miss": True, "stored": False, "data": None}


def STORED(v, stored=True):
    return {"hit": False, "miss": False, "stored": stored, "data": v}


def request_of(o: CacheOptions, fields: dict) -> tuple[str, float | None, object]:
    """(namespaced key, ttl or None, data or None for a GET) from the node's inputs."""
    key = fields.get("key")
    if key is None:
        raise CacheError("cache key is required (input \"key\" is null or not connected)")
    if not isinstance(key, str):
        raise CacheError("cache key must be a string")
    ttl = fields.get("ttl")
    if ttl is None:
        ttl = o.ttl
    elif isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        raise CacheError("input \"ttl\" must be a positive number of seconds, got %r" % (ttl,))
    return namespaced(o.instance, key), ttl, fields.get("data")


def run_memory(o: CacheOptions, fields: dict) -> dict:
    key, ttl, data = request_of(o, fields)
    store = memory_store(o.dictionary_name)
    if data is not None:
        store.set(key, data, ttl)
        return STORED(data)
    found, value = store.get(key)
    return HIT(value) if found else MISS()


BACKEND_ERRORS: tuple = (OSError, asyncio.TimeoutError, CacheError)


def _backend_errors() -> tuple:
    try:
        from redis.exceptions import RedisError
    except ImportError:                                   # the redis extra is not installed
        return BACKEND_ERRORS
    return BACKEND_ERRORS + (RedisError,)


async def run_redis(o: CacheOptions, fields: dict) -> dict:
    key, ttl, data = request_of(o, fields)            # input errors fail even with bypass
    try:
        store = redis_store(o.redis)
        if data is not None:
            await store.set(key, data, ttl)
            return STORED(data)
        found, value = await store.get(key)
        return HIT(value) if found else MISS()
    except ImportError:
        raise CacheError("strategy redis needs the `redis` package (pip install jqgate[redis])") from None
    except _backend_errors() as e:
        if not o.bypass_on_error:
            raise CacheError("cache backend error: %s" % (str(e) or type(e).__name__)) from None
        return STORED(data, stored=False) if data is not None else MISS()
