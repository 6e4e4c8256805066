# `branch` (datakit.md §5.6, D2, D3): decide, then skip the side not taken.
#
# A skipped op never runs, never writes its slots (a skipped static's constants are cleared so
# a sink cannot pick them up), is reported NODE_SKIPPED with a `skip` event naming the branch and
# the condition, and takes every dependent with it: a skipped branch's members (membership
# edges) and its data dependents (D2). The window sinks are the exception: they only stop
# waiting for it (their countdown drops), and an input from a skipped op is simply absent.


cdef int ops_branch_decide(PlanRun run, CompiledOp op, object condition) except -1:
    cdef int i
    p = op.params
    name = run.cp.nodes[op.node].name
    for i in (p.else_ops if condition else p.then_ops):
        ops_branch_skip(run, i, name, condition)
    return 0


cdef int ops_branch_skip(PlanRun run, int i, str branch, object condition) except -1:
    cdef CompiledOp op
    cdef CompiledOp dop
    cdef int d
    cdef Py_ssize_t s
    if run.state[i] != ST_PENDING:
        return 0
    run.state[i] = ST_SKIPPED
    op = <CompiledOp>run.cp.ops[i]
    for s in op.out_slots:
        run.slots[s] = None
    if op.out_self >= 0:
        run.slots[op.out_self] = None
    if run.tracing:
        run.trace.status[op.node] = TRACE_NODE_SKIPPED
        run.trace.event(op.node, "skip", [trace_value("branch", branch),
                                          trace_value("condition", condition)], None)
    for d in op.dependents:
        dop = <CompiledOp>run.cp.ops[d]
        if dop.kind == OPK_SERVICE_REQUEST or dop.kind == OPK_RESPONSE:
            run.countdown[d] -= 1
        else:
            ops_branch_skip(run, d, branch, condition)
    return 0
