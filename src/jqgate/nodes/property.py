"""`property`: get/set gateway properties (§5.4). S19 (property names are checked by G15)."""
from jqgate.nodes.spec import NO_FIELDS, NodeSpec, boolean, enum, string

CONTENT_TYPES = ("application/json", "application/octet-stream", "text/plain")

SPEC = NodeSpec(
    type="property",
    fields={
        "property": string(max_len=255),
        "content_type": enum(*CONTENT_TYPES),
        "non_nil": boolean(),
    },
    required=("property",),
    input_fields=NO_FIELDS,         # `inputs`/`outputs` on property: graph rule G3
    output_fields=NO_FIELDS,
)
