"""Edge type rules (datakit.md §3.4): is `source type -> target type` allowed, and with which runtime check."""
from __future__ import annotations

from jqgate.nodes.ports import ANY, BOOLEAN, LITERAL, MAP, NUMBER, OBJECT, STRING
from jqgate.plan import (CONV_BOOLEAN, CONV_MAP, CONV_NONE, CONV_NUMBER, CONV_OBJECT,
                         CONV_STRING)

_FROM_ANY = {MAP: CONV_MAP, OBJECT: CONV_OBJECT, STRING: CONV_STRING, NUMBER: CONV_NUMBER,
             BOOLEAN: CONV_BOOLEAN}


def edge_conversion(source: str, target: str) -> int | None:
    """The runtime conversion for an edge between two (non-expanded) ports, None if rejected.

    Object -> object between node-wise ports is expanded by the graph builder before this is asked.
    """
    if target == ANY:
        return CONV_NONE
    if source == target:
        return CONV_NONE
    if source == ANY:
        return _FROM_ANY.get(target)
    if source == STRING and target == NUMBER:
        return CONV_NUMBER
    if source == NUMBER and target == STRING:
        return CONV_STRING
    if source == LITERAL and target == MAP:
        return CONV_NONE          # D18: a static object may feed a map input
    if source == MAP and target == OBJECT:
        return CONV_OBJECT        # keys are only known at run time: spread with a check
    return None


def type_label(kind: str) -> str:
    """How a type is named in messages (a static object is an object to the user)."""
    return OBJECT if kind == LITERAL else kind

