# Declarations of engine/ops/property.pyx: what the rest of the core uses from it (via core.pxd).

cdef dict ops_memory_stats()
cdef object _record_field(object rec, str name)
cdef object _host_header(RequestView req)
cdef object ops_property_raw(PlanRun run, CompiledOp op)
cdef object ops_property_get(PlanRun run, CompiledOp op)
cdef str _require_str(CompiledOp op, object value)
cdef object ops_property_set(PlanRun run, CompiledOp op, object value)
