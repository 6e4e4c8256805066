"""Kong `routes` records: matching fields with Kong's defaults and Kong's "at least one of" rule."""
from __future__ import annotations

import re
from typing import Any

from jqgate.config import checks
from jqgate.config.model import Route
from jqgate.config.plugins import check_reference
from jqgate.config.services import check_tags, entity_id, optional_name
from jqgate.errors import Issues, join

ROUTE_FIELDS = ("name", "id", "service", "paths", "hosts", "methods", "headers", "snis",
                "protocols", "strip_path", "preserve_host", "regex_priority", "tags", "plugins",
                "path_handling", "request_buffering", "response_buffering",
                "https_redirect_status_code")
# Kong route fields this gateway does not match on: accepting them would widen routes silently.
UNSUPPORTED_ROUTE_FIELDS = {
    "sources": "matching on client addresses",
    "destinations": "matching on local addresses",
    "expression": "expression routes",
    "priority": "expression route priority",
}
METHOD = re.compile(r"[A-Z]+")
HOST = re.compile(r"(\*\.)?[A-Za-z0-9_.-]+(\.\*)?(:[0-9]{1,5})?|\*\.[A-Za-z0-9_.-]+")
SNI = re.compile(r"(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?")
# PCRE (Kong) writes a named group `(?<name>...)`, Python `(?P<name>...)`.
_PCRE_NAMED_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")


def parse_route(record: Any, location: str, issues: Issues) -> tuple[Route, Any] | None:
    """The route and its raw `service` reference (resolved by the caller), or None if invalid."""
    if not checks.check_object(record, location, issues):
        return None
    before = len(issues)
    for key in record:
        if key in UNSUPPORTED_ROUTE_FIELDS:
            if record[key] is not None:
                issues.add(join(location, key), f"not supported: {UNSUPPORTED_ROUTE_FIELDS[key]}")
        elif key not in ROUTE_FIELDS:
            issues.add(join(location, str(key)), "unknown field")
    name = optional_name(record, location, issues)
    route = Route(name=name, id=entity_id(record, "route", name, location, issues),
                  service_id=None, location=location,
                  raw={k: v for k, v in record.items() if k != "plugins"})
    route.paths = string_items(record, "paths", location, issues, check_path)
    route.hosts = string_items(record, "hosts", location, issues, check_host_pattern)
    route.methods = string_items(record, "methods", location, issues, check_method)
    route.headers = parse_headers(record, location, issues)
    route.snis = string_items(record, "snis", location, issues, check_sni)
    if record.get("protocols") is not None:
        if checks.check_string_list(record["protocols"], join(location, "protocols"), issues,
                                    min_items=1):
            for index, protocol in enumerate(record["protocols"]):
                checks.check_enum(protocol, join(location, f"protocols[{index}]"), issues,
                                  ("http", "https"))
            route.protocols = list(record["protocols"])
    if route.snis and "https" not in route.protocols:
        issues.add(join(location, "snis"), "'snis' can only be set when 'protocols' is 'grpcs', "
                                           "'https', 'tls' or 'tls_passthrough'")
    if not (route.paths or route.hosts or route.methods or route.headers or route.snis) \
            and len(issues) == before:
        if "https" in route.protocols:
            issues.add(location, "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' "
                                 "when 'protocols' is 'https'")
        else:
            issues.add(location, "must set one of 'methods', 'hosts', 'headers', 'paths' when "
                                 "'protocols' is 'http'")
    for key in ("strip_path", "preserve_host"):
        if record.get(key) is not None and checks.check_bool(record[key], join(location, key), issues):
            setattr(route, key, record[key])
    # When bytes move, not which bytes (the proxy reads them: _core/proxy/handler.pyx, _core/server/protocol.pyx).
    for key in ("request_buffering", "response_buffering"):
        if record.get(key) is not None and checks.check_bool(record[key], join(location, key),
                                                             issues):
            setattr(route, key, record[key])
    if record.get("regex_priority") is not None and checks.check_int(
            record["regex_priority"], join(location, "regex_priority"), issues):
        route.regex_priority = int(record["regex_priority"])
    if record.get("path_handling") is not None and checks.check_enum(
            record["path_handling"], join(location, "path_handling"), issues, ("v0", "v1")):
        route.path_handling = record["path_handling"]
    if record.get("https_redirect_status_code") is not None:
        checks.check_enum(str(record["https_redirect_status_code"]),
                          join(location, "https_redirect_status_code"), issues, ("426",))
    check_tags(record, location, issues)
    if record.get("service") is not None:
        check_reference(record["service"], join(location, "service"), issues)
    if len(issues) != before:
        return None
    return route, record.get("service")


def string_items(record: dict, key: str, location: str, issues: Issues, check) -> list[str]:
    value = record.get(key)
    if value is None:
        return []
    field_location = join(location, key)
    if not checks.check_list(value, field_location, issues):
        return []
    ok = True
    for index, item in enumerate(value):
        item_location = join(field_location, index)
        ok &= checks.check_string(item, item_location, issues) and check(item, item_location, issues)
    return list(value) if ok else []


def python_regex(pattern: str):
    """A Kong (PCRE) regex as the router runs it: compiled on bytes, named groups translated."""
    return re.compile(_PCRE_NAMED_GROUP.sub("(?P<", pattern).encode("utf-8"))


def parse_headers(record: dict, location: str, issues: Issues) -> dict[str, list[str]]:
    """Kong's `headers`: {name: [values]}; a single value starting `~*` is a regex. Host is
    matched by `hosts`, never here."""
    value = record.get("headers")
    if value is None:
        return {}
    field_location = join(location, "headers")
    if not checks.check_object(value, field_location, issues):
        return {}
    out = {}
    for name, values in value.items():
        name_location = join(field_location, str(name))
        if str(name).lower() == "host":
            issues.add(name_location, "cannot contain 'host' header, which must be specified "
                                      "in the 'hosts' attribute")
            continue
        if not checks.check_string_list(values, name_location, issues, min_items=1):
            continue
        if len(values) == 1 and values[0].startswith("~*"):
            try:
                python_regex(values[0][2:])
            except re.error as exc:
                issues.add(join(name_location, 0), f"invalid regex: {exc}")
                continue
        out[str(name)] = list(values)
    return out


def check_sni(sni: str, location: str, issues: Issues) -> bool:
    if not SNI.fullmatch(sni) or sni.count("*") > 1:
        issues.add(location, f'"{sni}" is not a valid SNI (a host name; a wildcard "*" may only '
                             f'be the first or last label; no port)')
        return False
    return True


def check_path(path: str, location: str, issues: Issues) -> bool:
    if path.startswith("~"):
        try:
            python_regex(path[1:])
        except re.error as exc:
            issues.add(location, f"invalid regex: {exc}")
            return False
        return True
    if not path.startswith("/"):
        issues.add(location, 'must start with "/" (or "~" for a regex path)')
        return False
    return True


def check_host_pattern(host: str, location: str, issues: Issues) -> bool:
    if not HOST.fullmatch(host) or host.count("*") > 1:
        issues.add(location, f'"{host}" is not a valid host (a wildcard "*" may only be the '
                             f'first or last label)')
        return False
    return True


def check_method(method: str, location: str, issues: Issues) -> bool:
    if not METHOD.fullmatch(method):
        issues.add(location, "must be upper-case letters only (e.g. GET)")
        return False
    return True
