"""Kong's traditional router: the table built once per configuration.

A route matches when every condition it sets holds: one of its `methods`; one of its `hosts`
(exact, `*.suffix` or `prefix.*` wildcards, optionally with a port); every one of its `headers`
(one of the listed values, compared case-insensitively, or a single `~*regex` value searched in
the lower-cased request value); one of its `paths` (a plain prefix, or `~regex` anchored at the
start); its `snis` (the server name of the TLS handshake, exact or with the hosts' wildcards:
an `snis` route never matches plain http nor a client that sent no name). Among the routes that match, Kong's order picks one:

  1. routes setting more kinds of condition first (hosts, headers, paths, methods, snis), then
     by which kinds: hosts > headers > paths > methods > snis;
  2. among those, wildcard hosts with a port, then plain hosts only, then a regex path;
  3. more headers conditions first;
  4. regex paths by `regex_priority` (higher first); plain prefixes longest first;
  5. configuration (creation) order.

A route with several paths sorts once per path (Kong splits it), so `/a/long/path` on a route
can beat another route's `/a` while the same route's `/` does not. The matching runs in the core
(jqgate._core routing/router.pyx); this module orders the entries and files them in buckets.
Differences from Kong: regexes are Python's (`(?<name>...)` is accepted as PCRE writes it);
a host condition with a port also matches a request for that host without a port when the
port is the scheme's default; the match is the first route in this order, always (Kong's
reduced candidate sets can, in rare mixes, pick a later one).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from jqgate._core.core import (CompiledRouter, RouteBuckets, RouteEntry, ServiceTarget,
                               kong_upstream_path)
from jqgate._core.core import NO_ROUTE_MESSAGE  # noqa: F401  (re-exported)
from jqgate.config.routes import python_regex
from jqgate.http_path import normalize_path

HOST, HEADER, URI, METHOD, SNI = 0x40, 0x20, 0x10, 0x08, 0x04
HAS_REGEX_URI, PLAIN_HOSTS_ONLY, HAS_WILDCARD_HOST_PORT = 0x01, 0x02, 0x04
_PORT = re.compile(r":[0-9]+$")


@dataclass
class RouteMatch:
    """A lookup's result for Python callers: the route, and how its path condition matched."""
    route: Any                    # the config Route record
    target: Any                   # whatever the builder attached to the route
    matched_prefix: str           # the part of the path the route's path condition consumed
    path: str                     # the (normalised) request path
    has_path: bool = False        # the route matched with a path condition


class Router:
    """Built from (route, target) pairs; `core` is the compiled table the handlers use."""

    def __init__(self, routes: list[tuple[Any, Any]]):
        keyed = []
        for order, (route, target) in enumerate(routes):
            for entry, key in _entries(route, target, order):
                keyed.append((key, entry))
        keyed.sort(key=lambda pair: pair[0])
        self.entries: list[RouteEntry] = [entry for _, entry in keyed]
        self.core = core = CompiledRouter()
        for pos, entry in enumerate(self.entries):
            entry.pos = pos
            if entry.headers is not None:
                core.reads_headers = True
            if any(_PORT.search(h.decode()) for h in entry.hosts or ()) or \
                    any(w[2] is not None for w in entry.wild_hosts):
                core.reads_ports = True
            if entry.snis is not None:
                core.reads_sni = True
            plain = entry.has_hosts and not entry.wild_hosts
            # A regex that starts with a literal can only match paths starting with it: filed
            # under that literal like a prefix, it is tried only for such paths.
            key = entry.prefix
            if entry.regex is not None:
                key = literal_prefix(entry.regex.pattern.decode("utf-8")).encode("utf-8") or None
            for bucket in ([core.by_host.setdefault(h, RouteBuckets()) for h in entry.hosts]
                           if plain else [core.any_host]):
                if key is not None:
                    bucket.by_prefix.setdefault(key, []).append(entry)
                else:
                    bucket.rest.append(entry)
        for bucket in list(core.by_host.values()) + [core.any_host]:
            bucket.seal()

    def match(self, method: bytes, host: bytes | str, path: str, headers=None,
              scheme: str = "http", sni: str | None = None) -> RouteMatch | None:
        """The route for a request (path already normalised), for Python callers."""
        if isinstance(host, str):
            host = host.encode("latin-1")
        found = self.core.match(method, host, path.encode("latin-1"), list(headers or []),
                                scheme == "https", sni.lower().encode() if sni else None)
        if found is None:
            return None
        entry, length = found
        has_path = entry.prefix is not None or entry.regex is not None
        return RouteMatch(entry.route, entry.target, path[:length] if has_path else "", path,
                          has_path)


_REGEX_SPECIAL = frozenset(".^$*+?{}[]\\|()")


def literal_prefix(pattern: str) -> str:
    """The text every match of `pattern` (anchored at the start) begins with: the characters
    before the first special one, less the last if a `?`, `*` or `{` may drop it. Empty when
    the pattern has an alternation anywhere (its branches need not share a start)."""
    if "|" in pattern:
        return ""
    out = []
    for i, ch in enumerate(pattern):
        if ch in _REGEX_SPECIAL:
            if ch in "?*{" and out:
                out.pop()
            break
        out.append(ch)
    return "".join(out)


def _entries(route, target, order):
    """(RouteEntry, sort key) for each path of the route (one for a route without paths)."""
    plain, wild = set(), []
    wildcard_port = False
    for h in route.hosts or []:
        h = h.strip().lower()
        if "*" not in h:
            plain.add(h.encode())
            continue
        port = None
        m = _PORT.search(h)
        if m:
            port, h = m.group(0).encode(), h[:m.start()]
            wildcard_port = True
        if h.startswith("*"):
            wild.append((h[1:].encode(), True, port))      # "*.example.com" -> ".example.com"
        else:
            wild.append((h[:-1].encode(), False, port))    # "example.*" -> "example."
    headers = []
    for name, values in (getattr(route, "headers", None) or {}).items():
        regex = None
        if len(values) == 1 and values[0].startswith("~*"):
            regex = python_regex(values[0][2:])
        headers.append((name.lower().encode(), frozenset(v.lower().encode() for v in values),
                        regex))
    methods = frozenset(m.upper().encode() for m in route.methods) if route.methods else None
    snis = getattr(route, "snis", None) or []
    kinds = [(HOST, bool(route.hosts)), (HEADER, bool(headers)), (URI, bool(route.paths)),
             (METHOD, bool(methods)), (SNI, bool(snis))]
    category = sum(bit for bit, on in kinds if on)
    weight = sum(1 for _, on in kinds if on)
    submatch = 0
    if route.hosts and not wild:
        submatch |= PLAIN_HOSTS_ONLY
    if wildcard_port:
        submatch |= HAS_WILDCARD_HOST_PORT
    service = target if isinstance(target, ServiceTarget) else None
    for path in list(route.paths or []) or [None]:
        e = RouteEntry()
        e.route = route
        e.target = target
        e.service = service
        e.methods = methods
        e.has_hosts = bool(route.hosts)
        e.hosts = frozenset(plain)
        e.wild_hosts = tuple(wild)
        e.headers = tuple(headers) if headers else None
        if snis:
            e.snis = frozenset(s.lower().encode() for s in snis if "*" not in s)
            e.wild_snis = tuple((s[1:].lower().encode(), True, None) if s.startswith("*")
                                else (s[:-1].lower().encode(), False, None)
                                for s in snis if "*" in s)
        protocols = route.protocols or ["http", "https"]
        e.https_only = "http" not in protocols
        e.strip_path = bool(route.strip_path)
        e.preserve_host = bool(route.preserve_host)
        e.path_v1 = getattr(route, "path_handling", "v0") == "v1"
        e.service_path = (service.path or "/").encode("latin-1") if service is not None else b"/"
        sub, priority, length = submatch, 0, 0
        if path is not None and path.startswith("~"):
            e.regex = python_regex(path[1:])
            sub |= HAS_REGEX_URI
            priority = route.regex_priority
        elif path is not None:
            e.prefix = normalize_path(path).encode("latin-1")
            length = len(path)
        yield e, (-weight, -category, -sub, -len(headers), -priority, -length, order)


def upstream_path(service_path: str | None, match: RouteMatch, strip_path: bool,
                  path_handling: str = "v0") -> str:
    """The path sent upstream (Kong's path_handling v0 or v1), for Python callers; the core
    computes the same per request (kong_upstream_path)."""
    matched = len(match.matched_prefix) if match.has_path else -1
    return kong_upstream_path((service_path or "/").encode("latin-1"),
                              match.path.encode("latin-1"), matched, strip_path,
                              path_handling == "v1").decode("latin-1")
