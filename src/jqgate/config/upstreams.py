"""Kong `upstreams` and `targets`: weights, round robin, least connections or consistent hashing,
health checks."""
from __future__ import annotations

import re
from typing import Any

from jqgate.config import checks
from jqgate.config.healthchecks import parse_healthchecks
from jqgate.config.model import Target, Upstream
from jqgate.config.services import check_tags, entity_id
from jqgate.errors import Issues, join

DEFAULT_TARGET_PORT = 8000      # Kong's default when a target has no port
HASH_FIELDS = ("hash_on", "hash_on_header", "hash_on_query_arg", "hash_fallback",
               "hash_fallback_header", "hash_fallback_query_arg")
UPSTREAM_FIELDS = ("name", "id", "algorithm", "targets", "tags", "slots", "healthchecks") + HASH_FIELDS
TARGET_FIELDS = ("target", "weight", "tags", "id", "upstream")
# Kong upstream fields that change balancing; not implemented here.
UNSUPPORTED_UPSTREAM_FIELDS = ("hash_on_cookie", "hash_on_cookie_path",
                               "hash_on_uri_capture", "hash_fallback_uri_capture", "host_header",
                               "client_certificate", "use_srv_name")
ALGORITHMS = ("round-robin", "least-connections", "consistent-hashing")
HASH_SOURCES = ("none", "ip", "header", "path", "query_arg")
# Kong hash sources this gateway cannot read (no consumers, no cookie setting, no captures).
UNSUPPORTED_HASH_SOURCES = ("consumer", "cookie", "uri_capture")
HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:\[\]/]+)(:(?P<port>[0-9]{1,5}))?")


def parse_upstream(record: Any, location: str, issues: Issues) -> Upstream | None:
    if not checks.check_object(record, location, issues):
        return None
    before = len(issues)
    for key in record:
        if key in UNSUPPORTED_UPSTREAM_FIELDS:
            if record[key] is not None:
                issues.add(join(location, key), "not supported by this gateway")
        elif key not in UPSTREAM_FIELDS:
            issues.add(join(location, str(key)), "unknown field")
    name = record.get("name")
    if name is None:
        issues.add(location, "missing field `name`")
    else:
        checks.check_string(name, join(location, "name"), issues, max_len=255)
    upstream = Upstream(name=name if isinstance(name, str) else "",
                        id=entity_id(record, "upstream", name if isinstance(name, str) else None,
                                     location, issues),
                        location=location)
    if record.get("algorithm") is not None:
        if record["algorithm"] in ("latency", "sticky-sessions"):
            issues.add(join(location, "algorithm"),
                       f'not supported: "{record["algorithm"]}" (this gateway balances '
                       f'round-robin, least-connections or consistent-hashing)')
        elif checks.check_enum(record["algorithm"], join(location, "algorithm"), issues,
                               ALGORITHMS):
            upstream.algorithm = record["algorithm"]
    parse_hashing(record, upstream, location, issues)
    if record.get("slots") is not None:
        # Kong's hash ring size: this gateway hashes by rendezvous (no ring), only range-checked.
        if checks.check_int(record["slots"], join(location, "slots"), issues, minimum=10,
                            maximum=2**16):
            upstream.slots = record["slots"]
    upstream.healthchecks = parse_healthchecks(record.get("healthchecks"),
                                               join(location, "healthchecks"), issues)
    check_tags(record, location, issues)
    upstream.tags = record.get("tags")
    targets = record.get("targets")
    if targets is not None and checks.check_list(targets, join(location, "targets"), issues):
        for index, item in enumerate(targets):
            target = parse_target(item, join(location, f"targets[{index}]"), issues, nested=True)
            if target is not None:
                upstream.targets.append(target)
    return upstream if len(issues) == before else None


def parse_hashing(record: dict, upstream: Upstream, location: str, issues: Issues) -> None:
    """Kong's hash_on / hash_fallback (read by consistent-hashing): a header or query argument
    source needs its name; the fallback is only for a hash_on other than none."""
    for which in ("hash_on", "hash_fallback"):
        source = record.get(which)
        if source is None:
            continue
        source_location = join(location, which)
        if source in UNSUPPORTED_HASH_SOURCES:
            issues.add(source_location, f'not supported: hashing on "{source}"')
            continue
        if not checks.check_enum(source, source_location, issues, HASH_SOURCES):
            continue
        setattr(upstream, which, source)
        for kind in ("header", "query_arg"):
            name_field = f"{which}_{kind}"
            name = record.get(name_field)
            if source == kind:
                if name is None:
                    issues.add(location, f"must set '{name_field}' when '{which}' is '{kind}'")
                elif checks.check_string(name, join(location, name_field), issues, min_len=1):
                    setattr(upstream, name_field, name)
            elif name is not None:
                checks.check_string(name, join(location, name_field), issues)
                setattr(upstream, name_field, name)
    if upstream.hash_on == "none" and upstream.hash_fallback != "none":
        issues.add(join(location, "hash_fallback"), "must be 'none' when 'hash_on' is 'none'")


def parse_target(record: Any, location: str, issues: Issues, nested: bool) -> Target | None:
    if not checks.check_object(record, location, issues):
        return None
    before = len(issues)
    for key in record:
        if key not in TARGET_FIELDS or (nested and key == "upstream"):
            issues.add(join(location, str(key)), "unknown field")
    text = record.get("target")
    target = None
    if text is None:
        issues.add(location, "missing field `target`")
    elif checks.check_string(text, join(location, "target"), issues):
        match = HOST_PORT.fullmatch(text)
        port = int(match["port"]) if match and match["port"] else DEFAULT_TARGET_PORT
        if not match or port > 65535:
            issues.add(join(location, "target"), f'"{text}" is not a valid "host:port" target')
        else:
            target = Target(target=text, host=match["host"].strip("[]"), port=port, location=location)
    weight = record.get("weight")
    if weight is not None and checks.check_int(weight, join(location, "weight"), issues,
                                               minimum=0, maximum=65535) and target is not None:
        target.weight = int(weight)
    check_tags(record, location, issues)
    if target is not None:
        target.tags = record.get("tags")
        if isinstance(record.get("id"), str):
            target.id = record["id"]
    return target if len(issues) == before else None
