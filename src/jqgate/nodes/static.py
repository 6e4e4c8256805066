"""`static`: constant values (§5.5). S20. Its schema has no `input`/`inputs`.

Output fields are the keys of `values`, so the port table is per node (`fields_out=None` here).
"""
from jqgate.nodes.ports import LITERAL, NodePorts
from jqgate.nodes.spec import NodeSpec, object_

SPEC = NodeSpec(
    type="static",
    fields={"values": object_()},
    required=("values",),
    ports=NodePorts(self_in=None, fields_in={}, fields_in_allowed=False,
                    self_out=LITERAL, fields_out=None, fields_out_allowed=True),
)
