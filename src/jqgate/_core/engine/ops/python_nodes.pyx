# The node types whose semantics live in plain Python (jqgate.nodes.python_ops: cache, xml_to_json,
# json_to_xml, jwt_*, vault). They are not on the seed flow's hot path, so the core
# calls the same functions as the reference executor; this file only adapts the calling
# convention (slots, trace, errors) and, for a cache on Redis, the async completion: the
# coroutine runs as an asyncio task whose done-callback resumes the plan through the same path
# as a call's pool callback (`PlanRun._on_call_done`), and whose cancel() is what
# `_cancel_unfinished` calls on an exit or a failure.

import asyncio as _asyncio

from jqgate.nodes.failure import NodeFailure as _NodeFailure
from jqgate.nodes.python_ops import AsyncResult as _PythonNodeAsyncResult
from jqgate.nodes.python_ops import run_async as _python_run_async
from jqgate.nodes.python_ops import run_sync as _python_run_sync
from jqgate.nodes.python_ops import sensitive_values as _sensitive_values
from jqgate.nodes.python_ops import xml_body_headers as _python_xml_body_headers
from jqgate.nodes.vault import mask as _vault_mask


cdef class _PythonNodeWaiter:
    """Done-callback of an async plain-Python node's task."""

    def __call__(self, task):
        if task.cancelled():
            return                        # the plan ended first: nothing to resume
        self.run._on_call_done(self.index, task.result())   # run_async never raises


cdef int ops_python_store(PlanRun run, CompiledOp op, dict outputs, object self_out) except -1:
    cdef Py_ssize_t j
    for j in range(len(op.out_names)):
        run.slots[op.out_slots[j]] = outputs.get(op.out_names[j])
    if op.out_self >= 0:
        run.slots[op.out_self] = self_out
    if run.tracing:
        if outputs:
            run.trace.complete(op.node, [trace_value(n, x) for n, x in outputs.items()])
        else:
            run.trace.complete(op.node, [trace_value("$self", self_out)])
    return 0


cdef int ops_python_run(PlanRun run, CompiledOp op, dict fields, object self_value) except -1:
    """Run one op; 1 when it went async (it completes from its callback), else 0."""
    cdef _PythonNodeWaiter waiter
    try:
        if op.is_async:
            task = _asyncio.ensure_future(_python_run_async(op.kind_name, op.params, fields))
            waiter = _PythonNodeWaiter()
            waiter.run = run
            waiter.index = op.index
            run._await_op(op, task)
            task.add_done_callback(waiter)
            return 1
        try:
            outputs, self_out = _python_run_sync(op.kind_name, op.params, fields, self_value)
        finally:                          # a failing jwt node's key is masked in the trace too
            ops_python_remember(run, _sensitive_values(op.kind_name, fields, self_value, {}))
    except _NodeFailure as e:
        raise EngineNodeError(str(e)) from None
    ops_python_remember(run, _sensitive_values(op.kind_name, fields, self_value, outputs))
    ops_python_store(run, op, outputs, self_out)
    return 0


cdef int ops_python_remember(PlanRun run, list values) except -1:
    if values:
        if run.secrets is None:
            run.secrets = []
        run.secrets.extend(values)
    return 0


cdef int ops_python_async_done(PlanRun run, int i, object result) except -1:
    cdef CompiledOp op = <CompiledOp>run.cp.ops[i]
    run.pending_calls -= 1
    run.exchanges[i] = None
    if run.tracing:
        run.trace.resume(op.node)
    if result.error is not None:
        run._fail(op, result.error, None)
        return 0
    ops_python_store(run, op, result.outputs, dict(result.outputs))
    run._complete(op)
    return 0


cdef int ops_python_xml_body(PlanRun run, CompiledOp op, dict fields) except -1:
    """D11: json_to_xml output reaching a sink's body gets application/xml (see jqgate.nodes.python_ops)."""
    if fields is not None and run.cp.xml_slots:
        # the plan's own Binding records: CompiledBinding fields are C-level only
        _python_xml_body_headers(run.cp.plan.ops[op.index].inputs, run.cp.xml_slots, fields)
    return 0
