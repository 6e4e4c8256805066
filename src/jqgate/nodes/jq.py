"""`jq`: transform with a jq program (§5.2). S18 (length only; compiling is the compiler's)."""
from jqgate.nodes.spec import ANY_FIELDS, NO_FIELDS, NodeSpec, string

SPEC = NodeSpec(
    type="jq",
    fields={"jq": string(max_len=10240)},
    required=("jq",),
    input_fields=ANY_FIELDS,
    output_fields=NO_FIELDS,        # `outputs` on jq: graph rule G3
)
