"""`call`: an outbound HTTP request (§5.1). S13–S16."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from jqgate.config.checks import INT32_MAX
from jqgate.errors import Issues
from jqgate.nodes.spec import NodeSpec, boolean, integer, string


def is_http_url(value: str) -> bool:
    """An absolute http/https URL with a host (S14); may carry a query string."""
    if any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port          # raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


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
    },
    input_fields=("body", "headers", "query", "url", "http_proxy", "https_proxy",
                  "proxy_auth_username", "proxy_auth_password"),
    output_fields=("body", "headers", "status", "raw_body"),
    extra_check=check_call,
)
