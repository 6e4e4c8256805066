# Declarations of engine/ops/python_nodes.pyx: what the rest of the core uses from it.

cdef class _PythonNodeWaiter:
    cdef PlanRun run
    cdef int index

cdef int ops_python_store(PlanRun run, CompiledOp op, dict outputs, object self_out) except -1
cdef int ops_python_run(PlanRun run, CompiledOp op, dict fields, object self_value) except -1
cdef int ops_python_remember(PlanRun run, list values) except -1
cdef int ops_python_async_done(PlanRun run, int i, object result) except -1
cdef int ops_python_xml_body(PlanRun run, CompiledOp op, dict fields) except -1
