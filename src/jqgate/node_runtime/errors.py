"""The one exception every runtime node module raises for a node failure; both executors turn
it into their own node error (NODE_ERROR, 500, log line). And the JSON type names those
messages use."""


class NodeFailure(Exception):
    pass


def json_type_name(v) -> str:
    """A value's JSON type as error messages name it ("null", "boolean", "number", ...)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__
