"""The balancer's health bookkeeping and choices, without sockets (the functional tests run
them on real traffic: functional/test_upstream_health.py).

Pinned Kong (lua-resty-healthcheck) rules: a threshold of 0 counts nothing; reports in the
direction the target already is change nothing; a success clears the failure counters and a
failure the success counter; reaching a threshold moves the target and clears its counters;
unhealthy targets are skipped by every algorithm; the upstream takes no traffic under
`threshold` percent of healthy weight. And the configuration's defaults are Kong's."""
from __future__ import annotations

import pytest

from jqgate._core.core import (PROBE_ANSWERED, PROBE_CONNECTED, PROBE_TCP_FAILURE,
                               PROBE_TIMEOUT, Balancer)
from jqgate.config.healthchecks import DEFAULTS, parse_healthchecks
from jqgate.config.model import Target, Upstream
from jqgate.errors import Issues


def hc(**parts):
    issues = Issues()
    result = parse_healthchecks(parts, "healthchecks", issues)
    assert not issues, issues.items
    return result


def balancer(checks=None, algorithm="round-robin", weights=(100, 100, 100)):
    targets = [Target("10.0.0.%d:80" % i, "10.0.0.%d" % i, 80, weight=w)
               for i, w in enumerate(weights)]
    return Balancer(Upstream(name="u", id="u", targets=targets, algorithm=algorithm,
                             healthchecks=checks))


def test_defaults_are_kongs():
    d = parse_healthchecks(None, "h", Issues())
    assert d == DEFAULTS
    assert d["active"]["healthy"] == {"interval": 0, "http_statuses": [200, 302], "successes": 0}
    assert d["active"]["unhealthy"]["http_statuses"] == [429, 404, 500, 501, 502, 503, 504, 505]
    assert d["active"]["timeout"] == 1 and d["active"]["concurrency"] == 10
    assert d["passive"]["unhealthy"] == {"http_statuses": [429, 500, 503], "tcp_failures": 0,
                                         "timeouts": 0, "http_failures": 0}
    assert d["threshold"] == 0


def test_schema_errors_are_located():
    issues = Issues()
    parse_healthchecks({"active": {"type": "grpc", "http_path": "x", "healthy": {"successes": 300}},
                        "passive": {"unhealthy": {"http_statuses": [99]}}, "threshold": 101},
                       "upstreams[0].healthchecks", issues)
    where = [i.location for i in issues.items]
    assert where == ["upstreams[0].healthchecks.active.type",
                     "upstreams[0].healthchecks.active.http_path",
                     "upstreams[0].healthchecks.active.healthy.successes",
                     "upstreams[0].healthchecks.passive.unhealthy.http_statuses[0]",
                     "upstreams[0].healthchecks.threshold"]


def test_passive_http_failures_take_a_target_out_and_it_is_skipped():
    b = balancer(hc(passive={"unhealthy": {"http_failures": 2}}))
    assert b.passive and b.tracks
    b.report_active(1, PROBE_ANSWERED, 500)      # active thresholds are 0: counts nothing
    assert b.health_state(1) == 0
    _passive(b, 1, 500)
    assert b.health_state(1) == 1 and b.is_healthy(1)   # mostly healthy: still takes traffic
    _passive(b, 1, 200)       # passive.healthy.successes is 0: the success counts nothing...
    _passive(b, 1, 503)       # ...so the failures add up across it, as in Kong
    assert not b.is_healthy(1)
    assert {b.pick() for _ in range(30)} == {("10.0.0.0", 80), ("10.0.0.2", 80)}


def test_a_success_clears_failures_when_successes_count():
    b = balancer(hc(passive={"healthy": {"successes": 1},
                             "unhealthy": {"http_failures": 2}}))
    _passive(b, 0, 500)
    _passive(b, 0, 200)         # back to healthy, counters cleared
    assert b.health_state(0) == 0
    _passive(b, 0, 500)
    assert b.is_healthy(0)      # one failure again, not two


def test_timeouts_and_tcp_failures_count_separately():
    b = balancer(hc(active={"unhealthy": {"timeouts": 2, "tcp_failures": 3},
                            "healthy": {"successes": 2}}))
    b.report_active(2, PROBE_TIMEOUT)
    b.report_active(2, PROBE_TCP_FAILURE)
    b.report_active(2, PROBE_TCP_FAILURE)
    assert b.is_healthy(2)
    b.report_active(2, PROBE_TIMEOUT)
    assert not b.is_healthy(2)
    b.report_active(2, PROBE_CONNECTED)        # a tcp probe's success
    assert b.health_state(2) == 2              # mostly unhealthy: still out
    b.report_active(2, PROBE_ANSWERED, 302)
    assert b.is_healthy(2) and b.health_state(2) == 0


def test_every_algorithm_skips_unhealthy_targets_and_none_left_gives_no_peer():
    for algorithm in ("round-robin", "least-connections"):
        b = balancer(algorithm=algorithm)
        b.set_healthy(0, False)
        b.set_healthy(2, False)
        assert {b.pick() for _ in range(10)} == {("10.0.0.1", 80)}
        b.set_healthy(1, False)
        assert b.pick() is None and not b.balancer_healthy()
        b.set_healthy(2, True)
        assert b.pick() == ("10.0.0.2", 80)


def test_round_robin_keeps_weights_among_the_healthy():
    b = balancer(weights=(300, 100, 100))
    b.set_healthy(1, False)
    picks = [b.pick() for _ in range(400)]
    assert picks.count(("10.0.0.0", 80)) == 300 and picks.count(("10.0.0.2", 80)) == 100


@pytest.mark.parametrize("threshold,healthy_after_one_out", [(0, True), (66, True), (67, False)])
def test_threshold_is_a_percentage_of_the_weight(threshold, healthy_after_one_out):
    b = balancer(hc(threshold=threshold))
    b.set_healthy(0, False)          # 2/3 of the weight left: 66.7 %
    assert b.balancer_healthy() is healthy_after_one_out
    assert (b.pick() is not None) is healthy_after_one_out


def test_health_is_carried_to_a_new_balancer_by_target():
    old = balancer(hc(passive={"unhealthy": {"http_failures": 5}}))
    old.set_healthy(1, False)
    _passive(old, 2, 500)
    new = balancer(hc(passive={"unhealthy": {"http_failures": 5}}))
    new.adopt_health(old.health_snapshot())
    assert not new.is_healthy(1) and new.health_state(2) == 1


def _passive(b, index, status):
    """What an ended exchange reports (ClientExchange._finish through PeerTracker)."""
    b.observe(index, status)
