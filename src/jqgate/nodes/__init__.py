"""Node types: one module per type, each holding its schema (`NodeSpec`: fields and ports).

The tables below are gathered from those modules, so a port added to a type shows in the
schema, the graph stage and both executors at once (tests/nodes/test_node_tables.py).
"""
from jqgate.nodes import branch, cache, call, exit, jq, jwt, property, static, xml
from jqgate.nodes.ports import IMPLICIT_NAMES, IMPLICIT_PORTS, OBJECT, NodePorts
from jqgate.nodes.spec import NodeSpec

NODE_SPECS: dict[str, NodeSpec] = {
    spec.type: spec
    for spec in (call.SPEC, jq.SPEC, exit.SPEC, property.SPEC, static.SPEC, branch.SPEC,
                 cache.SPEC, xml.XML_TO_JSON, xml.JSON_TO_XML, jwt.JWT_DECODE, jwt.JWT_SIGN,
                 jwt.JWT_VERIFY)
}

# Wasm-era types that Kong 3.11+ rejects (§5.13).
REMOVED_NODE_TYPES = {"handlebars": "3.11", "template": "3.11", "response": "3.11"}

# Implicit nodes: reserved names (S6).
IMPLICIT_NODES = IMPLICIT_NAMES

# The ports of every user node type, as the graph stage reads them.
USER_NODE_PORTS: dict[str, NodePorts] = {t: spec.ports for t, spec in NODE_SPECS.items()}

# Node types (user and implicit) whose node-wise input is an object: an any -> object binding
# delivers the value's keys that name these fields to the fields (§3.4). Both executors read it.
OBJECT_INPUT_FIELDS: dict[str, tuple[str, ...]] = {
    t: tuple(p.fields_in) for t, p in {**USER_NODE_PORTS, **IMPLICIT_PORTS}.items()
    if p.self_in == OBJECT and p.fields_in}

# The fields of the implicit `request` node, in the order the executors build its object.
REQUEST_FIELDS: tuple[str, ...] = tuple(IMPLICIT_PORTS["request"].fields_out)
