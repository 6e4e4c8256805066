"""Admin API errors in Kong's shapes (kong/db/errors.lua), raised by handlers as `AdminError`.

Kong's schema violation: `{"code": 2, "name": "schema violation", "message": "schema violation
(config.nodes: ...)" | "N schema violations (a: ...; b: ...)", "fields": {nested like the body}}`.
A declarative configuration (`POST /config`) is refused as Kong's DB-less mode does it: code 14,
"invalid declarative configuration", plus `flattened_errors`. Every located error found in the one
validation pass is in `message`, in `fields`, and (for /config) in `flattened_errors`.
"""
from __future__ import annotations

import re

from jqgate.errors import ConfigIssue

SCHEMA_VIOLATION = 2
UNIQUE_VIOLATION = 5
NOT_FOUND = 6
DECLARATIVE_CONFIG = 14

_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


class AdminError(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


def not_found() -> AdminError:
    return AdminError(404, {"message": "Not found"})


def method_not_allowed() -> AdminError:
    return AdminError(405, {"message": "Method not allowed"})


def bad_request(message: str) -> AdminError:
    return AdminError(400, {"message": message})


def unique_violation(field: str, value: str) -> AdminError:
    return AdminError(409, {"code": UNIQUE_VIOLATION, "name": "unique constraint violation",
                            "message": f"UNIQUE violation detected on '{{{field}=\"{value}\"}}'",
                            "fields": {field: value}})


def location_steps(location: str) -> list[str | int]:
    """`plugins[0].config.nodes[2].inputs` -> ["plugins", 0, "config", "nodes", 2, "inputs"]."""
    steps: list[str | int] = []
    for name, index in _STEP.findall(location or ""):
        steps.append(int(index) if index else name)
    return steps


def nest_fields(issues: list[ConfigIssue]) -> dict:
    """Kong's `fields`: errors placed where they belong in the document; arrays as JSON arrays
    padded with nulls (what Kong's cjson emits), several errors at one place as a list."""
    root: dict = {}
    for issue in issues:
        steps = location_steps(issue.location)
        if not steps:
            steps = ["@entity"]      # Kong's key for errors about the whole record
        _place(root, steps, issue.message)
    return _arrays(root)


def _place(node: dict, steps: list, message: str) -> None:
    for step in steps[:-1]:
        child = node.get(step)
        if not isinstance(child, dict):
            child = {} if child is None else {"@entity": child}
            node[step] = child
        node = child
    last = steps[-1]
    current = node.get(last)
    if current is None:
        node[last] = message
    elif isinstance(current, dict):
        current.setdefault("@entity", [])
        if isinstance(current["@entity"], list):
            current["@entity"].append(message)
    elif isinstance(current, list):
        current.append(message)
    else:
        node[last] = [current, message]


def _arrays(node):
    """Dicts keyed only by integers become arrays (null where nothing is wrong)."""
    if not isinstance(node, dict):
        return node
    converted = {k: _arrays(v) for k, v in node.items()}
    if converted and all(isinstance(k, int) for k in converted):
        out = [None] * (max(converted) + 1)
        for k, v in converted.items():
            out[k] = v
        return out
    return {str(k): v for k, v in converted.items()}


def summary(issues: list[ConfigIssue], noun: str = "schema violation") -> str:
    text = "; ".join(str(i) for i in issues)
    if len(issues) == 1:
        return f"{noun} ({text})"
    return f"{len(issues)} {noun}s ({text})"


def schema_violation(issues: list[ConfigIssue]) -> AdminError:
    return AdminError(400, {"code": SCHEMA_VIOLATION, "name": "schema violation",
                            "message": summary(issues), "fields": nest_fields(issues)})


def invalid_declarative(issues: list[ConfigIssue]) -> AdminError:
    return AdminError(400, {
        "code": DECLARATIVE_CONFIG, "name": "invalid declarative configuration",
        "message": "declarative config is invalid: " + "; ".join(str(i) for i in issues),
        "fields": nest_fields(issues),
        "flattened_errors": [{"location": i.location, "message": i.message} for i in issues]})
