"""What an executor is told about one client request, and about the gateway around it.

`RequestView` mirrors `jqgate._core.core.RequestView` field for field; the reference executor
reads either one (it only uses attribute access). `EngineEnv` carries what is the same for every
request of a gateway process (kong.configuration, kong.node.id, kong.version).
"""
from __future__ import annotations

import uuid

import jqgate


class RequestView:
    """One client request as the server parsed it (see the executor docstring for each field)."""

    def __init__(self, method="GET", path="/", raw_path=None, query="", headers=(), body=None,
                 client_ip="127.0.0.1", client_port=0, server_port=8000, scheme="http",
                 http_version="1.1", request_id="", route=None, service=None):
        self.method = method
        self.path = path
        self.raw_path = path if raw_path is None else raw_path
        self.query = query                 # raw query string, without "?"
        self.headers = list(headers)       # [(name, value)] bytes or str, arrival order
        self.body = body                   # bytes | None (None: no body / not read)
        self.client_ip = client_ip
        self.client_port = client_port
        self.server_port = server_port
        self.scheme = scheme
        self.http_version = http_version   # "1.0" | "1.1" | "2"
        self.request_id = request_id
        self.route = route                 # matched route record (dict) or None
        self.service = service             # matched service record (dict) or None
        # set by authentication steps / DataKit itself (kong.client.*)
        self.consumer = None
        self.consumer_groups = None
        self.credential = None


class EngineEnv:
    """Per-process values behind kong.configuration.*, kong.node.id, kong.version."""

    def __init__(self, configuration=None, node_id=None, version=None):
        self.configuration = dict(configuration or {})
        self.node_id = node_id or str(uuid.uuid4())
        self.version = version or jqgate.__version__


DEFAULT_ENV = EngineEnv()
