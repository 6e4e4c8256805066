# Declarations of engine/trace.pyx: what the rest of the core uses from it (via core.pxd).

cdef bint trace_requested(bint debug, object header_pairs)
cdef dict trace_value(str key, object value)
cdef class TraceRecorder:
    cdef tuple nodes
    cdef double started_at
    cdef double t0
    cdef list events
    cdef list status
    cdef dict errors
    cdef dict started

    cdef double now(self)
    cdef void event(self, int node, str action, object values, object duration)
    cdef void run(self, int node, list values)
    cdef void complete(self, int node, list values)
    cdef void fail(self, int node, str error, list values)
    cdef void resume(self, int node)
    cdef void cancel(self, int node)
    cdef void skip(self, int node, list values)
    cdef bint is_open(self, int node)
    cdef dict document(self, bint ok)
