"""`branch`: conditional scheduling (§5.6, 3.12+). S21. Membership rules are graph rule G12."""
from jqgate.nodes.spec import NO_FIELDS, NodeSpec, node_name_list

SPEC = NodeSpec(
    type="branch",
    fields={"then": node_name_list(), "else": node_name_list()},
    input_fields=NO_FIELDS,
    output_fields=("then", "else"),
    since="3.12",
)
