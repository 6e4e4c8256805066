"""Service retries on the plain proxy path, Kong's rule: transport failures only, Kong's default
of 5 retries, and a non-idempotent request goes again only when no upstream ever received it.
(The buffered path a response-window DataKit flow takes: test_datakit_gateway.py.)"""
from __future__ import annotations

import json

import pytest

from jqgate.config.model import Route, Service, Target, Upstream
from netutil import GatewayThread, Upstream as UpstreamServer, free_port, http_get, make_config


@pytest.fixture
def upstream():
    u = UpstreamServer()
    yield u
    u.stop()


def one_service(upstream_port, **service):
    """A service with Kong's default retries (unless given) over an upstream of one target."""
    return make_config(
        services=[Service(name="s", id="s", protocol="http", host="pool", port=80, path=None,
                          **service)],
        routes=[Route(name="r", id="r", service_id="s", paths=["/"])],
        upstreams=[Upstream(name="pool", id="u", targets=[
            Target("live", "127.0.0.1", upstream_port)])])


def sent(upstream, method, path):
    return sum(1 for m, url, _, _ in upstream.seen if m == method and url == path)


def test_a_post_that_reached_the_upstream_is_never_sent_again(upstream):
    """The upstream reads the whole POST, then resets: it may have acted on it, so the
    gateway answers 502 with all of Kong's default 5 retries left."""
    assert Service(name="d", id="d", protocol="http", host="h", port=80, path=None).retries == 5
    g = GatewayThread(one_service(upstream.port))
    try:
        status, _, body = http_get(g.port, "/reset", method="POST", body=b'{"pay": 1}',
                                   headers={"Content-Type": "application/json"})
        assert status == 502, body
        assert json.loads(body)["message"] == \
            "An invalid response was received from the upstream server"
        assert sent(upstream, b"POST", b"/reset") == 1
    finally:
        g.stop()


def test_an_idempotent_request_is_retried_five_times_by_default(upstream):
    """1 try + 5 retries. A try that failed on a reused keep-alive connection before any
    answer is replayed once on a fresh one by the pool without counting (nginx does the
    same for a cached connection): those replays are the pool's `retried`."""
    g = GatewayThread(one_service(upstream.port))
    try:
        status, _, _ = http_get(g.port, "/reset")
        assert status == 502
        assert sent(upstream, b"GET", b"/reset") == 1 + 5 + g.running.pool.stats["retried"]
    finally:
        g.stop()


def test_retries_zero_makes_one_attempt(upstream):
    g = GatewayThread(one_service(upstream.port, retries=0))
    try:
        assert http_get(g.port, "/reset")[0] == 502
        assert sent(upstream, b"GET", b"/reset") == 1 + g.running.pool.stats["retried"]
    finally:
        g.stop()


def test_a_post_refused_by_one_target_goes_once_to_the_next(upstream):
    """A refused connection: no upstream saw the POST, so it goes to the next target — once."""
    cfg = make_config(
        services=[Service(name="s", id="s", protocol="http", host="pool", port=80, path=None)],
        routes=[Route(name="r", id="r", service_id="s", paths=["/"])],
        upstreams=[Upstream(name="pool", id="u", targets=[
            Target("dead", "127.0.0.1", free_port()),
            Target("live", "127.0.0.1", upstream.port)])])
    g = GatewayThread(cfg)
    try:
        status, _, body = http_get(g.port, "/orders", method="POST", body=b"x" * 1000)
        assert status == 200
        assert json.loads(body)["body_len"] == 1000
        assert sent(upstream, b"POST", b"/orders") == 1
    finally:
        g.stop()
