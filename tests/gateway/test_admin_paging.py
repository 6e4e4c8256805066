"""Kong's Admin API list conventions on every entity list (services, routes, plugins,
upstreams, targets): `size` and `offset` with `next`, `tags` filters (`a,b` AND, `a/b` OR),
and PUT as an upsert (by name, or by id when the URL holds a uuid)."""
from __future__ import annotations

import uuid

import pytest

from adminutil import AdminGateway


@pytest.fixture
def gw(tmp_path, upstream):
    g = AdminGateway(tmp_path, {"_format_version": "3.0"})
    yield g
    g.stop()


def walk(gw, path):
    """Every entity of a list, page by page through `next`; and the pages' sizes."""
    seen, sizes = [], []
    while path:
        s, body, _ = gw.admin("GET", path)
        assert s == 200, body
        seen += body["data"]
        sizes.append(len(body["data"]))
        if body["next"] is not None:
            assert "offset" in body and body["offset"] in body["next"]
        path = body["next"]
    return seen, sizes


def test_paging_and_tags_on_every_list(gw, upstream):
    for i in range(5):
        tags = ["even" if i % 2 == 0 else "odd", "all"]
        s, _, _ = gw.admin("PUT", "/services/s%d" % i,
                           {"url": "http://127.0.0.1:%d" % upstream.port, "tags": tags})
        assert s == 200
        assert gw.admin("PUT", "/routes/r%d" % i, {"paths": ["/p%d" % i], "tags": tags,
                                                   "service": {"name": "s%d" % i}})[0] == 200
        assert gw.admin("POST", "/upstreams", {"name": "u%d" % i, "tags": tags})[0] == 201
        assert gw.admin("POST", "/upstreams/u0/targets",
                        {"target": "10.0.0.%d:80" % i, "tags": tags})[0] == 201
    for kind in ("services", "routes", "upstreams", "upstreams/u0/targets"):
        everything, sizes = walk(gw, "/%s?size=2" % kind)
        assert sizes == [2, 2, 1], kind
        assert len({e["id"] for e in everything}) == 5
        assert [e["id"] for e in everything] == [e["id"] for e in gw.admin("GET", "/" + kind)[1]["data"]]
        evens, _ = walk(gw, "/%s?tags=even,all&size=2" % kind)
        assert len(evens) == 3 and all("even" in e["tags"] for e in evens)
        either, _ = walk(gw, "/%s?tags=even/odd" % kind)
        assert len(either) == 5
        assert walk(gw, "/%s?tags=even,odd" % kind)[0] == []
    s, body, _ = gw.admin("GET", "/services?size=2")
    assert body["next"].startswith("/services?offset=") and "size=2" in body["next"]
    assert gw.admin("GET", "/services?size=0")[0] == 400
    assert gw.admin("GET", "/services?size=1001")[0] == 400
    assert gw.admin("GET", "/services?offset=%%%")[0] == 400
    assert gw.admin("GET", "/services?tags=a,b/c")[0] == 400


def test_put_upserts_services_routes_and_plugins(gw, upstream):
    url = "http://127.0.0.1:%d" % upstream.port
    s, created, _ = gw.admin("PUT", "/services/billing", {"url": url + "/v1"})
    assert s == 200 and created["name"] == "billing" and created["path"] == "/v1"
    s, replaced, _ = gw.admin("PUT", "/services/billing", {"url": url, "retries": 2})
    assert s == 200 and replaced["id"] == created["id"] and replaced["retries"] == 2
    assert replaced["path"] is None              # a PUT replaces: no path now
    sid = str(uuid.uuid4())
    s, by_id, _ = gw.admin("PUT", "/services/%s" % sid, {"name": "other", "url": url})
    assert s == 200 and by_id["id"] == sid and by_id["name"] == "other"
    s, err, _ = gw.admin("PUT", "/services/billing", {"name": "nope", "url": url})
    assert s == 400 and "name" in err["fields"]

    s, route, _ = gw.admin("PUT", "/routes/main", {"paths": ["/"], "service": {"name": "billing"}})
    assert s == 200 and route["service"] == {"id": created["id"]}
    assert gw.proxy("/x")[0] == 200
    s, route2, _ = gw.admin("PUT", "/routes/main", {"paths": ["/only"],
                                                   "service": {"id": created["id"]}})
    assert s == 200 and route2["id"] == route["id"] and route2["paths"] == ["/only"]
    assert gw.proxy("/x")[0] == 404

    flow = {"nodes": [{"name": "E", "type": "exit", "status": 201}]}
    pid = str(uuid.uuid4())
    s, plugin, _ = gw.admin("PUT", "/plugins/%s" % pid, {"name": "datakit", "config": flow,
                                                         "route": {"name": "main"}})
    assert s == 200 and plugin["id"] == pid
    assert gw.proxy("/only")[0] == 201
    flow["nodes"][0]["status"] = 202
    s, plugin2, _ = gw.admin("PUT", "/plugins/%s" % pid, {"name": "datakit", "config": flow,
                                                          "route": {"name": "main"}})
    assert s == 200 and plugin2["id"] == pid
    assert gw.proxy("/only")[0] == 202
    assert len(gw.admin("GET", "/plugins")[1]["data"]) == 1
