# The request path with DataKit: route, run the plan's request window, proxy (streaming when no
# node needs the upstream answer), run the response window, answer.
#
#   DataKitHandler(gateway, pool, plans_by_route, **proxy options) is a ProxyHandler whose
#   handle() looks the matched route's compiled plan up (`plans_by_route[route.id]`, built once
#   per configuration by jqgate.gateway.plan_selection) and drives a DataKitFlow for it; routes without a plan
#   go straight to ProxyHandler.proxy.
#
#   DataKitFlow, per request (no Task or Future: each step is a callback of the previous one):
#     1. when the plan reads request.body and the body is still streaming, read it whole
#        (bounded by the server's body limit) first;
#     2. PlanRun.start_request_window -> exit / error: answer with the run's response;
#     3. otherwise patch the proxied request (service_request sink: headers, query, body);
#     4. no response window, or an upgrade request (a WebSocket: the request window has run,
#        so a flow can authenticate it; the response window does not, the answer may be a
#        101 and a tunnel): ProxyHandler.proxy streams the upstream answer through;
#        with one: the upstream answer is taken whole (prepare_upstream_exchange, retried on
#        the next peer as the proxy would: service retries, proxy_may_retry), the response
#        window runs on it, and the run's final response is sent.

cdef class DataKitHandler(ProxyHandler):

    def __init__(self, gateway, ConnectionPool pool, dict plans_by_route, **proxy_options):
        ProxyHandler.__init__(self, gateway, pool, **proxy_options)
        self.plans_by_route = plans_by_route

    cpdef handle(self, HttpRequest req, Responder resp):
        decision = decision_for(self.router, req)
        if type(decision) is tuple:
            resp.send_error(decision[0], decision[1])
            return
        route = (<ProxyDecision>decision).route if type(decision) is ProxyDecision \
            else decision.route
        if route is self._last_route and self.plans_by_route is self._last_plans:
            cp = self._last_plan
        else:
            cp = self.plans_by_route.get(route.id)
            self._last_route = route
            self._last_plans = self.plans_by_route
            self._last_plan = cp
        if cp is None:
            req.ctx = decision
            self.proxy(req, resp, decision)
            return
        cdef DataKitFlow flow = DataKitFlow.__new__(DataKitFlow)
        flow.handler = self
        flow.req = req
        flow.resp = resp
        flow.decision = decision
        flow.cp = cp
        req.ctx = flow          # the access log and metrics read route, service and timings here
        try:
            flow.start()
        except Exception as exc:
            flow._internal_error(exc)


import logging as _dk_logging

_dk_log = _dk_logging.getLogger("jqgate.datakit")


class DataKitFieldError(ValueError):
    """A header field a flow's sink (exit, service_request, response) would send that the field
    validator refuses: the flow's output, not a gateway fault -- answered 500 (the sink named in
    debug mode) and logged in one line, without a traceback."""

    def __init__(self, sink, problem):
        ValueError.__init__(self, "%s: %s" % (sink, problem))
        self.sink = sink
        self.problem = problem


cdef list _dk_header_bytes(pairs, str where, bint wire_checked=False):
    """Header pairs from the executor as bytes for the wire: the ones it passed through are
    bytes already and go as they came; the ones a flow set are str, and their names must be
    HTTP tokens (a jq-built "bad name" is refused, not sent) and values go out as UTF-8.
    wire_checked: the bytes pairs are the client's request fields, which the server's parser
    already held to the same rules, so they are not checked again."""
    cdef list out = []
    cdef bytes name
    cdef bytes value
    for pair in pairs:
        if wire_checked and type(pair) is tuple and PyTuple_GET_SIZE(pair) == 2 \
                and type((<tuple>pair)[0]) is bytes and type((<tuple>pair)[1]) is bytes:
            out.append(pair)
            continue
        k, v = pair
        name = (<str>k).encode("utf-8") if type(k) is str else k
        value = (<str>v).encode("utf-8") if type(v) is str else v
        problem = header_field_problem(name, value)
        if problem is not None:
            raise DataKitFieldError(where, problem)
        out.append(pair if (name is k and value is v and type(pair) is tuple) else (name, value))
    return out


cdef str _dk_text(bytes raw):
    return raw.decode("latin-1")


cdef str _dk_method_text(bytes method):
    """The method as text; the server's shared constants (http/head.pyx _scanned_method) as
    constants too, without decoding them per request."""
    if method is b"GET":
        return "GET"
    if method is b"POST":
        return "POST"
    return method.decode("latin-1")


@cython.freelist(64)
cdef class DataKitFlow(RunListener):

    # What the access log and the metrics read from req.ctx.
    @property
    def route(self):
        return self.decision.route

    @property
    def service(self):
        return self.decision.service

    @property
    def node_timings(self):
        return None if self.run is None else self.run.node_timings

    @property
    def call_outcomes(self):
        return None if self.run is None else self.run.call_outcomes

    # Every def method below is a callback from the server, the pool or the executor: nothing
    # may escape one, or the client would wait for an answer that never comes. Each wraps its
    # `_unguarded` twin and turns an exception into a 500 (or an abort once the head is out).

    cdef int start(self) except -1:
        if self.cp.reads_request_body and self.req.body is None and self.req.body_stream is not None:
            self.req.body_stream.read_all(self._body_read)
            return 0
        self._run_request_window()

    cdef bint _body_failed(self, body):
        """The body could not be read whole: answer with what the server recorded."""
        if body is not None:
            return False
        stream = self.req.body_stream
        status = stream.error_status if stream is not None and stream.error_status else 413
        self.resp.send_error(status, stream.error if stream is not None and stream.error
                             else "Request body is larger than the gateway buffers for DataKit")
        return True

    def _body_read(self, body):
        try:
            self._body_read_unguarded(body)
        except Exception as exc:
            self._internal_error(exc)

    def _body_read_unguarded(self, body):
        """The streamed body, read whole: for the plan's request window, or (no run yet to
        need it) for the buffered upstream request of a response-window flow."""
        if self._body_failed(body):
            return
        self.req.body = body
        if self.run is None:
            self._run_request_window()
        else:
            self._send_upstream()

    cdef int _run_request_window(self) except -1:
        cdef HttpRequest req = self.req
        decision = self.decision
        path = _dk_text(req.path)
        # Filled field by field: RequestView(...) with keyword arguments parsed them through
        # the Python call path on every request (about 1,100 instructions of F1's ~111k).
        cdef RequestView view = RequestView.__new__(RequestView)
        view.method = _dk_method_text(req.method)
        view.path = path
        view.raw_path = path
        view.query = _dk_text(req.query)
        view.headers = req.header_list()
        view.body = req.body
        view.client_ip = req.client_ip
        view.client_port = req.client_port
        view.server_port = req.server_port
        view.scheme = req.scheme
        view.http_version = req.http_version
        view.request_id = _dk_text(req.request_id)
        cdef DataKitHandler h = self.handler
        cdef ServiceTarget service
        if type(decision) is ProxyDecision:
            # The config records' raw dicts, looked up once per route and service in a row
            # (two Python attribute reads per request otherwise)
            route = (<ProxyDecision>decision).route
            if route is not h._raw_route:
                h._raw_route = route
                h._route_raw = route.raw
            service = (<ProxyDecision>decision).service
            if service is not h._raw_service:
                h._raw_service = service
                h._service_raw = service.service.raw
            view.route = h._route_raw
            view.service = h._service_raw
        else:
            view.route = decision.route.raw
            view.service = decision.service.service.raw
        # PlanRun.__new__ and a C-level init: PlanRun(...) parsed its arguments in Python
        cdef PlanRun run = PlanRun.__new__(PlanRun)
        run._init(self.cp, view, self.handler.pool, {}, executor_default_env())
        self.run = run
        try:
            state = run.c_start_request_window(self)
        except Exception as exc:
            self._internal_error(exc)
            return 0
        if state == 0:
            self._request_window_done()

    cdef int window_done(self, object run) except -1:
        """The run's pending window ended (RunListener: a C call from the executor)."""
        if self.run.in_response:
            self._response_window_done()
        else:
            self._request_window_done()
        return 0

    cdef int _request_window_done(self) except -1:
        try:
            self._request_window_done_unguarded()
        except Exception as exc:
            self._internal_error(exc)
        return 0

    cdef int _request_window_done_unguarded(self) except -1:
        cdef PlanRun r = self.run
        if r.exited:
            self._send_exit()
            return 0
        self._apply_service_request()
        if r.service_target is not None or r.service_scheme is not None or r.service_upstream is not None:
            problem = self._redirect()
            if problem is not None:
                self.resp.send_error(problem[0], problem[1])
                return 0
        if (r.needs_response_window or r.response_status is not None) and not self.req.upgrade:
            # kong.response.status set in the request window also needs the upstream answer
            # in hand: the streamed relay writes the upstream's own status line.
            self._fetch_whole_upstream()
        else:
            self.handler.proxy(self.req, self.resp, self.decision)

    cdef int _send_exit(self) except -1:
        cdef PlanRun r = self.run
        headers = _dk_header_bytes([(k, v) for k, v in r.exit_headers if k.lower() != "content-length"],
                                   "exit")
        body = r.exit_body if r.exit_body is not None else b""
        self.resp.send(r.exit_status, headers, body)

    cdef int _apply_service_request(self) except -1:
        """The service_request sink's patch onto the request the proxy will send."""
        cdef PlanRun r = self.run
        cdef SinkPatch patch = r._service_request
        if patch is None or patch.is_empty():
            return 0
        if patch.body is not None:
            self.req.body = patch.body
        self.req.set_headers(_dk_header_bytes(patch.apply(self.req.header_list()),
                                              "service_request", True))
        if patch.query is not None:
            path = self.decision.target.partition(b"?")[0]
            self.decision = self.decision.replace(
                target=path + (b"?" + patch.query.encode("latin-1") if patch.query else b""))

    cdef object _redirect(self):
        """Honour kong.service.target / .request.scheme / .upstream for this request only;
        (status, message) when the value cannot be used."""
        cdef PlanRun r = self.run
        d = self.decision
        peer = None
        balancer = None
        if r.service_target is not None:
            host, sep, port = str(r.service_target).rpartition(":")
            host = host.strip("[]")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                _dk_log.error("request %s: kong.service.target %r is not host:port",
                              _dk_text(self.req.request_id), r.service_target)
                return (500, EXEC_GENERIC_ERROR)
            peer = (host, int(port))
        if r.service_upstream is not None:
            balancer = self.handler.gateway.balancers.get(str(r.service_upstream))
            if balancer is None:
                return (503, "name resolution failed: no upstream named %s" % r.service_upstream)
        scheme = None
        if r.service_scheme is not None:
            scheme = str(r.service_scheme).lower()
            if scheme not in ("http", "https"):
                _dk_log.error("request %s: kong.service.request.scheme %r is not http or https",
                              _dk_text(self.req.request_id), r.service_scheme)
                return (500, EXEC_GENERIC_ERROR)
        self.decision = d.replace(service=d.service.redirected(peer, scheme, balancer))
        return None

    cdef int _fetch_whole_upstream(self) except -1:
        self.tries_left = self.decision.service.retries
        if self.req.body is None and self.req.body_stream is not None:
            self.req.body_stream.read_all(self._body_read)
            return 0
        self._send_upstream()

    cdef int _send_upstream(self) except -1:
        ex = prepare_upstream_exchange(self.req, self.decision,
                                       self.decision.service.retries - self.tries_left)
        if ex is None:
            self.resp.send_error(503, MSG_NO_PEER)
            return 0
        # The answer is held whole (the flow reads it): bounded like a call node's, 502 over.
        ex.max_body = self.handler.pool.max_service_response_bytes
        self.ex = ex
        self.handler.pool.send(ex, self._upstream_done)

    def _upstream_done(self, ClientExchange ex):
        try:
            self._upstream_done_unguarded(ex)
        except Exception as exc:
            self._internal_error(exc)

    def _upstream_done_unguarded(self, ClientExchange ex):
        if ex.error_kind:
            self._upstream_failed(ex)
            return
        cdef list filtered = filter_response_headers(ex.header_list(), self.handler.via)
        if not self.run.needs_response_window:
            self.resp.send(self.run.response_status, filtered, ex.body or b"")
            return
        try:
            state = self.run.c_start_response_window(ex.status, filtered, ex.body, self)
        except Exception as exc:
            self._internal_error(exc)
            return
        if state == 0:
            self._response_window_done()

    cdef int _upstream_failed(self, ClientExchange ex) except -1:
        """Nothing reached the client yet and the request body is bytes in hand: the next
        peer gets the request when the service's retries and the failure allow it (ProxyCall's
        rule, proxy_may_retry); else the failure is answered as Kong does. A client that went
        away gets no retry (ProxyCall cancels its exchange then)."""
        if self.tries_left > 0 and not self.resp.client_gone and proxy_may_retry(ex):
            self.tries_left -= 1
            self._send_upstream()
        else:
            if ex.body_over_limit:
                _dk_log.error("request %s: the service's answer is over max_service_response_bytes "
                              "(%d), which a DataKit flow holds whole: 502",
                              _dk_text(self.req.request_id), ex.max_body)
            proxy_answer_failure(self.resp, ex)

    cdef int _response_window_done(self) except -1:
        try:
            self._response_window_done_unguarded()
        except Exception as exc:
            self._internal_error(exc)
        return 0

    cdef int _response_window_done_unguarded(self) except -1:
        cdef PlanRun r = self.run
        if r.exited:
            self._send_exit()
            return 0
        headers = _dk_header_bytes([(k, v) for k, v in r.response_headers
                                    if values_to_str(k).lower() != "content-length"],
                                   "response")
        body = r.response_body if r.response_body is not None else (self.ex.body or b"")
        self.resp.send(r.response_status or self.ex.status, headers, body)

    cdef int _field_error(self, exc) except -1:
        rid = _dk_text(self.req.request_id)
        _dk_log.error('node %s failed with error: "%s", request_id: "%s"', exc.sink, exc.problem, rid)
        if self.resp.started:
            if not self.resp.finished:
                self.resp.abort()
            return 0
        if self.cp.debug:
            body = {"message": "node execution error", "request_id": rid, "error": exc.problem,
                    "node": {"name": exc.sink, "type": exc.sink}}
            self.resp.send(500, [(b"Content-Type", b"application/json")], _orjson.dumps(body))
        else:
            self.resp.send_error(500, EXEC_GENERIC_ERROR)
        return 0

    cdef int _internal_error(self, exc) except -1:
        if isinstance(exc, DataKitFieldError):
            return self._field_error(exc)
        _dk_log.error("request %s: DataKit run failed: %s", _dk_text(self.req.request_id), exc,
                      exc_info=exc)
        if not self.resp.started:
            self.resp.send_error(500, EXEC_GENERIC_ERROR)
        elif not self.resp.finished:
            self.resp.abort()            # the head is out: closing is the only honest answer
