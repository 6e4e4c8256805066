"""Ports: which inputs and outputs a node has, and their types (datakit.md §3.3, §3.4).

Each node type's ports live with the rest of the type in its module (`nodes/call.py`'s
`SPEC.ports`, ...); the implicit nodes' ports are here. `jqgate.nodes` gathers them into the
tables the compiler and both executors read (USER_NODE_PORTS, OBJECT_INPUT_FIELDS).

Types: "any", "map", "object", "string", "number", "boolean", "array", and "literal" for a static
node's object values (an object whose fields are known at load time that may also feed a map, D18).
`None` for a field set means user-defined field names are allowed on that side.
"""
from __future__ import annotations

from dataclasses import dataclass

ANY, MAP, OBJECT, STRING, NUMBER, BOOLEAN, ARRAY, LITERAL = (
    "any", "map", "object", "string", "number", "boolean", "array", "literal")


@dataclass(frozen=True)
class NodePorts:
    self_in: str | None               # type of the node-wise input, None = no `input` allowed
    fields_in: dict[str, str] | None  # input fields; None = user-defined names (type any)
    fields_in_allowed: bool           # may `inputs:` be used at all
    self_out: str | None              # type of the node-wise output, None = no `output`
    fields_out: dict[str, str] | None
    fields_out_allowed: bool
    is_source: bool = False           # implicit source: nothing may connect into it
    is_sink: bool = False             # implicit sink: nothing may connect out of it


REQUEST_FIELDS = {"body": ANY, "headers": MAP, "query": MAP, "path": STRING, "raw_path": STRING,
                  "port": NUMBER, "method": STRING, "scheme": STRING, "version": NUMBER}

IMPLICIT_PORTS: dict[str, NodePorts] = {
    "request": NodePorts(None, {}, False, OBJECT, REQUEST_FIELDS, True, is_source=True),
    "service_request": NodePorts(OBJECT, {"body": ANY, "headers": MAP, "query": MAP}, True,
                                 None, {}, False, is_sink=True),
    "service_response": NodePorts(None, {}, False, OBJECT,
                                  {"body": ANY, "headers": MAP, "status": NUMBER, "raw_body": STRING},
                                  True, is_source=True),
    "response": NodePorts(OBJECT, {"body": ANY, "headers": MAP}, True, None, {}, False, is_sink=True),
    # vault: one string output per resources.vault key; no node-wise output (§4.5)
    "vault": NodePorts(None, {}, False, None, None, True, is_source=True),
}

IMPLICIT_NAMES = tuple(IMPLICIT_PORTS)


def literal_type(value: object) -> str:
    """The load-time type of a static literal (§3.4 static-node typing)."""
    if value is None:
        return ANY
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, list):
        return ARRAY
    return LITERAL
