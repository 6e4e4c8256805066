"""A request path as routes match it and the upstream receives it: the one normalization.

The core's router (_core/routing/decision.pyx) sends every path that needs it here, per request;
the route table (gateway/router.py) normalizes route prefixes with it when it is built, and
jqgate.load()'s routing (gateway/loaded.py) does the same for requests run from Python. It is a
leaf module, so the core can import it without importing the gateway package that imports the
core."""
from __future__ import annotations

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def normalize_path(path: str) -> str:
    """The path routes match against and the upstream receives (RFC 3986 section 6, as Kong):
    percent-escapes of unreserved characters decoded (others upper-cased), repeated slashes
    merged, `.` and `..` segments removed. Without this, `/public/../admin` would match a
    `/public` route and reach the upstream as a path to `/admin`."""
    if "%" not in path and "/." not in path and "//" not in path:
        return path                      # the common case costs three scans
    if "%" in path:
        out, i, n = [], 0, len(path)
        while i < n:
            ch = path[i]
            if ch == "%" and _is_hex(path[i + 1:i + 3]):
                dec = chr(int(path[i + 1:i + 3], 16))
                out.append(dec if dec in _UNRESERVED else "%" + path[i + 1:i + 3].upper())
                i += 3
            else:
                out.append(ch)
                i += 1
        path = "".join(out)
    segments = []
    for seg in path.split("/")[1:]:
        if seg == "..":
            if segments:
                segments.pop()
        elif seg != "." and seg != "":
            segments.append(seg)
    trailing = path.endswith(("/", "/.", "/..")) and bool(segments)
    return "/" + "/".join(segments) + ("/" if trailing else "")


def _is_hex(s: str) -> bool:
    return len(s) == 2 and all(c in "0123456789abcdefABCDEF" for c in s)
