"""Routing cost among 1,000 routes: the core's decision per request (Kong's traditional router,
jqgate._core routing/router.pyx, and the ProxyDecision built from the matched route).

    .venv/bin/python bench/routing.py [--routes 1000] [--requests 20000] [--repeat 5]
                                      [--kinds prefix,mixed,regex]

Deterministic instruction counts instead of time (valgrind; the core's route_request only):
    valgrind --tool=callgrind --callgrind-out-file=/tmp/routing.cg \
        --toggle-collect='*route_request*' .venv/bin/python bench/routing.py \
        --kinds mixed --requests 2000 --repeat 1
    then total Ir / (2 x requests): each request is routed twice (check, then timed).

Every request has a path never seen before (/.../orders/<n>), so nothing is remembered
between requests: each one is routed from scratch, as high-cardinality traffic is. Three
route sets: `prefix` (plain prefixes, a quarter of them under one of 10 hosts), `mixed` (35 %
prefixes under one of 10 hosts, 35 % without hosts, 20 % regex paths, 10 % a header condition
on one of 10 paths) and `regex` (all regex paths, each starting with a literal, as Kong users
write them). Each request's answer is checked against the route it
was built for. The figure is the best of --repeat timed passes over the requests, in CPU time
of this process (time.process_time: a loaded machine delays the run but does not bill it),
less the cost of the same loop calling a no-op (the loop's own overhead), per request.
Target: <= 2 us per request.
"""
from __future__ import annotations

import argparse
import random
import sys
import time

from jqgate._core import core
from jqgate.config.model import GatewayConfig, Route, Service
from jqgate.gateway.routing import Gateway

HOSTS = ["api%d.example.com" % i for i in range(10)]


def build(kind: str, n: int):
    """(gateway, [(method, host, path, headers, expected route name)])"""
    services = [Service(name="s", id="s", protocol="http", host="127.0.0.1", port=9, path=None)]
    routes, probes = [], []
    rnd = random.Random(7)
    for i in range(n):
        name = "r%d" % i
        roll = (i * 37) % 100
        if kind == "regex" or (kind == "mixed" and roll < 20):
            routes.append(Route(name=name, id=name, service_id="s",
                                paths=[r"~/items%d/(?<id>\d+)$" % i], methods=["GET"]))
            probes.append((b"GET", b"", lambda k, i=i: b"/items%d/%d" % (i, k), [], name))
        elif kind == "mixed" and roll < 30:
            routes.append(Route(name=name, id=name, service_id="s", paths=["/h%d" % (i % 10)],
                                headers={"x-tenant": ["t%d" % i]}))
            probes.append((b"GET", b"", lambda k, i=i: b"/h%d/orders/%d" % (i % 10, k),
                           [(b"X-Tenant", b"T%d" % i), (b"Accept", b"*/*")], name))
        elif (kind == "mixed" and roll < 65) or (kind == "prefix" and i % 4 == 0):
            host = HOSTS[i % len(HOSTS)]
            routes.append(Route(name=name, id=name, service_id="s", hosts=[host],
                                paths=["/api/v%d/svc%d" % (i % 3, i)]))
            probes.append((b"GET", host.encode(),
                           lambda k, i=i: b"/api/v%d/svc%d/orders/%d" % (i % 3, i, k), [], name))
        else:
            routes.append(Route(name=name, id=name, service_id="s",
                                paths=["/svc%d/" % i], methods=["GET", "POST"]))
            probes.append((b"POST", b"bench", lambda k, i=i: b"/svc%d/orders/%d" % (i, k),
                           [], name))
    gateway = Gateway(GatewayConfig(services=services, routes=routes, upstreams=[]))
    return gateway, probes, rnd


def requests(probes, rnd, count):
    out = []
    for k in range(count):
        method, host, path_of, headers, name = probes[rnd.randrange(len(probes))]
        req = core.HttpRequest()
        req.method, req.host, req.path, req.query = method, host, path_of(k), b""
        req.headers, req.scheme = list(headers), "http"
        out.append((req, name))
    return out


def timed(fn, gateway, reqs) -> float:
    t0 = time.process_time()
    for req in reqs:
        fn(gateway, req)
    return time.process_time() - t0


def noop(gateway, req):
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--routes", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--kinds", default="prefix,mixed,regex")
    args = ap.parse_args()
    worst = 0.0
    for kind in args.kinds.split(","):
        gateway, probes, rnd = build(kind, args.routes)
        pairs = requests(probes, rnd, args.requests)
        for req, name in pairs:
            decision = core.route_request(gateway, req)
            if getattr(decision, "route", None) is None or decision.route.name != name:
                print("%s: %r routed to %r, expected %s" % (kind, req.path, decision, name))
                return 1
        reqs = [req for req, _ in pairs]
        best = min(timed(core.route_request, gateway, reqs) for _ in range(args.repeat))
        base = min(timed(noop, gateway, reqs) for _ in range(args.repeat))
        per = (best - base) / len(reqs) * 1e6
        worst = max(worst, per)
        print("%-6s %d routes: %.2f us per request (loop overhead %.2f us removed)"
              % (kind, args.routes, per, base / len(reqs) * 1e6))
    print("target <= 2 us: %s" % ("met" if worst <= 2.0 else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
