"""Peer: the "typical Python" implementation of the benchmark flows.

aiohttp server + one pooled aiohttp.ClientSession (keep-alive) + the `jq` PyPI binding for the
jq transforms, on uvloop, single process. This is what a Python developer would write
without the project: idiomatic, compiled-once jq programs, no access log, no micro-tuning.

    python aiohttp_jq_proxy.py --flow f1|f2|f3|f4 [--port P] [--auth-url U] [--upstream U] [--t1 U]
                               [--compute-flow FILE]

f1: the seed flow (auth call, Authorization header, proxy). f2: plain proxy. f3: two concurrent
GETs joined by jq (datakit.md §9 C1). f4: the 30-node static/jq chain, read from the same
declarative file jqgate runs (bench/flows/f4_compute.yaml) and executed node by node in order.
"""
import argparse
import asyncio
import json
import sys

import aiohttp
import jq
import uvloop
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

ARGS = argparse.ArgumentParser()
ARGS.add_argument("--flow", default="f1", choices=["f1", "f2", "f3", "f4"])
ARGS.add_argument("--port", type=int, default=18020)
ARGS.add_argument("--auth-url", default="http://127.0.0.1:18001/token")
ARGS.add_argument("--upstream", default="http://127.0.0.1:18002")
ARGS.add_argument("--t1", default="http://127.0.0.1:18004")
ARGS.add_argument("--compute-flow", default=None, help="declarative file holding F4's nodes")
OPTS = ARGS.parse_args()
PORT, AUTH_URL, UPSTREAM = OPTS.port, OPTS.auth_url, OPTS.upstream

# DataKit jq nodes, compiled once at start-up.
JQ_AUTH_HEADERS = jq.compile('.headers * {"X-Api-Key": (.query.api_key // "none")}')
JQ_BEARER = jq.compile('{Authorization: (.token_type + " " + .access_token)}')
BASE_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
AUTH_BODY = b"grant_type=client_credentials"

HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
        "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Host", "Content-Length",
    )
)


async def auth_flow(request: web.Request) -> web.StreamResponse:
    session: aiohttp.ClientSession = request.app["session"]

    # (1) build the auth call's headers with jq
    auth_headers = JQ_AUTH_HEADERS.input_value(
        {"headers": BASE_HEADERS, "query": dict(request.query)}
    ).first()

    # (2) call the auth/token service
    try:
        async with session.post(AUTH_URL, data=AUTH_BODY, headers=auth_headers) as auth_resp:
            if auth_resp.status != 200:
                return web.Response(status=502, text=f"auth status {auth_resp.status}\n")
            token_json = await auth_resp.text()
    except aiohttp.ClientError as exc:
        return web.Response(status=502, text=f"auth call failed: {exc}\n")

    # (3) Authorization header from the token document (jq reads the JSON text directly)
    extra = JQ_BEARER.input_text(token_json).first()

    # (4) proxy the request to the upstream with that header, return its response
    return await proxy(request, extra)


async def proxy(request: web.Request, extra=None) -> web.StreamResponse:
    """F2: forward the request as is (plus `extra` headers) and return the upstream's answer."""
    session: aiohttp.ClientSession = request.app["session"]
    fwd_headers = CIMultiDict(
        (k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP
    )
    if extra:
        fwd_headers.update(extra)
    body = await request.read() if request.body_exists else None
    try:
        async with session.request(
            request.method, URL(UPSTREAM + request.raw_path, encoded=True),
            headers=fwd_headers, data=body, allow_redirects=False,
        ) as up:
            payload = await up.read()
            resp_headers = CIMultiDict(
                (k, v) for k, v in up.headers.items() if k.lower() not in HOP_BY_HOP
            )
            return web.Response(status=up.status, body=payload, headers=resp_headers)
    except aiohttp.ClientError as exc:
        return web.Response(status=502, text=f"upstream call failed: {exc}\n")


JQ_JOIN = jq.compile("{ author: .input1.slideshow.author, uuid: .input2.uuid }")
ERROR_500 = b'{"message":"An unexpected error occurred"}'


async def get_json(session: aiohttp.ClientSession, url: str):
    async with session.get(url) as resp:
        if not 200 <= resp.status <= 299:
            raise ValueError(f"non-2XX response code: {resp.status}")
        return json.loads(await resp.read())


async def join(request: web.Request) -> web.StreamResponse:
    """F3: two concurrent GETs to T1, a jq join, returned like an exit node (200, JSON)."""
    session: aiohttp.ClientSession = request.app["session"]
    try:
        input1, input2 = await asyncio.gather(
            get_json(session, OPTS.t1 + "/json"), get_json(session, OPTS.t1 + "/uuid"))
        body = JQ_JOIN.input_value({"input1": input1, "input2": input2}).first()
    except (aiohttp.ClientError, ValueError):
        return web.Response(status=500, body=ERROR_500, content_type="application/json")
    return web.Response(status=200, body=json.dumps(body).encode(), content_type="application/json")


def load_compute_nodes(path: str) -> list:
    """F4's nodes from the declarative file jqgate runs, so both execute the same flow."""
    import yaml
    with open(path) as f:
        doc = yaml.safe_load(f)
    for service in doc.get("services", []):
        for route in service.get("routes", []):
            for plugin in route.get("plugins", []):
                if plugin["name"] == "datakit":
                    return plugin["config"]["nodes"]
    raise SystemExit(f"{path}: no datakit plugin under services[].routes[]")


def compile_chain(nodes: list):
    """Each node becomes (name, kind, data): static values, or a compiled jq program with its
    input wiring. The nodes are listed in dependency order (examples.compute_flow builds them so)."""
    steps = []
    for node in nodes:
        if node["type"] == "static":
            steps.append((node["name"], "static", node["values"]))
        elif node["type"] == "jq":
            wiring = node.get("inputs") or node["input"]
            steps.append((node["name"], "jq", (jq.compile(node["jq"]), wiring)))
        elif node["type"] == "exit":
            steps.append((node["name"], "exit", (node["inputs"]["body"], node.get("status", 200))))
        else:
            raise SystemExit(f"F4 peer: node type {node['type']} not handled")
    return steps


async def compute(request: web.Request) -> web.StreamResponse:
    """F4: run the chain; jq nodes get Python values (input_value), like DataKit passes values."""
    values = {}
    for name, kind, data in request.app["chain"]:
        if kind == "static":
            values[name] = data
        elif kind == "jq":
            program, wiring = data
            arg = ({k: values[v] for k, v in wiring.items()} if isinstance(wiring, dict)
                   else values[wiring])
            values[name] = program.input_value(arg).first()
        else:
            source, status = data
            return web.Response(status=status, body=json.dumps(values[source]).encode(),
                                content_type="application/json")
    return web.Response(status=500, body=ERROR_500, content_type="application/json")


async def session_ctx(app: web.Application):
    connector = aiohttp.TCPConnector(limit=128, keepalive_timeout=75)
    app["session"] = aiohttp.ClientSession(connector=connector, auto_decompress=False)
    yield
    await app["session"].close()


def main() -> None:
    app = web.Application()
    app.cleanup_ctx.append(session_ctx)
    handler = {"f1": auth_flow, "f2": proxy, "f3": join, "f4": compute}[OPTS.flow]
    if OPTS.flow == "f4":
        if not OPTS.compute_flow:
            sys.exit("--flow f4 needs --compute-flow FILE")
        app["chain"] = compile_chain(load_compute_nodes(OPTS.compute_flow))
    app.router.add_route("*", "/{tail:.*}", handler)
    web.run_app(app, host="127.0.0.1", port=PORT, access_log=None, print=None,
                loop=uvloop.new_event_loop(), backlog=4096)


if __name__ == "__main__":
    main()
