"""Who may use the Admin API: the checks every Admin request passes before its body is read.

A web page the operator happens to open can send requests to the Admin API (it listens on
127.0.0.1:8001, which the browser reaches). Browsers send a "simple" cross-origin POST (a
`text/plain`, form or typeless body) without asking first, so the Admin API itself refuses:

- a state-changing request (POST, PUT, PATCH, DELETE) whose `Origin` is not the Admin API's own
  origin: 403. Browsers always send `Origin` on such requests; curl and scripts send none, and
  a request without one is not a browser's cross-origin request.
- a state-changing request with a body whose media type is not JSON, YAML or a form
  (urlencoded or multipart): 415. `text/plain` is what a page can send without a preflight.
- with a token configured (`--admin-token`, `JQGATE_ADMIN_TOKEN`), any request that does not
  carry it as `Authorization: Bearer <token>` or Kong's `Kong-Admin-Token: <token>`: 401.
  The comparison takes constant time (hmac.compare_digest).

No answer carries `Access-Control-Allow-Origin`, so a page can read nothing either.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import socket

from jqgate.admin.bodies import media_type
from jqgate.admin.errors import AdminError

log = logging.getLogger("jqgate.admin")

STATE_CHANGING = frozenset(("POST", "PUT", "PATCH", "DELETE"))
ACCEPTED_MEDIA_TYPES = frozenset((
    "application/json", "application/x-yaml", "application/yaml", "text/yaml", "text/x-yaml",
    "application/x-www-form-urlencoded", "multipart/form-data"))
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _origin_host(host: str) -> str:
    return "[%s]" % host if ":" in host and not host.startswith("[") else host


def own_origins(host: str, port: int, tls: bool) -> frozenset:
    """The origins a page served by the Admin API itself would have: its listen host, the
    loopback names, and the machine's own names when it listens on every address."""
    scheme = "https" if tls else "http"
    names = set(LOOPBACK_NAMES)
    wildcard = host in ("", "0.0.0.0", "::", "[::]")
    if not wildcard:
        names.add(_origin_host(host))
    else:
        for name in (socket.gethostname(), socket.getfqdn()):
            if name:
                names.add(name)
    default_port = 443 if tls else 80
    origins = set()
    for name in names:
        origins.add("%s://%s:%d" % (scheme, name.lower(), port))
        if port == default_port:
            origins.add("%s://%s" % (scheme, name.lower()))
    return frozenset(origins)


class AdminGuard:
    """The checks of the module docstring, for one Admin API listener."""

    def __init__(self, token: str | None = None, origins: frozenset = frozenset()):
        self.token = token.encode() if token else None
        self.origins = origins

    def check(self, method: str, headers_get, has_body: bool) -> AdminError | None:
        """None when the request may proceed; else the error to answer with.
        `headers_get(name: bytes) -> bytes | None` reads one request header."""
        if self.token is not None and not self._token_ok(headers_get):
            return AdminError(401, {"message": "Unauthorized: the Admin API needs a token "
                                               "(Authorization: Bearer <token> or "
                                               "Kong-Admin-Token: <token>)"})
        if method not in STATE_CHANGING:
            return None
        origin = headers_get(b"origin")
        if origin is not None and origin.decode("latin-1").strip().lower() not in self.origins:
            return AdminError(403, {"message": "Forbidden: cross-origin requests may not change "
                                               "the configuration (Origin %s)"
                                               % origin.decode("latin-1")})
        kind = media_type(headers_get(b"content-type"))
        if kind and kind not in ACCEPTED_MEDIA_TYPES and not kind.endswith("+json"):
            return AdminError(415, {"message": "Unsupported Content-Type: %s (send "
                                               "application/json, YAML, "
                                               "application/x-www-form-urlencoded or "
                                               "multipart/form-data)" % kind})
        if not kind and has_body:
            return AdminError(415, {"message": "a request body needs a Content-Type (send "
                                               "application/json, YAML, "
                                               "application/x-www-form-urlencoded or "
                                               "multipart/form-data)"})
        return None

    def _token_ok(self, headers_get) -> bool:
        given = headers_get(b"kong-admin-token")
        if given is None:
            auth = headers_get(b"authorization")
            if auth is not None and auth[:7].lower() == b"bearer ":
                given = auth[7:].strip()
        if given is None:
            return False
        return hmac.compare_digest(given, self.token)


def warn_if_exposed(host: str, token: str | None, tls: bool) -> None:
    """A startup warning for an Admin API anyone on the network can reach without a token or
    without TLS (the token would cross the network in clear text)."""
    if is_loopback(host):
        return
    missing = [what for what, ok in (("a token (--admin-token)", token), ("TLS (--admin-ssl-cert"
                                     " and --admin-ssl-key)", tls)) if not ok]
    if missing:
        log.warning("the Admin API listens on %s, beyond loopback, without %s: anyone who "
                    "reaches it can %s", host or "every address", " or ".join(missing),
                    "reconfigure the gateway" if not token else "read the token on the wire")
