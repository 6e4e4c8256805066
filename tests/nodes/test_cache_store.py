"""The cache node's stores (datakit.md §2.2, §5.7, D19, D20): the memory store (TTL, LRU bound),
the node semantics, and the Redis store against a real redis-server (lazy connection,
namespacing, JSON values, TTL, bypass_on_error both ways with Redis stopped mid-run)."""
from __future__ import annotations

import asyncio
import time

import pytest

import jqgate
from jqgate.errors import ConfigError
from jqgate.nodes.cache import store as C
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
        # the node's 0.3 s TTL reached Redis; wait for Redis to expire the key, then read it
        assert 0 < redis_server.command("PTTL", "jqgate:datakit:unit:short") <= 300
        while redis_server.command("EXISTS", "jqgate:datakit:unit:short") == 1:
            await asyncio.sleep(0.02)
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


# ------------------------------------------------------------------ redis: TLS with server_name, Sentinel

def _tls_files(tmp_path):
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    now = datetime.datetime(2020, 1, 1)
    later = datetime.datetime(2040, 1, 1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jqgate test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now).not_valid_after(later)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "redis.test")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now).not_valid_after(later)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("redis.test")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = {}
    for name, data in (("ca.pem", ca.public_bytes(serialization.Encoding.PEM)),
                       ("cert.pem", cert.public_bytes(serialization.Encoding.PEM)),
                       ("key.pem", key.private_bytes(serialization.Encoding.PEM,
                                                     serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))):
        (tmp_path / name).write_bytes(data)
        files[name] = str(tmp_path / name)
    return files


@needs_redis
def test_redis_tls_with_server_name(tmp_path, monkeypatch):
    import subprocess
    files = _tls_files(tmp_path)
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
                             "--tls-cert-file", files["cert.pem"], "--tls-key-file", files["key.pem"],
                             "--tls-ca-cert-file", files["ca.pem"], "--tls-auth-clients", "no",
                             "--save", "", "--appendonly", "no"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.3)
        if proc.poll() is not None:
            pytest.skip("this redis-server has no TLS support: %s" % proc.stdout.read()[:200])
        monkeypatch.setenv("SSL_CERT_FILE", files["ca.pem"])        # trust the test CA
        base = {"host": "127.0.0.1", "port": port, "ssl": True, "connect_timeout": 1000}

        def opts(**redis):
            return C.CacheOptions("redis", None, False, "tls-%d" % len(redis),
                                  redis=C.redis_settings({"redis": dict(base, **redis)}))
        deadline = time.monotonic() + 10
        while True:
            try:
                out = asyncio.run(C.run_redis(opts(server_name="redis.test"), {"key": "k", "data": 1}))
                break
            except C.CacheError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert out["stored"] is True
        assert asyncio.run(C.run_redis(opts(server_name="redis.test"), {"key": "k"}))["data"] == 1
        # without server_name the certificate (redis.test) does not match 127.0.0.1
        with pytest.raises(C.CacheError, match="cache backend error"):
            asyncio.run(C.run_redis(opts(), {"key": "k"}))
        # ssl_verify off: the name no longer matters
        assert asyncio.run(C.run_redis(opts(ssl_verify=False), {"key": "k", "data": 2}))["stored"]
    finally:
        proc.terminate()
        proc.wait(10)


@needs_redis
def test_redis_through_sentinel(tmp_path):
    import subprocess
    master = RedisServer().start()
    sport = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text("port %d\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 %d 1\n"
                    "sentinel down-after-milliseconds mymaster 5000\n" % (sport, master.port))
    proc = subprocess.Popen(["redis-server", str(conf), "--sentinel"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis(port=sport).execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"):
                    break
            except redis.exceptions.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("sentinel did not start")
            time.sleep(0.05)
        settings = C.redis_settings({"redis": {"sentinel_master": "mymaster", "sentinel_role": "master",
                                               "sentinel_nodes": [{"host": "127.0.0.1", "port": sport}]}})
        o = C.CacheOptions("redis", None, False, "sentinel", redis=settings)
        assert asyncio.run(C.run_redis(o, {"key": "k", "data": {"via": "sentinel"}}))["stored"] is True
        assert master.command("GET", "jqgate:datakit:sentinel:k") == b'{"via":"sentinel"}'
        assert asyncio.run(C.run_redis(o, {"key": "k"}))["data"] == {"via": "sentinel"}
        unknown = C.CacheOptions("redis", None, False, "sentinel", redis=dict(settings, sentinel_master="nope"))
        with pytest.raises(C.CacheError, match="cache backend error"):
            asyncio.run(C.run_redis(unknown, {"key": "k"}))
    finally:
        proc.terminate()
        proc.wait(10)
        master.stop()


def test_sentinel_with_tls_is_a_config_error():
    config = {"resources": {"cache": {"strategy": "redis", "redis": {
        "sentinel_master": "m", "sentinel_role": "master", "sentinel_nodes": [{"host": "h", "port": 1}],
        "ssl": True}}},
        "nodes": [{"name": "C", "type": "cache", "inputs": {"key": "request.path"}}]}
    with pytest.raises(ConfigError, match="TLS to Sentinel-managed Redis is not supported"):
        jqgate.compile(config)
