"""The `property` node's property table (datakit.md §5.4) and load-time checks (G15, D24).

Each entry says whether the property can be read (GET: the node has no input) and written (SET:
an input is connected), and its family code (jqgate.plan PROP_*), which the plan carries so that
the core switches on an int per request. Families ending in `.<key>` take any non-empty key.
"""
from __future__ import annotations

from dataclasses import dataclass

from jqgate import plan as P


@dataclass(frozen=True)
class PropertySpec:
    family: str
    readable: bool
    writable: bool
    type: str
    code: int                    # jqgate.plan PROP_*


_SPECS = [
    PropertySpec("kong.client.consumer", True, True, "object", P.PROP_CLIENT_CONSUMER),
    PropertySpec("kong.client.consumer_groups", True, False, "array", P.PROP_CLIENT_CONSUMER_GROUPS),
    PropertySpec("kong.client.credential", True, False, "object", P.PROP_CLIENT_CREDENTIAL),
    PropertySpec("kong.client.identity_realm_source", True, False, "object", P.PROP_CLIENT_IDENTITY_REALM_SOURCE),
    PropertySpec("kong.client.forwarded_ip", True, False, "string", P.PROP_CLIENT_FORWARDED_IP),
    PropertySpec("kong.client.forwarded_port", True, False, "number", P.PROP_CLIENT_FORWARDED_PORT),
    PropertySpec("kong.client.ip", True, False, "string", P.PROP_CLIENT_IP),
    PropertySpec("kong.client.port", True, False, "number", P.PROP_CLIENT_PORT),
    PropertySpec("kong.client.protocol", True, False, "string", P.PROP_CLIENT_PROTOCOL),
    PropertySpec("kong.request.forwarded_host", True, False, "string", P.PROP_REQUEST_FORWARDED_HOST),
    PropertySpec("kong.request.forwarded_port", True, False, "number", P.PROP_REQUEST_FORWARDED_PORT),
    PropertySpec("kong.request.forwarded_scheme", True, False, "string", P.PROP_REQUEST_FORWARDED_SCHEME),
    PropertySpec("kong.request.port", True, False, "number", P.PROP_REQUEST_PORT),
    PropertySpec("kong.response.source", True, False, "string", P.PROP_RESPONSE_SOURCE),
    PropertySpec("kong.router.route", True, False, "object", P.PROP_ROUTER_ROUTE),
    PropertySpec("kong.router.service", True, False, "object", P.PROP_ROUTER_SERVICE),
    PropertySpec("kong.route_id", True, False, "string", P.PROP_ROUTE_ID),
    PropertySpec("kong.route_name", True, False, "string", P.PROP_ROUTE_NAME),
    PropertySpec("kong.service_id", True, False, "string", P.PROP_SERVICE_ID),
    PropertySpec("kong.service_name", True, False, "string", P.PROP_SERVICE_NAME),
    PropertySpec("kong.service.response.status", True, False, "number", P.PROP_SERVICE_RESPONSE_STATUS),
    PropertySpec("kong.version", True, False, "string", P.PROP_VERSION),
    PropertySpec("kong.nginx.subsystem", True, False, "string", P.PROP_NGINX_SUBSYSTEM),
    PropertySpec("kong.node.id", True, False, "string", P.PROP_NODE_ID),
    PropertySpec("kong.node.memory_stats", True, False, "object", P.PROP_NODE_MEMORY_STATS),
    PropertySpec("kong.service.target", False, True, "string", P.PROP_SERVICE_TARGET),
    PropertySpec("kong.service.request.scheme", False, True, "string", P.PROP_SERVICE_REQUEST_SCHEME),
    PropertySpec("kong.service.upstream", False, True, "string", P.PROP_SERVICE_UPSTREAM),
    PropertySpec("kong.response.status", False, True, "number", P.PROP_RESPONSE_STATUS),
]
PROPERTIES = {spec.family: spec for spec in _SPECS}

# Families with a free key after the prefix.
KEYED_FAMILIES = {
    "kong.ctx.plugin": PropertySpec("kong.ctx.plugin", True, True, "any", P.PROP_CTX_PLUGIN),
    "kong.ctx.shared": PropertySpec("kong.ctx.shared", True, True, "any", P.PROP_CTX_SHARED),
    "kong.configuration": PropertySpec("kong.configuration", True, False, "any", P.PROP_CONFIGURATION),
}

# D24: the spellings the 3.11-3.13 docs printed, accepted as aliases of the corrected names.
ALIASES = {
    "kong.service.request_scheme": "kong.service.request.scheme",
    "kong.client.get_identity_realm_source": "kong.client.identity_realm_source",
}


def resolve(name: str) -> tuple[PropertySpec, str, str | None] | None:
    """(spec, canonical name, key) for a property name, or None when it is not supported."""
    canonical = ALIASES.get(name, name)
    spec = PROPERTIES.get(canonical)
    if spec is not None:
        return spec, canonical, None
    for prefix, keyed in KEYED_FAMILIES.items():
        if canonical.startswith(prefix + ".") and len(canonical) > len(prefix) + 1:
            return keyed, canonical, canonical[len(prefix) + 1:]
    return None


def check_mode(name: str, is_set: bool) -> tuple[tuple[PropertySpec, str, str | None] | None, str | None]:
    """Resolve a property and check it supports the mode; returns (resolution, error message)."""
    resolved = resolve(name)
    if resolved is None:
        return None, f'unknown property "{name}"'
    spec = resolved[0]
    if is_set and not spec.writable:
        return resolved, f'property "{name}" is read-only: it cannot be set (remove the input)'
    if not is_set and not spec.readable:
        return resolved, f'property "{name}" is write-only: it can only be set (connect an input)'
    return resolved, None
