"""Kong's upstream health checks and least-connections, on real loopback upstreams.

Each test pins one Kong behaviour:
  - passive checks (healthchecks.passive.unhealthy.http_failures / tcp_failures): a target
    that starts failing under load is taken out after exactly that many failures counted,
    and takes no proxied request afterwards;
  - active checks (healthchecks.active.*): a probe answering an unhealthy status takes a
    target out without any traffic; an unhealthy target comes back after
    active.healthy.successes good probes;
  - every target unhealthy -> 503 "failure to get a peer from the ring-balancer";
  - retries never send a POST that reached an upstream a second time, health checks or not;
  - least-connections sends to the target with the fewest exchanges in flight per weight.
"""
from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from jqgate.config.healthchecks import parse_healthchecks
from jqgate.config.model import Route, Service, Target, Upstream
from jqgate.errors import Issues
from netutil import GatewayThread, LoopThread, free_port, http_get, make_config

NO_PEER = "failure to get a peer from the ring-balancer"


class Backend:
    """A loopback HTTP/1.1 server whose answer a test switches: `status` for proxied paths,
    `probe_status` for the health probe path; `hold` keeps requests to /hold unanswered
    until released. Counts what it received."""

    def __init__(self, name: str):
        self.name = name
        self.status = 200
        self.probe_status = 200
        self.reset_posts = False
        self.seen: list[tuple[str, str]] = []
        self.probes = 0
        self.lt = LoopThread()
        self.port = free_port()
        self.held: list = []
        self.lt.call(self._start())

    async def _start(self):
        self.server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                if length:
                    await reader.readexactly(length)
                if path == "/healthz":
                    self.probes += 1
                    status = self.probe_status
                else:
                    self.seen.append((method, path))
                    status = self.status
                    if method == "POST" and self.reset_posts:
                        writer.transport.abort()
                        return
                    if path == "/hold":
                        gate = asyncio.Event()
                        self.held.append(gate)
                        await gate.wait()
                body = json.dumps({"backend": self.name}).encode()
                writer.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (status, len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def held_count(self) -> int:
        async def count():
            return len(self.held)
        return self.lt.call(count())

    def release(self):
        async def release():
            for gate in self.held:
                gate.set()
            self.held = []
        self.lt.call(release())

    def stop(self):
        async def stop():
            self.server.close()
        self.lt.call(stop())
        self.lt.stop()


@pytest.fixture
def backends():
    made = [Backend("a"), Backend("b")]
    yield made
    for b in made:
        b.stop()


def healthchecks(**parts):
    """A complete healthchecks structure: Kong's defaults under `parts`."""
    issues = Issues()
    hc = parse_healthchecks(parts, "healthchecks", issues)
    assert not issues, issues.items
    return hc


def pool_config(backends, hc=None, algorithm="round-robin", weights=(100, 100), retries=5):
    return make_config(
        services=[Service(name="s", id="s", protocol="http", host="pool", port=80, path=None,
                          retries=retries)],
        routes=[Route(name="r", id="r", service_id="s", paths=["/"])],
        upstreams=[Upstream(name="pool", id="u", algorithm=algorithm, healthchecks=hc,
                            targets=[Target(f"127.0.0.1:{b.port}", "127.0.0.1", b.port, weight=w)
                                     for b, w in zip(backends, weights)])])


def who(port, path="/x", method="GET"):
    status, _, body = http_get(port, path, method=method)
    return status, (json.loads(body).get("backend") if status < 500 or b"backend" in body
                    else json.loads(body).get("message"))


def balancer_of(g):
    return g.running.gateway.balancers["pool"]


def wait_for(predicate, what, attempts=400):
    """Poll a condition a bounded number of times (a bound, not a timing assertion)."""
    import time
    for _ in range(attempts):
        if predicate():
            return
        time.sleep(0.025)
    raise AssertionError("never happened: " + what)


def test_a_target_that_fails_under_load_takes_no_request_once_marked_unhealthy(backends):
    """Passive checks, unhealthy.http_failures = 3 on 500: while 8 clients keep sending, b
    starts answering 500. b is taken out once three 500s were counted; the requests in
    flight at that moment are all it can still get, and after the load nothing reaches it."""
    a, b = backends
    hc = healthchecks(passive={"unhealthy": {"http_failures": 3, "http_statuses": [500]}})
    g = GatewayThread(pool_config(backends, hc))
    concurrency = 8
    try:
        def one(_):
            return http_get(g.port, "/load")[0]
        with ThreadPoolExecutor(concurrency) as pool:
            first = list(pool.map(one, range(100)))
            assert set(first) == {200} and len(b.seen) > 0
            b.status = 500
            b_before = len(b.seen)
            second = list(pool.map(one, range(200)))
        b_failed = len(b.seen) - b_before
        assert not balancer_of(g).is_healthy(1)
        # three counted failures, plus at most what the other clients had in flight to b
        assert 3 <= b_failed <= 3 + concurrency - 1, b_failed
        assert second.count(500) == b_failed
        b_after_load = len(b.seen)
        statuses = [who(g.port)[1] for _ in range(40)]
        assert statuses == ["a"] * 40
        assert len(b.seen) == b_after_load
    finally:
        g.stop()


def test_connection_failures_count_as_tcp_failures_and_the_client_never_sees_them(backends):
    """unhealthy.tcp_failures = 2: b stops listening; its refused connections are retried on a
    (the client sees only 200s) and counted; after two, b gets no attempt at all."""
    a, b = backends
    hc = healthchecks(passive={"unhealthy": {"tcp_failures": 2}})
    g = GatewayThread(pool_config(backends, hc))
    try:
        b.stop()
        results = [who(g.port) for _ in range(10)]
        assert results == [(200, "a")] * 10
        assert not balancer_of(g).is_healthy(1)
        assert g.running.gateway.balancers["pool"].open_exchanges(1) == 0
    finally:
        g.stop()
        backends.remove(b)


def test_every_target_unhealthy_answers_kongs_503(backends):
    a, b = backends
    hc = healthchecks(passive={"unhealthy": {"http_failures": 1, "http_statuses": [503]}})
    g = GatewayThread(pool_config(backends, hc, retries=0))
    try:
        a.status = b.status = 503
        assert who(g.port)[0] == 503 and who(g.port)[0] == 503     # one failure each
        status, message = who(g.port)
        assert (status, message) == (503, NO_PEER)
        assert len(a.seen) == 1 and len(b.seen) == 1
    finally:
        g.stop()


def test_healthchecks_threshold_takes_the_whole_upstream_out(backends):
    """healthchecks.threshold = 60 (percent of the weight): with one of two equal targets out,
    50% is left, under the threshold, so the upstream answers 503 although a is fine."""
    a, b = backends
    hc = healthchecks(threshold=60,
                      passive={"unhealthy": {"http_failures": 1, "http_statuses": [500]}})
    g = GatewayThread(pool_config(backends, hc, retries=0))
    try:
        b.status = 500
        results = [who(g.port)[0] for _ in range(2)]
        assert sorted(results) == [200, 500]
        assert who(g.port) == (503, NO_PEER)
    finally:
        g.stop()


def test_an_active_probe_takes_a_target_out_without_traffic_and_brings_it_back(backends):
    """active.healthy.interval / unhealthy.interval: b's probe answers 503, counted as an
    http failure (active.unhealthy.http_failures = 2) with no proxied request at all; when
    its probe answers 200 again, two successes (active.healthy.successes = 2) bring it back."""
    a, b = backends
    hc = healthchecks(active={"http_path": "/healthz", "timeout": 2,
                              "healthy": {"interval": 0.05, "successes": 2},
                              "unhealthy": {"interval": 0.05, "http_failures": 2}})
    b.probe_status = 503
    g = GatewayThread(pool_config(backends, hc))
    try:
        wait_for(lambda: not balancer_of(g).is_healthy(1), "b marked unhealthy by probes")
        assert balancer_of(g).is_healthy(0) and a.probes > 0
        assert b.seen == [] and a.seen == []
        assert [who(g.port)[1] for _ in range(6)] == ["a"] * 6
        b.probe_status = 200
        wait_for(lambda: balancer_of(g).is_healthy(1), "b healthy again")
        assert sorted(who(g.port)[1] for _ in range(4)) == ["a", "a", "b", "b"]
    finally:
        g.stop()


def test_a_probe_that_times_out_counts_as_a_timeout(backends):
    """active.unhealthy.timeouts = 1, active.timeout = 0.2 s: a target that accepts the
    connection and never answers the probe is unhealthy after one probe."""
    a, b = backends
    hc = healthchecks(active={"http_path": "/hold", "timeout": 0.2,
                              "healthy": {"interval": 0.05},
                              "unhealthy": {"timeouts": 1}})
    g = GatewayThread(pool_config(backends, hc))
    try:
        wait_for(lambda: not balancer_of(g).is_healthy(0) and not balancer_of(g).is_healthy(1),
                 "both targets unhealthy after a probe timeout")
        assert who(g.port) == (503, NO_PEER)
    finally:
        for backend in backends:
            backend.release()
        g.stop()


def test_health_is_carried_over_a_reload(backends):
    a, b = backends
    hc = healthchecks(passive={"unhealthy": {"http_failures": 1, "http_statuses": [500]}})
    cfg = pool_config(backends, hc)
    g = GatewayThread(cfg)
    try:
        b.status = 500
        while balancer_of(g).is_healthy(1):
            who(g.port)
        b.status = 200
        g.lt.call(_reload(g, pool_config(backends, hc)))
        assert not balancer_of(g).is_healthy(1)
        assert [who(g.port)[1] for _ in range(4)] == ["a"] * 4
    finally:
        g.stop()


async def _reload(g, config):
    g.running.reload(config)


def test_a_post_that_reached_a_target_is_not_sent_again_and_counts_against_it(backends):
    """b reads the POST and resets the connection: it may have acted on it, so the client
    gets 502 and a never sees the POST (retries on, Kong's default 5); the reset is a tcp
    failure for the passive checker (tcp_failures = 1) and b is out."""
    a, b = backends
    b.reset_posts = True
    hc = healthchecks(passive={"unhealthy": {"tcp_failures": 1}})
    g = GatewayThread(pool_config(backends, hc))
    try:
        outcomes = [http_get(g.port, "/pay", method="POST", body=b"{}")[0] for _ in range(2)]
        assert sorted(outcomes) == [200, 502]
        assert b.seen.count(("POST", "/pay")) == 1
        assert a.seen.count(("POST", "/pay")) == 1
        assert not balancer_of(g).is_healthy(1)
        assert [http_get(g.port, "/pay", method="POST", body=b"{}")[0] for _ in range(3)] == [200] * 3
        assert b.seen.count(("POST", "/pay")) == 1
    finally:
        g.stop()


def test_least_connections_sends_to_the_target_with_fewer_exchanges_in_flight(backends):
    a, b = backends
    g = GatewayThread(pool_config(backends, algorithm="least-connections"))
    held = threading.Thread(target=http_get, args=(g.port, "/hold"))
    try:
        held.start()
        wait_for(lambda: a.held_count() + b.held_count() == 1, "one request held")
        busy, free = (a, b) if a.held_count() else (b, a)
        # round robin would alternate; least-connections keeps away from the busy target
        assert [who(g.port)[1] for _ in range(5)] == [free.name] * 5
        busy.release()
        held.join()
        assert balancer_of(g).open_exchanges(0) == balancer_of(g).open_exchanges(1) == 0
    finally:
        a.release()
        b.release()
        g.stop()


def test_least_connections_respects_weights(backends):
    """Kong's score (open + 1) / weight, a weighing 250 and b 100: idle, a wins (1/250 <
    1/100); with one request held on a it still does (2/250 < 1/100); with two, b does
    (3/250 > 1/100)."""
    a, b = backends
    g = GatewayThread(pool_config(backends, algorithm="least-connections", weights=(250, 100)))
    threads = []
    try:
        assert [who(g.port)[1] for _ in range(3)] == ["a"] * 3
        expected_next = ["a", "b"]
        for n in range(2):
            t = threading.Thread(target=http_get, args=(g.port, "/hold"))
            t.start()
            threads.append(t)
            wait_for(lambda: a.held_count() == n + 1, "held on a")
            assert who(g.port)[1] == expected_next[n]
        assert b.held_count() == 0
    finally:
        a.release()
        b.release()
        for t in threads:
            t.join()
        g.stop()
