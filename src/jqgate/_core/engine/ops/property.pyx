# The `property` node (datakit.md §5.4, §12, D24). The compiler resolved the table row
# (`family`, aliases applied) and the <key> of keyed families. GET reads from the request view,
# the run or the gateway env; SET writes to the run (the proxy honours service_target,
# service_scheme, service_upstream, response_status) or to the request view (consumer, shared
# by every DataKit instance on the request).

import os as _os
import resource as _resource


cdef dict ops_memory_stats():
    rss_kb = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
    return {"lua_shared_dicts": {},
            "workers_lua_vms": [{"pid": _os.getpid(), "http_allocated_gc": rss_kb * 1024}]}


cdef object _record_field(object rec, str name):
    return rec.get(name) if type(rec) is dict else None


cdef object _host_header(RequestView req):
    v = values_header_get(req.headers, "host")
    if v is None:
        return None
    return v.rsplit(":", 1)[0] if not v.endswith("]") else v


cdef object ops_property_raw(PlanRun run, str family, object key):
    cdef RequestView req = run.request
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
        return ops_memory_stats()
    raise EngineNodeError('property "%s" cannot be read' % family)


cdef object ops_property_get(PlanRun run, object p):
    value = ops_property_raw(run, p.family, p.key)
    if p.content_type == "application/json" and type(value) is str:
        try:
            value = _orjson.loads(value)
        except _orjson.JSONDecodeError:
            raise EngineNodeError('property "%s": stored value is not valid JSON'
                                  % p.property) from None
    if value is None and p.non_nil:
        raise EngineNodeError('property "%s" is not set (non_nil)' % p.property)
    return value


cdef str _require_str(object p, object value):
    if (type(value) is int or type(value) is float):
        return values_number_text(value)
    if type(value) is not str:
        raise EngineNodeError('property "%s": expected a string, got %s'
                              % (p.property, values_type_name(value)))
    return value


cdef object ops_property_set(PlanRun run, object p, object value):
    """Store `value`; returns what was written (the node's output)."""
    if value is None and p.non_nil:
        raise EngineNodeError('property "%s": input is null (non_nil)' % p.property)
    if p.content_type == "application/json":
        value = _orjson.dumps(value).decode()
    family = p.family
    if family == "kong.ctx.shared":
        run.ctx_shared[p.key] = value
    elif family == "kong.ctx.plugin":
        run.ctx_plugin[p.key] = value
    elif family == "kong.response.status":
        if type(value) is str:
            try:
                value = int(value)
            except ValueError:
                pass
        if type(value) is float and value == int(value):
            value = int(value)
        if type(value) is not int or not 100 <= value <= 599:
            raise EngineNodeError('property "%s": expected a status code 100-599, got %s'
                                  % (p.property, _orjson.dumps(value).decode()))
        run.response_status = value
    elif family == "kong.service.target":
        value = _require_str(p, value)
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise EngineNodeError('property "%s": expected "host:port", got "%s"'
                                  % (p.property, value))
        run.service_target = value
    elif family == "kong.service.request.scheme":
        value = _require_str(p, value)
        if value not in ("http", "https"):
            raise EngineNodeError('property "%s": expected "http" or "https", got "%s"'
                                  % (p.property, value))
        run.service_scheme = value
    elif family == "kong.service.upstream":
        run.service_upstream = _require_str(p, value)
    elif family == "kong.client.consumer":
        if value is not None and (type(value) is not dict
                                  or not any(value.get(k) for k in ("id", "username",
                                                                     "custom_id"))):
            raise EngineNodeError('property "%s": expected an object with "id", "username" or '
                                  '"custom_id"' % p.property)
        run.request.consumer = value
    else:
        raise EngineNodeError('property "%s" cannot be set' % family)
    return value
