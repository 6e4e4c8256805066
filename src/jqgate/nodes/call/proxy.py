"""A `call` node's forward proxy: the `http_proxy`, `https_proxy`, `proxy_auth_username` and
`proxy_auth_password` inputs (datakit.md §5.1, Kong 3.13+).

- an `http` URL with `http_proxy`: the request goes to the proxy, its target in absolute form
  (`GET http://api:8080/x?y HTTP/1.1`), with `Proxy-Authorization: Basic ...` when a user name
  is given;
- an `https` URL with `https_proxy`: a tunnel (`CONNECT api:443`, with the same credentials)
  is opened through the proxy, then TLS to the target inside it (jqgate._core
  client/connection.pyx); the proxy never sees the request;
- a proxy for the other scheme only (an `http` URL with just `https_proxy`) is not used, as
  Kong (lua-resty-http) does;
- a proxy URL is `http://host[:port]` (port 80 by default): the connection to the proxy
  itself is plain, as Kong's; anything else fails the node.
Both executors use this module: one rule.
"""
from __future__ import annotations

import base64
from urllib.parse import urlsplit

PROXY_INPUTS = ("http_proxy", "https_proxy", "proxy_auth_username", "proxy_auth_password")


class ProxyInputError(ValueError):
    pass


class ForwardProxy:
    """Where a call goes instead of its URL's host: `host`, `port` of the proxy, the
    `authorization` header value (bytes) or None, `tunnel` True for CONNECT."""
    __slots__ = ("host", "port", "authorization", "tunnel")

    def __init__(self, host: str, port: int, authorization: bytes | None, tunnel: bool):
        self.host = host
        self.port = port
        self.authorization = authorization
        self.tunnel = tunnel

    def key(self) -> tuple:
        """What a pooled tunnel connection is keyed by, besides its target."""
        return (self.host, self.port, self.authorization)


def forward_proxy(fields: dict, scheme: str) -> ForwardProxy | None:
    """The proxy the inputs ask for a call to a `scheme` URL; None for a direct call."""
    name = "http_proxy" if scheme == "http" else "https_proxy"
    url = fields.get(name)
    user = fields.get("proxy_auth_username")
    password = fields.get("proxy_auth_password")
    for key, value in ((name, url), ("proxy_auth_username", user),
                       ("proxy_auth_password", password)):
        if value is not None and not isinstance(value, str):
            raise ProxyInputError('input "%s": expected a string, got %s'
                                  % (key, type(value).__name__))
    if url is None or url == "":
        return None
    host, port = _proxy_address(name, url)
    authorization = None
    if user is not None:
        credentials = ("%s:%s" % (user, password or "")).encode("utf-8")
        authorization = b"Basic " + base64.b64encode(credentials)
    return ForwardProxy(host, port, authorization, scheme == "https")


def _proxy_address(name: str, url: str) -> tuple[str, int]:
    if any(c in url for c in "\r\n\t ") or any(ord(c) < 0x20 or ord(c) == 0x7f for c in url):
        raise ProxyInputError('input "%s": the proxy URL has a control character or space' % name)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise ProxyInputError('input "%s": %s' % (name, e)) from None
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise ProxyInputError('input "%s": expected an http://host[:port] proxy URL, got %r'
                              % (name, url))
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ProxyInputError('input "%s": a proxy URL is http://host[:port] only, got %r'
                              % (name, url))
    return parts.hostname, port or 80


def absolute_target(scheme: str, host: str, port: int, target: bytes) -> bytes:
    """The request target a plain proxy receives: the whole URL."""
    default = 443 if scheme == "https" else 80
    authority = ("[%s]" % host if ":" in host else host) + ("" if port == default else ":%d" % port)
    return ("%s://%s" % (scheme, authority)).encode("idna" if not authority.isascii() else "ascii") \
        + target


def connect_request(host: str, port: int, authorization: bytes | None) -> bytes:
    """The CONNECT request that opens a tunnel to host:port."""
    authority = ("[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)).encode()
    head = b"CONNECT " + authority + b" HTTP/1.1\r\nHost: " + authority + b"\r\n"
    if authorization is not None:
        head += b"Proxy-Authorization: " + authorization + b"\r\n"
    return head + b"\r\n"
