"""The Admin API's URL table: (path pattern, {method: handler}). `{name}` matches one path
segment (percent-decoded). A trailing slash is ignored (the Kong docs POST to `/plugins/`).
A known path with another method answers 405, an unknown path 404, both in Kong's shape."""
from __future__ import annotations

import re
from urllib.parse import unquote

from jqgate.admin import entity_writes as w
from jqgate.admin import handlers as h

ROUTES = [
    ("/", {"GET": h.get_root}),
    ("/status", {"GET": h.get_status}),
    ("/metrics", {"GET": h.get_metrics}),
    ("/services", {"GET": h.list_services, "POST": w.create_service}),
    ("/services/{service}", {"GET": h.get_service, "PATCH": w.patch_service,
                             "DELETE": w.delete_service}),
    ("/services/{service}/routes", {"GET": h.list_routes, "POST": w.create_route}),
    ("/services/{service}/plugins", {"GET": h.list_plugins, "POST": h.create_plugin}),
    ("/routes", {"GET": h.list_routes, "POST": w.create_route}),
    ("/routes/{route}", {"GET": h.get_route, "PATCH": w.patch_route, "DELETE": w.delete_route}),
    ("/routes/{route}/plugins", {"GET": h.list_plugins, "POST": h.create_plugin}),
    ("/plugins", {"GET": h.list_plugins, "POST": h.create_plugin}),
    ("/plugins/enabled", {"GET": h.enabled_plugins}),          # before /plugins/{plugin}
    ("/plugins/{plugin}", {"GET": h.get_plugin, "PATCH": h.patch_plugin,
                           "DELETE": h.delete_plugin}),
    ("/upstreams", {"GET": h.list_upstreams}),
    ("/upstreams/{upstream}", {"GET": h.get_upstream}),
    ("/upstreams/{upstream}/targets", {"GET": h.list_targets}),
    ("/consumers/{consumer}/plugins", {"GET": h.consumer_plugins, "POST": h.consumer_plugins}),
    ("/consumer_groups/{consumer_group}/plugins", {"GET": h.consumer_plugins,
                                                   "POST": h.consumer_plugins}),
    ("/config", {"GET": h.get_config, "POST": h.post_config}),
    ("/schemas/plugins/validate", {"POST": h.validate_plugin}),
]


def _compile(pattern: str) -> re.Pattern:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
    return re.compile("^" + regex + "$")


def compile_table(routes) -> list:
    return [(_compile(pattern), methods) for pattern, methods in routes]


TABLE = compile_table(ROUTES)


def match(method: str, path: str, table=None):
    """(handler, params); (None, None) for an unknown path; (None, {}) for a wrong method."""
    table = TABLE if table is None else table
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    for regex, methods in table:
        m = regex.match(path)
        if m is None:
            continue
        handler = methods.get(method)
        if handler is None and method == "HEAD":
            handler = methods.get("GET")
        if handler is None:
            return None, {}
        return handler, {k: unquote(v) for k, v in m.groupdict().items()}
    return None, None
