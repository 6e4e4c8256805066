"""Embedding in async Python: run() inside a running loop names run_async, headers as any
mapping with str-subclass keys (aiohttp's istr, multidict), jqgate.load() routing a request."""
from __future__ import annotations

import asyncio
import json

import pytest

import jqgate
from engine_harness import ThirdParty


class IStr(str):
    """Like aiohttp's istr: a str subclass."""


class MultiMapping:
    """A read-only multi-valued mapping like multidict's CIMultiDictProxy (not a dict)."""

    def __init__(self, pairs):
        self.pairs = list(pairs)

    def items(self):
        return list(self.pairs)

    def __iter__(self):
        return iter(k for k, _ in self.pairs)

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, key):
        for k, v in self.pairs:
            if k.lower() == key.lower():
                return v
        raise KeyError(key)


ECHO_HEADERS = {"nodes": [
    {"name": "J", "type": "jq", "input": "request.headers", "jq": "{a: .[\"X-A\"], b: .[\"X-B\"]}"},
    {"name": "EXIT", "type": "exit", "inputs": {"body": "J"}, "status": 200}]}


def test_headers_any_mapping_and_str_subclass_keys():
    plan = jqgate.compile(ECHO_HEADERS)
    for headers in ({IStr("X-A"): IStr("1"), "X-B": "2"},
                    MultiMapping([(IStr("X-A"), "1"), (IStr("X-B"), "2")]),
                    [(IStr("X-A"), "1"), ("X-B", IStr("2"))]):
        r = plan.run({"method": "GET", "path": "/", "headers": headers})
        assert r.status == 200 and r.json() == {"a": "1", "b": "2"}, headers


def test_run_inside_a_running_loop_names_run_async():
    base = "http://127.0.0.1:9/never"
    plan = jqgate.compile({"nodes": [{"name": "C", "type": "call", "url": base},
                                     {"name": "EXIT", "type": "exit", "inputs": {"body": "C.body"}}]})

    async def inside():
        with pytest.raises(RuntimeError, match=r"run_async"):
            plan.run({"path": "/"})

    asyncio.run(inside())


def test_run_async_inside_a_loop_with_calls():
    async def main():
        third = await ThirdParty().start()
        try:
            third.route("/t", body={"token": "abc"})
            plan = jqgate.compile({"nodes": [
                {"name": "C", "type": "call", "url": third.base + "/t"},
                {"name": "EXIT", "type": "exit", "inputs": {"body": "C.body"}}]})
            r = await plan.run_async({"path": "/", "headers": {IStr("X-A"): "1"}})
            return r.status, r.json()
        finally:
            third.server.close()

    assert asyncio.run(main()) == (200, {"token": "abc"})


def test_load_routes_a_request(tmp_path):
    doc = {"_format_version": "3.0",
           "services": [{"name": "orders", "url": "http://127.0.0.1:9/",
                         "routes": [{"name": "orders-route", "paths": ["/orders"]}]},
                        {"name": "other", "url": "http://127.0.0.1:9/",
                         "routes": [{"name": "other-route", "paths": ["/other"]}]}],
           "plugins": [{"name": "datakit", "route": "orders-route", "config": {"nodes": [
               {"name": "EXIT", "type": "exit", "status": 201,
                "inputs": {"body": "request.query"}}]}}]}
    path = tmp_path / "kong.json"
    path.write_text(json.dumps(doc))
    gw = jqgate.load(str(path))
    r = gw.run({"method": "GET", "path": "/orders/1", "query": {"q": "x"}})
    assert (r.route, r.service, r.status) == ("orders-route", "orders", 201)
    assert r.json() == {"q": "x"}
    r = gw.run({"method": "GET", "path": "/other", "headers": {"X-A": "1"}})
    assert r.route == "other-route" and not r.exited          # no flow: proxied as it came
    assert ("X-A", "1") in r.service_request["headers"]
    r = gw.run({"method": "GET", "path": "/nowhere"})
    assert r.status == 404 and r.json() == {"message": "no Route matched with those values"}
    assert asyncio.run(gw.run_async({"path": "/orders"})).status == 201
