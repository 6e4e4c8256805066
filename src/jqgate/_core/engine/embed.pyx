# The embedding API's synchronous fast path (jqgate.embed.RunnablePlan.run for plans without
# calls): request dict -> RequestView -> PlanRun -> request window, in one C-level call, so an
# embedded run costs little more than the plan itself.

import uuid as _embed_uuid

cdef str _EMBED_ID_PREFIX = _embed_uuid.uuid4().hex[:24]
cdef unsigned long long _embed_id_counter = 0


cdef str embed_request_id():
    """Request ids for embedded runs: a per-process random prefix and a counter (uuid4 per
    run would cost more than a small plan)."""
    global _embed_id_counter
    _embed_id_counter += 1
    return "%s%08x" % (_EMBED_ID_PREFIX, _embed_id_counter)


def embed_request_view(spec):
    """dict | RequestView | None -> RequestView (see request_view_from_dict for the keys)."""
    if type(spec) is RequestView:
        return spec
    if spec is None:
        spec = {}
    # the generated id is only needed when the caller gave none
    return request_view_from_dict(spec, None if (<dict>spec).get("request_id")
                                  else embed_request_id())


def embed_run_sync(CompiledPlan cp, spec, EngineEnv env=None, dict ctx_shared=None):
    """Run the request window of a plan without calls; -> the finished PlanRun."""
    cdef PlanRun run = PlanRun(cp, embed_request_view(spec), None, ctx_shared, env)
    run.start_request_window(None)
    return run
