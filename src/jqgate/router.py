"""Kong-style request routing, built once per configuration.

A route matches when every criterion it sets matches: one of its `hosts` (exact, `*.suffix` or
`prefix.*` wildcards), one of its `paths` (a plain prefix, or `~regex` anchored at the start),
and one of its `methods`. When several match, the most specific wins, in Kong's order:

  1. hosts: an exact host beats a wildcard host beats no host condition;
  2. paths: a regex path beats a prefix path (regexes by `regex_priority`, higher first), a longer
     prefix beats a shorter one, and any path beats no path condition;
  3. methods: a route with a methods condition beats one without;
  4. then configuration order.

Everything that can be is done at build time: candidates are split by host kind and sorted by
that priority, regexes are compiled once, methods become frozensets. A lookup walks the
candidates for the request's host in priority order and returns the first that matches.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

NO_ROUTE_MESSAGE = "no Route matched with those values"


@dataclass
class RouteMatch:
    """The result of a lookup: the route, and how its path condition matched."""
    route: Any                    # the config Route record
    target: Any                   # whatever the builder attached to the route (a service, ...)
    matched_prefix: str           # the part of the path the route's path condition consumed
    path: str                     # the full request path


@dataclass
class _Candidate:
    route: Any
    target: Any
    order: int
    host_exact: frozenset | None = None      # None = no host condition
    host_suffixes: tuple = ()                # "*.example.com" -> ".example.com"
    host_prefixes: tuple = ()                # "example.*" -> "example."
    prefix: str | None = None                # plain path condition
    regex: Any = None                        # compiled regex path condition
    methods: frozenset | None = None
    sort_key: tuple = field(default=())


def _host_only(host: str) -> str:
    """Host header value without the port, lower-cased."""
    host = host.strip().lower()
    if host.startswith("["):                 # IPv6 literal
        end = host.find("]")
        return host[: end + 1] if end >= 0 else host
    colon = host.rfind(":")
    return host[:colon] if colon >= 0 else host


class Router:
    """Built from (route, target) pairs; `match(method, host, path)` on the hot path."""

    def __init__(self, routes: list[tuple[Any, Any]]):
        self._exact: dict[str, list[_Candidate]] = {}
        self._wild: list[_Candidate] = []
        self._any: list[_Candidate] = []
        for order, (route, target) in enumerate(routes):
            for cand in self._candidates(route, target, order):
                if cand.host_exact is None and not cand.host_suffixes and not cand.host_prefixes:
                    self._any.append(cand)
                else:
                    if cand.host_exact:
                        for h in cand.host_exact:
                            self._exact.setdefault(h, []).append(cand)
                    if cand.host_suffixes or cand.host_prefixes:
                        self._wild.append(cand)
        key = lambda c: c.sort_key  # noqa: E731
        for lst in self._exact.values():
            lst.sort(key=key)
        self._wild.sort(key=key)
        self._any.sort(key=key)

    @staticmethod
    def _candidates(route, target, order):
        """One candidate per path of the route (each path has its own priority)."""
        exact, suffixes, prefixes = set(), [], []
        for h in route.hosts or []:
            h = h.strip().lower()
            if h.startswith("*."):
                suffixes.append(h[1:])
            elif h.endswith(".*"):
                prefixes.append(h[:-1])
            else:
                exact.add(h)
        methods = frozenset(m.upper().encode() for m in route.methods) if route.methods else None
        has_hosts = bool(exact or suffixes or prefixes)
        paths = list(route.paths or []) or [None]
        for p in paths:
            c = _Candidate(route=route, target=target, order=order,
                           host_exact=frozenset(exact) if has_hosts else None,
                           host_suffixes=tuple(suffixes), host_prefixes=tuple(prefixes),
                           methods=methods)
            if p is None:
                path_rank = (0, 0)
            elif p.startswith("~"):
                c.regex = re.compile(p[1:])
                path_rank = (2, route.regex_priority)
            else:
                c.prefix = p
                path_rank = (1, len(p))
            # exact host entries sort before wildcards through the bucket order; inside a
            # bucket: regex/longer paths first, then routes with methods, then config order.
            c.sort_key = (-path_rank[0], -path_rank[1], 0 if methods else 1, order)
            yield c

    def match(self, method: bytes, host: bytes | str, path: str) -> RouteMatch | None:
        h = _host_only(host.decode("latin-1") if isinstance(host, bytes) else host)
        lst = self._exact.get(h)
        if lst:
            m = self._first(lst, method, path)
            if m is not None:
                return m
        if self._wild:
            wild = [c for c in self._wild
                    if h.endswith(c.host_suffixes) or h.startswith(c.host_prefixes)] \
                if h else []
            m = self._first(wild, method, path)
            if m is not None:
                return m
        return self._first(self._any, method, path)

    @staticmethod
    def _first(cands, method, path):
        for c in cands:
            if c.methods is not None and method not in c.methods:
                continue
            if c.prefix is not None:
                if not path.startswith(c.prefix):
                    continue
                return RouteMatch(c.route, c.target, c.prefix, path)
            if c.regex is not None:
                m = c.regex.match(path)
                if m is None:
                    continue
                return RouteMatch(c.route, c.target, path[: m.end()], path)
            return RouteMatch(c.route, c.target, "", path)
        return None


def upstream_path(service_path: str | None, match: RouteMatch, strip_path: bool) -> str:
    """The path sent upstream (Kong's `path_handling = v0`): the service path joined with the
    request path, minus the matched prefix when `strip_path`; a slash where both sides have
    one is collapsed."""
    rest = match.path[len(match.matched_prefix):] if strip_path else match.path
    base = service_path or "/"
    if base.endswith("/"):
        if rest.startswith("/"):
            rest = rest[1:]
        return base + rest
    return base + rest


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def normalize_path(path: str) -> str:
    """The path routes match against and the upstream receives (RFC 3986 section 6, as Kong):
    percent-escapes of unreserved characters decoded (others upper-cased), repeated slashes
    merged, `.` and `..` segments removed. Without this, `/public/../admin` would match a
    `/public` route and reach the upstream as a path to `/admin`."""
    if "%" not in path and "/." not in path and "//" not in path:
        return path                      # the common case costs three scans
    if "%" in path:
        out, i, n = [], 0, len(path)
        while i < n:
            ch = path[i]
            if ch == "%" and _is_hex(path[i + 1:i + 3]):
                dec = chr(int(path[i + 1:i + 3], 16))
                out.append(dec if dec in _UNRESERVED else "%" + path[i + 1:i + 3].upper())
                i += 3
            else:
                out.append(ch)
                i += 1
        path = "".join(out)
    segments = []
    for seg in path.split("/")[1:]:
        if seg == "..":
            if segments:
                segments.pop()
        elif seg != "." and seg != "":
            segments.append(seg)
    trailing = path.endswith(("/", "/.", "/..")) and bool(segments)
    return "/" + "/".join(segments) + ("/" if trailing else "")


def _is_hex(s: str) -> bool:
    return len(s) == 2 and all(c in "0123456789abcdefABCDEF" for c in s)
