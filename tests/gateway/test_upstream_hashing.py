"""Upstreams with `algorithm: consistent-hashing` (Kong's hash_on / hash_fallback), through a
real gateway to three loopback targets: a key keeps its target, removing a target moves only
the keys it had, a request without a key is balanced round robin, and a retry after a refused
connection takes the key's next target."""
from __future__ import annotations

import pytest

from jqgate.config.declarative import load_declarative
from netutil import GatewayThread, Upstream, free_port, http_get

USERS = ["user-%d" % i for i in range(40)]


@pytest.fixture
def targets():
    servers = [Upstream() for _ in range(3)]
    yield servers
    for s in servers:
        s.stop()


def gateway(ports, **upstream):
    doc = {"_format_version": "3.0",
           "upstreams": [dict({"name": "pool", "algorithm": "consistent-hashing",
                               "targets": [{"target": "127.0.0.1:%d" % p} for p in ports]},
                              **upstream)],
           "services": [{"name": "s", "host": "pool", "port": 80, "protocol": "http"}],
           "routes": [{"name": "r", "paths": ["/"], "service": "s"}]}
    return GatewayThread(load_declarative(doc, "test"))


def who_got(servers, header="x-user"):
    """{key: index of the server that saw it} — and no key seen by two servers."""
    owner = {}
    for index, server in enumerate(servers):
        for _, _, headers, _ in server.seen:
            for name, value in headers:
                if name.lower() == header:
                    assert owner.setdefault(value, index) == index, value
        server.seen.clear()
    return owner


def test_a_header_key_keeps_its_target_and_a_removed_target_moves_only_its_keys(targets):
    g = gateway([t.port for t in targets], hash_on="header", hash_on_header="X-User")
    try:
        for _ in range(3):
            for user in USERS:
                assert http_get(g.port, "/a", headers={"X-User": user})[0] == 200
    finally:
        g.stop()
    first = who_got(targets)
    assert sorted(first) == sorted(USERS)
    assert len(set(first.values())) == 3            # every target has keys

    g = gateway([targets[0].port, targets[2].port], hash_on="header", hash_on_header="X-User")
    try:
        for user in USERS:
            assert http_get(g.port, "/a", headers={"X-User": user})[0] == 200
    finally:
        g.stop()
    second = who_got(targets)
    for user in USERS:
        if first[user] != 1:
            assert second[user] == first[user], user     # kept its target
        else:
            assert second[user] in (0, 2)


def test_without_a_key_the_fallback_then_round_robin(targets):
    g = gateway([t.port for t in targets], hash_on="header", hash_on_header="X-User",
                hash_fallback="query_arg", hash_fallback_query_arg="user")
    try:
        for user in USERS[:10]:
            for _ in range(2):
                assert http_get(g.port, "/a?user=%s" % user)[0] == 200
        by_query = {}
        for index, server in enumerate(targets):
            for _, url, _, _ in server.seen:
                assert by_query.setdefault(url, index) == index, url
            server.seen.clear()
        assert len(by_query) == 10
        for _ in range(6):
            assert http_get(g.port, "/nokey")[0] == 200
        assert [s.requests for s in targets] != [0, 0, 0]
        assert sum(1 for s in targets if any(url == b"/nokey" for _, url, _, _ in s.seen)) == 3
    finally:
        g.stop()


def test_a_key_whose_target_refuses_is_retried_on_its_next_target(targets):
    dead = free_port()
    ports = [dead, targets[1].port, targets[2].port]
    g = gateway(ports, hash_on="header", hash_on_header="X-User")
    try:
        for _ in range(2):
            for user in USERS:
                assert http_get(g.port, "/a", headers={"X-User": user})[0] == 200
    finally:
        g.stop()
    owner = who_got(targets)
    assert sorted(owner) == sorted(USERS)               # every key answered, each by one target


def test_hash_on_ip_sends_one_client_to_one_target(targets):
    g = gateway([t.port for t in targets], hash_on="ip")
    try:
        for n in range(12):
            assert http_get(g.port, "/ip/%d" % n)[0] == 200
    finally:
        g.stop()
    assert sorted(s.requests for s in targets) == [0, 0, 12]
