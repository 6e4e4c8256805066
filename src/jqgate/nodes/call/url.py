"""A `call` node's URL made safe to put on a request line (issue 15, datakit.md §5.1).

A flow builds a call URL from request data (`"http://api/users/" + .id`), so whatever a client
sends can end up there. What goes out:

- characters never allowed in a request target — controls (including tab, CR, LF), space,
  NUL, DEL — fail the node: encoding them would hide a broken or hostile value, and sending
  them splits or smuggles the request line (`GET /users/7 HTTP/1.0 HTTP/1.1`);
- other characters a request target may not hold (non-ASCII, `"<>\\^`{|}`, a `%` that starts
  no escape) are percent-encoded (UTF-8), as a browser encodes a typed URL;
- existing escapes stay as they are: `%2f` stays `%2f`, so an encoded slash is never turned
  into a path separator;
- a dot segment (`.` or `..`, also written `%2e`) fails the node: `/users/../../admin` walks
  out of the path the flow meant, and a third party may resolve `%2e%2e` the same way.
  Kong's router normalises dot segments away on the way in; a URL built at runtime that still
  has one was built from a value that carried it, so it is refused rather than resolved.

The `query` input is encoded separately (values.encode_query: every reserved character).
Both executors and the config check use this module: one rule.
"""
from __future__ import annotations

import re
from urllib.parse import quote

from jqgate.http_url import split_http_url

_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")
_BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DOT_SEGMENT = re.compile(r"(?:^|/)(?:\.|%2e){1,2}(?:/|$)", re.IGNORECASE)
# What RFC 3986 allows unencoded in a path / query (plus "%" of the escapes already there).
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"


class UnsafeUrl(ValueError):
    pass


def forbidden_character(url: str) -> str | None:
    """A description of the first character no request target may hold, or None."""
    m = _FORBIDDEN.search(url)
    if m is None:
        return None
    return "%r at position %d" % (m.group(), m.start())


def encode_part(text: str, safe: str) -> str:
    return quote(_BARE_PERCENT.sub("%25", text), safe=safe)


def split_safe_url(url: str):
    """-> (scheme, host, port, path, query, host_header) of an absolute http(s) URL (split by
    jqgate.http_url), path and query encoded as the module docstring says. Raises UnsafeUrl with the reason."""
    bad = forbidden_character(url)
    if bad is not None:
        raise UnsafeUrl("URL %r has a character not allowed in a request target (%s)"
                        % (url, bad))
    try:
        parts = split_http_url(url)
    except ValueError as e:
        raise UnsafeUrl("invalid URL %r: %s" % (url, e)) from None
    path = encode_part(parts.path, _PATH_SAFE)
    if _DOT_SEGMENT.search(path):
        raise UnsafeUrl("URL %r has a dot segment (\".\" or \"..\") in its path" % url)
    query = encode_part(parts.query, _QUERY_SAFE) if parts.query else ""
    return parts.scheme, parts.host, parts.port, path, query, parts.host_header
