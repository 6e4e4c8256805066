# The `property` node (datakit.md §5.4, §12, D24). The compiler resolved the table row to a
# family code (CompiledOp.prop_family, the PROP_* enum generated from jqgate/plan.py; aliases
# applied) and the <key> of keyed families, so a request switches on a C int instead of comparing
# names. GET reads from the request view, the run or the gateway env; SET writes to the run (the
# proxy honours service_target, service_scheme, service_upstream, response_status) or to the
# request view (consumer, shared by every DataKit instance on the request).

import os as _os
import resource as _resource


cdef dict ops_memory_stats():
    rss_kb = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
    return {"lua_shared_dicts": {},
            "workers_lua_vms": [{"pid": _os.getpid(), "http_allocated_gc": rss_kb * 1024}]}


cdef object _record_field(object rec, str name):
    return rec.get(name) if type(rec) is dict else None


cdef object _host_header(RequestView req):
    """Kong's kong.request.get_host() is nginx's $host: the Host header without its port,
    lower-cased (host names are case-insensitive)."""
    v = values_header_get(req.headers, "host")
    if v is None:
        return None
    return (v.rsplit(":", 1)[0] if not v.endswith("]") else v).lower()


cdef object ops_property_raw(PlanRun run, CompiledOp op):
    cdef RequestView req = run.request
    cdef int f = op.prop_family
    if f == PROP_CTX_SHARED:
        return run.ctx_shared.get(op.prop_key)
    if f == PROP_CTX_PLUGIN:
        return run.ctx_plugin.get(op.prop_key)
    if f == PROP_CONFIGURATION:
        return run.env.configuration.get(op.prop_key)
    # The forwarded_* families: Kong reads X-Forwarded-* only from trusted proxies
    # (trusted_ips, empty by default); this gateway trusts none, so they are the direct values.
    if f == PROP_CLIENT_IP or f == PROP_CLIENT_FORWARDED_IP:
        return req.client_ip
    if f == PROP_CLIENT_PORT or f == PROP_CLIENT_FORWARDED_PORT:
        return req.client_port
    if f == PROP_CLIENT_PROTOCOL or f == PROP_REQUEST_FORWARDED_SCHEME:
        return req.scheme
    if f == PROP_CLIENT_CONSUMER:
        return req.consumer
    if f == PROP_CLIENT_CONSUMER_GROUPS:
        return req.consumer_groups
    if f == PROP_CLIENT_CREDENTIAL:
        return req.credential
    if f == PROP_CLIENT_IDENTITY_REALM_SOURCE:
        return None
    if f == PROP_REQUEST_FORWARDED_HOST:
        return _host_header(req)
    if f == PROP_REQUEST_PORT or f == PROP_REQUEST_FORWARDED_PORT:
        return req.server_port
    if f == PROP_RESPONSE_SOURCE:
        return run.response_source()
    if f == PROP_ROUTER_ROUTE:
        return req.route
    if f == PROP_ROUTER_SERVICE:
        return req.service
    if f == PROP_ROUTE_ID:
        return _record_field(req.route, "id")
    if f == PROP_ROUTE_NAME:
        return _record_field(req.route, "name")
    if f == PROP_SERVICE_ID:
        return _record_field(req.service, "id")
    if f == PROP_SERVICE_NAME:
        return _record_field(req.service, "name")
    if f == PROP_SERVICE_RESPONSE_STATUS:
        return run.upstream_status
    if f == PROP_VERSION:
        return run.env.version
    if f == PROP_NGINX_SUBSYSTEM:
        return "http"
    if f == PROP_NODE_ID:
        return run.env.node_id
    if f == PROP_NODE_MEMORY_STATS:
        return ops_memory_stats()
    raise EngineNodeError('property "%s" cannot be read' % op.prop_name)


cdef object ops_property_get(PlanRun run, CompiledOp op):
    value = ops_property_raw(run, op)
    if op.prop_json and type(value) is str:
        try:
            value = _orjson.loads(value)
        except _orjson.JSONDecodeError:
            raise EngineNodeError('property "%s": stored value is not valid JSON'
                                  % op.prop_name) from None
    if value is None and op.prop_non_nil:
        raise EngineNodeError('property "%s" is not set (non_nil)' % op.prop_name)
    return value


cdef str _require_str(CompiledOp op, object value):
    if (type(value) is int or type(value) is float):
        return values_number_text(value)
    if type(value) is not str:
        raise EngineNodeError('property "%s": expected a string, got %s'
                              % (op.prop_name, values_type_name(value)))
    return value


cdef object ops_property_set(PlanRun run, CompiledOp op, object value):
    """Store `value`; returns what was written (the node's output)."""
    cdef int f = op.prop_family
    if value is None and op.prop_non_nil:
        raise EngineNodeError('property "%s": input is null (non_nil)' % op.prop_name)
    if op.prop_json:
        value = _orjson.dumps(value).decode()
    if f == PROP_CTX_SHARED:
        run.ctx_shared[op.prop_key] = value
    elif f == PROP_CTX_PLUGIN:
        run.ctx_plugin[op.prop_key] = value
    elif f == PROP_RESPONSE_STATUS:
        # a number; the decimal text of one counts (§3.4 string -> number), but only ASCII
        # digits: int() alone would also take "2_01" or other scripts' digits
        status = value
        if type(status) is str:
            text = (<str>status).strip()
            if text.isascii() and text.isdigit():
                status = int(text)
        elif type(status) is float and status.is_integer():     # never inf or nan
            status = int(status)
        if type(status) is not int or not 100 <= status <= 599:
            raise EngineNodeError('property "%s": expected a status code 100-599, got %s'
                                  % (op.prop_name, _orjson.dumps(value).decode()))
        run.response_status = status
        value = status
    elif f == PROP_SERVICE_TARGET:
        value = _require_str(op, value)
        host, sep, port = value.rpartition(":")
        # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses
        if (not sep or not host or not port or not port.isascii() or not port.isdigit()
                or not 0 < int(port) < 65536):
            raise EngineNodeError('property "%s": expected "host:port", got "%s"'
                                  % (op.prop_name, value))
        run.service_target = value
    elif f == PROP_SERVICE_REQUEST_SCHEME:
        value = _require_str(op, value)
        if value not in ("http", "https"):
            raise EngineNodeError('property "%s": expected "http" or "https", got "%s"'
                                  % (op.prop_name, value))
        run.service_scheme = value
    elif f == PROP_SERVICE_UPSTREAM:
        run.service_upstream = _require_str(op, value)
    elif f == PROP_CLIENT_CONSUMER:
        if value is not None and (type(value) is not dict
                                  or not any(value.get(k) for k in ("id", "username",
                                                                     "custom_id"))):
            raise EngineNodeError('property "%s": expected an object with "id", "username" or '
                                  '"custom_id"' % op.prop_name)
        run.request.consumer = value
    else:
        raise EngineNodeError('property "%s" cannot be set' % op.prop_name)
    return value
