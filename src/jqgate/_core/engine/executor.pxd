# Declarations of engine/executor.pyx: what the rest of the core uses from it (via core.pxd).

# op states
cdef enum:
    ST_PENDING = 0
    ST_RUNNING = 1
    ST_COMPLETE = 2
    ST_ERROR = 3
    ST_CANCELED = 4
    ST_SKIPPED = 5

cdef class _CallWaiter(ExchangeWaiter):
    cdef PlanRun run
    cdef int index

    cdef int exchange_done(self, object ex) except -1

cdef class RunListener:
    cdef int window_done(self, object run) except -1

cdef class PlanDriver:
    cdef int pump(self, PlanRun run) except -1

cdef class PlanRun:
    cdef readonly CompiledPlan cp
    cdef public RequestView request
    cdef public object pool
    cdef public dict ctx_shared
    cdef public dict ctx_plugin           # kong.ctx.plugin.*: this instance, this request
    cdef public EngineEnv env
    cdef list slots
    cdef int countdown[EXEC_MAX_OPS]
    cdef unsigned char state[EXEC_MAX_OPS]
    cdef list exchanges                   # op index -> exchange in flight (None otherwise)
    cdef int lo, hi, cursor, pending_calls
    cdef bint in_response, pumping, window_open
    cdef list deferred                    # pool callbacks that arrived during a pass
    cdef object on_done
    cdef TraceRecorder trace
    cdef double started[EXEC_MAX_OPS]     # when each op began (a call: when it was dispatched)
    # How long each finished op took, and which finished in what order: the metrics observer
    # reads them in C (node_timings builds the Python view). A (type, seconds) tuple per op
    # cost ~250 instructions to make and as much again to count.
    cdef double took[EXEC_MAX_OPS]
    cdef int timed[EXEC_MAX_OPS]
    cdef int n_timed
    cdef public list call_outcomes        # ["ok" | "failed" | "timeout" | ...] per call
    cdef readonly bint tracing, finished, exited, needs_response_window
    cdef public object exit_status, exit_headers, exit_body, exit_source
    cdef public object error_text, error_node
    cdef SinkPatch _service_request, _response_patch     # None until a sink runs
    cdef public object response_status, service_target, service_scheme, service_upstream
    cdef public object upstream_status, upstream_headers, upstream_body
    cdef public object response_headers, response_body
    cdef public list secrets              # resolved vault values: masked in traces and logs

    cdef int _init(self, CompiledPlan cp, RequestView request, object pool, dict ctx_shared,
                   EngineEnv env) except -1
    cdef int c_start_request_window(self, object on_done) except -1
    cdef int c_start_response_window(self, object status, object headers, object body,
                                     object on_done) except -1
    cpdef object response_source(self)
    cdef int _start(self, int lo, int hi, bint in_response, object on_done) except -1
    cdef int _drive(self) except -1
    cdef int _pump(self) except -1
    cdef int _timed(self, CompiledOp op) except -1
    cdef int _complete(self, CompiledOp op) except -1
    cdef int _run_op(self, int i) except -1
    cdef int _skip(self, int i, list why) except -1
    cdef list _input_values(self, CompiledOp op, dict fields, object self_value)
    cdef int _fill_request(self, CompiledOp op) except -1
    cdef int _fill_service_response(self, CompiledOp op) except -1
    cdef int _await_op(self, CompiledOp op, object pending) except -1
    cdef int _dispatch(self, CompiledOp op, dict fields) except -1
    cdef int _on_call_done(self, int i, object ex) except -1
    cdef int _resume(self, int i, object ex) except -1
    cdef int _call_result(self, int i, ClientExchange ex) except -1
    cdef int _answer(self, tuple answer) except -1
    cdef int _fail(self, CompiledOp op, str text, list partial) except -1
    cdef int _end_window(self) except -1
    cdef int _cancel_unfinished(self) except -1
    cdef int _finish_response(self) except -1
