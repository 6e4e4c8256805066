"""The compiled execution plan of one DataKit instance: frozen, integer-indexed, name-free.

The compiler (`jqgate.compiler`) produces a `Plan`; the executors (the Cython core and the plain
Python reference in `jqgate.reference`) run it per request. Nothing on the per-request path looks
a node up by name, parses a URL, compiles a program or encodes a constant: all of that is here.

Values live in a per-request list of **slots**. `Plan.slot_template` is the initial content of
that list (constants of `static` nodes are already in place; every other slot is `None`), so a
request starts with `list(plan.slot_template)`.

**Ops** are the nodes in execution order: a topological order of the dependency graph (data
edges, branch membership edges, implicit ordering edges) with the position in `nodes` as the
tie-breaker. Request-window ops come first (`ops[:plan.response_start]`), then response-window
ops. Each window begins with its implicit source op (`request` / `service_response`) and ends
with its implicit sink op (`service_request` / `response`) when the config connects to it.

An op is runnable when every op in `deps` has completed. `dependents` is the reverse relation,
so an executor can keep one countdown per op (`len(deps)`) instead of rescanning.

**Bindings** say where an op's inputs come from. `port` is the input field (`"body"`, `"headers"`,
a jq input name) or `SELF` for a node-wise input; `slot` is the source slot; `convert` is the
per-request check/conversion the type rules of datakit.md §3.4 require for that edge:

    CONV_NONE    copy as-is
    CONV_MAP     value must be a JSON object (or null)            any -> map
    CONV_OBJECT  value must be a JSON object (or null); its keys that match the target's input
                 fields are delivered to those fields             any -> object (node-wise)
    CONV_STRING  value must be a string (numbers render as their shortest decimal text)
    CONV_NUMBER  value must be a number, or a string holding a decimal/float number
    CONV_BOOLEAN value must be a boolean

A failing check fails the consuming node (error text from the executor).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SELF = ""          # the port name of a node-wise ($self) input or output

# Windows
WINDOW_REQUEST = 0
WINDOW_RESPONSE = 1
WINDOW_NAMES = ("request", "response")

# Binding conversions (checked and applied per request)
CONV_NONE = 0
CONV_MAP = 1
CONV_OBJECT = 2
CONV_STRING = 3
CONV_NUMBER = 4
CONV_BOOLEAN = 5
CONV_NAMES = ("none", "map", "object", "string", "number", "boolean")

# Property families (datakit.md §5.4): the row of the property table a `property` node reads or
# writes, resolved by the compiler (jqgate.compiler.properties, D24 aliases applied) so that an
# executor switches on an int per request instead of comparing names. The keyed families take
# the <key> after their prefix (PropertyParams.key). The core gets these as a C enum
# (tools/gen_core_tables.py -> _core/engine/plan_codes.pxi).
PROP_CTX_SHARED = 1                  # kong.ctx.shared.<key>
PROP_CTX_PLUGIN = 2                  # kong.ctx.plugin.<key>
PROP_CONFIGURATION = 3               # kong.configuration.<key>
PROP_CLIENT_CONSUMER = 4
PROP_CLIENT_CONSUMER_GROUPS = 5
PROP_CLIENT_CREDENTIAL = 6
PROP_CLIENT_IDENTITY_REALM_SOURCE = 7
PROP_CLIENT_FORWARDED_IP = 8
PROP_CLIENT_FORWARDED_PORT = 9
PROP_CLIENT_IP = 10
PROP_CLIENT_PORT = 11
PROP_CLIENT_PROTOCOL = 12
PROP_REQUEST_FORWARDED_HOST = 13
PROP_REQUEST_FORWARDED_PORT = 14
PROP_REQUEST_FORWARDED_SCHEME = 15
PROP_REQUEST_PORT = 16
PROP_RESPONSE_SOURCE = 17
PROP_ROUTER_ROUTE = 18
PROP_ROUTER_SERVICE = 19
PROP_ROUTE_ID = 20
PROP_ROUTE_NAME = 21
PROP_SERVICE_ID = 22
PROP_SERVICE_NAME = 23
PROP_SERVICE_RESPONSE_STATUS = 24
PROP_VERSION = 25
PROP_NGINX_SUBSYSTEM = 26
PROP_NODE_ID = 27
PROP_NODE_MEMORY_STATS = 28
PROP_SERVICE_TARGET = 29
PROP_SERVICE_REQUEST_SCHEME = 30
PROP_SERVICE_UPSTREAM = 31
PROP_RESPONSE_STATUS = 32

# Op kinds: one per node type, plus the implicit sources and sinks.
OP_REQUEST = "request"                    # source: fills the request slots it lists
OP_SERVICE_REQUEST = "service_request"    # sink: patch the upstream request
OP_SERVICE_RESPONSE = "service_response"  # source: fills slots from the upstream response
OP_RESPONSE = "response"                  # sink: patch the client response
OP_VAULT = "vault"                        # source: resolves the vault entries it lists
IMPLICIT_KINDS = (OP_REQUEST, OP_SERVICE_REQUEST, OP_SERVICE_RESPONSE, OP_RESPONSE, OP_VAULT)


@dataclass(frozen=True)
class Binding:
    port: str            # input field name, or SELF
    slot: int            # source slot
    convert: int = CONV_NONE
    source: str = ""     # "NODE.field" / "NODE", for dumps and error messages only


@dataclass(frozen=True)
class CallTarget:
    """A call URL split once at load time."""
    url: str
    scheme: str          # "http" | "https"
    host: str            # without brackets for IPv6
    port: int
    target: str          # path + query as sent on the request line ("/" when empty)
    path: str            # path only
    query: str           # query without "?" ("" when absent)
    host_header: str     # value for the Host header (port omitted when default)


@dataclass(frozen=True)
class CallParams:
    url: CallTarget | None       # None when only inputs.url gives it
    method: str
    timeout: float               # seconds (D4: default / 0 -> 60 s)
    ssl_verify: bool
    ssl_server_name: str | None
    max_response_size: int = 0   # bytes of response body; 0: the pool's max_call_response_bytes
    # the plugin's ca_certificates as one trust store (ssl.SSLContext), set by
    # jqgate.gateway.plans.compile_gateway; None: the system's
    ssl_context: Any = None


@dataclass(frozen=True)
class JqParams:
    source: str
    program: Any                 # jqgate._core.core.NativeJq or JqProgram, compiled at load time
    input_mode: str              # "self": `.` is the SELF binding; "fields": an object of
                                 # `field_names`; "none": `.` is null
    field_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExitParams:
    status: int
    warn_headers_sent: bool | None = None


@dataclass(frozen=True)
class PropertyParams:
    property: str                # as written
    canonical: str               # with D24 aliases resolved
    family_code: int             # PROP_* above: the table row, what the core switches on
    key: str | None              # the <key> of kong.ctx.shared.<key> / kong.configuration.<key>
    mode: str                    # "get" | "set"
    content_type: str | None
    non_nil: bool


@dataclass(frozen=True)
class StaticParams:
    values: dict                 # the literal values (also already in the slot template)


@dataclass(frozen=True)
class BranchParams:
    then_ops: tuple[int, ...]    # op indices allowed only when the condition is true
    else_ops: tuple[int, ...]


@dataclass(frozen=True)
class CacheParams:
    options: Any                 # jqgate.nodes.cache.store.CacheOptions (strategy, ttl, D19 namespace)


@dataclass(frozen=True)
class XmlToJsonParams:
    options: Any                 # jqgate.nodes.xml.convert.XmlToJsonOptions
    xpath: Any = None            # lxml XPath compiled at load time, or None


@dataclass(frozen=True)
class JsonToXmlParams:
    options: Any                 # jqgate.nodes.xml.convert.JsonToXmlOptions
    field_names: tuple[str, ...] = ()   # user-defined inputs: an object is built from them


@dataclass(frozen=True)
class JwtParams:
    options: Any = None          # SignOptions (jwt_sign) / VerifyOptions (jwt_verify) / None


@dataclass(frozen=True)
class VaultParams:
    entries: tuple = ()          # (output field, jqgate.nodes.vault.Reference) per used key


@dataclass(frozen=True)
class GenericParams:
    """A node type with no dedicated params record: its validated config, kept whole."""
    config: dict


@dataclass(frozen=True)
class Op:
    index: int                   # position in Plan.ops
    kind: str                    # node type ("call", "jq", ...) or an OP_* implicit kind
    node: int                    # index into Plan.nodes
    window: int                  # WINDOW_REQUEST | WINDOW_RESPONSE
    deps: tuple[int, ...]        # op indices that must complete first
    dependents: tuple[int, ...]  # reverse of deps
    inputs: tuple[Binding, ...]  # field and node-wise bindings, in port order
    out_self: int                # slot of the node-wise output, -1 when the node has none
    out_fields: tuple[tuple[str, int], ...]   # (field, slot) for every output field
    params: Any = None           # one of the *Params records above, or None
    is_async: bool = False       # does I/O (call; cache with strategy redis)


@dataclass(frozen=True)
class PlanNode:
    index: int                   # 1-based position in `nodes` (0 for implicit nodes), as Kong logs it
    name: str
    type: str


@dataclass(frozen=True)
class Plan:
    nodes: tuple[PlanNode, ...]  # user nodes in config order, then the implicit nodes used
    ops: tuple[Op, ...]
    response_start: int          # ops[:response_start] run in the request window
    slot_template: tuple[Any, ...]
    slot_names: tuple[str, ...]  # "NODE.field" / "NODE" per slot, for dumps and traces
    reads_request_body: bool     # request.body is read: the server reads a streamed body whole first
    has_response_window: bool    # anything runs after the upstream answered
    debug: bool
    config_hash: str
    instance: str                # plugin id / instance_name / scope, for namespacing (D19)
    edges: tuple[tuple[str, str, str], ...] = field(default=())  # (source label, target label, convert) for dumps
    xml_slots: frozenset[int] = frozenset()   # slots holding json_to_xml output: D11 application/xml

    def op_names(self) -> list[str]:
        return [self.nodes[op.node].name for op in self.ops]
