"""Kong's route priority and path handling (gateway/router.py), without sockets."""
from __future__ import annotations

import pytest

from jqgate.config.model import Route
from jqgate.gateway.router import Router, upstream_path


def route(name, **kw):
    return Route(name=name, id=name, service_id="s", **kw)


def build(*routes):
    return Router([(r, r.name) for r in routes])


def m(router, path, host=b"", method=b"GET"):
    res = router.match(method, host, path)
    return res.target if res else None


def test_longest_prefix_wins():
    r = build(route("short", paths=["/a"]), route("long", paths=["/a/b"]))
    assert m(r, "/a/b/c") == "long"
    assert m(r, "/a/x") == "short"
    assert m(r, "/ab") == "short"          # plain prefix, as Kong
    assert m(r, "/z") is None


def test_hosts_beat_paths_exact_beats_wildcard():
    r = build(route("path", paths=["/very/long/path"]),
              route("wild", hosts=["*.example.com"], paths=["/"]),
              route("exact", hosts=["api.example.com"], paths=["/"]),
              route("suffix-wild", hosts=["example.*"]))
    assert m(r, "/very/long/path", b"api.example.com") == "exact"
    assert m(r, "/very/long/path", b"www.example.com:8000") == "wild"
    assert m(r, "/very/long/path", b"other.org") == "path"
    assert m(r, "/x", b"example.org") == "suffix-wild"
    assert m(r, "/x", b"API.Example.com") == "exact"
    assert m(r, "/x", b"nope.org") is None


def test_regex_paths_and_priority():
    r = build(route("prefix", paths=["/users/list"]),
              route("re-low", paths=[r"~/users/\d+$"], regex_priority=0),
              route("re-high", paths=[r"~/users/\d+"], regex_priority=10))
    assert m(r, "/users/42") == "re-high"
    assert m(r, "/users/list") == "prefix"
    res = r.match(b"GET", b"", "/users/42/x")
    assert res.target == "re-high" and res.matched_prefix == "/users/42"


def test_methods_break_ties_and_filter():
    r = build(route("any", paths=["/m"]), route("post", paths=["/m"], methods=["POST"]))
    assert m(r, "/m", method=b"POST") == "post"
    assert m(r, "/m", method=b"GET") == "any"
    only = build(route("get", paths=["/g"], methods=["get"]))
    assert m(only, "/g", method=b"DELETE") is None


def test_config_order_breaks_remaining_ties():
    r = build(route("first", paths=["/same"]), route("second", paths=["/same"]))
    assert m(r, "/same") == "first"


@pytest.mark.parametrize("service_path, route_path, req, strip, expected", [
    # Kong's path_handling v0 (kong/router/utils.lua get_upstream_uri): a stripped rest that
    # does not start with "/" gets one after a service path without a trailing slash
    ("/s", "/fv0", "/fv0req", True, "/s/req"),
    ("/s", "/fv0", "/fv0/req", True, "/s/req"),
    ("/s/", "/fv0", "/fv0req", True, "/s/req"),
    ("/s/", "/fv0", "/fv0/req", True, "/s/req"),
    (None, "/fv0", "/fv0/req", True, "/req"),
    (None, "/fv0", "/fv0", True, "/"),
    ("/s", "/fv0", "/fv0", True, "/s"),
    ("/s", "/fv0", "/fv0req", False, "/s/fv0req"),
    ("/s/", "/fv0", "/fv0/req", False, "/s/fv0/req"),
    (None, "/", "/anything", True, "/anything"),
])
def test_upstream_path(service_path, route_path, req, strip, expected):
    r = Router([(route("r", paths=[route_path]), None)])
    assert upstream_path(service_path, r.match(b"GET", b"", req), strip) == expected


@pytest.mark.parametrize("raw, norm", [
    ("/a/b", "/a/b"),
    ("/public/../admin", "/admin"),
    ("/a/./b/", "/a/b/"),
    ("/a//b", "/a/b"),
    ("/%61dmin", "/admin"),
    ("/a%2fb", "/a%2Fb"),            # an encoded slash stays encoded
    ("/a/%2e%2e/b", "/b"),
    ("/..", "/"),
    ("/a/b/..", "/a/"),
])
def test_normalize_path(raw, norm):
    from jqgate.http_path import normalize_path
    assert normalize_path(raw) == norm


def test_a_path_never_seen_is_routed_without_a_python_frame():
    """High-cardinality paths (/orders/123) are routed in the core, request after request:
    no Python function runs (a profiler sees no Python call), and no per-path state is kept."""
    import sys

    from jqgate._core import core
    from jqgate.config.model import GatewayConfig, Service
    from jqgate.gateway.routing import Gateway
    svc = Service(name="s", id="s", protocol="http", host="127.0.0.1", port=9, path="/api")
    gw = Gateway(GatewayConfig(services=[svc], upstreams=[], routes=[
        Route(name="orders", id="orders", service_id="s", paths=["/orders"]),
        Route(name="items", id="items", service_id="s", paths=[r"~/items/\d+$"],
              hosts=["*.example.com"]),
        Route(name="tenant", id="tenant", service_id="s", paths=["/t"],
              headers={"x-tenant": ["a"]})]))
    reqs = []
    for n in range(300):
        req = core.HttpRequest()
        req.method, req.query, req.scheme = b"GET", b"", "http"
        req.host, req.path, req.headers, expected = [
            (b"gw", b"/orders/%d" % n, [], ("orders", b"/api/%d" % n)),
            (b"a.example.com", b"/items/%d" % n, [], ("items", b"/api")),
            (b"gw", b"/t/%d" % n, [(b"X-Tenant", b"A")], ("tenant", b"/api/%d" % n)),
        ][n % 3]
        reqs.append((req, expected))
    python_calls = []

    def profiler(frame, event, arg):
        if event == "call":
            python_calls.append(frame.f_code.co_name)
    decisions = []
    # The collector stays off while the profiler listens: a collection falling inside the loop
    # calls whatever gc.callbacks hold (hypothesis registers one once any of its tests ran),
    # a Python frame that is not the router's. Whether one falls there depended on where the
    # allocation count stood when the loop began, so the test passed or failed by test order.
    import gc
    gc_was_on = gc.isenabled()
    gc.disable()
    sys.setprofile(profiler)
    try:
        for req, _ in reqs:
            decisions.append(core.route_request(gw, req))
    finally:
        sys.setprofile(None)
        if gc_was_on:
            gc.enable()
    assert python_calls == []
    assert [(d.route.name, d.target) for d in decisions] == [e for _, e in reqs]


@pytest.mark.parametrize("raw, route_name, target", [
    (b"/orders/../admin/x", "admin", b"/x"),
    (b"/orders/%2e%2e/admin", "admin", b"/"),
    (b"/orders//7", "orders", b"/7"),
    (b"/orders/./7", "orders", b"/7"),
    (b"/orders/.hidden", "orders", b"/.hidden"),
    (b"/%6Frders/7", "orders", b"/7"),
])
def test_the_core_routes_the_normalised_path(raw, route_name, target):
    """Dot segments, repeated slashes and escaped unreserved characters are resolved before
    routing (the core's scan sends such paths to normalize_path): /orders/../admin is /admin."""
    from jqgate._core import core
    from jqgate.config.model import GatewayConfig, Service
    from jqgate.gateway.routing import Gateway
    svc = Service(name="s", id="s", protocol="http", host="127.0.0.1", port=9, path=None)
    gw = Gateway(GatewayConfig(services=[svc], upstreams=[], routes=[
        route("orders", paths=["/orders"]), route("admin", paths=["/admin"])]))
    req = core.HttpRequest()
    req.method, req.host, req.path, req.query, req.headers, req.scheme = \
        b"GET", b"gw", raw, b"", [], "http"
    decision = core.route_request(gw, req)
    assert (decision.route.name, decision.target) == (route_name, target)


def test_snis_match_the_tls_server_name_only():
    # (an snis route sorts after a paths route of as many conditions, as in Kong: hence paths)
    r = build(route("sni", snis=["api.example.com"], paths=["/x"], protocols=["https"]),
              route("wild-sni", snis=["*.example.org"], paths=["/"], protocols=["https"]),
              route("plain", paths=["/"]))
    assert r.match(b"GET", b"", "/x", scheme="https", sni="api.example.com").target == "sni"
    assert r.match(b"GET", b"", "/x", scheme="https", sni="API.example.COM").target == "sni"
    assert r.match(b"GET", b"", "/x", scheme="https", sni="a.example.org").target == "wild-sni"
    # no server name (plain http, or a TLS client that sent none): the snis routes never match
    assert r.match(b"GET", b"", "/x", scheme="https").target == "plain"
    assert r.match(b"GET", b"", "/x").target == "plain"
    assert r.match(b"GET", b"", "/x", scheme="https", sni="other.test").target == "plain"
    assert r.core.reads_sni and not build(route("p", paths=["/"])).core.reads_sni
