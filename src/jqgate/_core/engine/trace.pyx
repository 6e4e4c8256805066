# The execution trace of the compiled core (datakit.md §8.2, D14–D16). Only built when the
# plan has `debug: true` and the request asked for it, so it is plain code: the per-request
# cost without tracing is one flag test per event site.
#
# Document: {"version": 1, "started_at", "ended_at", "duration", "status", "nodes", "events"}.
# Events: {name, type, action, at, values?, duration?}; actions run / complete / fail / resume /
# cancel / skip, and for calls also schedule / dispatch (the 3.15 names, D16).

import time as _time

TRACE_HEADER = "x-datakit-debug-trace"
TRACE_ON_VALUES = frozenset(("true", "yes", "on", "1", "enabled"))
_TRACE_MAP_PORTS = frozenset(("headers", "query"))

TRACE_NODE_PENDING = "NODE_PENDING"
TRACE_NODE_RUNNING = "NODE_RUNNING"
TRACE_NODE_COMPLETE = "NODE_COMPLETE"
TRACE_NODE_ERROR = "NODE_ERROR"
TRACE_NODE_CANCELED = "NODE_CANCELED"
TRACE_NODE_SKIPPED = "NODE_SKIPPED"


cdef bint trace_requested(bint debug, object header_pairs):
    """Only with `debug: true`, and only for the listed values, case-insensitively (§8.2)."""
    if not debug:
        return False
    for n, v in header_pairs:
        if values_to_str(n).lower() == TRACE_HEADER:
            return values_to_str(v).strip().lower() in TRACE_ON_VALUES
    return False


cdef dict trace_value(str key, object value):
    if type(value) is BadJson:
        return {"key": key, "type": "error", "value": (<BadJson>value).text()}
    if value is None:
        return {"key": key, "type": "map" if key in _TRACE_MAP_PORTS else "any"}
    return {"key": key,
            "type": "map" if key in _TRACE_MAP_PORTS and type(value) is dict
                    else values_type_name(value),
            "value": value}


cdef class TraceRecorder:

    def __init__(self, tuple nodes):
        self.nodes = nodes
        self.started_at = _time.time()
        self.t0 = _time.perf_counter()
        self.events = []
        self.status = [TRACE_NODE_PENDING] * len(nodes)
        self.errors = {}
        self.started = {}

    cdef double now(self):
        return _time.perf_counter() - self.t0

    cdef void event(self, int node, str action, object values, object duration):
        pn = self.nodes[node]
        ev = {"name": pn.name, "type": pn.type, "action": action, "at": round(self.now(), 6)}
        if values is not None:
            ev["values"] = values
        if duration is not None:
            ev["duration"] = round(duration, 6)
        self.events.append(ev)

    cdef void run(self, int node, list values):
        self.started[node] = _time.perf_counter()
        self.status[node] = TRACE_NODE_RUNNING
        self.event(node, "run", values, None)

    cdef void complete(self, int node, list values):
        self.status[node] = TRACE_NODE_COMPLETE
        self.event(node, "complete", values, None)

    cdef void fail(self, int node, str error, list values):
        self.status[node] = TRACE_NODE_ERROR
        self.errors[node] = error
        self.event(node, "fail", [{"type": "error", "value": error}] + (values or []), None)

    cdef void resume(self, int node):
        t = self.started.get(node)
        self.event(node, "resume", None, None if t is None else _time.perf_counter() - t)

    cdef void cancel(self, int node):
        t = self.started.get(node)
        self.status[node] = TRACE_NODE_CANCELED
        self.event(node, "cancel", None, None if t is None else _time.perf_counter() - t)

    cdef void skip(self, int node, list values):
        self.status[node] = TRACE_NODE_SKIPPED
        self.event(node, "skip", values, None)

    cdef bint is_open(self, int node):
        s = self.status[node]
        return s == TRACE_NODE_PENDING or s == TRACE_NODE_RUNNING

    cdef dict document(self, bint ok):
        ended = _time.time()
        nodes = []
        for i, pn in enumerate(self.nodes):
            entry = {"name": pn.name, "type": pn.type, "status": self.status[i]}
            if i in self.errors:
                entry["error"] = self.errors[i]
            nodes.append(entry)
        return {"version": 1, "started_at": self.started_at, "ended_at": ended,
                "duration": round(ended - self.started_at, 6),
                "status": "PLAN_COMPLETE" if ok else "PLAN_ERROR",
                "nodes": nodes, "events": self.events}
