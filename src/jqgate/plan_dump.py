"""Readable dumps of a compiled plan: text (for people), JSON (for golden tests and tools), DOT (for graphviz).

Dumps are deterministic: they hold no addresses, timings or object ids, so golden files can pin them.
"""
from __future__ import annotations

from typing import Any

import orjson

from jqgate.compiler.jq_native import describe_runner
from jqgate.plan import (CONV_NAMES, WINDOW_NAMES, BranchParams, CacheParams, CallParams,
                         ExitParams, GenericParams, JqParams, JsonToXmlParams, JwtParams, Plan,
                         PropertyParams, StaticParams, VaultParams, XmlToJsonParams)


def _params(params: Any) -> dict:
    if isinstance(params, JqParams):
        out = {"jq": params.source, "runs": describe_runner(params.program),
               "input_mode": params.input_mode}
        if params.field_names:
            out["fields"] = list(params.field_names)
        return out
    if isinstance(params, CallParams):
        out = {"method": params.method, "timeout": params.timeout, "ssl_verify": params.ssl_verify}
        if params.url is not None:
            u = params.url
            out["url"] = {"scheme": u.scheme, "host": u.host, "port": u.port, "target": u.target,
                          "host_header": u.host_header}
        if params.ssl_server_name:
            out["ssl_server_name"] = params.ssl_server_name
        if params.max_response_size:
            out["max_response_size"] = params.max_response_size
        return out
    if isinstance(params, ExitParams):
        return {"status": params.status}
    if isinstance(params, PropertyParams):
        return {"property": params.canonical, "mode": params.mode, "content_type": params.content_type,
                "non_nil": params.non_nil}
    if isinstance(params, StaticParams):
        return {"values": params.values}
    if isinstance(params, BranchParams):
        return {"then": list(params.then_ops), "else": list(params.else_ops)}
    if isinstance(params, GenericParams):
        return {"config": params.config}
    return _python_node_params(params)


_REDIS_SHOWN = ("host", "port", "database", "ssl", "server_name", "sentinel_master", "sentinel_role")


def _python_node_params(params: Any) -> dict:
    """Params of the §5.6-§5.12 node types; secrets (Redis passwords) are never dumped."""
    from dataclasses import asdict
    if isinstance(params, CacheParams):
        o = params.options
        out = {"strategy": o.strategy, "ttl": o.ttl, "bypass_on_error": o.bypass_on_error,
               "namespace": o.instance}
        if o.strategy == "memory":
            out["dictionary_name"] = o.dictionary_name
        else:
            out["redis"] = {k: o.redis[k] for k in _REDIS_SHOWN if o.redis.get(k) is not None}
        return out
    if isinstance(params, (XmlToJsonParams, JwtParams)):
        return asdict(params.options) if params.options is not None else {}
    if isinstance(params, JsonToXmlParams):
        out = asdict(params.options)
        if params.field_names:
            out["fields"] = list(params.field_names)
        return out
    if isinstance(params, VaultParams):
        return {"entries": {name: ref.text for name, ref in params.entries}}
    return {}


def plan_to_dict(plan: Plan) -> dict:
    ops = []
    for op in plan.ops:
        node = plan.nodes[op.node]
        ops.append({
            "op": op.index, "kind": op.kind, "node": node.name, "node_index": node.index,
            "window": WINDOW_NAMES[op.window], "deps": list(op.deps),
            "inputs": [{"port": b.port or "$self", "slot": b.slot, "from": b.source,
                        "convert": CONV_NAMES[b.convert]} for b in op.inputs],
            "out_self": op.out_self, "out_fields": {f: s for f, s in op.out_fields},
            "async": op.is_async, **_params(op.params),
        })
    return {
        "instance": plan.instance, "config_hash": plan.config_hash, "debug": plan.debug,
        "slots": list(plan.slot_names),
        "ops": ops, "response_start": plan.response_start,
        "reads_request_body": plan.reads_request_body, "has_response_window": plan.has_response_window,
        "edges": [list(e) for e in plan.edges],
    }


def plan_to_json(plan: Plan) -> str:
    return orjson.dumps(plan_to_dict(plan), option=orjson.OPT_INDENT_2).decode()


def plan_to_text(plan: Plan) -> str:
    lines = [f"plan {plan.instance or '-'}  hash {plan.config_hash}  debug {str(plan.debug).lower()}"]
    window = None
    for op in plan.ops:
        if op.window != window:
            window = op.window
            lines.append(f"{WINDOW_NAMES[window]} window:")
        node = plan.nodes[op.node]
        head = f"  #{op.index:<2} {op.kind:<16} {node.name}"
        if op.deps:
            head += "  after " + ",".join(plan.nodes[plan.ops[d].node].name for d in op.deps)
        lines.append(head)
        for b in op.inputs:
            conv = "" if not b.convert else f"  [check {CONV_NAMES[b.convert]}]"
            lines.append(f"        in  {b.port or '$self'} <- s{b.slot} ({b.source}){conv}")
        outs = ([f"$self=s{op.out_self}"] if op.out_self >= 0 else []) + [f"{f}=s{s}" for f, s in op.out_fields]
        if outs:
            lines.append("        out " + " ".join(outs))
        params = _params(op.params)
        runs = params.pop("runs", None)
        if params:
            lines.append("        " + orjson.dumps(params).decode())
        if runs is not None:
            lines.append(f"        runs: {runs}")
    if plan.response_start == len(plan.ops):
        lines.append("response window: (nothing runs after proxying; the response streams through)")
    return "\n".join(lines) + "\n"


def plan_to_dot(plan: Plan) -> str:
    lines = ["digraph datakit {", "  rankdir=LR;", "  node [shape=box, fontname=monospace];"]
    for op in plan.ops:
        node = plan.nodes[op.node]
        style = ", style=dashed" if op.kind in ("request", "service_request", "service_response",
                                                "response", "vault") else ""
        color = ", color=blue" if op.window else ""
        lines.append(f'  "{node.name}" [label="{node.name}\\n{op.kind}"{style}{color}];')
    for source, target, conv in plan.edges:
        src_node, _, src_port = source.partition(".")
        dst_node, _, dst_port = target.partition(".")
        label = f"{src_port or '$self'} -> {dst_port or '$self'}"
        lines.append(f'  "{src_node}" -> "{dst_node}" [label="{label}"];')
    for op in plan.ops:
        if isinstance(op.params, BranchParams):
            name = plan.nodes[op.node].name
            for side, members in (("then", op.params.then_ops), ("else", op.params.else_ops)):
                for m in members:
                    lines.append(f'  "{name}" -> "{plan.nodes[plan.ops[m].node].name}" [style=dotted, label="{side}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


FORMATS = {"text": plan_to_text, "json": plan_to_json, "dot": plan_to_dot}
