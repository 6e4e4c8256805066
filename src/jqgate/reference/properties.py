"""The `property` node in the reference executor, written from datakit.md §5.4, §12 and D24.

Independent of the compiler's resolution on purpose: this module reads the property *as the
user wrote it* (`params.property`), applies the D24 aliases itself and finds the table row by
name in its own table, so a wrong family code or key in the plan shows up as a disagreement with
the core. Each row is a getter and/or a setter; a missing one means the spec's table has no ✓ in
that column (the compiler refuses such a node, so reaching it here is a bug).
"""
from __future__ import annotations

import json
import os
import re
import resource

from jqgate.reference.values import NodeError, json_text, number_text, type_name

# D24: the spellings the 3.11-3.13 docs printed, and the corrected names they stand for.
ALIASES = {"kong.service.request_scheme": "kong.service.request.scheme",
           "kong.client.get_identity_realm_source": "kong.client.identity_realm_source"}

# §5.4 "kong.ctx.plugin.<key>", "kong.ctx.shared.<key>", "kong.configuration.<key>"
KEYED_PREFIXES = ("kong.ctx.plugin.", "kong.ctx.shared.", "kong.configuration.")

# §5.4 kong.service.target is "host:port"; a port is 1-65535 written in ASCII digits.
TARGET = re.compile(r"(?P<host>.+):(?P<port>[0-9]{1,5})", re.ASCII)


def split_name(written: str) -> tuple[str, str | None]:
    """The row of the table and the <key> of a keyed row, for a property name as written."""
    name = ALIASES.get(written, written)
    for prefix in KEYED_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return prefix[:-1], name[len(prefix):]
    return name, None


# ---------------------------------------------------------------------------------------------
# GET: what each readable row means on this gateway (§5.4 "standalone meaning", §12)

def host_of(request) -> str | None:
    """nginx's $host, which Kong's kong.request.get_host() returns: the Host header's name part,
    lower-cased; an IPv6 literal keeps its brackets."""
    for name, value in request.headers:
        name = name.decode("latin-1") if isinstance(name, bytes) else name
        if name.lower() != "host":
            continue
        value = value.decode("latin-1") if isinstance(value, bytes) else value
        if value.startswith("["):
            return value[:value.index("]") + 1].lower() if "]" in value else value.lower()
        return value.split(":", 1)[0].lower()
    return None


def field_of(record, name):
    return record.get(name) if isinstance(record, dict) else None


def memory_stats(run):
    # Kong's shape (lua_shared_dicts, workers_lua_vms); this gateway's one "VM" is the process
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"lua_shared_dicts": {},
            "workers_lua_vms": [{"pid": os.getpid(), "http_allocated_gc": rss}]}


def response_source(run):
    return run.response_source()


# No proxy is trusted (Kong's default trusted_ips is empty), so the forwarded_* rows are the
# values of the direct connection, never X-Forwarded-* headers.
GETTERS = {
    "kong.client.consumer": lambda run, key: run.request.consumer,
    "kong.client.consumer_groups": lambda run, key: run.request.consumer_groups,
    "kong.client.credential": lambda run, key: run.request.credential,
    "kong.client.identity_realm_source": lambda run, key: None,   # no identity realms here
    "kong.client.forwarded_ip": lambda run, key: run.request.client_ip,
    "kong.client.forwarded_port": lambda run, key: run.request.client_port,
    "kong.client.ip": lambda run, key: run.request.client_ip,
    "kong.client.port": lambda run, key: run.request.client_port,
    "kong.client.protocol": lambda run, key: run.request.scheme,
    "kong.request.forwarded_host": lambda run, key: host_of(run.request),
    "kong.request.forwarded_port": lambda run, key: run.request.server_port,
    "kong.request.forwarded_scheme": lambda run, key: run.request.scheme,
    "kong.request.port": lambda run, key: run.request.server_port,
    "kong.response.source": lambda run, key: response_source(run),
    "kong.router.route": lambda run, key: run.request.route,
    "kong.router.service": lambda run, key: run.request.service,
    "kong.route_id": lambda run, key: field_of(run.request.route, "id"),
    "kong.route_name": lambda run, key: field_of(run.request.route, "name"),
    "kong.service_id": lambda run, key: field_of(run.request.service, "id"),
    "kong.service_name": lambda run, key: field_of(run.request.service, "name"),
    "kong.service.response.status": lambda run, key: run.upstream_status,
    "kong.version": lambda run, key: run.env.version,
    "kong.nginx.subsystem": lambda run, key: "http",
    "kong.node.id": lambda run, key: run.env.node_id,
    "kong.node.memory_stats": lambda run, key: memory_stats(run),
    "kong.configuration": lambda run, key: run.env.configuration.get(key),
    "kong.ctx.plugin": lambda run, key: run.ctx_plugin.get(key),
    "kong.ctx.shared": lambda run, key: run.ctx_shared.get(key),
}


def property_get(run, params):
    written = params.property
    row, key = split_name(written)
    getter = GETTERS.get(row)
    if getter is None:
        raise NodeError('property "%s" cannot be read' % written)
    value = getter(run, key)
    # content_type application/json: GET decodes the stored JSON text (§5.4)
    if params.content_type == "application/json" and isinstance(value, str):
        try:
            value = json.loads(value, parse_constant=_no_constant)
        except ValueError:
            raise NodeError('property "%s": stored value is not valid JSON' % written) from None
    if value is None and params.non_nil:
        raise NodeError('property "%s" is not set (non_nil)' % written)
    return value


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


# ---------------------------------------------------------------------------------------------
# SET: each writable row checks its value (its "Type" column) and records it for the proxy

def text_value(written, value) -> str:
    """A string row: a number is accepted as its decimal text (§3.4 number -> string)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number_text(value)
    if isinstance(value, str):
        return value
    raise NodeError('property "%s": expected a string, got %s' % (written, type_name(value)))


def set_consumer(run, key, written, value):
    # 3.14 authenticate: an object with at least one of id, username, custom_id; null clears
    if value is not None:
        if not isinstance(value, dict) or not (value.get("id") or value.get("username")
                                               or value.get("custom_id")):
            raise NodeError('property "%s": expected an object with "id", "username" or '
                            '"custom_id"' % written)
    run.request.consumer = value
    return value


def set_target(run, key, written, value):
    value = text_value(written, value)
    m = TARGET.fullmatch(value)
    if m is None or not 1 <= int(m.group("port")) <= 65535:
        raise NodeError('property "%s": expected "host:port", got "%s"' % (written, value))
    run.service_target = value
    return value


def set_scheme(run, key, written, value):
    value = text_value(written, value)
    if value != "http" and value != "https":
        raise NodeError('property "%s": expected "http" or "https", got "%s"' % (written, value))
    run.service_scheme = value
    return value


def set_upstream(run, key, written, value):
    run.service_upstream = text_value(written, value)
    return run.service_upstream


def set_status(run, key, written, value):
    """A number; the decimal text of one is taken as that number (§3.4 string -> number)."""
    status = value
    if isinstance(status, str) and re.fullmatch(r"[0-9]+", status.strip(), re.ASCII):
        status = int(status)
    if isinstance(status, float) and status.is_integer():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise NodeError('property "%s": expected a status code 100-599, got %s'
                        % (written, json_text(value)))
    run.response_status = status
    return status


def set_ctx_plugin(run, key, written, value):
    run.ctx_plugin[key] = value
    return value


def set_ctx_shared(run, key, written, value):
    run.ctx_shared[key] = value
    return value


SETTERS = {
    "kong.client.consumer": set_consumer,
    "kong.service.target": set_target,
    "kong.service.request.scheme": set_scheme,
    "kong.service.upstream": set_upstream,
    "kong.response.status": set_status,
    "kong.ctx.plugin": set_ctx_plugin,
    "kong.ctx.shared": set_ctx_shared,
}


def property_set(run, params, value):
    """Store `value`; returns what was written (the node's output, §5.4)."""
    written = params.property
    if value is None and params.non_nil:
        raise NodeError('property "%s": input is null (non_nil)' % written)
    if params.content_type == "application/json":     # SET stores the JSON text
        value = json_text(value)
    row, key = split_name(written)
    setter = SETTERS.get(row)
    if setter is None:
        raise NodeError('property "%s" cannot be set' % written)
    return setter(run, key, written, value)
