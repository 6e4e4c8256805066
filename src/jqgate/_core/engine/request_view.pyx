# What the executor is told about one client request (RequestView) and about the gateway
# process (EngineEnv). The server builds one RequestView per request and passes the same one to
# every DataKit instance that runs on it (they also share `consumer` and kong.ctx.shared).
# jqgate.reference.request has the same classes in plain Python.

import uuid as _uuid


cdef class RequestView:
    """One client request as the server parsed it.

    method       str            "GET"
    path         str            normalised path, no query          (request.path)
    raw_path     str            path exactly as received           (request.raw_path)
    query        str            raw query string without "?"       (request.query, decoded D8)
    headers      list           [(name, value)] bytes or str, arrival order, client casing
    body         bytes | None   the full body; only read when the plan reads request.body
    client_ip    str, client_port int, server_port int (the listener port)
    scheme       str            "http" | "https"
    http_version str            "1.0" | "1.1" | "2"
    request_id   str            X-Kong-Request-Id (error bodies, log lines)
    route, service              matched records (dicts) for kong.router.* / kong.route_* ...
    consumer, consumer_groups, credential     kong.client.*; consumer is SET by DataKit
    """

    def __init__(self, method="GET", path="/", raw_path=None, query="", headers=(), body=None,
                 client_ip="127.0.0.1", client_port=0, server_port=8000, scheme="http",
                 http_version="1.1", request_id="", route=None, service=None):
        self.method = method
        self.path = path
        self.raw_path = path if raw_path is None else raw_path
        self.query = query
        self.headers = headers if type(headers) is list else list(headers)
        self.body = body
        self.client_ip = client_ip
        self.client_port = client_port
        self.server_port = server_port
        self.scheme = scheme
        self.http_version = http_version
        self.request_id = request_id
        self.route = route
        self.service = service


cdef class EngineEnv:
    """Per-process values behind kong.configuration.*, kong.node.id, kong.version."""

    def __init__(self, configuration=None, node_id=None, version=None):
        import jqgate
        self.configuration = dict(configuration or {})
        self.node_id = node_id or str(_uuid.uuid4())
        self.version = version or jqgate.__version__


cdef EngineEnv _DEFAULT_ENV = None

cdef EngineEnv executor_default_env():
    global _DEFAULT_ENV
    if _DEFAULT_ENV is None:
        _DEFAULT_ENV = EngineEnv()
    return _DEFAULT_ENV


def request_view_from_dict(dict spec, str request_id):
    """The embedding API's request description -> RequestView (jqgate.embed).

    Keys: method, path, raw_path, headers (dict or [(name, value)]), query (str or dict,
    encoded per D6), body (bytes, str, or any JSON value: encoded, Content-Type
    application/json added when absent), client_ip, client_port, server_port, scheme,
    http_version, request_id, route, service. Missing keys keep RequestView's defaults.
    """
    cdef RequestView view = RequestView.__new__(RequestView)
    cdef str key
    # defaults (as RequestView.__init__), then only the keys the caller gave: a small request
    # dict costs a few comparisons instead of a lookup per field
    view.method = "GET"
    view.path = "/"
    view.raw_path = None
    view.query = ""
    view.body = None
    view.client_ip = "127.0.0.1"
    view.client_port = 0
    view.server_port = 8000
    view.scheme = "http"
    view.http_version = "1.1"
    view.request_id = request_id
    headers = None
    for key, value in spec.items():
        if key == "method":
            view.method = value
        elif key == "path":
            view.path = value
        elif key == "raw_path":
            view.raw_path = value
        elif key == "headers":
            headers = value
        elif key == "query":
            view.query = value or ""
        elif key == "body":
            view.body = value
        elif key == "client_ip":
            view.client_ip = value
        elif key == "client_port":
            view.client_port = value
        elif key == "server_port":
            view.server_port = value
        elif key == "scheme":
            view.scheme = value
        elif key == "http_version":
            view.http_version = value
        elif key == "request_id":
            if value:
                view.request_id = value
        elif key == "route":
            view.route = value
        elif key == "service":
            view.service = value
        else:
            raise TypeError("unknown request field %r" % (key,))
    if view.raw_path is None:
        view.raw_path = view.path
    if not headers:
        headers = []
    elif type(headers) is dict:
        headers = list((<dict>headers).items())
    else:
        headers = list(headers)
    if type(view.query) is dict:
        view.query = values_encode_query(view.query)
    body = view.body
    if body is not None and type(body) is not bytes:
        if type(body) is str:
            view.body = (<str>body).encode()
        else:
            view.body = _orjson.dumps(body)
            if values_content_type(headers) is None:
                headers.append(("Content-Type", "application/json"))
    view.headers = headers
    return view
