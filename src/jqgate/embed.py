"""Running a compiled DataKit plan from Python, without the HTTP server (interface.md).

    import jqgate
    plan = jqgate.compile(config)                    # -> RunnablePlan (wraps the frozen Plan)
                                                     # (today: jqgate.embed.compile(config), or
                                                     #  jqgate.embed.runnable(frozen_plan))
    result = plan.run({"method": "GET", "path": "/x", "headers": {"X-A": "1"},
                       "query": {"a": "1"}, "body": {"k": "v"}})
    result = await plan.run_async({...})             # inside a running event loop
                                                     # (aiohttp, FastAPI...): run() there
                                                     # raises, naming run_async

    result.exited        True when the plan answered (exit node, error 500, trace)
    result.status / .headers [(str, str)] / .body bytes      the client answer when exited
    result.service_request   dict: what the proxy would send upstream when not exited:
                             {"method", "path", "query" (str), "headers" [(str, str)],
                              "body" (bytes | None), "target" / "scheme" / "upstream" SETs}
    result.error         None, or {"node": name, "index": i, "type": t, "message": text}
    result.ctx_shared    the kong.ctx.shared dict after the run

Pass `upstream={"status": 200, "headers": {...}, "body": b"..."}` to also run the response
window; the result then carries the patched client response in status / headers / body.

Plans without calls run synchronously on the calling thread (no event loop at all). Plans with
calls go out over the engine's own connection pool: `run` drives a private uvloop loop,
`run_async` uses the running loop (one pool per loop).
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping

import orjson

from jqgate._core import core

RUN_PENDING = core.RUN_PENDING


def _pool_for(loop):
    """The engine's pool for this event loop. Per thread, only the most recent loop's pool is
    kept: a pool refers to its loop, so caching every loop ever seen would keep them alive."""
    if getattr(_THREAD, "pool_loop", None) is not loop:
        _THREAD.pool_loop, _THREAD.pool = loop, core.ConnectionPool(loop)
    return _THREAD.pool


_THREAD = threading.local()


class Result:
    """The outcome of one embedded run; fields are read from the run when asked for."""
    __slots__ = ("run",)

    def __init__(self, run):
        self.run = run

    @property
    def ctx_shared(self):
        return self.run.ctx_shared

    @property
    def exited(self):
        return self.run.exited

    @property
    def status(self):
        run = self.run
        return run.exit_status if run.exited else run.response_status

    @property
    def headers(self):
        run = self.run
        if run.exited:
            return run.exit_headers
        return run.response_headers

    @property
    def body(self):
        run = self.run
        return run.exit_body if run.exited else run.response_body

    @property
    def error(self):
        run = self.run
        if run.error_node is None:
            return None
        pn = run.error_node
        return {"node": pn.name, "index": pn.index, "type": pn.type, "message": run.error_text}

    @property
    def service_request(self):
        run = self.run
        if run.exited:
            return None
        request = run.request
        sr = run.service_request
        return {"method": request.method, "path": request.path,
                "query": request.query if sr.query is None else sr.query,
                "headers": run.service_request_headers(request.headers),
                "body": request.body if sr.body is None else sr.body,
                "target": run.service_target, "scheme": run.service_scheme,
                "upstream": run.service_upstream}

    def json(self):
        body = self.body
        return orjson.loads(body) if body else None

    def __repr__(self):
        if self.exited:
            return "<Result exited %s %r>" % (self.status, self.body)
        return "<Result proxy %r>" % (self.service_request,)


def _text(value):
    """An exact str: header names and values may be str subclasses (aiohttp's istr)."""
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    return value


def plain_request(request):
    """The request description as the core reads it: a dict whose headers are a dict or a
    list of (str, str). Any mapping is accepted for both, with any str subclass as keys;
    multi-valued mappings (multidict) keep every value."""
    if request is None:
        return None
    if type(request) is not dict:
        request = dict(request)
    headers = request.get("headers")
    if headers is None or (type(headers) is dict and all(
            type(k) is str and type(v) is str for k, v in headers.items())):
        return request
    items = headers.items() if isinstance(headers, Mapping) or hasattr(headers, "items") \
        else headers
    request = dict(request)
    request["headers"] = [(_text(name), _text(value)) for name, value in items]
    return request


def _request_view(request):
    return core.embed_request_view(plain_request(request))


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _upstream(spec):
    headers = spec.get("headers") or []
    headers = list(headers.items()) if isinstance(headers, dict) else list(headers)
    body = spec.get("body")
    if body is not None and not isinstance(body, bytes):
        body = body.encode() if isinstance(body, str) else orjson.dumps(body)
    return spec.get("status", 200), headers, body


class RunnablePlan:
    """A frozen Plan plus what it needs to run. Attribute access falls through to the Plan."""

    def __init__(self, plan, env=None):
        self.plan = plan
        self.compiled = core.compile_plan(plan)
        self.env = env
        self._has_calls = any(op.is_async for op in plan.ops)

    def __getattr__(self, name):
        return getattr(self.plan, name)

    # -- sync

    def run(self, request=None, upstream=None, ctx_shared=None) -> Result:
        if self._has_calls:
            if _loop_running():
                raise RuntimeError(
                    "plan.run() cannot drive this flow's calls inside a running event loop; "
                    "use `await plan.run_async(...)` there")
            loop = getattr(_THREAD, "loop", None)       # one private loop per thread, shared
            if loop is None:                            # by every plan (so one pool too)
                loop = _THREAD.loop = _new_loop()
            return loop.run_until_complete(self.run_async(request, upstream, ctx_shared))
        run = core.embed_run_sync(self.compiled, plain_request(request), self.env, ctx_shared)
        if upstream is not None and not run.exited and run.needs_response_window:
            run.start_response_window(*_upstream(upstream), None)
        return Result(run)

    # -- async

    async def run_async(self, request=None, upstream=None, ctx_shared=None) -> Result:
        result = await self.request_window(request, ctx_shared)
        if upstream is not None:
            await self.response_window(result, upstream)
        return result

    async def request_window(self, request=None, ctx_shared=None) -> Result:
        """The flow up to the upstream call: exited, or `service_request` to send. A caller
        that is its own upstream (jqgate.asgi) sends it, then calls response_window."""
        loop = asyncio.get_running_loop()
        req = _request_view(request)
        ctx = {} if ctx_shared is None else ctx_shared
        run = core.PlanRun(self.compiled, req, _pool_for(loop), ctx, self.env)
        done = loop.create_future()
        if run.start_request_window(lambda r: done.set_result(None)) == RUN_PENDING:
            await done
        return Result(run)

    @staticmethod
    def needs_response(result: Result) -> bool:
        """Whether the flow reads or changes the upstream's response (else it can stream)."""
        return not result.exited and result.run.needs_response_window

    async def response_window(self, result: Result, upstream) -> Result:
        """Run the rest of the flow on the upstream's answer {"status", "headers", "body"};
        `result` then carries the client response."""
        run = result.run
        if run.exited or not run.needs_response_window:
            return result
        done = asyncio.get_running_loop().create_future()
        if run.start_response_window(*_upstream(upstream),
                                     lambda r: done.set_result(None)) == RUN_PENDING:
            await done
        return result


def _new_loop():
    try:
        import uvloop
        return uvloop.new_event_loop()
    except ImportError:                     # uvloop is a runtime dependency; keep tests honest
        return asyncio.new_event_loop()


def runnable(plan, env=None) -> RunnablePlan:
    """Wrap a frozen Plan (what `jqgate.compile` should return)."""
    if isinstance(plan, RunnablePlan):
        return plan
    return RunnablePlan(plan, env)


def compile(config, location: str = "config", instance: str = "") -> RunnablePlan:
    """`jqgate.compile` + `runnable`: a DataKit config dict -> a plan that can run."""
    import jqgate
    plan = jqgate.compile(config, location, instance)
    return runnable(getattr(plan, "plan", plan))
