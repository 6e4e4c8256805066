"""Test helpers: a jq adapter with the bridge's `run_one` contract, and a tiny config -> Plan
builder used until (and beside) the real compiler.

`build_plan(config)` lowers a *valid* DataKit config the way `jqgate.plan` documents it:
object->object edges expanded to shared fields, any->object edges as a node-wise binding with
CONV_OBJECT, topological order with config position as tie-breaker, response window = what
depends on service_response. It does no validation: the compiler owns that.
`compile_config(config)` uses `jqgate.compile` when the compiler is there, else `build_plan`.
"""
from __future__ import annotations

import heapq
from urllib.parse import urlsplit

import jq as pyjq

from jqgate import plan as P

IMPLICIT = ("request", "service_request", "service_response", "response", "vault")
OBJECT_OUT = {  # node-wise outputs that are objects with known fields
    "call": ("body", "headers", "status", "raw_body"),
    "request": ("body", "headers", "query", "path", "raw_path", "port", "method", "scheme",
                "version"),
    "service_response": ("body", "headers", "status", "raw_body"),
}
OBJECT_IN = {
    "call": ("body", "headers", "query", "url", "http_proxy", "https_proxy",
             "proxy_auth_username", "proxy_auth_password"),
    "exit": ("body", "headers"),
    "service_request": ("body", "headers", "query"),
    "response": ("body", "headers"),
}
FIELD_CONV = {"headers": P.CONV_MAP, "query": P.CONV_MAP, "url": P.CONV_STRING}
KEYED = ("kong.ctx.shared", "kong.ctx.plugin", "kong.configuration")
ALIASES = {"kong.service.request_scheme": "kong.service.request.scheme",
           "kong.client.get_identity_realm_source": "kong.client.identity_realm_source"}


class JqAdapter:
    """PyPI `jq` behind the bridge contract (D1): 0 results -> None, >1 -> error."""

    def __init__(self, source):
        self.source = source
        self._prog = pyjq.compile(source)

    def run_one(self, value):
        try:
            results = self._prog.input_value(value).all()
        except ValueError as e:
            raise RuntimeError(str(e)) from None
        if not results:
            return None
        if len(results) > 1:
            raise RuntimeError("jq program produced %d results; wrap it in [ ... ] to collect "
                               "them" % len(results))
        return results[0]


def jq_program(source):
    try:
        from jqgate._core.core import JqProgram
        return JqProgram(source)
    except ImportError:
        return JqAdapter(source)


def call_target(url):
    u = urlsplit(url)
    default = 443 if u.scheme == "https" else 80
    hh = u.hostname + (":%d" % u.port if u.port and u.port != default else "")
    path = u.path or "/"
    return P.CallTarget(url=url, scheme=u.scheme, host=u.hostname, port=u.port or default,
                        target=path + ("?" + u.query if u.query else ""), path=path,
                        query=u.query, host_header=hh)


def _label(label):
    node, _, field = label.partition(".")
    return node, field


def build_plan(config):
    cfg_nodes = config["nodes"]
    types = {n["name"]: n["type"] for n in cfg_nodes}
    for name in IMPLICIT:
        types[name] = name
    # 1. raw edges (src, sfield, dst, dfield); "" = node-wise
    raw = []
    for n in cfg_nodes:
        name = n["name"]
        if n.get("input"):
            s, sf = _label(n["input"])
            raw.append((s, sf, name, ""))
        for f, lab in (n.get("inputs") or {}).items():
            if lab:
                s, sf = _label(lab)
                raw.append((s, sf, name, f))
        if n.get("output"):
            d, df = _label(n["output"])
            raw.append((name, "", d, df))
        for f, lab in (n.get("outputs") or {}).items():
            if lab:
                d, df = _label(lab)
                raw.append((name, f, d, df))

    def out_fields_of(name):
        t = types[name]
        if t == "static":
            return tuple(next(n for n in cfg_nodes if n["name"] == name)["values"])
        return OBJECT_OUT.get(t)

    # 2. expansion
    edges = []  # (src, sfield, dst, dfield, conv)
    for s, sf, d, df in raw:
        tin = OBJECT_IN.get(types[d])
        if sf == "" and df == "" and tin is not None:
            fields = out_fields_of(s)
            if fields is not None:
                for f in fields:
                    if f in tin:
                        edges.append((s, f, d, f, FIELD_CONV.get(f, P.CONV_NONE)))
                continue
            edges.append((s, "", d, "", P.CONV_OBJECT))
            continue
        conv = FIELD_CONV.get(df, P.CONV_NONE) if df else P.CONV_NONE
        if types[s] == "static" and df in ("headers", "query"):
            conv = P.CONV_NONE
        edges.append((s, sf, d, df, conv))
    # 3. nodes: user nodes then implicit nodes used
    used = {e[0] for e in edges} | {e[2] for e in edges}
    names = [n["name"] for n in cfg_nodes] + [i for i in IMPLICIT if i in used]
    if "service_request" in names and "service_response" in names:
        pass
    pos = {nm: i for i, nm in enumerate(names)}
    # 4. slots
    slot_names, template = [], []
    slot_of = {}

    def slot(node, field):
        key = (node, field)
        if key not in slot_of:
            slot_of[key] = len(slot_names)
            slot_names.append(node + ("." + field if field else ""))
            val = None
            if types[node] == "static":
                vals = next(n for n in cfg_nodes if n["name"] == node)["values"]
                val = vals.get(field) if field else vals
            template.append(val)
        return slot_of[key]
    for s, sf, _, _, _ in edges:
        slot(s, sf)
    # 5. deps
    deps = {nm: set() for nm in names}
    for s, sf, d, df, _ in edges:
        deps[d].add(s)
    if "service_response" in deps and "service_request" in deps:
        deps["service_response"].add("service_request")
    # response window: reachable from service_response
    resp = set()
    if "service_response" in names:
        stack = ["service_response"]
        while stack:
            x = stack.pop()
            if x in resp:
                continue
            resp.add(x)
            stack.extend(d for d in names if x in deps[d])
    if "response" in names:
        resp.add("response")
    if "service_request" in resp:
        resp.discard("service_request")

    def topo(group):
        indeg = {n: len([d for d in deps[n] if d in group]) for n in group}
        heap = [(pos[n], n) for n in group if indeg[n] == 0]
        heapq.heapify(heap)
        out = []
        while heap:
            _, n = heapq.heappop(heap)
            out.append(n)
            for m in group:
                if n in deps[m]:
                    indeg[m] -= 1
                    if indeg[m] == 0:
                        heapq.heappush(heap, (pos[m], m))
        return out
    order = topo([n for n in names if n not in resp]) + topo([n for n in names if n in resp])
    index = {n: i for i, n in enumerate(order)}
    response_start = len([n for n in names if n not in resp])
    # 6. ops
    ops = []
    request_fields = ()
    for i, nm in enumerate(order):
        t = types[nm]
        cfg = next((n for n in cfg_nodes if n["name"] == nm), {})
        inputs = tuple(P.Binding(port=df, slot=slot_of[(s, sf)], convert=c,
                                 source=s + ("." + sf if sf else ""))
                       for s, sf, d, df, c in edges if d == nm)
        outs = tuple(sorted({(sf, slot_of[(s, sf)]) for s, sf, _, _, _ in edges
                             if s == nm and sf}, key=lambda x: x[1]))
        out_self = slot_of.get((nm, ""), -1)
        params = None
        if t == "call":
            params = P.CallParams(url=call_target(cfg["url"]) if cfg.get("url") else None,
                                  method=cfg.get("method", "GET"),
                                  timeout=(cfg.get("timeout") or 60000) / 1000.0,
                                  ssl_verify=cfg.get("ssl_verify", True),
                                  ssl_server_name=cfg.get("ssl_server_name"))
        elif t == "jq":
            bound = [b for b in inputs]
            mode = "none"
            if any(b.port == "" for b in bound):
                mode = "self"
            elif cfg.get("inputs"):
                mode = "fields"
            params = P.JqParams(source=cfg["jq"], program=jq_program(cfg["jq"]),
                                input_mode=mode,
                                field_names=tuple(f for f, v in (cfg.get("inputs") or {}).items()
                                                  if v))
        elif t == "exit":
            params = P.ExitParams(status=cfg.get("status", 200))
        elif t == "static":
            params = P.StaticParams(values=cfg["values"])
        elif t == "property":
            prop = cfg["property"]
            canon = ALIASES.get(prop, prop)
            family, key = canon, None
            for k in KEYED:
                if canon.startswith(k + "."):
                    family, key = k, canon[len(k) + 1:]
            params = P.PropertyParams(property=prop, canonical=canon, family=family, key=key,
                                      mode="set" if cfg.get("input") else "get",
                                      content_type=cfg.get("content_type"),
                                      non_nil=cfg.get("non_nil", False))
        if t == "request":
            request_fields = outs + ((("", out_self),) if out_self >= 0 else ())
        ops.append(P.Op(index=i, kind=t, node=pos[nm],
                        window=P.WINDOW_RESPONSE if nm in resp else P.WINDOW_REQUEST,
                        deps=tuple(sorted(index[d] for d in deps[nm])),
                        dependents=tuple(sorted(index[m] for m in names if nm in deps[m])),
                        inputs=inputs, out_self=out_self, out_fields=outs, params=params,
                        is_async=(t == "call")))
    plan_nodes = tuple(P.PlanNode(index=(i + 1 if i < len(cfg_nodes) else 0), name=nm,
                                  type=types[nm]) for i, nm in enumerate(names))
    reads_body = any(s == "service_response" and sf in ("", "body", "raw_body")
                     for s, sf, _, _, _ in edges)
    return P.Plan(nodes=plan_nodes, ops=tuple(ops), response_start=response_start,
                  slot_template=tuple(template), slot_names=tuple(slot_names),
                  constant_slots=frozenset(), constant_json={}, waves=(),
                  request_fields=request_fields,
                  reads_request_body=any(f in ("", "body") for f, _ in request_fields),
                  reads_response_body=reads_body,
                  writes_response_body=any(d == "response" and df in ("", "body")
                                           for _, _, d, df, _ in edges),
                  has_response_window=len(ops) > response_start,
                  debug=bool(config.get("debug")), config_hash="", instance="test")


def compile_config(config):
    """The real compiler when it and the libjq bridge it needs are built, else build_plan."""
    from jqgate._core import core
    try:
        from jqgate import compile as jq_compile
    except ImportError:
        return build_plan(config)
    if not hasattr(core, "JqProgram"):
        return build_plan(config)
    p = jq_compile(config)
    return getattr(p, "plan", p)
