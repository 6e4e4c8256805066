# Declarations of engine/ops/basic.pyx: what the rest of the core uses from it (via core.pxd).

cdef object ops_run_jq(CompiledOp op, object value)
cdef tuple ops_exit_answer(int status, object body, object headers)
