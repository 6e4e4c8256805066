"""Lowering: a checked `Graph` becomes a frozen `Plan` of integer slots and op records."""
from __future__ import annotations

import hashlib
from typing import Any

import orjson

from jqgate.compiler.graph import Graph
from jqgate.nodes.ports import IMPLICIT_NAMES
from jqgate.nodes.call.url import split_safe_url
from jqgate.plan import (CONV_NAMES, SELF, WINDOW_REQUEST, WINDOW_RESPONSE, Binding, BranchParams,
                         CacheParams, CallParams, CallTarget, ExitParams, GenericParams, JqParams,
                         JsonToXmlParams, JwtParams, Op, Plan, PlanNode, PropertyParams,
                         StaticParams, VaultParams, XmlToJsonParams)

DEFAULT_CALL_TIMEOUT_MS = 60_000          # D4: default, and what `timeout: 0` means


def split_url(url: str) -> CallTarget:
    """Split an absolute http(s) URL once (the schema has checked it is one and is safe:
    jqgate.nodes.call.url); its path and query are encoded for the request line."""
    scheme, host, port, path, query, host_header = split_safe_url(url)
    target = path + ("?" + query if query else "")
    return CallTarget(url, scheme, host, port, target, path, query, host_header)


def _label(node: str, port: str) -> str:
    return f"{node}.{port}" if port != SELF else node


def config_hash(config: Any) -> str:
    return hashlib.sha256(orjson.dumps(config, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


class _Slots:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.template: list[Any] = []

    def new(self, name: str, constant: Any = None) -> int:
        """A new slot, holding `constant` before anything runs (a static node's values)."""
        self.names.append(name)
        self.template.append(constant)
        return len(self.names) - 1


def _used_source_ports(graph: Graph) -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for edge in graph.edges:
        used.setdefault(edge.source, set()).add(edge.source_port)
    return used


def _node_params(node, inputs: tuple[Binding, ...], programs, properties, op_index: dict[str, int],
                 graph: Graph, config: dict | None = None, instance: str = ""):
    cfg = node.config
    kind = node.type
    if kind == "static":
        return StaticParams(cfg["values"])
    if kind == "jq":
        if any(b.port != SELF for b in inputs) or cfg.get("inputs"):
            declared = [str(k) for k in (cfg.get("inputs") or {})]
            names = declared + [b.port for b in inputs if b.port != SELF and b.port not in declared]
            return JqParams(cfg["jq"], programs[node.name], "fields", tuple(names))
        if inputs:
            return JqParams(cfg["jq"], programs[node.name], "self")
        return JqParams(cfg["jq"], programs[node.name], "none")
    if kind == "call":
        url = cfg.get("url")
        timeout_ms = cfg.get("timeout") or DEFAULT_CALL_TIMEOUT_MS
        return CallParams(split_url(url) if url else None, cfg.get("method", "GET"), timeout_ms / 1000.0,
                          cfg.get("ssl_verify", True), cfg.get("ssl_server_name"),
                          cfg.get("max_response_size") or 0)
    if kind == "exit":
        return ExitParams(cfg.get("status", 200), cfg.get("warn_headers_sent"))
    if kind == "property":
        spec, canonical, key = properties[node.name]
        return PropertyParams(cfg["property"], canonical, spec.code, key,
                              "set" if inputs else "get", cfg.get("content_type"), bool(cfg.get("non_nil", False)))
    if kind == "branch":
        then, els = graph.members.get(node.name, ([], []))
        return BranchParams(tuple(op_index[m] for m in then), tuple(op_index[m] for m in els))
    params = _runtime_node_params(kind, cfg, inputs, config or {}, instance)
    return params if params is not None else GenericParams(dict(cfg))


def _runtime_node_params(kind: str, cfg: dict, inputs: tuple[Binding, ...], config: dict, instance: str):
    """Params of the node types whose semantics are plain Python in their nodes/<type>/
    package, run by nodes/python_ops.py (§5.6-§5.12)."""
    if kind == "cache":
        from jqgate.nodes.cache.store import CacheOptions
        return CacheParams(CacheOptions.from_config(cfg, (config.get("resources") or {}).get("cache") or {},
                                                    instance))
    if kind == "xml_to_json":
        from jqgate.nodes.xml.convert import XmlToJsonOptions, compile_xpath
        options = XmlToJsonOptions.from_config(cfg)
        return XmlToJsonParams(options, compile_xpath(options.xpath) if options.xpath else None)
    if kind == "json_to_xml":
        from jqgate.nodes.xml.convert import JsonToXmlOptions
        declared = [str(k) for k, v in (cfg.get("inputs") or {}).items()]
        names = declared + [b.port for b in inputs if b.port != SELF and b.port not in declared]
        return JsonToXmlParams(JsonToXmlOptions.from_config(cfg), tuple(names))
    if kind == "jwt_sign":
        from jqgate.nodes.jwt.tokens import SignOptions
        return JwtParams(SignOptions.from_config(cfg))
    if kind == "jwt_verify":
        from jqgate.nodes.jwt.tokens import VerifyOptions
        return JwtParams(VerifyOptions.from_config(cfg))
    if kind == "jwt_decode":
        return JwtParams(None)
    return None


def _vault_params(fields: list[tuple[str, int]], config: dict) -> VaultParams:
    from jqgate.nodes.vault import parse_reference
    refs = ((config.get("resources") or {}).get("vault") or {})
    return VaultParams(tuple((f, parse_reference(refs[f])) for f, _ in fields))


def _is_async(kind: str, params) -> bool:
    if kind == "call":
        return True
    return kind == "cache" and params is not None and params.options.strategy == "redis"


def lower(graph: Graph, config: dict, programs: dict, properties: dict, instance: str) -> Plan:
    order = graph.order
    op_index = {name: i for i, name in enumerate(order)}
    user = [n for n in graph.nodes.values() if not n.implicit]
    plan_nodes = [PlanNode(n.position + 1, n.name, n.type) for n in user]
    plan_nodes += [PlanNode(0, name, name) for name in IMPLICIT_NAMES if name in graph.nodes]
    node_index = {pn.name: i for i, pn in enumerate(plan_nodes)}
    used = _used_source_ports(graph)

    # Output slots, in op order.
    slots = _Slots()
    out_self: dict[str, int] = {}
    out_fields: dict[str, list[tuple[str, int]]] = {}
    reads_request_body = False
    for name in order:
        node = graph.nodes[name]
        ports = node.ports
        fields: list[tuple[str, int]] = []
        if node.type == "static":
            values = node.config["values"]
            out_self[name] = slots.new(name, values)
            for key, value in values.items():
                fields.append((key, slots.new(f"{name}.{key}", value)))
        elif name == "request":
            wanted = used.get(name, set())
            all_fields = SELF in wanted
            for f in ports.fields_out or {}:
                if all_fields or f in wanted:
                    fields.append((f, slots.new(f"{name}.{f}")))
            reads_request_body = any(f == "body" for f, _ in fields)
            if all_fields:
                out_self[name] = slots.new(name)
        elif name == "vault":
            for key in sorted(used.get(name, set())):
                fields.append((key, slots.new(f"vault.{key}")))
        else:
            if ports.self_out is not None:
                out_self[name] = slots.new(name)
            for f in (ports.fields_out or {}) if ports.fields_out_allowed else {}:
                if node.type == "branch":
                    continue                     # then/else are control outputs, not values
                fields.append((f, slots.new(f"{name}.{f}")))
        out_fields[name] = fields

    field_slot = {name: dict(fields) for name, fields in out_fields.items()}

    def source_slot(edge) -> int:
        if edge.source_port == SELF:
            return out_self[edge.source]
        return field_slot[edge.source][edge.source_port]

    bindings: dict[str, list[Binding]] = {name: [] for name in order}
    for edge in graph.edges:
        bindings[edge.target].append(Binding(edge.target_port, source_slot(edge), edge.convert,
                                             _label(edge.source, edge.source_port)))

    # Dependencies as op indices; a sink waits for its whole window.
    response_start = sum(1 for n in order if n not in graph.response_window)
    deps: list[set[int]] = [set(op_index[d] for d in graph.deps.get(name, ())) for name in order]
    for name in ("service_request", "response"):
        if name in op_index:
            i = op_index[name]
            lo, hi = (0, response_start) if i < response_start else (response_start, len(order))
            deps[i].update(j for j in range(lo, hi) if j != i)
    dependents: list[list[int]] = [[] for _ in order]
    for i, ds in enumerate(deps):
        for d in ds:
            if d < len(order) and d != i:
                dependents[d].append(i)

    ops = []
    for i, name in enumerate(order):
        node = graph.nodes[name]
        inputs = tuple(bindings[name])
        params = None if node.implicit else _node_params(node, inputs, programs, properties, op_index, graph,
                                                         config, instance)
        if name == "vault":
            params = _vault_params(out_fields[name], config)
        ops.append(Op(
            index=i, kind=node.type, node=node_index[name],
            window=WINDOW_RESPONSE if i >= response_start else WINDOW_REQUEST,
            deps=tuple(sorted(d for d in deps[i] if d != i)), dependents=tuple(sorted(dependents[i])),
            inputs=inputs, out_self=out_self.get(name, -1), out_fields=tuple(out_fields[name]),
            params=params, is_async=_is_async(node.type, params)))

    return Plan(
        nodes=tuple(plan_nodes), ops=tuple(ops), response_start=response_start,
        slot_template=tuple(slots.template), slot_names=tuple(slots.names),
        reads_request_body=reads_request_body,
        has_response_window=response_start < len(ops),
        debug=bool(config.get("debug", False)),
        config_hash=config_hash(config), instance=instance,
        edges=tuple((_label(e.source, e.source_port), _label(e.target, e.target_port), CONV_NAMES[e.convert])
                    for e in graph.edges),
        xml_slots=frozenset(out_self[n] for n in order
                            if graph.nodes[n].type == "json_to_xml" and n in out_self),
    )
