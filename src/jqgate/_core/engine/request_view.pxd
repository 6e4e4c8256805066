# Declarations of engine/request_view.pyx: what the rest of the core uses from it (via core.pxd).

cdef class RequestView:
    cdef public object method, path, raw_path, query, headers, body
    cdef public object client_ip, client_port, server_port, scheme, http_version, request_id
    cdef public object route, service, consumer, consumer_groups, credential

cdef class EngineEnv:
    cdef public dict configuration
    cdef public str node_id
    cdef public str version

cdef EngineEnv executor_default_env()
