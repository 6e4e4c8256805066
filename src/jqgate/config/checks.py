"""Small typed checks shared by the config loaders and the DataKit schema validator.

Each check appends an issue at `location` and returns False when the value is wrong, so callers
can keep going and report everything in one pass. Kong treats an explicit `null` on an optional
field as "not set"; callers skip `None` before calling these checks.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from jqgate.errors import Issues, join
from jqgate.json_types import json_type_name as type_name   # the config loaders' messages use it

INT32_MAX = 2147483646      # Kong's upper bound for timeouts and pool sizes


def check_string(value: Any, location: str, issues: Issues, *, min_len: int = 1,
                 max_len: int | None = None, pattern: re.Pattern[str] | None = None,
                 pattern_message: str | None = None) -> bool:
    if not isinstance(value, str):
        issues.add(location, f"expected a string, got {type_name(value)}")
        return False
    if len(value) < min_len:
        issues.add(location, "must not be empty" if min_len == 1 else
                   f"must be at least {min_len} characters")
        return False
    if max_len is not None and len(value) > max_len:
        issues.add(location, f"must be at most {max_len} characters, got {len(value)}")
        return False
    if pattern is not None and not pattern.fullmatch(value):
        issues.add(location, pattern_message or f"must match the pattern {pattern.pattern}")
        return False
    return True


def check_int(value: Any, location: str, issues: Issues, *, minimum: int | None = None,
              maximum: int | None = None) -> bool:
    # YAML `1.0` or JSON `1.0` is accepted as an integer when it has no fraction, as Lua does.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        issues.add(location, f"expected an integer, got {type_name(value)}")
        return False
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if maximum is None:
            issues.add(location, f"must be at least {minimum}, got {value}")
        elif minimum is None:
            issues.add(location, f"must be at most {maximum}, got {value}")
        else:
            issues.add(location, f"must be between {minimum} and {maximum}, got {value}")
        return False
    return True


def check_bool(value: Any, location: str, issues: Issues) -> bool:
    if not isinstance(value, bool):
        issues.add(location, f"expected a boolean, got {type_name(value)}")
        return False
    return True


def check_enum(value: Any, location: str, issues: Issues, choices: Iterable[str]) -> bool:
    choices = list(choices)
    if not isinstance(value, str):
        issues.add(location, f"expected a string, got {type_name(value)}")
        return False
    if value not in choices:
        issues.add(location, f'"{value}" is not one of: {", ".join(choices)}')
        return False
    return True


def check_object(value: Any, location: str, issues: Issues) -> bool:
    if not isinstance(value, dict):
        issues.add(location, f"expected an object, got {type_name(value)}")
        return False
    return True


def check_list(value: Any, location: str, issues: Issues, *, min_items: int = 0,
               max_items: int | None = None) -> bool:
    if not isinstance(value, list):
        issues.add(location, f"expected an array, got {type_name(value)}")
        return False
    if len(value) < min_items:
        issues.add(location, "must not be empty" if min_items == 1 else
                   f"must have at least {min_items} items")
        return False
    if max_items is not None and len(value) > max_items:
        issues.add(location, f"must have at most {max_items} items, got {len(value)}")
        return False
    return True


def check_string_list(value: Any, location: str, issues: Issues, *, min_items: int = 0,
                      max_items: int | None = None, **string_rules: Any) -> bool:
    if not check_list(value, location, issues, min_items=min_items, max_items=max_items):
        return False
    ok = True
    for index, item in enumerate(value):
        ok &= check_string(item, join(location, index), issues, **string_rules)
    return ok


def check_known_keys(record: dict, location: str, issues: Issues, known: Iterable[str],
                     what: str = "field") -> bool:
    """Closed objects: every key must be one of `known`."""
    known = set(known)
    ok = True
    for key in record:
        if key not in known:
            issues.add(join(location, str(key)), f"unknown {what}")
            ok = False
    return ok
