"""The Admin API's URL table: (path pattern, {method: handler}). `{name}` matches one path
segment (percent-decoded). A trailing slash is ignored (the Kong docs POST to `/plugins/`).
A known path with another method answers 405, an unknown path 404, both in Kong's shape."""
from __future__ import annotations

import re
from urllib.parse import unquote

from jqgate.admin import ca_certificates_api as ca
from jqgate.admin import entity_writes as w
from jqgate.admin import handlers as h
from jqgate.admin import tls_entities as t
from jqgate.admin import health_api as health
from jqgate.admin import upstream_writes as u

ROUTES = [
    ("/", {"GET": h.get_root}),
    ("/status", {"GET": h.get_status}),
    ("/metrics", {"GET": h.get_metrics}),
    ("/services", {"GET": h.list_services, "POST": w.create_service}),
    ("/services/{service}", {"GET": h.get_service, "PUT": w.put_service,
                             "PATCH": w.patch_service, "DELETE": w.delete_service}),
    ("/services/{service}/routes", {"GET": h.list_routes, "POST": w.create_route}),
    ("/services/{service}/plugins", {"GET": h.list_plugins, "POST": h.create_plugin}),
    ("/routes", {"GET": h.list_routes, "POST": w.create_route}),
    ("/routes/{route}", {"GET": h.get_route, "PUT": w.put_route, "PATCH": w.patch_route,
                         "DELETE": w.delete_route}),
    ("/routes/{route}/plugins", {"GET": h.list_plugins, "POST": h.create_plugin}),
    ("/plugins", {"GET": h.list_plugins, "POST": h.create_plugin}),
    ("/plugins/enabled", {"GET": h.enabled_plugins}),          # before /plugins/{plugin}
    ("/plugins/{plugin}", {"GET": h.get_plugin, "PUT": h.put_plugin,
                           "PATCH": h.patch_plugin, "DELETE": h.delete_plugin}),
    ("/upstreams", {"GET": h.list_upstreams, "POST": u.create_upstream}),
    ("/upstreams/{upstream}", {"GET": h.get_upstream, "PUT": u.put_upstream,
                               "PATCH": u.patch_upstream, "DELETE": u.delete_upstream}),
    ("/upstreams/{upstream}/health", {"GET": health.get_health}),
    ("/upstreams/{upstream}/targets", {"GET": h.list_targets, "POST": u.create_target}),
    ("/upstreams/{upstream}/targets/{target}", {"GET": u.get_target, "PUT": u.put_target,
                                                "PATCH": u.patch_target,
                                                "DELETE": u.delete_target}),
    ("/upstreams/{upstream}/targets/{target}/healthy", {"POST": health.post_healthy}),
    ("/upstreams/{upstream}/targets/{target}/unhealthy", {"POST": health.post_unhealthy}),
    ("/consumers/{consumer}/plugins", {"GET": h.consumer_plugins, "POST": h.consumer_plugins}),
    ("/consumer_groups/{consumer_group}/plugins", {"GET": h.consumer_plugins,
                                                   "POST": h.consumer_plugins}),
    ("/certificates", {"GET": t.list_certificates, "POST": t.create_certificate}),
    ("/certificates/{certificate}", {"GET": t.get_certificate, "PATCH": t.patch_certificate,
                                     "PUT": t.put_certificate, "DELETE": t.delete_certificate}),
    ("/certificates/{certificate}/snis", {"GET": t.list_snis, "POST": t.create_sni}),
    ("/snis", {"GET": t.list_snis, "POST": t.create_sni}),
    ("/snis/{sni}", {"GET": t.get_sni, "PATCH": t.patch_sni, "PUT": t.put_sni,
                     "DELETE": t.delete_sni}),
    ("/ca_certificates", {"GET": ca.list_ca_certificates, "POST": ca.create_ca_certificate}),
    ("/ca_certificates/{ca_certificate}", {"GET": ca.get_ca_certificate,
                                           "PUT": ca.put_ca_certificate,
                                           "PATCH": ca.patch_ca_certificate,
                                           "DELETE": ca.delete_ca_certificate}),
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
