"""`cache`: key/value cache (§5.7, 3.12+). S22. `resources.cache` presence is graph rule G13."""
from jqgate.nodes.spec import NodeSpec, boolean, integer

SPEC = NodeSpec(
    type="cache",
    fields={"ttl": integer(minimum=1), "bypass_on_error": boolean()},
    input_fields=("key", "ttl", "data"),
    output_fields=("hit", "miss", "stored", "data"),
    since="3.12",
)
