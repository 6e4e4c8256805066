"""`jq`: transform with a jq program (§5.2). S18 (length only; compiling is the compiler's)."""
from jqgate.nodes.ports import ANY, NodePorts
from jqgate.nodes.spec import NodeSpec, string

SPEC = NodeSpec(
    type="jq",
    fields={"jq": string(max_len=10240)},
    required=("jq",),
    # user-defined input names; `outputs` on jq: graph rule G3
    ports=NodePorts(self_in=ANY, fields_in=None, fields_in_allowed=True,
                    self_out=ANY, fields_out={}, fields_out_allowed=False),
)
