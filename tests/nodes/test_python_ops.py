"""branch / cache / vault / jwt through both executors where a YAML case cannot say it: the
trace (NODE_SKIPPED, masking), the environment (vault), process-wide stores (cache), a real
Redis (stopped mid-run, shared by two processes) and generated keys (JWT)."""
from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap

import orjson
import pytest

from engine_harness import ThirdParty, drive, make_pool, request_view
from engine_plans import compile_config
from jqgate.nodes.cache import store as cache_store
from redis_fixture import RedisServer, needs_redis

EXECUTORS = ["core", "reference"]
TRACE = {"headers": [("X-DataKit-Debug-Trace", "true")]}


def run(executor, config, request=None, upstream=None, thirdparty=None):
    async def main():
        t1 = await ThirdParty().start()
        try:
            for path, spec in (thirdparty or {}).items():
                t1.route(path, **spec)
            cfg = json.loads(json.dumps(config).replace("http://T1", t1.base))
            r = await drive(executor, compile_config(cfg), request_view(request), make_pool(), {},
                            upstream)
            return r, list(t1.received)
        finally:
            await t1.stop()
    return asyncio.run(main())


def trace_doc(r):
    body = r.exit_body if r.exited else r.response_body
    return orjson.loads(body)


def statuses(doc):
    return {n["name"]: n["status"] for n in doc["nodes"]}


# ------------------------------------------------------------------ branch: the trace

NESTED = {"debug": True, "nodes": [
    {"name": "C", "type": "static", "values": {"outer": True, "inner": False}},
    {"name": "OUTER", "type": "branch", "input": "C.outer", "then": ["INNER"], "else": ["OUT_NO"]},
    {"name": "INNER", "type": "branch", "input": "C.inner", "then": ["A"], "else": ["B"]},
    {"name": "A", "type": "call", "url": "http://T1/a"},
    {"name": "A_USE", "type": "jq", "input": "A.body", "jq": "."},
    {"name": "B", "type": "call", "url": "http://T1/b"},
    {"name": "OUT_NO", "type": "jq", "jq": "1"},
    {"name": "EXIT", "type": "exit", "inputs": {"body": "B.body"}},
]}


@pytest.mark.parametrize("executor", EXECUTORS)
def test_nested_branch_skips_visible_in_trace(executor):
    r, received = run(executor, NESTED, TRACE, thirdparty={"/a": {"body": {"a": 1}}, "/b": {"body": {"b": 1}}})
    assert [x.path for x in received] == ["/b"]                 # A was skipped: never sent
    doc = trace_doc(r)
    st = statuses(doc)
    assert st["OUTER"] == st["INNER"] == st["B"] == st["EXIT"] == "NODE_COMPLETE"
    assert st["A"] == st["A_USE"] == st["OUT_NO"] == "NODE_SKIPPED"     # A_USE: D2
    skip = [e for e in doc["events"] if e["action"] == "skip" and e["name"] == "A"]
    assert skip and {v["key"]: v.get("value") for v in skip[0]["values"]} == {"$self": False}
    assert not [e for e in doc["events"] if e["name"] == "A" and e["action"] == "run"]
    assert doc["status"] == "PLAN_COMPLETE"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_outer_false_skips_inner_branch_and_its_lists(executor):
    cfg = json.loads(json.dumps(NESTED))
    cfg["nodes"][0]["values"]["outer"] = False
    r, received = run(executor, cfg, TRACE, thirdparty={"/a": {"body": {}}, "/b": {"body": {}}})
    assert received == []
    st = statuses(trace_doc(r))
    assert st["INNER"] == st["A"] == st["B"] == st["A_USE"] == st["EXIT"] == "NODE_SKIPPED"
    assert st["OUT_NO"] == "NODE_COMPLETE"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_branch_error_trace(executor):
    cfg = {"debug": True, "nodes": [
        {"name": "C", "type": "jq", "jq": '"yes"'},
        {"name": "B", "type": "branch", "input": "C", "then": ["X"]},
        {"name": "X", "type": "jq", "jq": "1"}]}
    r, _ = run(executor, cfg, TRACE)
    doc = trace_doc(r)
    assert r.exit_status == 500 and doc["status"] == "PLAN_ERROR"
    assert statuses(doc)["B"] == "NODE_ERROR" and statuses(doc)["X"] == "NODE_CANCELED"


# ------------------------------------------------------------------ vault

VAULT_CFG = {"debug": True, "resources": {"vault": {
    "token": "{vault://env/jqgate-test-token}", "user": "{vault://env/jqgate-test-creds/username}"}},
    "nodes": [
        {"name": "AUTH", "type": "jq", "inputs": {"t": "vault.token", "u": "vault.user"},
         "jq": '{Authorization: ("Bearer " + .t), "X-User": .u}'},
        {"name": "API", "type": "call", "url": "http://T1/echo", "inputs": {"headers": "AUTH"}},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "API.body"}},
    ]}


@pytest.mark.parametrize("executor", EXECUTORS)
def test_vault_env_values_resolved_at_run_time(executor, monkeypatch):
    monkeypatch.setenv("JQGATE_TEST_TOKEN", "tok-1")
    monkeypatch.setenv("JQGATE_TEST_CREDS", '{"username": "svc"}')
    r, received = run(executor, VAULT_CFG)
    assert received[0].header("Authorization") == "Bearer tok-1"
    assert received[0].header("X-User") == "svc"
    monkeypatch.setenv("JQGATE_TEST_TOKEN", "tok-2")                # rotated: next request sees it
    r, received = run(executor, VAULT_CFG)
    assert received[0].header("Authorization") == "Bearer tok-2"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_vault_values_masked_in_trace(executor, monkeypatch):
    monkeypatch.setenv("JQGATE_TEST_TOKEN", "tok-secret-1")
    monkeypatch.setenv("JQGATE_TEST_CREDS", '{"username": "svc-user"}')
    r, received = run(executor, VAULT_CFG, TRACE)
    assert received[0].header("Authorization") == "Bearer tok-secret-1"
    text = r.exit_body.decode()
    assert "tok-secret-1" not in text and "svc-user" not in text
    assert "********" in text
    doc = orjson.loads(text)
    vault_done = [e for e in doc["events"] if e["name"] == "vault" and e["action"] == "complete"]
    assert vault_done and all(v["value"] == "********" for v in vault_done[0]["values"])


@pytest.mark.parametrize("executor", EXECUTORS)
def test_vault_missing_fails_node_and_error_masks_secret(executor, monkeypatch, caplog):
    caplog.set_level(logging.ERROR, logger="jqgate.datakit")
    monkeypatch.setenv("JQGATE_TEST_TOKEN", "tok-x")
    monkeypatch.delenv("JQGATE_TEST_CREDS", raising=False)
    r, received = run(executor, VAULT_CFG)
    assert r.exit_status == 500 and received == []
    body = orjson.loads(r.exit_body)
    assert body["node"]["name"] == "vault"
    assert "environment variable JQGATE_TEST_CREDS is not set" in body["error"]
    # a failure text that would contain a resolved secret is masked in the body and the log
    cfg = {"debug": True, "resources": {"vault": {"token": "{vault://env/jqgate-test-token}"}},
           "nodes": [{"name": "BAD", "type": "jq", "input": "vault.token", "jq": 'error("leak: " + .)'}]}
    caplog.clear()
    r, _ = run(executor, cfg)
    assert "tok-x" not in r.exit_body.decode() and "tok-x" not in caplog.text
    assert "********" in orjson.loads(r.exit_body)["error"]


# ------------------------------------------------------------------ cache (memory)

def cache_cfg(strategy="memory", redis=None, bypass=False, ttl=None):
    cache = {"strategy": strategy}
    if strategy == "memory":
        cache["memory"] = {"dictionary_name": "engine-tests"}
    else:
        cache["redis"] = redis
    get = {"name": "GET", "type": "cache", "inputs": {"key": "KEY"}}
    setn = {"name": "SET", "type": "cache", "inputs": {"key": "KEY", "data": "DATA.body"}}
    if bypass:
        get["bypass_on_error"] = setn["bypass_on_error"] = True
    if ttl:
        setn["ttl"] = ttl
    return {"resources": {"cache": cache}, "nodes": [
        {"name": "KEY", "type": "jq", "input": "request.query", "jq": '"item:" + .id'},
        get,
        {"name": "B", "type": "branch", "input": "GET.miss", "then": ["DATA", "SET", "EXIT_MISS"],
         "else": ["EXIT_HIT"]},
        {"name": "DATA", "type": "call", "url": "http://T1/data"},
        setn,
        {"name": "EXIT_MISS", "type": "exit", "inputs": {"body": "SET"}, "status": 200},
        {"name": "EXIT_HIT", "type": "exit", "inputs": {"body": "GET"}, "status": 203},
    ]}


@pytest.mark.parametrize("executor", EXECUTORS)
def test_memory_cache_flow_miss_then_hit_d20(executor):
    cache_store.memory_store("engine-tests").clear()
    tp = {"/data": {"body": {"n": [1, 2.5, None]}}}
    r, received = run(executor, cache_cfg(), {"query": "id=1"}, thirdparty=tp)
    assert r.exit_status == 200 and len(received) == 1
    assert orjson.loads(r.exit_body) == {"hit": False, "miss": False, "stored": True,
                                         "data": {"n": [1, 2.5, None]}}
    r, received = run(executor, cache_cfg(), {"query": "id=1"}, thirdparty=tp)
    assert r.exit_status == 203 and received == []          # served from the cache
    assert orjson.loads(r.exit_body) == {"hit": True, "miss": False, "stored": False,
                                         "data": {"n": [1, 2.5, None]}}
    r, received = run(executor, cache_cfg(), {"query": "id=2"}, thirdparty=tp)
    assert r.exit_status == 200 and len(received) == 1       # another key: a miss


@pytest.mark.parametrize("executor", EXECUTORS)
def test_cache_missing_key_fails(executor):
    cfg = {"resources": {"cache": {"strategy": "memory"}}, "nodes": [
        {"name": "K", "type": "jq", "jq": "null"},
        {"name": "GET", "type": "cache", "inputs": {"key": "K"}},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "GET"}}]}
    r, _ = run(executor, cfg)
    assert r.exit_status == 500


# ------------------------------------------------------------------ cache (redis)

def redis_cfg(port, bypass=False):
    return cache_cfg("redis", {"host": "127.0.0.1", "port": port, "connect_timeout": 300,
                               "read_timeout": 300, "send_timeout": 300}, bypass)


@needs_redis
@pytest.mark.parametrize("executor", EXECUTORS)
def test_redis_cache_flow_and_bypass_on_error_stopped_mid_run(executor):
    server = RedisServer().start()
    tp = {"/data": {"body": {"v": executor}}}
    try:
        r, received = run(executor, redis_cfg(server.port), {"query": "id=" + executor}, thirdparty=tp)
        assert r.exit_status == 200 and len(received) == 1
        r, received = run(executor, redis_cfg(server.port), {"query": "id=" + executor}, thirdparty=tp)
        assert r.exit_status == 203 and received == []
        assert orjson.loads(r.exit_body)["data"] == {"v": executor}
        server.stop()                                             # Redis goes away
        r, received = run(executor, redis_cfg(server.port, bypass=True), {"query": "id=" + executor},
                          thirdparty=tp)
        assert r.exit_status == 200 and len(received) == 1        # GET -> miss, data fetched
        assert orjson.loads(r.exit_body) == {"hit": False, "miss": False, "stored": False,
                                             "data": {"v": executor}}
        r, received = run(executor, redis_cfg(server.port), {"query": "id=" + executor}, thirdparty=tp)
        assert r.exit_status == 500 and received == []            # no bypass: the GET fails
    finally:
        server.stop()


@needs_redis
def test_two_processes_share_one_redis():
    server = RedisServer().start()
    script = textwrap.dedent("""
        import json, sys, jqgate
        port, mode = int(sys.argv[1]), sys.argv[2]
        cfg = {"resources": {"cache": {"strategy": "redis", "redis": {"host": "127.0.0.1", "port": port}}},
               "nodes": [
                 {"name": "K", "type": "static", "values": {"k": "shared-key", "v": {"from": "process-1"}}},
                 {"name": "C", "type": "cache", "inputs": {"key": "K.k", "data": "V"} if mode == "set" else {"key": "K.k"}},
                 {"name": "V", "type": "jq", "input": "K.v", "jq": "."},
                 {"name": "EXIT", "type": "exit", "inputs": {"body": "C"}}]}
        if mode != "set":
            cfg["nodes"].pop(2)
        from jqgate.embed import RunnablePlan
        result = RunnablePlan(jqgate.compile(cfg, instance="plugin-1")).run({"method": "GET", "path": "/"})
        print(result.body.decode())
    """)
    try:
        def gateway(mode):
            out = subprocess.run([sys.executable, "-c", script, str(server.port), mode],
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            return json.loads(out.stdout.strip().splitlines()[-1])
        assert gateway("get")["miss"] is True
        assert gateway("set")["stored"] is True
        assert gateway("get") == {"hit": True, "miss": False, "stored": False,
                                  "data": {"from": "process-1"}}
        assert server.command("EXISTS", "jqgate:datakit:plugin-1:shared-key") == 1
    finally:
        server.stop()


# ------------------------------------------------------------------ jwt with real keys

def _rsa():
    from cryptography.hazmat.primitives import serialization as S
    from cryptography.hazmat.primitives.asymmetric import rsa
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return (k.private_bytes(S.Encoding.PEM, S.PrivateFormat.PKCS8, S.NoEncryption()).decode(),
            k.public_key().public_bytes(S.Encoding.PEM, S.PublicFormat.SubjectPublicKeyInfo).decode(), k)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_rs256_sign_with_vault_pem_verify_with_jwks_kid(executor, monkeypatch):
    import jwt as pyjwt
    priv, pub, key = _rsa()
    monkeypatch.setenv("JQGATE_TEST_SIGNING_KEY", priv)
    jwk = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk["kid"] = "k-2"
    other = dict(jwk, kid="k-1", n=jwk["n"][:-4] + "AAAA")
    cfg = {"resources": {"vault": {"signing": "{vault://env/jqgate-test-signing-key}"}}, "nodes": [
        {"name": "JWKS", "type": "static", "values": {"set": {"keys": [other, jwk]}}},
        {"name": "SIGN", "type": "jwt_sign", "algorithm": "RS256", "kid": "k-2",
         "static_claims": {"iss": "kong"}, "inputs": {"key": "vault.signing"}},
        {"name": "VERIFY", "type": "jwt_verify", "allowed_algorithms": ["RS256"], "issuers": ["kong"],
         "inputs": {"token": "SIGN.token", "key": "JWKS.set"}},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "VERIFY.header"}}]}
    r, _ = run(executor, cfg)
    assert r.exit_status == 200, r.exit_body
    assert orjson.loads(r.exit_body) == {"alg": "RS256", "typ": "JWT", "kid": "k-2"}


@pytest.mark.parametrize("executor", EXECUTORS)
def test_cve_2026_14916_in_a_flow(executor):
    import base64
    import hashlib
    import hmac
    _, pub, _ = _rsa()
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    h, p = b64(b'{"alg":"HS256","typ":"JWT"}'), b64(b'{"sub":"admin"}')
    forged = "%s.%s.%s" % (h, p, b64(hmac.new(pub.encode(), (h + "." + p).encode(), hashlib.sha256).digest()))
    cfg = {"debug": True, "nodes": [
        {"name": "K", "type": "static", "values": {"pem": pub}},
        {"name": "T", "type": "jq", "input": "request.headers", "jq": ".authorization"},
        {"name": "VERIFY", "type": "jwt_verify", "inputs": {"token": "T", "key": "K.pem"}},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "VERIFY.claims"}}]}
    r, _ = run(executor, cfg, {"headers": {"authorization": "Bearer " + forged}})
    assert r.exit_status == 500
    assert orjson.loads(r.exit_body)["error"] == "algorithm HS256 cannot be used with an RSA key"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_jwt_keys_and_tokens_redacted_in_trace(executor):
    secret = "hmac-secret-that-must-not-leak-0123456789"
    cfg = {"debug": True, "nodes": [
        {"name": "K", "type": "static", "values": {"s": secret}},
        {"name": "SIGN", "type": "jwt_sign", "algorithm": "HS256", "static_claims": {"sub": "visible"},
         "inputs": {"key": "K.s"}},
        {"name": "VERIFY", "type": "jwt_verify", "inputs": {"token": "SIGN.token", "key": "K.s"}},
        {"name": "DEC", "type": "jwt_decode", "input": "SIGN.token"},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "VERIFY.claims"}}]}
    r, _ = run(executor, cfg, TRACE)
    doc = trace_doc(r)
    text = r.exit_body.decode()
    token = [e for e in doc["events"] if e["name"] == "SIGN" and e["action"] == "complete"][0]
    assert secret not in text and "eyJ" not in text           # no key, no token
    dec = [e for e in doc["events"] if e["name"] == "DEC" and e["action"] == "complete"][0]
    assert {v["key"]: v.get("value") for v in dec["values"]}["signature"] == "********"
    assert {v["key"]: v.get("value") for v in token["values"]}["token"] == "********"
    assert "visible" in text                                     # claims stay readable
    assert statuses(doc)["DEC"] == "NODE_COMPLETE"
