"""The JSON name of a value's type, as every error message of the project says it.

One number type, as JSON (RFC 8259) and jq's `type` have it: 1 and 1.5 are both "number".
The config checker says "expected an integer, got number" for 1.5, the executors say "expected
a string, got number" for 30, and a user sees the same word for the same value whichever stage
reports it. tests/core/test_json_type_names.py pins the names to jq's `type` builtin."""
from __future__ import annotations

from typing import Any


def json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__      # not JSON at all: YAML timestamps, binary, sets ...
