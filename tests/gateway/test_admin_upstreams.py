"""Upstreams, targets and their health through the Admin API, in Kong's shapes: writes
(POST / PUT upsert / PATCH / DELETE), 409 on a second target with the same host:port,
`GET /upstreams/{u}/health` (HEALTHCHECKS_OFF without checks, HEALTHY / UNHEALTHY with them,
`?balancer_health=1`), and `POST /upstreams/{u}/targets/{t}/unhealthy|healthy` steering the
proxy at once — with one worker and with several."""
from __future__ import annotations

import pytest

from adminutil import AdminGateway
from netutil import Upstream as EchoServer


@pytest.fixture
def echoes():
    made = [EchoServer(), EchoServer()]
    yield made
    for e in made:
        e.stop()


def served_by(gw, echoes, n=6):
    """Which echo servers answered n proxied requests (by port)."""
    before = [e.requests for e in echoes]
    for _ in range(n):
        s, body, _ = gw.proxy("/x")
        assert s == 200, body
    return [e.requests - b for e, b in zip(echoes, before)]


def build_through_admin(gw, echoes, healthchecks=None):
    body = {"name": "pool"}
    if healthchecks is not None:
        body["healthchecks"] = healthchecks
    s, up, _ = gw.admin("POST", "/upstreams", body)
    assert s == 201, up
    targets = []
    for e in echoes:
        s, t, _ = gw.admin("POST", "/upstreams/pool/targets", {"target": "127.0.0.1:%d" % e.port})
        assert s == 201, t
        assert t["upstream"] == {"id": up["id"]} and t["weight"] == 100
        targets.append(t)
    s, svc, _ = gw.admin("POST", "/services", {"name": "s", "host": "pool", "port": 80})
    assert s == 201, svc
    s, route, _ = gw.admin("POST", "/services/s/routes", {"paths": ["/"]})
    assert s == 201, route
    return up, targets


@pytest.mark.parametrize("workers", [1, 2])
def test_upstream_and_targets_written_then_marked_unhealthy_and_healthy(tmp_path, echoes, workers):
    gw = AdminGateway(tmp_path, {"_format_version": "3.0"}, workers=workers)
    try:
        up, targets = build_through_admin(gw, echoes)
        assert up["algorithm"] == "round-robin" and up["healthchecks"]["active"]["http_path"] == "/"
        assert up["healthchecks"]["passive"]["unhealthy"]["http_statuses"] == [429, 500, 503]
        assert sum(served_by(gw, echoes)) == 6 and min(served_by(gw, echoes)) > 0

        s, health, _ = gw.admin("GET", "/upstreams/pool/health")
        assert s == 200 and health["total"] == 2
        assert [t["health"] for t in health["data"]] == ["HEALTHCHECKS_OFF"] * 2
        assert health["data"][0]["target"] == targets[0]["target"]

        # Kong: 409 for the same target twice; the target by host:port or by id
        s, err, _ = gw.admin("POST", "/upstreams/pool/targets", {"target": targets[0]["target"]})
        assert s == 409, err
        s, got, _ = gw.admin("GET", "/upstreams/pool/targets/%s" % targets[1]["id"])
        assert s == 200 and got["target"] == targets[1]["target"]

        s, _, _ = gw.admin("POST", "/upstreams/pool/targets/%s/unhealthy" % targets[1]["target"])
        assert s == 204
        assert served_by(gw, echoes) == [6, 0]
        s, health, _ = gw.admin("GET", "/upstreams/pool/health")
        assert [t["health"] for t in health["data"]] == ["HEALTHCHECKS_OFF", "UNHEALTHY"]
        s, _, _ = gw.admin("POST", "/upstreams/pool/targets/%s/healthy" % targets[1]["id"])
        assert s == 204
        assert min(served_by(gw, echoes)) > 0

        # PATCH a weight: weight 0 takes the target out of the balancer
        s, t, _ = gw.admin("PATCH", "/upstreams/pool/targets/%s" % targets[0]["id"], {"weight": 0})
        assert s == 200 and t["weight"] == 0 and t["id"] == targets[0]["id"]
        assert served_by(gw, echoes) == [0, 6]
        # DELETE a target, then PUT it back (upsert by host:port)
        assert gw.admin("DELETE", "/upstreams/pool/targets/%s" % targets[1]["target"])[0] == 204
        s, err, _ = gw.proxy("/x")
        assert s == 503 and err["message"] == "failure to get a peer from the ring-balancer"
        s, t, _ = gw.admin("PUT", "/upstreams/pool/targets/%s" % targets[1]["target"],
                           {"weight": 10})
        assert s == 200 and t["target"] == targets[1]["target"] and t["weight"] == 10
        assert served_by(gw, echoes) == [0, 6]
        s, listed, _ = gw.admin("GET", "/upstreams/pool/targets")
        assert sorted(t["weight"] for t in listed["data"]) == [0, 10]
    finally:
        gw.stop()


def test_upstream_put_patch_delete_and_health_with_checks(tmp_path, echoes):
    gw = AdminGateway(tmp_path, {"_format_version": "3.0"})
    try:
        passive = {"passive": {"unhealthy": {"http_failures": 2}}}
        up, targets = build_through_admin(gw, echoes, passive)
        assert up["healthchecks"]["passive"]["unhealthy"]["http_failures"] == 2
        s, health, _ = gw.admin("GET", "/upstreams/pool/health")
        assert [t["health"] for t in health["data"]] == ["HEALTHY", "HEALTHY"]
        s, bh, _ = gw.admin("GET", "/upstreams/pool/health?balancer_health=1")
        assert s == 200 and bh["data"] == {"id": up["id"], "health": "HEALTHY"}

        # PATCH keeps the targets (entities of their own) and changes the algorithm
        s, up2, _ = gw.admin("PATCH", "/upstreams/pool", {"algorithm": "least-connections"})
        assert s == 200 and up2["algorithm"] == "least-connections" and up2["id"] == up["id"]
        assert len(gw.admin("GET", "/upstreams/pool/targets")[1]["data"]) == 2
        # a target's manual health survives the reload PATCH causes
        gw.admin("POST", "/upstreams/pool/targets/%s/unhealthy" % targets[0]["target"])
        gw.admin("PATCH", "/upstreams/pool", {"tags": ["x"]})
        assert served_by(gw, echoes) == [0, 6]
        s, bh, _ = gw.admin("GET", "/upstreams/pool/health?balancer_health=1")
        assert bh["data"]["health"] == "HEALTHY"
        s, _, _ = gw.admin("POST", "/upstreams/pool/targets/%s/unhealthy" % targets[1]["target"])
        s, bh, _ = gw.admin("GET", "/upstreams/pool/health?balancer_health=1")
        assert bh["data"]["health"] == "UNHEALTHY"

        # PUT replaces the upstream's fields (back to defaults) and keeps its targets
        s, up3, _ = gw.admin("PUT", "/upstreams/pool", {"algorithm": "round-robin"})
        assert s == 200 and up3["id"] == up["id"] and up3["tags"] is None
        assert up3["healthchecks"]["passive"]["unhealthy"]["http_failures"] == 0
        assert len(gw.admin("GET", "/upstreams/pool/targets")[1]["data"]) == 2
        # PUT of an unknown name creates it
        s, other, _ = gw.admin("PUT", "/upstreams/other", {"algorithm": "least-connections"})
        assert s == 200 and other["name"] == "other"
        assert gw.admin("GET", "/upstreams/other")[0] == 200

        # refused bodies: Kong's schema messages, located
        s, err, _ = gw.admin("POST", "/upstreams", {"name": "bad",
                                                    "healthchecks": {"active": {"timeout": -1}}})
        assert s == 400 and "healthchecks" in err["fields"]
        s, err, _ = gw.admin("POST", "/upstreams", {"name": "pool"})
        assert s == 409

        assert gw.admin("DELETE", "/upstreams/other")[0] == 204
        assert gw.admin("GET", "/upstreams/other")[0] == 404
        assert gw.admin("GET", "/upstreams/nope/health")[0] == 404
        assert gw.admin("POST", "/upstreams/pool/targets/1.2.3.4:1/healthy")[0] == 404
    finally:
        gw.stop()
