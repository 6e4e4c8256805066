"""`call`: an outbound HTTP request (§5.1). S13–S16."""
from __future__ import annotations

import re

from jqgate.config.checks import INT32_MAX
from jqgate.nodes.call.url import UnsafeUrl, split_safe_url
from jqgate.errors import Issues
from jqgate.nodes.ports import ANY, MAP, NUMBER, OBJECT, STRING, NodePorts
from jqgate.nodes.spec import NodeSpec, boolean, integer, string


def is_http_url(value: str) -> bool:
    """An absolute http/https URL with a host (S14), safe on a request line (no controls,
    spaces or dot segments: jqgate.nodes.call.url); may carry a query string."""
    try:
        split_safe_url(value)
    except UnsafeUrl:
        return False
    return True


def check_url(value, location: str, issues: Issues) -> bool:
    if not isinstance(value, str) or not is_http_url(value):
        issues.add(location, "call: 'url' is not a valid URL")
        return False
    return True


def check_call(node: dict, location: str, issues: Issues) -> None:
    # S13: `url` is required unless the `url` input is wired (3.13+ dynamic URL).
    inputs = node.get("inputs")
    url_wired = isinstance(inputs, dict) and inputs.get("url") is not None
    if node.get("url") is None and not url_wired:
        issues.add(location, "call: 'url' is a required attribute")


SPEC = NodeSpec(
    type="call",
    fields={
        "url": check_url,
        "method": string(max_len=32, pattern=re.compile(r"[A-Z]+"),
                         pattern_message="must be upper-case letters only (e.g. GET, POST)"),
        "timeout": integer(0, INT32_MAX),
        "ssl_verify": boolean(),
        "ssl_server_name": string(),
        # jqgate extension: the largest response body this node takes, in bytes (default: the
        # gateway's max_call_response_bytes, 10 MiB); over it the call fails (500).
        "max_response_size": integer(1, INT32_MAX),
    },
    ports=NodePorts(
        self_in=OBJECT, fields_in_allowed=True,
        fields_in={"body": ANY, "headers": MAP, "query": MAP, "url": STRING, "http_proxy": STRING,
                   "https_proxy": STRING, "proxy_auth_username": STRING, "proxy_auth_password": STRING},
        self_out=OBJECT, fields_out_allowed=True,
        fields_out={"body": ANY, "headers": MAP, "status": NUMBER, "raw_body": STRING}),
    extra_check=check_call,
)
