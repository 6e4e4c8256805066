# The executor: runs a compiled DataKit plan for one request as a callback-driven state
# machine (no asyncio Task or Future per request).
#
# ================================ interface for the server ================================
#
#   cp  = compile_plan(plan)                 # once per Plan (cached on the plan object)
#   req = RequestView(method=..., path=..., raw_path=..., query="a=1", headers=[(b"Host", b"x")],
#                     body=b"..." | None, client_ip=..., client_port=..., server_port=...,
#                     scheme="http", http_version="1.1", request_id=..., route={...},
#                     service={...})        # one per request, shared by every instance on it
#   run = PlanRun(cp_or_plan, req, pool, ctx_shared, env=None)
#                                            # pool: ConnectionPool (send(ex, callback));
#                                            # ctx_shared: the request's kong.ctx.shared dict
#
#   Request window (after routing, before proxying):
#   if run.start_request_window(on_done) == RUN_PENDING:   # calls in flight
#       ... on_done(run) is called once, from the pool callback that finished the window
#   then
#   run.exited       -> answer the client with run.exit_status (int), run.exit_headers
#                       ([(str, str)], complete: Content-Type/Content-Length included) and
#                       run.exit_body (bytes); do not proxy. (An exit node, a node failure
#                       -> 500, or either of them replaced by the trace document.)
#   else proxy, after applying:
#       run.service_request_headers(client_header_pairs) -> [(str, str)] upstream headers
#                       (patch applied case-insensitively, null removes, arrays repeat; with a
#                       new body Content-Length recomputed, CE/TE dropped, D11 Content-Type)
#       run.service_request.query  str | None  -> replaces the upstream query string (D7)
#       run.service_request.body   bytes | None -> replaces the upstream body
#       run.service_target "host:port" | None, run.service_scheme "http"/"https" | None,
#       run.service_upstream str | None          -> kong.service.* SETs for this request
#       req.consumer                              -> kong.client.consumer SET
#
#   Response window (only when run.needs_response_window: the plan reads/writes the response,
#   or a trace was asked for; pass the upstream body as bytes (the DataKit handler buffers it),
#   or body=None to stream it unchanged):
#   if run.start_response_window(status, headers, body, on_done) == RUN_PENDING: ...on_done(run)
#   then
#   run.exited       -> answer with exit_* as above (exit in the response window, D12, or 500)
#   else             -> run.response_status (int: kong.response.status SET or upstream status),
#                       run.response_headers (final list: patched entries (str, str), the
#                       upstream's others as given), run.response_body
#                       (bytes, or None: stream the upstream body unchanged with its framing)
#   Without a response window: if run.response_status is not None (kong.response.status SET in
#   the request window), use it as the client status.
#
# Choices where datakit.md is silent (each pinned by tests/cases/engine/decisions.yaml or the
# case named): a JSON content type with an empty body decodes to null; a null value written to
# service_request.body / response.body keeps the original body; a non-2xx call response whose
# JSON body does not parse keeps the raw text as `body` for the trace; header bytes are text as
# latin-1 (lossless round trip); a GET of kong.service.response.status waits for
# service_response (the compiler gives it that dependency), so it reads the upstream's status;
# node types without an implementation here (cache, vault, xml, jwt) fail with a clear error.
#
# Order of work, and why: ops are in topological order, so one forward pass over a window
# runs every op whose dependency countdown reached zero (an op only unblocks later ops). Calls
# are dispatched to the pool during the pass; when a pool callback arrives, its outputs are
# stored, its dependents' countdowns drop, and the pass runs again from the first unfinished
# op. A branch marks the ops of its other list SKIPPED, and with them every op fed by a skipped
# op (D2); sinks wait for their whole window, so a skipped op counts as done for them.
# An exit or a failure ends the plan at once: in-flight exchanges are cancel()ed (their
# connections closed, callbacks suppressed) and reported NODE_CANCELED (D13).

cimport cython
from cpython.dict cimport PyDict_Update
import logging as _logging

_log = _logging.getLogger("jqgate.datakit")

RUN_DONE = 0
RUN_PENDING = 1

EXEC_GENERIC_ERROR = "An unexpected error occurred"


def compile_plan(plan):
    """The executor's compiled form of a Plan (converted once, cached on the plan)."""
    if isinstance(plan, CompiledPlan):
        return plan
    return executor_compiled(plan)


# A call's outcome for the call-node metric: answered (ok / failed: non-2xx or bad JSON), or
# the transport error that stopped it.
EXEC_CALL_ERRORS = {CERR_CONNECT: "connect_error", CERR_TIMEOUT: "timeout", CERR_RESET: "reset",
                    CERR_PROTOCOL: "protocol_error", CERR_TLS: "tls_error",
                    CERR_OVERLOAD: "overload"}


@cython.freelist(64)
cdef class _CallWaiter(ExchangeWaiter):
    """The pool callback of one call: resumes the run directly (no Future); the compiled pool
    calls exchange_done in C, any other pool calls the object."""

    cdef int exchange_done(self, object ex) except -1:
        return self.run._on_call_done(self.index, ex)

    def __call__(self, ex):
        self.run._on_call_done(self.index, ex)


cdef class RunListener:
    """What a server hands PlanRun.c_start_request_window / c_start_response_window to hear, as
    a C call, that a window left pending has ended (the DataKit handler's flow is one). Python
    callers pass any callable on_done(run) to start_request_window instead."""

    cdef int window_done(self, object run) except -1:
        return 0


cdef class PlanDriver:
    """One forward pass over the ops of a window, as PlanRun._pump makes it, compiled for one
    plan by a plan module (`jqgate build`): the op order and slots fixed in its code, each op
    run through its specialised code or, whenever that is not sure to give the generic result,
    through PlanRun._run_op. Not used while a trace is recorded. The base class runs nothing."""

    cdef int pump(self, PlanRun run) except -1:
        return 0


@cython.freelist(16)            # one per request: reuse the memory of finished runs
cdef class PlanRun:

    def __init__(self, plan, RequestView request, pool=None, ctx_shared=None, EngineEnv env=None):
        cdef CompiledPlan cp = plan if type(plan) is CompiledPlan else executor_compiled(plan)
        self._init(cp, request, pool, {} if ctx_shared is None else ctx_shared,
                   env if env is not None else executor_default_env())

    cdef int _init(self, CompiledPlan cp, RequestView request, object pool, dict ctx_shared,
                   EngineEnv env) except -1:
        cdef int i
        self.cp = cp
        self.request = request
        self.pool = pool
        self.ctx_shared = ctx_shared
        self.ctx_plugin = {}
        self.env = env
        self.slots = list(cp.slot_template)
        for i in range(cp.nops):
            self.countdown[i] = cp.ndeps[i]
            self.state[i] = ST_PENDING
        self.exchanges = None
        self.tracing = cp.debug and trace_requested(True, request.headers)
        if self.tracing:
            self.trace = TraceRecorder(cp.nodes)
        self.needs_response_window = cp.has_response_window or self.tracing
        return 0

    # ------------------------------------------------------------------ windows (public)

    def start_request_window(self, on_done=None):
        """Run the request window; RUN_DONE now, or RUN_PENDING and on_done(run) later."""
        return self._start(0, self.cp.response_start, False, on_done)

    def start_response_window(self, status, headers, body, on_done=None):
        """Run the response window on the upstream answer (body None when not buffered)."""
        return self.c_start_response_window(status, headers, body, on_done)

    cdef int c_start_request_window(self, object on_done) except -1:
        """start_request_window for Cython callers; on_done may be a RunListener."""
        return self._start(0, self.cp.response_start, False, on_done)

    cdef int c_start_response_window(self, object status, object headers, object body,
                                     object on_done) except -1:
        if self.finished:
            raise RuntimeError("the plan already ended in the request window")
        self.upstream_status = status
        self.upstream_headers = headers if type(headers) is list else list(headers)
        self.upstream_body = body
        return self._start(self.cp.response_start, self.cp.nops, True, on_done)

    @property
    def node_timings(self):
        """[(node type, seconds)] of the finished ops, in the order they finished; None when
        none did (jqgate.metrics' per-node-type histogram)."""
        if self.n_timed == 0:
            return None
        return [((<CompiledOp>self.cp.ops[self.timed[j]]).kind_name, self.took[self.timed[j]])
                for j in range(self.n_timed)]

    @property
    def service_request(self):
        """The service_request sink's SinkPatch (empty when the sink did not run)."""
        if self._service_request is None:
            self._service_request = SinkPatch.__new__(SinkPatch)
        return self._service_request

    @property
    def response_patch(self):
        if self._response_patch is None:
            self._response_patch = SinkPatch.__new__(SinkPatch)
        return self._response_patch

    def service_request_headers(self, pairs):
        """The upstream request's headers as text (wire bytes read as Latin-1, so they round
        trip). The gateway itself applies the patch with service_request.apply(), which keeps
        the client's untouched headers as bytes."""
        return [(values_to_str(n), values_to_str(v)) for n, v in self.service_request.apply(pairs)]

    cpdef object response_source(self):
        if self.exit_source is not None:
            return self.exit_source
        return "service" if self.upstream_status is not None else None

    @property
    def error(self):
        return None if self.error_text is None else (self.error_node, self.error_text)

    cdef int _start(self, int lo, int hi, bint in_response, object on_done) except -1:
        self.lo = lo
        self.hi = hi
        self.cursor = lo
        self.in_response = in_response
        self.window_open = True
        self._drive()
        if self.finished or self.pending_calls == 0:
            self.window_open = False
            self._end_window()
            return 0                      # RUN_DONE
        self.on_done = on_done
        return 1                          # RUN_PENDING

    # ------------------------------------------------------------------ the state machine

    cdef int _drive(self) except -1:
        self.pumping = True
        try:
            self._pump()
            while self.deferred and not self.finished:
                i, ex = self.deferred.pop(0)
                self._resume(i, ex)
                if not self.finished:
                    self._pump()
        finally:
            self.pumping = False
        return 0

    cdef int _pump(self) except -1:
        """One forward pass from the first unfinished op of the window."""
        if self.cp.driver is not None and not self.tracing:    # a compiled plan module's pass
            return self.cp.driver.pump(self)
        cdef int i = self.cursor
        cdef int hi = self.hi
        while i < hi:
            if self.state[i] == ST_PENDING and self.countdown[i] == 0:
                self._run_op(i)
                if self.finished:
                    return 0
            i += 1
        i = self.cursor
        while i < hi and (self.state[i] == ST_COMPLETE or self.state[i] == ST_SKIPPED):
            i += 1
        self.cursor = i
        return 0

    cdef int _timed(self, CompiledOp op) except -1:
        """Record how long op took (the Prometheus per-node-type histogram reads it)."""
        if self.n_timed < EXEC_MAX_OPS:
            self.took[op.index] = mono_now() - self.started[op.index]
            self.timed[self.n_timed] = op.index
            self.n_timed += 1
        return 0

    cdef int _complete(self, CompiledOp op) except -1:
        cdef int d
        self._timed(op)
        self.state[op.index] = ST_COMPLETE
        for d in op.dependents:
            self.countdown[d] -= 1
        return 0

    cdef int _run_op(self, int i) except -1:
        cdef CompiledOp op = <CompiledOp>self.cp.ops[i]
        cdef dict fields = None
        cdef object self_value = None
        cdef CompiledBinding b
        cdef int k = op.kind
        self.started[i] = mono_now()
        try:
            # gather inputs
            if op.inputs:
                for b in op.inputs:
                    v = self.slots[b.slot]
                    if type(v) is BadJson:
                        raise EngineNodeError((<BadJson>v).text())
                    if b.convert:
                        v = values_convert(v, b.convert, b.port, b.source)
                    if not b.port:
                        if op.obj_fields is None:
                            self_value = v
                        elif v is not None:
                            values_check_map(v, "input $self")
                            if fields is None:
                                fields = {}
                            for f in op.obj_fields:
                                if f in v:
                                    fields[f] = v[f]
                    else:
                        if fields is None:       # created only for field inputs
                            fields = {}
                        fields[b.port] = v
            if self.tracing:
                self.trace.run(op.node, self._input_values(op, fields, self_value))
            # run
            if k == OPK_JQ:
                if op.jq_mode == JQ_INPUT_FIELDS:
                    # {name: None, ...} updated with the inputs, built in C (dict.fromkeys and
                    # .update were two Python method calls per jq node)
                    obj = {}
                    for name in op.field_names:
                        obj[name] = None
                    if fields is not None:
                        PyDict_Update(obj, fields)
                    v = ops_run_jq(op, obj)
                elif op.jq_mode == JQ_INPUT_SELF:
                    v = ops_run_jq(op, self_value)
                else:
                    v = ops_run_jq(op, None)
                if op.out_self >= 0:
                    self.slots[op.out_self] = v
                if self.tracing:
                    self.trace.complete(op.node, [trace_value("$self", v)])
            elif k == OPK_STATIC:
                if self.tracing:
                    self.trace.complete(op.node,
                                        [trace_value(n, x) for n, x in op.values.items()])
            elif k == OPK_EXIT:
                ops_python_xml_body(self, op, fields)
                self._answer(ops_exit_answer(op.exit_status,
                                             fields.get("body") if fields else None,
                                             fields.get("headers") if fields else None))
                self.exit_source = "exit"
                self._complete(op)
                if self.tracing:
                    self.trace.complete(op.node, [])
                self.finished = True
                return 0
            elif k == OPK_PROPERTY:
                if op.has_self_input:
                    v = ops_property_set(self, op, self_value)
                else:
                    v = ops_property_get(self, op)
                if op.out_self >= 0:
                    self.slots[op.out_self] = v
                if self.tracing:
                    self.trace.complete(op.node, [trace_value("$self", v)])
            elif k == OPK_CALL:
                ops_python_xml_body(self, op, fields)
                self._dispatch(op, fields if fields is not None else {})
                return 0
            elif k == OPK_PYTHON:              # cache, xml, jwt, vault (ops/python_nodes.pyx)
                if ops_python_run(self, op, fields if fields is not None else {}, self_value):
                    return 0                  # went async: completes from its callback
            elif k == OPK_BRANCH:
                if type(self_value) is not bool:
                    raise EngineNodeError("branch input must be a boolean, got %s"
                                          % values_type_name(self_value))
                if self.tracing:            # no outputs (§5.6): the skip events carry the value
                    self.trace.complete(op.node, [])
                skipped = op.else_ops if self_value else op.then_ops
                for j in skipped:
                    self._skip(j, [trace_value("$self", self_value)] if self.tracing else None)
            elif k == OPK_REQUEST:
                self._fill_request(op)
            elif k == OPK_SERVICE_REQUEST:
                ops_python_xml_body(self, op, fields)
                self._service_request = ops_sink_patch(fields if fields is not None else {},
                                                       True)
                if self.tracing:
                    self.trace.complete(op.node, [])
            elif k == OPK_SERVICE_RESPONSE:
                self._fill_service_response(op)
            elif k == OPK_RESPONSE:
                if self.tracing:             # the trace replaces the body (§4.4, C20f)
                    self.state[i] = ST_SKIPPED
                    self.trace.skip(op.node, None)
                    return 0
                ops_python_xml_body(self, op, fields)
                self._response_patch = ops_sink_patch(fields if fields is not None else {},
                                                      False)
            else:
                raise EngineNodeError("node type %r is not supported by this executor"
                                      % op.kind_name)
        except EngineNodeError as e:
            self._fail(op, str(e), None)
            return 0
        self._complete(op)
        return 0

    cdef int _skip(self, int i, list why) except -1:
        """A branch did not choose op i (§5.6): it never runs, and neither do the ops fed by
        it (D2) -- except the window's sinks, which only wait for it."""
        cdef CompiledOp op = <CompiledOp>self.cp.ops[i]
        cdef CompiledOp dep
        cdef int d
        cdef Py_ssize_t slot
        if self.state[i] != ST_PENDING:
            return 0
        self.state[i] = ST_SKIPPED
        for slot in op.out_slots:        # a skipped static's constants must not reach a sink
            self.slots[slot] = None
        if op.out_self >= 0:
            self.slots[op.out_self] = None
        if self.tracing:
            self.trace.skip(op.node, why)
        for d in op.dependents:
            dep = <CompiledOp>self.cp.ops[d]
            if dep.is_sink:
                self.countdown[d] -= 1
            else:
                self._skip(d, None)
        return 0

    cdef list _input_values(self, CompiledOp op, dict fields, object self_value):
        cdef list vals = []
        if fields:
            vals = [trace_value(n, x) for n, x in fields.items()]
        if op.has_self_input and op.obj_fields is None:
            vals.append(trace_value("$self", self_value))
        return vals

    cdef int _fill_request(self, CompiledOp op) except -1:
        cdef Py_ssize_t j
        cdef dict outputs = {} if self.tracing else None     # only the trace reads it
        for j in range(len(op.out_names)):
            v = ops_request_field(self.request, op.out_names[j])
            self.slots[<Py_ssize_t>op.out_slots[j]] = v
            if outputs is not None:
                outputs[op.out_names[j]] = v
        if op.out_self >= 0:
            self.slots[op.out_self] = ops_request_object(self.request)
        if self.tracing:
            self.trace.complete(op.node, [trace_value(n, x) for n, x in outputs.items()])
        return 0

    cdef int _fill_service_response(self, CompiledOp op) except -1:
        cdef Py_ssize_t j
        cdef dict outputs = {} if self.tracing else None     # only the trace reads it
        for j in range(len(op.out_names)):
            v = ops_service_response_field(self.upstream_status, self.upstream_headers,
                                           self.upstream_body, op.out_names[j])
            self.slots[<Py_ssize_t>op.out_slots[j]] = v
            if outputs is not None:
                outputs[op.out_names[j]] = v
        if op.out_self >= 0:
            self.slots[op.out_self] = ops_service_response_object(
                self.upstream_status, self.upstream_headers, self.upstream_body)
        if self.tracing:
            self.trace.complete(op.node, [trace_value(n, x) for n, x in outputs.items()])
        return 0

    # ------------------------------------------------------------------ calls

    cdef int _await_op(self, CompiledOp op, object pending) except -1:
        """An op went async (a call's exchange, or a plain-Python node's task): it runs on until its
        callback resumes the run (_on_call_done); cancel() stops what is still pending."""
        if self.exchanges is None:
            self.exchanges = [None] * self.cp.nops
        self.exchanges[op.index] = pending
        self.state[op.index] = ST_RUNNING
        self.pending_calls += 1
        if self.tracing:
            self.trace.event(op.node, "schedule", None, None)
        return 0

    cdef int _dispatch(self, CompiledOp op, dict fields) except -1:
        cdef _CallWaiter waiter
        cdef ClientExchange ex = ops_call_exchange(op, fields)   # may raise EngineNodeError
        if self.pool is None:
            raise EngineNodeError("no HTTP client pool was given to this run")
        self._await_op(op, ex)
        if self.tracing:
            self.trace.event(op.node, "dispatch",
                             [trace_value("method", op.params.method),
                              trace_value("url", ops_exchange_url(ex))], None)
        waiter = _CallWaiter.__new__(_CallWaiter)
        waiter.run = self
        waiter.index = op.index
        if type(self.pool) is ConnectionPool:
            if ex.max_body == 0:        # a third party's answer is held whole: bounded
                ex.max_body = (<ConnectionPool>self.pool).max_call_response_bytes
            (<ConnectionPool>self.pool).send(ex, waiter)
        else:
            self.pool.send(ex, waiter)         # any object with the pool's send(ex, callback)
        return 0

    cdef int _on_call_done(self, int i, object ex) except -1:
        if self.state[i] != ST_RUNNING:
            return 0                      # canceled earlier: nothing to resume
        if self.pumping:                  # the pool answered synchronously inside a pass
            if self.deferred is None:
                self.deferred = []
            self.deferred.append((i, ex))
            return 0
        self._resume(i, ex)
        if not self.finished:
            self._drive()
        if self.window_open and (self.finished or self.pending_calls == 0):
            self.window_open = False
            self._end_window()
            cb = self.on_done
            self.on_done = None
            if isinstance(cb, RunListener):
                (<RunListener>cb).window_done(self)
            elif cb is not None:
                cb(self)
        return 0

    cdef int _resume(self, int i, object ex) except -1:
        """An async op finished: a call's exchange, or an async op of ops/python_nodes.pyx."""
        if type(ex) is _PythonNodeAsyncResult:
            return ops_python_async_done(self, i, ex)
        return self._call_result(i, <ClientExchange>ex)

    cdef int _call_result(self, int i, ClientExchange ex) except -1:
        cdef CompiledOp op = <CompiledOp>self.cp.ops[i]
        cdef Py_ssize_t j
        self.pending_calls -= 1
        self.exchanges[i] = None
        if self.tracing:
            self.trace.resume(op.node)
        if self.call_outcomes is None:
            self.call_outcomes = []
        if ex.error_kind:
            self.call_outcomes.append(EXEC_CALL_ERRORS.get(ex.error_kind, "network_error"))
            self._fail(op, ex.error or "request failed", None)
            return 0
        # The fields go to their slots by name, without an outputs dict in between; the dict
        # is made only for a reader of the whole output and for the trace.
        cdef tuple fields = ops_call_answer(op, ex, self.tracing)     # ops/call.pyx
        err = fields[4]
        self.call_outcomes.append("ok" if err is None else "failed")
        for j in range(len(op.out_names)):
            self.slots[<Py_ssize_t>op.out_slots[j]] = ops_call_field(fields, <str>op.out_names[j])
        if op.out_self >= 0 and op.call_wanted is None:     # read whole by some op
            self.slots[op.out_self] = ops_call_output_dict(fields)
        if err is not None:
            self._fail(op, err, [trace_value(n, x) for n, x in ops_call_output_dict(fields).items()]
                       if self.tracing else None)
            return 0
        self._complete(op)
        if self.tracing:
            self.trace.complete(op.node, [trace_value(n, x) for n, x
                                          in ops_call_output_dict(fields).items()])
        return 0

    # ------------------------------------------------------------------ ending

    cdef int _answer(self, tuple answer) except -1:
        self.exited = True
        self.exit_status, self.exit_headers, self.exit_body = answer
        return 0

    cdef int _fail(self, CompiledOp op, str text, list partial) except -1:
        self._timed(op)
        if self.secrets:
            text = _vault_mask(text, self.secrets)
        self.state[op.index] = ST_ERROR
        pn = self.cp.nodes[op.node]
        _log.error('node #%d (%s) failed with error: "%s", request_id: "%s"',
                   pn.index, pn.name, text, self.request.request_id)
        if self.tracing:
            self.trace.fail(op.node, text, partial)
        if self.cp.debug:
            body = {"message": "node execution error", "request_id": self.request.request_id,
                    "error": text, "node": {"index": pn.index, "name": pn.name, "type": pn.type}}
        else:
            body = {"message": EXEC_GENERIC_ERROR, "request_id": self.request.request_id}
        data = _orjson.dumps(body)
        self._answer((500, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))], data))
        self.error_text = text
        self.error_node = pn
        self.exit_source = "error"
        self.finished = True
        return 0

    cdef int _end_window(self) except -1:
        if self.finished:
            self._cancel_unfinished()
        elif self.in_response:
            self._finish_response()
        return 0

    cdef int _cancel_unfinished(self) except -1:
        cdef int i
        cdef CompiledOp op
        for i in range(self.cp.nops):
            if self.state[i] == ST_RUNNING:
                ex = self.exchanges[i]
                self.exchanges[i] = None
                if ex is not None:
                    ex.cancel()            # D13: close the connection, suppress the callback
            if self.state[i] == ST_RUNNING or self.state[i] == ST_PENDING:
                self.state[i] = ST_CANCELED
                if self.tracing:
                    op = <CompiledOp>self.cp.ops[i]
                    if self.trace.is_open(op.node):
                        self.trace.cancel(op.node)
        self.pending_calls = 0
        self.deferred = None
        if self.tracing:
            doc = _orjson.dumps(_vault_mask(self.trace.document(self.error_text is None),
                                            self.secrets))
            headers = [(n, v) for n, v in self.exit_headers
                       if n.lower() not in ("content-type", "content-length", "content-encoding")]
            headers += [("Content-Type", "application/json"), ("Content-Length", str(len(doc)))]
            self.exit_headers = headers
            self.exit_body = doc
        return 0

    cdef int _finish_response(self) except -1:
        """After a response window that did not exit: the patched client response (§4.4)."""
        cdef SinkPatch p = self.response_patch
        if self.response_status is None:
            self.response_status = self.upstream_status
        self.response_headers = p.apply(self.upstream_headers)
        self.response_body = p.body
        if self.tracing:
            doc = _orjson.dumps(_vault_mask(self.trace.document(True), self.secrets))
            self.response_headers = [
                (n, v) for n, v in self.response_headers
                if values_to_str(n).lower() not in ("content-type", "content-length",
                                                    "content-encoding", "transfer-encoding")] + [
                ("Content-Type", "application/json"), ("Content-Length", str(len(doc)))]
            self.response_body = doc
        return 0
