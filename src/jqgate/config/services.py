"""Kong `services` records: `url` or `protocol`/`host`/`port`/`path`, with Kong's defaults."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from jqgate.config import checks
from jqgate.config.checks import INT32_MAX
from jqgate.config.ids import stable_id
from jqgate.config.model import Service
from jqgate.errors import Issues, join
from jqgate.http_url import DEFAULT_PORTS

WHITESPACE = re.compile(r"\s")
PROTOCOLS = ("http", "https")
TIMEOUTS = ("connect_timeout", "read_timeout", "write_timeout")
# Fields of a Kong service this gateway honours. `routes` / `plugins` are nested entities.
SERVICE_FIELDS = ("name", "id", "url", "protocol", "host", "port", "path", "retries", *TIMEOUTS,
                  "tags", "enabled", "tls_verify", "routes", "plugins")
# Kong fields that would change behaviour and that this gateway does not implement.
UNSUPPORTED_SERVICE_FIELDS = {
    "tls_verify_depth": "upstream TLS verification depth",
    "client_certificate": "upstream client certificates (mTLS)",
    "ca_certificates": "custom CA certificates for upstream TLS",
}


def parse_service(record: Any, location: str, issues: Issues) -> Service | None:
    if not checks.check_object(record, location, issues):
        return None
    before = len(issues)
    for key in record:
        if key in UNSUPPORTED_SERVICE_FIELDS:
            if record[key] is not None:
                issues.add(join(location, key), f"not supported: {UNSUPPORTED_SERVICE_FIELDS[key]}")
        elif key not in SERVICE_FIELDS:
            issues.add(join(location, str(key)), "unknown field")
    name = optional_name(record, location, issues)
    protocol, host, port, path = service_address(record, location, issues)
    service = Service(name=name, id=entity_id(record, "service", name, location, issues),
                      protocol=protocol, host=host, port=port, path=path,
                      location=location,
                      raw={k: v for k, v in record.items() if k not in ("routes", "plugins")})
    for key in TIMEOUTS:
        if record.get(key) is not None and checks.check_int(
                record[key], join(location, key), issues, minimum=1, maximum=INT32_MAX):
            setattr(service, key, int(record[key]))
    if record.get("retries") is not None and checks.check_int(
            record["retries"], join(location, "retries"), issues, minimum=0, maximum=32767):
        service.retries = int(record["retries"])
    if record.get("tls_verify") is not None and checks.check_bool(
            record["tls_verify"], join(location, "tls_verify"), issues):
        service.tls_verify = record["tls_verify"]
    if record.get("enabled") is not None and checks.check_bool(
            record["enabled"], join(location, "enabled"), issues):
        service.enabled = record["enabled"]
    check_tags(record, location, issues)
    return service if len(issues) == before else None


def service_address(record: dict, location: str, issues: Issues) -> tuple[str, str, int, str | None]:
    """(protocol, host, port, path) from `url`, or from the separate fields."""
    parts = ("protocol", "host", "port", "path")
    url = record.get("url")
    if url is not None:
        given = [key for key in parts if record.get(key) is not None]
        if given:
            issues.add(location, f"use either `url` or {', '.join(f'`{k}`' for k in given)}, not both")
        return parse_service_url(url, join(location, "url"), issues)
    protocol = record.get("protocol", "http")
    if protocol is None:
        protocol = "http"
    if not checks.check_enum(protocol, join(location, "protocol"), issues, PROTOCOLS):
        protocol = "http"
    host = record.get("host")
    if host is None:
        issues.add(location, "missing field `host` (or give a `url`)")
        host = ""
    elif not check_host(host, join(location, "host"), issues):
        host = ""
    port = record.get("port")
    if port is None:
        port = DEFAULT_PORTS[protocol]
    elif not checks.check_int(port, join(location, "port"), issues, minimum=0, maximum=65535):
        port = DEFAULT_PORTS[protocol]
    path = record.get("path")
    if path is not None and checks.check_string(path, join(location, "path"), issues) \
            and not path.startswith("/"):
        issues.add(join(location, "path"), 'must start with "/"')
    return protocol, host, int(port), path if isinstance(path, str) else None


def parse_service_url(url: Any, location: str, issues: Issues) -> tuple[str, str, int, str | None]:
    fallback = ("http", "", 80, None)
    if not checks.check_string(url, location, issues):
        return fallback
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        issues.add(location, f'"{url}" is not a valid URL')
        return fallback
    protocol = parts.scheme.lower()
    if protocol not in PROTOCOLS:
        issues.add(location, f'"{url}" is not an http or https URL')
        return fallback
    if not parts.hostname or WHITESPACE.search(url):
        issues.add(location, f'"{url}" is not a valid URL')
        return fallback
    if parts.query or parts.fragment or parts.username or parts.password:
        issues.add(location, "a service URL cannot carry a query, fragment or credentials")
        return fallback
    return protocol, parts.hostname, port or DEFAULT_PORTS[protocol], parts.path or None


def check_host(host: Any, location: str, issues: Issues) -> bool:
    if not checks.check_string(host, location, issues, max_len=253):
        return False
    if any(ch.isspace() or ch in "/?#@" for ch in host):
        issues.add(location, f'"{host}" is not a valid host name')
        return False
    return True


def optional_name(record: dict, location: str, issues: Issues) -> str | None:
    name = record.get("name")
    if name is None:
        return None
    if not checks.check_string(name, join(location, "name"), issues, max_len=255):
        return None
    return name


def entity_id(record: dict, kind: str, name: str | None, location: str, issues: Issues) -> str:
    """The record's `id`, or a stable one derived from its name (else its location)."""
    given = record.get("id")
    if given is not None and checks.check_string(given, join(location, "id"), issues, max_len=255):
        return given
    return stable_id(kind, name if name is not None else f"@{location}")


def check_tags(record: dict, location: str, issues: Issues) -> None:
    """`tags` carry no behaviour; they must still be a list of strings."""
    if record.get("tags") is not None:
        checks.check_string_list(record["tags"], join(location, "tags"), issues)
