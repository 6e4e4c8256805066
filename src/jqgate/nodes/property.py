"""`property`: get/set gateway properties (§5.4). S19 (property names are checked by G15)."""
from jqgate.nodes.ports import ANY, NodePorts
from jqgate.nodes.spec import NodeSpec, boolean, enum, string

CONTENT_TYPES = ("application/json", "application/octet-stream", "text/plain")

SPEC = NodeSpec(
    type="property",
    fields={
        "property": string(max_len=255),
        "content_type": enum(*CONTENT_TYPES),
        "non_nil": boolean(),
    },
    required=("property",),
    # `inputs`/`outputs` on property: graph rule G3
    ports=NodePorts(self_in=ANY, fields_in={}, fields_in_allowed=False,
                    self_out=ANY, fields_out={}, fields_out_allowed=False),
)
