# Declarations of engine/ops/property.pyx: what the rest of the core uses from it (via core.pxd).

cdef dict ops_memory_stats()
cdef object _record_field(object rec, str name)
cdef object _host_header(RequestView req)
cdef object ops_property_raw(PlanRun run, str family, object key)
cdef object ops_property_get(PlanRun run, object p)
cdef str _require_str(object p, object value)
cdef object ops_property_set(PlanRun run, object p, object value)
