"""Absolute http(s) URLs: the one place that splits them and knows the default ports.

A `call` node's `url` is split here when the plan is compiled (compiler/lower.py), and a URL
that arrives on its `url` input is split here per request, by both executors
(_core/engine/ops/call.pyx, reference/nodes.py); the schema's S14 check (nodes/call.py) and a
service's `url` (config/services.py) accept what this accepts."""
from __future__ import annotations

from urllib.parse import urlsplit

from jqgate.plan import CallTarget

DEFAULT_PORTS = {"http": 80, "https": 443}


def split_http_url(url: str) -> CallTarget:
    """The parts a request to `url` needs; ValueError (saying why) unless it is an absolute
    http or https URL with a host and a valid port."""
    parts = urlsplit(url)                 # lower-cases the scheme
    port = parts.port                     # ValueError on a bad port
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("an absolute http or https URL is required")
    default = DEFAULT_PORTS[parts.scheme]
    host = parts.hostname                 # without brackets for IPv6
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port is None or port == default else f"{shown}:{port}"
    path = parts.path or "/"
    target = path + ("?" + parts.query if parts.query else "")
    return CallTarget(url, parts.scheme, host, port or default, target, path, parts.query,
                      host_header)
