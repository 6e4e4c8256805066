"""An upstream's `healthchecks` (Kong's schema, field names and defaults).

Active checks probe each target on their own schedule (off while both intervals are 0, Kong's
default); passive checks count what real proxied traffic sees (off while every threshold is
0, Kong's default). `threshold` is the percentage of the upstream's weight that must be
healthy for the upstream to take traffic at all. The parsed result is the complete structure
with every default filled in, which the balancer (jqgate/_core/proxy/balancer.pyx) and the
active checker (jqgate.health) read.
"""
from __future__ import annotations

import copy
from typing import Any

from jqgate.config import checks
from jqgate.errors import Issues, join

ACTIVE_TYPES = ("http", "https", "tcp")     # Kong's grpc / grpcs probes are not supported
PASSIVE_TYPES = ("http", "https", "tcp")
MAX_COUNTER = 255       # Kong's counters are 8 bits wide

DEFAULTS: dict = {
    "active": {
        "type": "http",
        "timeout": 1,
        "concurrency": 10,
        "http_path": "/",
        "headers": None,
        "https_verify_certificate": True,
        "https_sni": None,
        "healthy": {"interval": 0, "http_statuses": [200, 302], "successes": 0},
        "unhealthy": {"interval": 0,
                      "http_statuses": [429, 404, 500, 501, 502, 503, 504, 505],
                      "tcp_failures": 0, "timeouts": 0, "http_failures": 0},
    },
    "passive": {
        "type": "http",
        "healthy": {"http_statuses": [200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
                                      300, 301, 302, 303, 304, 305, 306, 307, 308],
                    "successes": 0},
        "unhealthy": {"http_statuses": [429, 500, 503],
                      "tcp_failures": 0, "timeouts": 0, "http_failures": 0},
    },
    "threshold": 0,
}

# field -> how it is checked: ("int", min, max), ("number", min, max), ("enum", choices),
# ("bool",), ("statuses",), ("string",), ("headers",)
_COUNTER = ("int", 0, MAX_COUNTER)
_INTERVAL = ("number", 0, 65535)
_SCHEMA = {
    "active": {
        "type": ("enum", ACTIVE_TYPES), "timeout": ("number", 0, 65535),
        "concurrency": ("int", 1, 2**31 - 1), "http_path": ("path",),
        "headers": ("headers",), "https_verify_certificate": ("bool",),
        "https_sni": ("string",),
        "healthy": {"interval": _INTERVAL, "http_statuses": ("statuses",), "successes": _COUNTER},
        "unhealthy": {"interval": _INTERVAL, "http_statuses": ("statuses",),
                      "tcp_failures": _COUNTER, "timeouts": _COUNTER, "http_failures": _COUNTER},
    },
    "passive": {
        "type": ("enum", PASSIVE_TYPES),
        "healthy": {"http_statuses": ("statuses",), "successes": _COUNTER},
        "unhealthy": {"http_statuses": ("statuses",), "tcp_failures": _COUNTER,
                      "timeouts": _COUNTER, "http_failures": _COUNTER},
    },
    "threshold": ("number", 0, 100),
}


def parse_healthchecks(value: Any, location: str, issues: Issues) -> dict:
    """The complete healthchecks structure: `value` (a partial one, or None) over DEFAULTS."""
    result = copy.deepcopy(DEFAULTS)
    if value is not None:
        _merge(value, _SCHEMA, result, location, issues)
    return result


def _merge(value: Any, schema: dict, into: dict, location: str, issues: Issues) -> None:
    if not checks.check_object(value, location, issues):
        return
    for key, item in value.items():
        where = join(location, str(key))
        rule = schema.get(key)
        if rule is None:
            issues.add(where, "unknown field")
        elif isinstance(rule, dict):
            if item is not None:
                _merge(item, rule, into[key], where, issues)
        elif item is None:
            if key in ("headers", "https_sni"):
                into[key] = None
        elif _check(item, rule, where, issues):
            into[key] = item


def _check(value: Any, rule: tuple, location: str, issues: Issues) -> bool:
    kind = rule[0]
    if kind == "int":
        return checks.check_int(value, location, issues, minimum=rule[1], maximum=rule[2])
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            issues.add(location, "expected a number")
            return False
        if not rule[1] <= value <= rule[2]:
            issues.add(location, f"value should be between {rule[1]} and {rule[2]}")
            return False
        return True
    if kind == "enum":
        return checks.check_enum(value, location, issues, rule[1])
    if kind == "bool":
        return checks.check_bool(value, location, issues)
    if kind == "string":
        return checks.check_string(value, location, issues)
    if kind == "path":
        if checks.check_string(value, location, issues) and not value.startswith("/"):
            issues.add(location, "should start with: /")
            return False
        return isinstance(value, str) and value.startswith("/")
    if kind == "statuses":
        if not checks.check_list(value, location, issues):
            return False
        ok = True
        for index, status in enumerate(value):
            ok = checks.check_int(status, f"{location}[{index}]", issues,
                                  minimum=100, maximum=999) and ok
        return ok
    if kind == "headers":
        if not checks.check_object(value, location, issues):
            return False
        ok = True
        for name, values in value.items():
            ok = checks.check_string_list(values, join(location, str(name)), issues) and ok
        return ok
    raise AssertionError(kind)


def active_enabled(hc: dict) -> bool:
    """Kong: active probes run for a group (healthy / unhealthy targets) whose interval is > 0."""
    active = hc["active"]
    return active["healthy"]["interval"] > 0 or active["unhealthy"]["interval"] > 0


def passive_enabled(hc: dict) -> bool:
    """Kong: passive checks count only thresholds above 0."""
    passive = hc["passive"]
    return (passive["healthy"]["successes"] > 0
            or any(passive["unhealthy"][k] > 0 for k in ("tcp_failures", "timeouts",
                                                         "http_failures")))


def healthchecks_enabled(hc: dict) -> bool:
    return active_enabled(hc) or passive_enabled(hc)
