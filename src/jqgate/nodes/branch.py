"""`branch`: conditional scheduling (§5.6, 3.12+). S21. Membership rules are graph rule G12."""
from jqgate.nodes.ports import ANY, BOOLEAN, NodePorts
from jqgate.nodes.spec import NodeSpec, node_name_list

SPEC = NodeSpec(
    type="branch",
    fields={"then": node_name_list(), "else": node_name_list()},
    # then/else are control outputs: connecting them schedules, they carry no value
    ports=NodePorts(self_in=BOOLEAN, fields_in={}, fields_in_allowed=False,
                    self_out=None, fields_out={"then": ANY, "else": ANY}, fields_out_allowed=True),
    since="3.12",
)
