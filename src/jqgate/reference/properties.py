"""The `property` node in the reference executor (datakit.md §5.4, §12).

`family` is the table row the compiler resolved (D24 aliases already applied); `key` is the
<key> of the keyed families. GET reads from the request view, the run, or the gateway env; SET
writes to the run (the proxy honours `service_target`, `service_scheme`, `service_upstream`,
`response_status`) or to the request view (`consumer`, shared by every instance on the request).
"""
from __future__ import annotations

import os
import resource

import orjson

from jqgate.reference.values import NodeError, number_text, type_name


def memory_stats():
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"lua_shared_dicts": {},
            "workers_lua_vms": [{"pid": os.getpid(), "http_allocated_gc": rss_kb * 1024}]}


def _record_field(rec, name):
    return rec.get(name) if isinstance(rec, dict) else None


def _host_header(req):
    for n, v in req.headers:
        n = n.decode("latin-1") if isinstance(n, bytes) else n
        if n.lower() == "host":
            v = v.decode("latin-1") if isinstance(v, bytes) else v
            return v.rsplit(":", 1)[0] if not v.endswith("]") else v
    return None


def get_raw(run, family: str, key):
    """The stored value of a readable property (None when unset)."""
    req = run.request
    if family == "kong.ctx.shared":
        return run.ctx_shared.get(key)
    if family == "kong.ctx.plugin":
        return run.ctx_plugin.get(key)
    if family == "kong.configuration":
        return run.env.configuration.get(key)
    if family == "kong.client.ip":
        return req.client_ip
    if family == "kong.client.port":
        return req.client_port
    if family == "kong.client.protocol":
        return req.scheme
    # The forwarded_* families: Kong reads X-Forwarded-* only from trusted proxies
    # (trusted_ips, empty by default); this gateway trusts none, so they are the direct values.
    if family == "kong.client.forwarded_ip":
        return req.client_ip
    if family == "kong.client.forwarded_port":
        return req.client_port
    if family == "kong.client.consumer":
        return req.consumer
    if family == "kong.client.consumer_groups":
        return req.consumer_groups
    if family == "kong.client.credential":
        return req.credential
    if family == "kong.client.identity_realm_source":
        return None
    if family == "kong.request.forwarded_host":
        return _host_header(req)
    if family == "kong.request.forwarded_port":
        return req.server_port
    if family == "kong.request.forwarded_scheme":
        return req.scheme
    if family == "kong.request.port":
        return req.server_port
    if family == "kong.request.scheme":
        return req.scheme
    if family == "kong.request.method":
        return req.method
    if family == "kong.request.path":
        return req.path
    if family == "kong.request.host":
        return _host_header(req)
    if family == "kong.response.source":
        return run.response_source()
    if family == "kong.router.route":
        return req.route
    if family == "kong.router.service":
        return req.service
    if family == "kong.route_id":
        return _record_field(req.route, "id")
    if family == "kong.route_name":
        return _record_field(req.route, "name")
    if family == "kong.service_id":
        return _record_field(req.service, "id")
    if family == "kong.service_name":
        return _record_field(req.service, "name")
    if family == "kong.service.response.status":
        return run.upstream_status
    if family == "kong.version":
        return run.env.version
    if family == "kong.nginx.subsystem":
        return "http"
    if family == "kong.node.id":
        return run.env.node_id
    if family == "kong.node.memory_stats":
        return memory_stats()
    raise NodeError('property "%s" cannot be read' % family)


def property_get(run, params):
    value = get_raw(run, params.family, params.key)
    if params.content_type == "application/json" and isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise NodeError('property "%s": stored value is not valid JSON' % params.property) from None
    if value is None and params.non_nil:
        raise NodeError('property "%s" is not set (non_nil)' % params.property)
    return value


def _require_str(params, value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number_text(value)
    if not isinstance(value, str):
        raise NodeError('property "%s": expected a string, got %s'
                        % (params.property, type_name(value)))
    return value


def property_set(run, params, value):
    """Store `value`; returns what was written (the node's output)."""
    if value is None and params.non_nil:
        raise NodeError('property "%s": input is null (non_nil)' % params.property)
    if params.content_type == "application/json":
        value = orjson.dumps(value).decode()
    family = params.family
    if family == "kong.ctx.shared":
        run.ctx_shared[params.key] = value
    elif family == "kong.ctx.plugin":
        run.ctx_plugin[params.key] = value
    elif family == "kong.response.status":
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                pass
        if isinstance(value, float) and value == int(value):
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 599:
            raise NodeError('property "%s": expected a status code 100-599, got %s'
                            % (params.property, orjson.dumps(value).decode()))
        run.response_status = value
    elif family == "kong.service.target":
        value = _require_str(params, value)
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise NodeError('property "%s": expected "host:port", got "%s"'
                            % (params.property, value))
        run.service_target = value
    elif family == "kong.service.request.scheme":
        value = _require_str(params, value)
        if value not in ("http", "https"):
            raise NodeError('property "%s": expected "http" or "https", got "%s"'
                            % (params.property, value))
        run.service_scheme = value
    elif family == "kong.service.upstream":
        run.service_upstream = _require_str(params, value)
    elif family == "kong.client.consumer":
        if value is not None and (not isinstance(value, dict)
                                  or not any(value.get(k) for k in ("id", "username", "custom_id"))):
            raise NodeError('property "%s": expected an object with "id", "username" or '
                            '"custom_id"' % params.property)
        run.request.consumer = value
    else:
        raise NodeError('property "%s" cannot be set' % family)
    return value
