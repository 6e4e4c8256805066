"""The cache node's stores (datakit.md §2.2, §5.7, D19, D20): the memory store (TTL, LRU bound),
the node semantics, and the Redis store against a real redis-server (lazy connection,
namespacing, JSON values, TTL, bypass_on_error both ways with Redis stopped mid-run)."""
from __future__ import annotations

import asyncio
import time

import pytest

import jqgate
from jqgate.errors import ConfigError
from jqgate.runtime import cache_store as C
from redis_fixture import RedisServer, free_port, needs_redis, redis_server  # noqa: F401


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_memory_roundtrip_keeps_json_types_and_copies():
    s = C.MemoryStore()
    value = {"a": [1, 2.5, True, None, "x"], "b": {"c": {}}}
    s.set("k", value, None)
    value["a"].append("mutated")
    assert s.get("k") == (True, {"a": [1, 2.5, True, None, "x"], "b": {"c": {}}})
    assert s.get("other") == (False, None)


def test_memory_ttl():
    clock = Clock()
    s = C.MemoryStore(clock=clock)
    s.set("k", 1, 10)
    s.set("forever", 2, None)
    clock.t += 9.9
    assert s.get("k") == (True, 1)
    clock.t += 0.1
    assert s.get("k") == (False, None)
    clock.t += 1e9
    assert s.get("forever") == (True, 2)


def test_memory_lru_bound():
    s = C.MemoryStore(max_entries=3)
    for k in "abc":
        s.set(k, k, None)
    assert s.get("a") == (True, "a")        # a is now the most recently used
    s.set("d", "d", None)                    # evicts b, the least recently used
    assert len(s) == 3
    assert s.get("b") == (False, None)
    assert [s.get(k)[0] for k in "acd"] == [True, True, True]


def opts(**kw):
    base = dict(strategy="memory", ttl=None, bypass_on_error=False, instance="inst",
                dictionary_name="test-%d" % id(kw))
    base.update(kw)
    return C.CacheOptions(**base)


def test_node_outputs_d20_memory():
    o = opts(dictionary_name="d20")
    C.memory_store("d20").clear()
    assert C.run_memory(o, {"key": "k"}) == {"hit": False, "miss": True, "stored": False, "data": None}
    assert C.run_memory(o, {"key": "k", "data": {"v": 1}}) == \
        {"hit": False, "miss": False, "stored": True, "data": {"v": 1}}
    assert C.run_memory(o, {"key": "k", "data": None}) == \
        {"hit": True, "miss": False, "stored": False, "data": {"v": 1}}


def test_node_namespaces_instances_d19():
    C.memory_store("ns").clear()
    a, b = opts(dictionary_name="ns", instance="A"), opts(dictionary_name="ns", instance="B")
    C.run_memory(a, {"key": "same", "data": "from A"})
    assert C.run_memory(b, {"key": "same"})["miss"] is True
    assert C.run_memory(a, {"key": "same"})["data"] == "from A"
    assert C.namespaced("A", "same") == "jqgate:datakit:A:same"
    assert C.namespaced("", "k") == "jqgate:datakit:default:k"


def test_node_ttl_resolution(monkeypatch):
    clock = Clock()
    monkeypatch.setitem(C.MEMORY_STORES, "ttl", C.MemoryStore(clock=clock))
    o = opts(dictionary_name="ttl", ttl=100)
    C.run_memory(o, {"key": "cfg", "data": 1})
    C.run_memory(o, {"key": "input", "data": 1, "ttl": 5})
    clock.t += 6
    assert C.run_memory(o, {"key": "input"})["miss"] is True        # input ttl beats config
    assert C.run_memory(o, {"key": "cfg"})["hit"] is True
    clock.t += 95
    assert C.run_memory(o, {"key": "cfg"})["miss"] is True


@pytest.mark.parametrize("fields,match", [
    ({}, "cache key is required"), ({"key": None, "data": 1}, "cache key is required"),
    ({"key": 5}, "must be a string"), ({"key": "k", "ttl": 0}, "positive"),
    ({"key": "k", "ttl": -1}, "positive"), ({"key": "k", "ttl": "5"}, "positive")])
def test_node_input_errors(fields, match):
    with pytest.raises(C.CacheError, match=match):
        C.run_memory(opts(), fields)


def test_unsupported_redis_modes_are_config_errors():
    for extra, match in (({"cluster_nodes": [{"ip": "127.0.0.1", "port": 7000}]}, "cluster mode is not supported"),
                         ({"cloud_authentication": {"auth_provider": "aws"}}, "cloud authentication is not supported")):
        config = {"resources": {"cache": {"strategy": "redis", "redis": extra}},
                  "nodes": [{"name": "C", "type": "cache", "inputs": {"key": "request.path"}}]}
        with pytest.raises(ConfigError, match=match):
            jqgate.compile(config)


# ------------------------------------------------------------------ redis

def redis_opts(port, **kw):
    base = dict(strategy="redis", ttl=None, bypass_on_error=False, instance="unit",
                redis=C.redis_settings({"redis": {"host": "127.0.0.1", "port": port,
                                                  "connect_timeout": 300, "read_timeout": 300,
                                                  "send_timeout": 300}}))
    base.update(kw)
    return C.CacheOptions(**base)


def test_redis_config_loads_and_client_builds_with_redis_down():
    port = free_port()                       # nothing listens here
    plan = jqgate.compile({"resources": {"cache": {"strategy": "redis",
                                                   "redis": {"host": "127.0.0.1", "port": port}}},
                           "nodes": [{"name": "C", "type": "cache", "inputs": {"key": "request.path"}}]})
    assert plan is not None
    C.redis_store(redis_opts(port).redis)    # no connection attempted


def test_redis_down_without_bypass_fails():
    o = redis_opts(free_port())
    with pytest.raises(C.CacheError, match="cache backend error"):
        asyncio.run(C.run_redis(o, {"key": "k"}))


@needs_redis
def test_redis_roundtrip_namespaced_json(redis_server):
    o = redis_opts(redis_server.port)

    async def go():
        assert (await C.run_redis(o, {"key": "k"}))["miss"] is True
        stored = await C.run_redis(o, {"key": "k", "data": {"n": 1.5, "l": [True, None]}})
        assert stored == {"hit": False, "miss": False, "stored": True, "data": {"n": 1.5, "l": [True, None]}}
        return await C.run_redis(o, {"key": "k"})
    assert asyncio.run(go()) == {"hit": True, "miss": False, "stored": False,
                                 "data": {"n": 1.5, "l": [True, None]}}
    assert redis_server.command("GET", "jqgate:datakit:unit:k") == b'{"n":1.5,"l":[true,null]}'
    assert redis_server.command("TTL", "jqgate:datakit:unit:k") == -1       # D19: no expiry


@needs_redis
def test_redis_ttl(redis_server):
    o = redis_opts(redis_server.port, ttl=100)

    async def go():
        await C.run_redis(o, {"key": "short", "data": 1, "ttl": 0.3})
        await C.run_redis(o, {"key": "cfg", "data": 1})
        assert (await C.run_redis(o, {"key": "short"}))["hit"] is True
        await asyncio.sleep(0.45)
        return await C.run_redis(o, {"key": "short"})
    assert asyncio.run(go())["miss"] is True
    assert 95 <= redis_server.command("TTL", "jqgate:datakit:unit:cfg") <= 100


@needs_redis
def test_redis_bypass_on_error_both_ways_redis_stopped_mid_run():
    server = RedisServer().start()
    try:
        strict = redis_opts(server.port)
        bypass = redis_opts(server.port, bypass_on_error=True)

        async def go():
            await C.run_redis(strict, {"key": "k", "data": "v"})
            assert (await C.run_redis(bypass, {"key": "k"}))["hit"] is True
            server.stop()                                          # Redis goes away mid-run
            assert await C.run_redis(bypass, {"key": "k"}) == \
                {"hit": False, "miss": True, "stored": False, "data": None}
            assert await C.run_redis(bypass, {"key": "k", "data": "w"}) == \
                {"hit": False, "miss": False, "stored": False, "data": "w"}
            with pytest.raises(C.CacheError, match="cache backend error"):
                await C.run_redis(strict, {"key": "k"})
            with pytest.raises(C.CacheError, match="cache backend error"):
                await C.run_redis(strict, {"key": "k", "data": "w"})
            server.start()                                         # and comes back, empty
            assert (await C.run_redis(strict, {"key": "k"}))["miss"] is True
            assert (await C.run_redis(strict, {"key": "k", "data": "x"}))["stored"] is True
            return await C.run_redis(bypass, {"key": "k"})
        assert asyncio.run(go())["data"] == "x"
    finally:
        server.stop()


@needs_redis
def test_redis_auth_and_database(tmp_path):
    server = RedisServer()
    import subprocess
    server.proc = None
    port = server.port
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--requirepass", "pw"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        import redis
        while True:
            try:
                redis.Redis(port=port, password="pw").ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        s = C.redis_settings({"redis": {"host": "127.0.0.1", "port": port, "password": "pw", "database": 3}})
        o = C.CacheOptions("redis", None, False, "auth", redis=s)
        asyncio.run(C.run_redis(o, {"key": "k", "data": 1}))
        assert redis.Redis(port=port, password="pw", db=3).get("jqgate:datakit:auth:k") == b"1"
        bad = C.CacheOptions("redis", None, False, "auth",
                             redis=C.redis_settings({"redis": {"host": "127.0.0.1", "port": port,
                                                               "password": "wrong"}}))
        with pytest.raises(C.CacheError, match="cache backend error"):
            asyncio.run(C.run_redis(bad, {"key": "k"}))
    finally:
        proc.terminate()
        proc.wait(10)
