"""Node types: one module per type, each holding its schema (`NodeSpec`: fields and ports)."""
from jqgate.nodes import branch, cache, call, exit, jq, jwt, property, static, xml
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
IMPLICIT_NODES = ("request", "service_request", "service_response", "response", "vault")
