"""The one exception every runtime node module raises for a node failure; both executors turn
it into their own node error (NODE_ERROR, 500, log line)."""


class NodeFailure(Exception):
    pass

