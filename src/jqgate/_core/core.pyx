# cython: language_level=3
"""jqgate's compiled core: one extension built from the files included below.

Each included file holds one runtime concept; declarations shared between them live in the
matching .pxd files so calls between them are C calls.
"""

include "clock.pyx"
include "jq_bridge.pyx"
include "jq_native.pyx"
include "http_names.pyx"
include "http_head.pyx"
include "http_write.pyx"
include "http_client.pyx"
include "http_client_conn.pyx"
include "http_request.pyx"
include "http_responder.pyx"
include "http_server.pyx"
include "http2_server.pyx"
include "http_service.pyx"
include "http_router.pyx"
include "http_decision.pyx"
include "http_proxy.pyx"

# the engine: values and request view first, then the plan, trace, node ops and the executor
include "values.pyx"
include "executor_request.pyx"
include "executor_plan.pyx"
include "trace.pyx"
include "ops_implicit.pyx"
include "ops_basic.pyx"
include "ops_call.pyx"
include "executor.pyx"
include "executor_embed.pyx"
include "ops_property.pyx"
include "ops_runtime.pyx"
include "datakit_handler.pyx"
include "access_log.pyx"
include "http_observe.pyx"
