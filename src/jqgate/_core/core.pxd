# Declarations of the compiled core (uvloop's loop.pxd, asyncpg's protocol.pxd): every class's
# attributes and C methods and every C function shared between the files core.pyx includes.
# Cython reads this before any code, so calls between files are C calls and no file depends on
# what another file included before it: the classes are named first, then each folder's .pxd
# declares them in full (a subclass after the file of its base).

cimport cython

cdef class JqProgram
cdef class _JqnEmpty
cdef class JqnNode
cdef class JqnIdentity
cdef class JqnConst
cdef class JqnIndex
cdef class JqnTry
cdef class JqnPipe
cdef class JqnAlt
cdef class JqnLogic
cdef class JqnBinary
cdef class JqnFormat
cdef class JqnArray
cdef class JqnObject
cdef class JqnIf
cdef class JqnVar
cdef class JqnBind
cdef class JqnBuiltin
cdef class JqnHas
cdef class JqnSelect
cdef class JqnMap
cdef class JqnWithEntries
cdef class JqnSetField
cdef class JqnUpdateField
cdef class NativeJq
cdef class ResponseSink
cdef class BodyProducer
cdef class ExchangeWaiter
cdef class PeerTracker
cdef class ClientExchange
cdef class _HostSlot
cdef class ConnectionPool
cdef class ClientConnection
cdef class BodyConsumer
cdef class HttpRequest
cdef class RequestBody
cdef class _BodyCollector
cdef class ResponseProducer
cdef class Responder
cdef class AccessObserver
cdef class ServerSettings
cdef class RequestHandler
cdef class _CallableHandler
cdef class HttpServerProtocol
cdef class Http2Limits
cdef class _H2Stream
cdef class Http2RequestBody
cdef class Http2Responder
cdef class Http2ServerProtocol
cdef class _ProtocolNegotiation
cdef class Balancer
cdef class ServiceTarget
cdef class RouteEntry
cdef class RouteBuckets
cdef class CompiledRouter
cdef class ProxyDecision
cdef class ProxyHandler
cdef class ProxyCall
cdef class _ProxyClientFlow
cdef class _ProxyBodyPump
cdef class _ProxyBodyProducer
cdef class Tunnel
cdef class BadJson
cdef class RequestView
cdef class EngineEnv
cdef class CompiledBinding
cdef class CompiledOp
cdef class CompiledPlan
cdef class TraceRecorder
cdef class SinkPatch
cdef class _OpsCallTemplate
cdef class _OpsCallHead
cdef class CallAnswerReader
cdef class _CallWaiter
cdef class RunListener
cdef class PlanDriver
cdef class PlanRun
cdef class _PythonNodeWaiter
cdef class DataKitHandler
cdef class DataKitFlow
cdef class AccessLog
cdef class LatencyHistogram
cdef class RequestSeries
cdef class _RouteLabels
cdef class RequestObserver

include "clock.pxd"
include "jq/bridge.pxd"
include "jq/convert.pxd"
include "jq/native_values.pxd"
include "jq/native_ops.pxd"
include "jq/native_nodes.pxd"
include "jq/native.pxd"
include "http/names.pxd"
include "http/head.pxd"
include "http/write.pxd"
include "client/pool.pxd"
include "client/connection.pxd"
include "server/request.pxd"
include "server/responder.pxd"
include "server/protocol.pxd"
include "server/http2.pxd"
include "proxy/balancer.pxd"
include "routing/router.pxd"
include "routing/decision.pxd"
include "proxy/handler.pxd"
include "proxy/tunnel.pxd"
include "engine/values.pxd"
include "engine/request_view.pxd"
include "engine/plan_records.pxd"
include "engine/trace.pxd"
include "engine/ops/implicit.pxd"
include "engine/ops/basic.pxd"
include "engine/ops/call.pxd"
include "engine/executor.pxd"
include "engine/embed.pxd"
include "engine/ops/property.pxd"
include "engine/ops/python_nodes.pxd"
include "proxy/datakit_handler.pxd"
include "observe/access_log.pxd"
include "observe/metrics.pxd"
