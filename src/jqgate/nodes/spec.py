"""The schema of a node type: its own fields with their checks, and its ports (§3.3, §5).

`NodeSpec` is data: the schema validator (`jqgate.compiler.schema`) walks it, and the graph
stage can read the port tables (`input_fields`, `output_fields`) to resolve `NODE.FIELD`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from jqgate.config import checks
from jqgate.errors import Issues

FieldCheck = Callable[[Any, str, Issues], bool]
ExtraCheck = Callable[[dict, str, Issues], None]

# Port tables: a tuple of field names, ANY_FIELDS (user-defined names, e.g. jq inputs), or
# NO_FIELDS (the map is not allowed on this type: a graph-level rule, G3).
ANY_FIELDS = "*"
NO_FIELDS: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeSpec:
    type: str
    fields: dict[str, FieldCheck] = field(default_factory=dict)   # type-specific, optional unless required
    required: tuple[str, ...] = ()
    # False when the type's schema has no `input`/`inputs` (or `output`/`outputs`) at all:
    # reported by the schema as an unknown field. Only `static` (no inputs) and `exit` (no outputs).
    has_inputs: bool = True
    has_outputs: bool = True
    input_fields: tuple[str, ...] | str = NO_FIELDS
    output_fields: tuple[str, ...] | str = NO_FIELDS
    extra_check: ExtraCheck | None = None      # cross-field rules (S13, S23)
    since: str = "3.11"


# Field check factories: `string(max_len=255)` returns a FieldCheck.

def string(**rules: Any) -> FieldCheck:
    return lambda value, location, issues: checks.check_string(value, location, issues, **rules)


def integer(minimum: int | None = None, maximum: int | None = None) -> FieldCheck:
    return lambda value, location, issues: checks.check_int(
        value, location, issues, minimum=minimum, maximum=maximum)


def boolean() -> FieldCheck:
    return checks.check_bool


def enum(*choices: str) -> FieldCheck:
    return lambda value, location, issues: checks.check_enum(value, location, issues, choices)


def string_list(**rules: Any) -> FieldCheck:
    return lambda value, location, issues: checks.check_string_list(value, location, issues, **rules)


def enum_list(*choices: str) -> FieldCheck:
    def check(value: Any, location: str, issues: Issues) -> bool:
        if not checks.check_list(value, location, issues):
            return False
        ok = True
        for index, item in enumerate(value):
            ok &= checks.check_enum(item, f"{location}[{index}]", issues, choices)
        return ok
    return check


def object_() -> FieldCheck:
    return checks.check_object


NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,254}")      # D29
NAME_MESSAGE = ("must start with a letter or underscore and contain only letters, numbers, "
                "underscores, or hyphens")


def node_name_list() -> FieldCheck:
    """`branch.then` / `branch.else`: 1–64 node names (S21)."""
    return string_list(min_items=1, max_items=64, max_len=255, pattern=NAME_PATTERN,
                       pattern_message=NAME_MESSAGE)
