"""`cache`: key/value cache (§5.7, 3.12+). S22. `resources.cache` presence is graph rule G13."""
from jqgate.nodes.ports import ANY, BOOLEAN, NUMBER, OBJECT, STRING, NodePorts
from jqgate.nodes.spec import NodeSpec, boolean, integer

SPEC = NodeSpec(
    type="cache",
    fields={"ttl": integer(minimum=1), "bypass_on_error": boolean()},
    ports=NodePorts(self_in=OBJECT, fields_in={"key": STRING, "ttl": NUMBER, "data": ANY},
                    fields_in_allowed=True, self_out=OBJECT, fields_out_allowed=True,
                    fields_out={"hit": BOOLEAN, "miss": BOOLEAN, "stored": BOOLEAN, "data": ANY}),
    since="3.12",
)
