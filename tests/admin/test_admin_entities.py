"""Services and routes through the Admin API, as Kong's getting-started scripts create them
(form-encoded bodies), then a plugin on them, then the proxy uses them."""
from __future__ import annotations

import pytest

from adminutil import AdminGateway, seed_body

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def gw(tmp_path, upstream):
    g = AdminGateway(tmp_path, {"_format_version": "3.0"})
    yield g
    g.stop()


def test_getting_started_script(gw, upstream):
    s, svc, _ = gw.admin("POST", "/services", "name=example_service&url=http://127.0.0.1:%d/base/"
                         % upstream.port, FORM)
    assert s == 201, svc
    assert svc["name"] == "example_service" and svc["port"] == upstream.port
    assert svc["path"] == "/base/" and len(svc["id"]) == 36
    s, route, _ = gw.admin("POST", "/services/example_service/routes",
                           "paths%5B%5D=/mock&name=example_route&strip_path=true", FORM)
    assert s == 201, route
    assert route["paths"] == ["/mock"] and route["service"] == {"id": svc["id"]}
    assert route["strip_path"] is True
    s, echoed, _ = gw.proxy("/mock/anything")
    assert s == 200 and echoed["path"] == "/base/anything"
    # The docs' body, with its token service pointed at the loopback upstream (an echo: the
    # flow still runs whole, and the upstream sees the Authorization header it built).
    body = seed_body("admin-service.json").replace(
        b"https://my-token-service/auth-token", b"http://127.0.0.1:%d/token" % upstream.port)
    s, plugin, _ = gw.admin("POST", "/services/example_service/plugins/", body)
    assert s == 201 and plugin["service"] == {"id": svc["id"]}

    # Kong's rules: unique names, references that exist, no delete while referenced.
    assert gw.admin("POST", "/services", "name=example_service&url=http://x", FORM)[0] == 409
    s, err, _ = gw.admin("POST", "/routes", {"paths": ["/x"], "service": {"name": "nope"}})
    assert s == 400 and "service" in err["fields"]
    s, err, _ = gw.admin("DELETE", "/services/example_service")
    assert s == 400 and err["name"] == "foreign key violation"

    # PATCH: a service written with `url` takes a new `path`; a route a new path list.
    s, svc2, _ = gw.admin("PATCH", "/services/example_service", {"path": "/other/"})
    assert s == 200 and svc2["path"] == "/other/" and svc2["host"] == "127.0.0.1"
    assert gw.proxy("/mock/a")[1]["path"] == "/other/a"
    s, route2, _ = gw.admin("PATCH", "/routes/example_route", {"paths": ["/v2"]})
    assert s == 200 and route2["paths"] == ["/v2"]
    assert gw.proxy("/v2/b")[1]["path"] == "/other/b"
    assert gw.proxy("/mock/a")[0] == 404

    # Deleting the route then the service; the service's plugin goes with it.
    assert gw.admin("DELETE", "/routes/example_route")[0] == 204
    assert gw.admin("DELETE", "/services/example_service")[0] == 204
    assert gw.admin("GET", "/services")[1]["data"] == []
    assert gw.admin("GET", "/plugins")[1]["data"] == []
    assert gw.proxy("/v2/b")[0] == 404


def test_invalid_entities_are_located_in_the_body(gw):
    s, err, _ = gw.admin("POST", "/services", {"name": "s", "url": "ftp://x", "colour": 1})
    assert s == 400 and err["name"] == "schema violation"
    assert set(err["fields"]) == {"url", "colour"}, err
    s, err, _ = gw.admin("POST", "/routes", {"name": "r"})
    assert s == 400 and "must set one of" in err["message"]
    s, err, _ = gw.admin("POST", "/services", {"name": "s", "url": "http://x", "routes": []})
    assert s == 400 and "routes" in err["fields"]
    assert gw.admin("GET", "/services")[1]["data"] == []
    assert gw.admin("PATCH", "/services/none", {"path": "/"})[0] == 404
    assert gw.admin("DELETE", "/routes/none")[0] == 204
