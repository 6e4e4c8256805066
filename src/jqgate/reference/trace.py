"""The execution trace (datakit.md §8.2, D14–D16), reference version.

Document: {"version": 1, "started_at", "ended_at", "duration", "status", "nodes", "events"}.
Events: {name, type, action, at, values?, duration?}; actions run / complete / fail / resume /
cancel / skip, and for calls also schedule / dispatch (the 3.15 names, D16).
"""
from __future__ import annotations

import time

from jqgate.reference.values import BadJson, type_name

TRACE_HEADER = "x-datakit-debug-trace"
TRACE_ON_VALUES = frozenset(("true", "yes", "on", "1", "enabled"))

NODE_PENDING = "NODE_PENDING"
NODE_RUNNING = "NODE_RUNNING"
NODE_COMPLETE = "NODE_COMPLETE"
NODE_ERROR = "NODE_ERROR"
NODE_CANCELED = "NODE_CANCELED"
NODE_SKIPPED = "NODE_SKIPPED"

MAP_PORTS = frozenset(("headers", "query"))


def trace_requested(debug: bool, header_pairs) -> bool:
    """Only with `debug: true`, and only for the listed values, case-insensitively (§8.2)."""
    if not debug:
        return False
    for n, v in header_pairs:
        n = n.decode("latin-1") if isinstance(n, bytes) else n
        if n.lower() == TRACE_HEADER:
            v = v.decode("latin-1") if isinstance(v, bytes) else v
            return v.strip().lower() in TRACE_ON_VALUES
    return False


def trace_value(key: str, value) -> dict:
    if isinstance(value, BadJson):
        return {"key": key, "type": "error", "value": value.text()}
    if value is None:
        return {"key": key, "type": "map" if key in MAP_PORTS else "any"}
    t = "map" if key in MAP_PORTS and isinstance(value, dict) else type_name(value)
    return {"key": key, "type": t, "value": value}


class Trace:
    def __init__(self, plan):
        self.plan = plan
        self.started_at = time.time()
        self.t0 = time.perf_counter()
        self.events = []
        self.status = [NODE_PENDING] * len(plan.nodes)
        self.errors = {}
        self.started = {}            # node position -> perf_counter at run

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def event(self, node: int, action: str, values=None, duration=None):
        pn = self.plan.nodes[node]
        ev = {"name": pn.name, "type": pn.type, "action": action, "at": round(self.now(), 6)}
        if values is not None:
            ev["values"] = values
        if duration is not None:
            ev["duration"] = round(duration, 6)
        self.events.append(ev)

    def run(self, node, values):
        self.started[node] = time.perf_counter()
        self.status[node] = NODE_RUNNING
        self.event(node, "run", values)

    def complete(self, node, values):
        self.status[node] = NODE_COMPLETE
        self.event(node, "complete", values)

    def fail(self, node, error, values):
        self.status[node] = NODE_ERROR
        self.errors[node] = error
        self.event(node, "fail", [{"type": "error", "value": error}] + (values or []))

    def cancel(self, node):
        t = self.started.get(node)
        self.status[node] = NODE_CANCELED
        self.event(node, "cancel", None, None if t is None else time.perf_counter() - t)

    def skip(self, node, values=None):
        self.status[node] = NODE_SKIPPED
        self.event(node, "skip", values)

    def document(self, ok: bool) -> dict:
        ended = time.time()
        nodes = []
        for i, pn in enumerate(self.plan.nodes):
            entry = {"name": pn.name, "type": pn.type, "status": self.status[i]}
            if i in self.errors:
                entry["error"] = self.errors[i]
            nodes.append(entry)
        return {"version": 1, "started_at": self.started_at, "ended_at": ended,
                "duration": round(ended - self.started_at, 6),
                "status": "PLAN_COMPLETE" if ok else "PLAN_ERROR",
                "nodes": nodes, "events": self.events}
