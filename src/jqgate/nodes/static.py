"""`static`: constant values (§5.5). S20. Its schema has no `input`/`inputs`.

Output fields are the keys of `values`, so the port table is per node (ANY_FIELDS here).
"""
from jqgate.nodes.spec import ANY_FIELDS, NodeSpec, object_

SPEC = NodeSpec(
    type="static",
    fields={"values": object_()},
    required=("values",),
    has_inputs=False,
    output_fields=ANY_FIELDS,
)
