"""Two real gateway processes (`jqgate run`) sharing one Redis through a DataKit cache node: a
value stored through one process is a hit in the other (§5.7, D19)."""
from __future__ import annotations

import orjson
import yaml
from netutil import Upstream, http_get
from redis_fixture import RedisServer, needs_redis
from run_process import RunProcess


def kong_yaml(upstream_port, redis_port):
    flow = {"resources": {"cache": {"strategy": "redis",
                                    "redis": {"host": "127.0.0.1", "port": redis_port}}},
            "nodes": [
                {"name": "KEY", "type": "jq", "input": "request.query", "jq": '"item:" + .id'},
                {"name": "VALUE", "type": "jq", "input": "request.query", "jq": "{v: .v}"},
                {"name": "GET", "type": "cache", "inputs": {"key": "KEY"}},
                {"name": "B", "type": "branch", "input": "GET.miss", "then": ["SET", "EXIT_MISS"],
                 "else": ["EXIT_HIT"]},
                {"name": "SET", "type": "cache", "inputs": {"key": "KEY", "data": "VALUE"}, "ttl": 60},
                {"name": "EXIT_MISS", "type": "exit", "inputs": {"body": "SET"}, "status": 201},
                {"name": "EXIT_HIT", "type": "exit", "inputs": {"body": "GET"}, "status": 200}]}
    return {"_format_version": "3.0",
            "services": [{"name": "svc", "url": "http://127.0.0.1:%d" % upstream_port,
                          "routes": [{"name": "all", "paths": ["/"]}],
                          "plugins": [{"name": "datakit", "id": "4b7e0a9e-6f55-4a5c-9d43-8d1f4d1ac001",
                                       "config": flow}]}]}


@needs_redis
def test_two_gateway_processes_share_the_cache(tmp_path):
    redis = RedisServer().start()
    upstream = Upstream()
    path = tmp_path / "kong.yaml"
    path.write_text(yaml.safe_dump(kong_yaml(upstream.port, redis.port)))
    a = b = None
    try:
        a, b = RunProcess(str(path)), RunProcess(str(path))
        status, _, body = http_get(b.port, "/?id=7")                # nothing stored yet: miss, SET
        assert status == 201, body
        status, _, body = http_get(a.port, "/?id=8&v=from-a")       # A stores item:8
        assert status == 201 and orjson.loads(body)["stored"] is True
        status, _, body = http_get(b.port, "/?id=8&v=ignored")      # B finds it
        assert status == 200, body
        assert orjson.loads(body) == {"hit": True, "miss": False, "stored": False, "data": {"v": "from-a"}}
        keys = redis.command("KEYS", "jqgate:datakit:*")
        assert b"jqgate:datakit:4b7e0a9e-6f55-4a5c-9d43-8d1f4d1ac001:item:8" in keys   # D19 namespace
        assert upstream.requests == 0                                # every answer came from exits
    finally:
        for g in (a, b):
            if g is not None:
                g.stop()
        upstream.stop()
        redis.stop()

