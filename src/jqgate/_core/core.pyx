# cython: language_level=3
"""jqgate's compiled core: one extension built from the files included below.

Each included file holds one concept, in a folder by concern (server/, client/, http/, routing/,
proxy/, engine/ with ops/, jq/, observe/). Its classes and C functions are declared in the .pxd
beside it, which core.pxd includes, so calls between files are C calls and no file depends on
the order below; that order is only the order in which the files' module-level code runs.
"""

# Every included file may use cython's decorators (@cython.final, boundscheck, ...).
cimport cython

include "clock.pyx"
include "jq/convert.pyx"
include "jq/bridge.pyx"
include "jq/native_values.pyx"
include "jq/native_ops.pyx"
include "jq/native_nodes.pyx"
include "jq/native.pyx"
include "http/names.pyx"
include "http/head.pyx"
include "http/write.pyx"
include "client/pool.pyx"
include "client/connection.pyx"
include "server/request.pyx"
include "server/responder.pyx"
include "server/protocol.pyx"
include "server/http2.pyx"
include "proxy/balancer.pyx"
include "routing/router.pyx"
include "routing/decision.pyx"
include "proxy/handler.pyx"
include "proxy/tunnel.pyx"

# the engine: values and request view first, then the plan, trace, node ops and the executor
include "engine/values.pyx"
include "engine/request_view.pyx"
include "engine/plan_records.pyx"
include "engine/trace.pyx"
include "engine/ops/implicit.pyx"
include "engine/ops/basic.pyx"
include "engine/ops/call.pyx"
include "engine/executor.pyx"
include "engine/embed.pyx"
include "engine/ops/property.pyx"
include "engine/ops/python_nodes.pyx"
include "proxy/datakit_handler.pyx"
include "observe/access_log.pyx"
include "observe/metrics.pyx"
