"""`exit`: answer the client directly (§5.3). S17. Its schema has no `output`/`outputs`."""
from jqgate.nodes.ports import ANY, MAP, OBJECT, NodePorts
from jqgate.nodes.spec import NodeSpec, boolean, integer

SPEC = NodeSpec(
    type="exit",
    fields={"status": integer(200, 599), "warn_headers_sent": boolean()},
    ports=NodePorts(self_in=OBJECT, fields_in={"body": ANY, "headers": MAP}, fields_in_allowed=True,
                    self_out=None, fields_out={}, fields_out_allowed=False),
)
