"""The schema of a node type: its own fields with their checks, and its ports (§3.3, §5).

`NodeSpec` is data: the schema validator (`jqgate.compiler.schema`) walks its fields, the graph
stage types and resolves `NODE.FIELD` connections with its `ports`, and both executors read the
object-input fields derived from them (`jqgate.nodes.OBJECT_INPUT_FIELDS`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from jqgate.config import checks
from jqgate.errors import Issues
from jqgate.nodes.ports import NodePorts

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
    ports: NodePorts | None = None             # every type has them; typed (§3.3, §3.4)
    extra_check: ExtraCheck | None = None      # cross-field rules (S13, S23)
    since: str = "3.11"

    def __post_init__(self) -> None:
        if self.ports is None:
            raise TypeError(f"node type {self.type!r} has no ports")

    # The schema's view of the ports. False when the type's schema has no `input`/`inputs` (or
    # `output`/`outputs`) at all: reported as an unknown field. Only `static` has no inputs and
    # only `exit` no outputs.
    @property
    def has_inputs(self) -> bool:
        return self.ports.self_in is not None or self.ports.fields_in_allowed

    @property
    def has_outputs(self) -> bool:
        return self.ports.self_out is not None or self.ports.fields_out_allowed

    @property
    def input_fields(self) -> tuple[str, ...] | str:
        return _field_names(self.ports.fields_in, self.ports.fields_in_allowed)

    @property
    def output_fields(self) -> tuple[str, ...] | str:
        return _field_names(self.ports.fields_out, self.ports.fields_out_allowed)


def _field_names(fields: dict[str, str] | None, allowed: bool) -> tuple[str, ...] | str:
    if fields is None:
        return ANY_FIELDS
    return tuple(fields) if allowed else NO_FIELDS


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
