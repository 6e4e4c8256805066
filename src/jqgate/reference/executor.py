"""The reference executor: runs a `Plan` for one request, written for clarity (asyncio inside).

It has the same interface shape as the compiled `jqgate._core.core.PlanRun` (see that module's
docstring for the contract with the server); the engine tests run every case on both.

    run = PlanRun(plan, request_view, pool, ctx_shared)
    if run.start_request_window(on_done) == RUN_PENDING: ...on_done(run) later...
    run.exited -> run.exit_status / exit_headers / exit_body      (exit node, error, or trace)
    else       -> run.service_request (SinkPatch: headers patch, query, body) and
                  run.service_request_headers(original_pairs), run.service_target, ...
    if run.needs_response_window:
        run.start_response_window(status, headers, body, on_done)
        run.exited -> exit_*; else run.response_status / response_headers / response_body

The algorithm is datakit.md §6.2 literally: repeatedly run, in plan order, every pending op of
the window whose dependencies completed; a call is sent when it starts (http_call.py, a thread
of its own) and awaited as an asyncio task; wait for the first call to finish; stop everything
on an exit or a failure. `pool` is read only for its max_call_response_bytes setting: the
reference has no pool.
"""
from __future__ import annotations

import asyncio
import logging
import time

from jqgate.nodes import OBJECT_INPUT_FIELDS
from jqgate.plan import (OP_REQUEST, OP_RESPONSE, OP_SERVICE_REQUEST, OP_SERVICE_RESPONSE,
                         SELF)
from jqgate.reference import jq_programs
from jqgate.reference import nodes as N
from jqgate.reference.http_call import CallFailed, HttpCall
from jqgate.reference.properties import property_get, property_set
from jqgate.reference.request import DEFAULT_ENV
from jqgate.reference.trace import (NODE_PENDING, NODE_RUNNING, Trace,
                                    trace_requested, trace_value)
from jqgate.reference.values import BadJson, NodeError, convert, json_bytes, type_name
from jqgate.nodes import python_ops as R
from jqgate.nodes.call.proxy import PROXY_INPUTS, ProxyInputError, forward_proxy
from jqgate.nodes.call.tls import UnverifiedBlocked, check_unverified
from jqgate.nodes.failure import NodeFailure
from jqgate.nodes.vault import mask

log = logging.getLogger("jqgate.datakit")

RUN_DONE = 0
RUN_PENDING = 1

# op states
PENDING, RUNNING, COMPLETE, ERROR, CANCELED, SKIPPED = range(6)
SINKS = (OP_SERVICE_REQUEST, OP_RESPONSE)
SELF_ONLY_OUTPUT = ("jq", "property")      # node types whose one output is $self

GENERIC_ERROR_MESSAGE = "An unexpected error occurred"


def _authority(target):
    """host[:port] of an absolute-form request target (the default port left out)."""
    host = "[%s]" % target.host if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else "%s:%d" % (host, target.port)


class PlanRun:
    def __init__(self, plan, request, pool=None, ctx_shared=None, env=None):
        self.plan = plan
        self.request = request
        self.pool = pool
        self.ctx_shared = {} if ctx_shared is None else ctx_shared
        self.ctx_plugin = {}                 # kong.ctx.plugin.*: this instance, this request
        self.env = env or DEFAULT_ENV
        self.slots = list(plan.slot_template)
        self.state = [PENDING] * len(plan.ops)
        self._exchanges = {}                 # op index -> exchange of a call in flight
        self.secrets = []                    # resolved vault values: masked in traces and logs
        self._trace_urls = {}                # op index -> URL of a call (trace only)
        self.tracing = trace_requested(plan.debug, request.headers)
        self.trace = Trace(plan) if self.tracing else None
        self.needs_response_window = plan.has_response_window or self.tracing
        # outcome of the plan
        self.finished = False                # an exit ran or a node failed: no more windows
        self.exited = False                  # exit_* holds the client answer
        self.exit_status = None
        self.exit_headers = None
        self.exit_body = None
        self.error = None                    # (op, text) of the failing node
        self.exit_source = None              # "exit" | "error"
        self.service_request = N.SinkPatch()
        self.response_patch = N.SinkPatch()
        # property SETs for the proxy to honour
        self.response_status = None          # kong.response.status
        self.service_target = None           # kong.service.target "host:port"
        self.service_scheme = None           # kong.service.request.scheme
        self.service_upstream = None         # kong.service.upstream
        # response window input and output
        self.upstream_status = None
        self.upstream_headers = None
        self.upstream_body = None
        self.response_headers = None
        self.response_body = None

    # ------------------------------------------------------------------ windows (public)

    def start_request_window(self, on_done):
        return self._start(0, self.plan.response_start, False, on_done)

    def start_response_window(self, status, headers, body, on_done):
        self.upstream_status = status
        self.upstream_headers = list(headers)
        self.upstream_body = body
        return self._start(self.plan.response_start, len(self.plan.ops), True, on_done)

    async def run_request_window(self):
        await self._run_window(0, self.plan.response_start, False)

    async def run_response_window(self, status, headers, body):
        self.upstream_status = status
        self.upstream_headers = list(headers)
        self.upstream_body = body
        await self._run_window(self.plan.response_start, len(self.plan.ops), True)

    def service_request_headers(self, pairs):
        return self.service_request.apply(pairs)

    def response_source(self):
        if self.exit_source:
            return self.exit_source
        return "service" if self.upstream_status is not None else None

    def _start(self, lo, hi, is_response, on_done):
        coro = self._run_window(lo, hi, is_response)
        if not any(op.is_async for op in self.plan.ops[lo:hi]):
            try:
                coro.send(None)
            except StopIteration:
                return RUN_DONE
            raise RuntimeError("a window without calls awaited")
        task = asyncio.get_event_loop().create_task(coro)
        task.add_done_callback(lambda t: (t.result(), on_done(self)))
        return RUN_PENDING

    # ------------------------------------------------------------------ the loop

    async def _run_window(self, lo, hi, is_response):
        running = {}                         # op index -> asyncio task of its call
        while not self.finished:
            for i in range(lo, hi):
                if self.state[i] == PENDING and self._deps_complete(i):
                    self._start_op(i, running)
                    if self.finished:
                        break
            if self.finished or not running:
                break
            done, _ = await asyncio.wait(list(running.values()),
                                         return_when=asyncio.FIRST_COMPLETED)
            for i in sorted(i for i, t in running.items() if t in done):
                task = running.pop(i)
                self._finish_call(i, task.result())
                if self.finished:
                    break
        for i, task in running.items():      # only after an exit or a failure
            self._exchanges[i].cancel()      # D13: close now, not when the task next runs
            task.cancel()
        if self.finished:
            self._cancel_unfinished()
        elif is_response:
            self._finish_response()

    def _deps_complete(self, i):
        op = self.plan.ops[i]
        if op.kind in SINKS:                 # sinks wait for the window; skipped ops count as done
            return all(self.state[d] in (COMPLETE, SKIPPED) for d in op.deps)
        return all(self.state[d] == COMPLETE for d in op.deps)

    def _skip(self, i, why=None):
        """A branch did not choose op i (§5.6): it never runs, nor do the ops fed by it (D2)."""
        if self.state[i] != PENDING:
            return
        self.state[i] = SKIPPED
        op = self.plan.ops[i]
        for _, slot in op.out_fields:        # a skipped static's constants must not reach a sink
            self.slots[slot] = None
        if op.out_self >= 0:
            self.slots[op.out_self] = None
        if self.trace:
            self.trace.skip(op.node, why)
        for d in op.dependents:
            if self.plan.ops[d].kind not in SINKS:
                self._skip(d)

    def _start_op(self, i, running):
        op = self.plan.ops[i]
        try:
            fields, self_value = self._gather(op)
        except NodeError as e:
            self._fail(op, str(e), None)
            return
        if self.trace:
            self.trace.run(op.node, self._input_values(fields, self_value, op))
        if op.kind == "call":
            R.xml_body_headers(op.inputs, self.plan.xml_slots, fields)
            try:
                ex = self._call_exchange(op, fields)
            except NodeError as e:
                self._fail(op, str(e), None)
                return
            self.state[i] = RUNNING
            self._exchanges[i] = ex
            running[i] = asyncio.get_event_loop().create_task(self._call(op, ex, self._send(op, ex)))
            return
        if op.is_async:                      # cache on Redis: the only other async op
            task = asyncio.get_event_loop().create_task(R.run_async(op.kind, op.params, fields))
            if self.trace:
                self.trace.event(op.node, "schedule")
            self.state[i] = RUNNING
            self._exchanges[i] = task        # cancel() on exit/failure, like a call
            running[i] = task
            return
        try:
            outputs, self_out = self._run_sync(op, fields, self_value)
        except (NodeError, NodeFailure) as e:
            self._fail(op, str(e), None)
            return
        if self.state[i] == PENDING:         # sinks may have marked themselves skipped
            self._store(op, outputs, self_out)
            self.state[i] = COMPLETE
            if self.trace:
                self.trace.complete(op.node, self._output_values(op, outputs, self_out))

    # ------------------------------------------------------------------ inputs and outputs

    def _gather(self, op):
        fields = {}
        self_value = None
        for b in op.inputs:
            v = self.slots[b.slot]
            if isinstance(v, BadJson):
                raise NodeError(v.text())
            v = convert(v, b.convert, b.port, b.source)
            if b.port == SELF:
                names = OBJECT_INPUT_FIELDS.get(op.kind)
                if names is None:
                    self_value = v
                elif v is not None:
                    N.check_map(v, "input $self")
                    for f in names:
                        if f in v:
                            fields[f] = v[f]
            else:
                fields[b.port] = v
        return fields, self_value

    def _store(self, op, outputs, self_out):
        for field, slot in op.out_fields:
            self.slots[slot] = outputs.get(field)
        if op.out_self >= 0:
            self.slots[op.out_self] = self_out

    def _input_values(self, fields, self_value, op):
        """§8.2.1 `run`: the inputs. A node-wise input of a node with input fields was
        delivered to those fields (§3.4), so only a whole $self is an input of its own."""
        vals = [trace_value(k, v) for k, v in fields.items()]
        whole_self = OBJECT_INPUT_FIELDS.get(op.kind) is None
        if whole_self and (self_value is not None or any(b.port == SELF for b in op.inputs)):
            vals.append(trace_value("$self", self_value))
        return vals

    def _output_values(self, op, outputs, self_out):
        """§8.2.1 `complete`: the outputs. jq and property output only $self (§5.2, §5.4),
        listed even when null, as the documented example lists a value-less port."""
        vals = [trace_value(k, v) for k, v in outputs.items()]
        if not outputs and (self_out is not None or op.kind in SELF_ONLY_OUTPUT):
            vals.append(trace_value("$self", self_out))
        return vals

    # ------------------------------------------------------------------ synchronous nodes

    def _run_sync(self, op, fields, self_value):
        kind = op.kind
        p = op.params
        if kind == "static":
            return dict(p.values), dict(p.values)
        if kind == "jq":
            return {}, jq_programs.run_one(p.source, N.jq_input(p, fields, self_value))
        if kind == "property":
            if any(b.port == SELF for b in op.inputs):
                return {}, property_set(self, p, self_value)
            return {}, property_get(self, p)
        if kind in R.SINK_KINDS:
            R.xml_body_headers(op.inputs, self.plan.xml_slots, fields)
        if kind in R.PYTHON_KINDS:
            try:
                outputs, self_out = R.run_sync(kind, p, fields, self_value)
            finally:                         # a failing jwt node's key is masked in the trace too
                self.secrets.extend(R.sensitive_values(kind, fields, self_value, {}))
            self.secrets.extend(R.sensitive_values(kind, fields, self_value, outputs))
            return outputs, self_out
        if kind == "exit":
            self._answer(*N.exit_answer(p.status, fields.get("body"), fields.get("headers")))
            self.exit_source = "exit"
            self.finished = True
            return {}, None
        if kind == OP_REQUEST:
            outputs = {f: N.request_field(self.request, f) for f, _ in op.out_fields}
            self_out = N.request_object(self.request) if op.out_self >= 0 else None
            return outputs, self_out
        if kind == OP_SERVICE_REQUEST:
            self.service_request = N.sink_patch(fields, True)
            return {}, None
        if kind == OP_SERVICE_RESPONSE:
            st, hd, bd = self.upstream_status, self.upstream_headers, self.upstream_body
            outputs = {f: N.service_response_field(st, hd, bd, f) for f, _ in op.out_fields}
            self_out = N.service_response_object(st, hd, bd) if op.out_self >= 0 else None
            return outputs, self_out
        if kind == "branch":
            if not isinstance(self_value, bool):
                raise NodeError("branch input must be a boolean, got %s" % type_name(self_value))
            why = [trace_value("$self", self_value)] if self.trace else None
            for j in (p.else_ops if self_value else p.then_ops):
                self._skip(j, why)
            return {}, None
        if kind == OP_RESPONSE:
            if self.tracing:                 # the trace replaces the body: §4.4, C20f
                self.state[op.index] = SKIPPED
                self.trace.skip(op.node)
                return {}, None
            self.response_patch = N.sink_patch(fields, False)
            return {}, None
        raise NodeError("node type %r is not supported by this executor" % kind)

    # ------------------------------------------------------------------ calls

    def _call_exchange(self, op, fields):
        """The node's request as an HttpCall (not yet sent)."""
        p = op.params
        target, request_target, headers, body = N.call_request(p, fields)
        host, port = target.host, target.port
        tunnel = None
        if any(fields.get(k) is not None for k in PROXY_INPUTS):
            try:
                proxy = forward_proxy(fields, target.scheme)
            except ProxyInputError as e:
                raise NodeError(str(e)) from None
            if proxy is not None:
                auth = {} if proxy.authorization is None else {
                    "Proxy-Authorization": proxy.authorization.decode("latin-1")}
                if proxy.tunnel:             # https: CONNECT through the proxy, then TLS
                    tunnel = (target.host, target.port, auth)
                else:                        # http: the absolute-form target to the proxy
                    request_target = "http://%s%s" % (_authority(target), request_target)
                    headers = headers + list(auth.items())
                host, port = proxy.host, proxy.port
        call = HttpCall(target.scheme, host, port, p.method, request_target, headers, body,
                        p.timeout,
                        p.max_response_size or getattr(self.pool, "max_call_response_bytes", 0))
        call.tunnel = tunnel
        if target.scheme == "https":
            if not p.ssl_verify:
                try:
                    check_unverified(target.host)
                except UnverifiedBlocked as e:
                    raise NodeError(str(e)) from None
            call.ssl_verify = p.ssl_verify
            call.ssl_context = getattr(p, "ssl_context", None)
            call.server_name = p.ssl_server_name
        if self.trace:
            self._trace_urls[op.index] = "%s://%s:%s%s" % (target.scheme, target.host,
                                                           target.port, request_target)
        return call

    def _send(self, op, call):
        """Send the call now, as the node starts (§6.2 "start n concurrently"): -> the future
        of its result. An exit before the result arrives still cancels a sent call (D13)."""
        loop = asyncio.get_event_loop()
        fut = loop.create_future()

        def on_done(result):
            if not fut.done():
                fut.set_result(result)
        if self.trace:
            self.trace.event(op.node, "schedule")
            self.trace.event(op.node, "dispatch",
                             [trace_value("method", op.params.method),
                              trace_value("url", self._trace_urls.get(op.index))])
        call.start(loop, on_done)
        return fut

    async def _call(self, op, call, fut):
        try:
            return await fut
        except asyncio.CancelledError:
            call.cancel()                    # D13: close the connection, no result
            raise

    def _finish_call(self, i, ex):
        op = self.plan.ops[i]
        if self.trace:
            self.trace.event(op.node, "resume", None,
                             time.perf_counter() - self.trace.started[op.node])
        if isinstance(ex, R.AsyncResult):
            if ex.error is not None:
                self._fail(op, ex.error, None)
                return
            self._store(op, ex.outputs, dict(ex.outputs))
            self.state[i] = COMPLETE
            if self.trace:
                self.trace.complete(op.node, [trace_value(k, v) for k, v in ex.outputs.items()])
            return
        if isinstance(ex, CallFailed):
            self._fail(op, str(ex), None)
            return
        status, headers, body = ex
        outputs, err = N.call_outputs(status, headers, body)
        self._store(op, outputs, dict(outputs))
        if err:
            self._fail(op, err, [trace_value(k, v) for k, v in outputs.items()])
            return
        self.state[i] = COMPLETE
        if self.trace:
            self.trace.complete(op.node, [trace_value(k, v) for k, v in outputs.items()])

    # ------------------------------------------------------------------ ending

    def _answer(self, status, headers, body):
        self.exited = True
        self.exit_status = status
        self.exit_headers = headers
        self.exit_body = body

    def _fail(self, op, text, partial):
        text = mask(text, self.secrets)
        self.state[op.index] = ERROR
        pn = self.plan.nodes[op.node]
        log.error('node #%d (%s) failed with error: "%s", request_id: "%s"',
                  pn.index, pn.name, text, self.request.request_id)
        if self.trace:
            self.trace.fail(op.node, text, partial)
        body = {"message": GENERIC_ERROR_MESSAGE, "request_id": self.request.request_id}
        if self.plan.debug:
            body = {"message": "node execution error", "request_id": self.request.request_id,
                    "error": text, "node": {"index": pn.index, "name": pn.name, "type": pn.type}}
        data = json_bytes(body)
        self._answer(500, [("Content-Type", "application/json"),
                           ("Content-Length", str(len(data)))], data)
        self.error = (op, text)
        self.exit_source = "error"
        self.finished = True

    def _cancel_unfinished(self):
        for i, op in enumerate(self.plan.ops):
            if self.state[i] in (PENDING, RUNNING):
                self.state[i] = CANCELED
                if self.trace and self.trace.status[op.node] in (NODE_PENDING, NODE_RUNNING):
                    self.trace.cancel(op.node)
        if self.trace:
            self._replace_with_trace_exit()

    def _replace_with_trace_exit(self):
        doc = json_bytes(mask(self.trace.document(self.error is None), self.secrets))
        headers = [(n, v) for n, v in self.exit_headers
                   if n.lower() not in ("content-type", "content-length", "content-encoding")]
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(doc)))]
        self.exit_headers = headers
        self.exit_body = doc

    def _finish_response(self):
        """After a response window that did not exit: the patched client response (§4.4)."""
        p = self.response_patch
        self.response_status = self.response_status or self.upstream_status
        self.response_headers = p.apply(self.upstream_headers)
        self.response_body = p.body
        if self.trace:
            doc = json_bytes(mask(self.trace.document(True), self.secrets))
            self.response_headers = [
                (n, v) for n, v in self.response_headers
                if n.lower() not in ("content-type", "content-length", "content-encoding",
                                     "transfer-encoding")] + [
                ("Content-Type", "application/json"), ("Content-Length", str(len(doc)))]
            self.response_body = doc
