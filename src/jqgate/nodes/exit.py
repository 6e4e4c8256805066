"""`exit`: answer the client directly (§5.3). S17. Its schema has no `output`/`outputs`."""
from jqgate.nodes.spec import NodeSpec, boolean, integer

SPEC = NodeSpec(
    type="exit",
    fields={"status": integer(200, 599), "warn_headers_sent": boolean()},
    input_fields=("body", "headers"),
    has_outputs=False,
)
