"""`jqgate demo`: the Kong docs' third-party auth flow in front of built-in loopback services.

It starts a token service and an echo upstream on loopback, the gateway with the seed flow in
front of them, prints the curl command to try, sends one request itself and prints what the
upstream received (the injected Authorization header), then serves until Ctrl-C.
"""
from __future__ import annotations

import asyncio
import signal

import orjson

from jqgate.gateway.plans import compile_gateway
from jqgate.config import load_declarative
from jqgate.demo_services import echo_service, start_service, token_service
from jqgate.errors import Issues
from jqgate.examples import seed_flow


def demo_config(token_port: int, upstream_port: int) -> dict:
    return {
        "_format_version": "3.0",
        "services": [{"name": "echo", "url": f"http://127.0.0.1:{upstream_port}",
                      "routes": [{"name": "demo", "paths": ["/"]}]}],
        "plugins": [{"name": "datakit",
                     "config": seed_flow(f"http://127.0.0.1:{token_port}/auth-token")}],
    }


async def _get(port: int, target: str) -> tuple[str, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode("latin-1").split("\r\n")[0], body


async def _demo(listen: str) -> int:
    from jqgate.gateway.plan_selection import gateway_for, handler_factory
    from jqgate.gateway.serve import parse_listen, start

    token = await start_service(token_service)
    upstream = await start_service(echo_service)
    token_port = token.sockets[0].getsockname()[1]
    upstream_port = upstream.sockets[0].getsockname()[1]
    issues = Issues()
    compiled = compile_gateway(load_declarative(demo_config(token_port, upstream_port), "<demo>"), issues)
    issues.raise_if_any()
    host, port = parse_listen(listen)
    running = await start(gateway_for(compiled), host, port, handler_factory=handler_factory,
                          access_log="stdout")
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    print(f"jqgate demo: token service on 127.0.0.1:{token_port}, upstream echo on 127.0.0.1:{upstream_port}")
    print(f"jqgate demo: gateway with the third-party auth flow on http://{shown}:{running.port}")
    print(f"try:  curl -i 'http://{shown}:{running.port}/anything?api_key=my-key'")
    status, body = await _get(running.port, "/anything?api_key=demo-key")
    print(f"sent GET /anything?api_key=demo-key -> {status}")
    try:
        seen = orjson.loads(body)
        print("the upstream received:")
        print(f"  {seen['method']} {seen['target']}")
        for name, value in seen["headers"].items():
            print(f"  {name}: {value}")
    except (ValueError, KeyError, TypeError):
        print(body.decode("utf-8", "replace"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # The handlers go in before the line that invites a Ctrl-C: one sent as soon as it is read
    # (the demo tests do) must find them, not the default that would interrupt mid-serve.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("serving until Ctrl-C", flush=True)
    await stop.wait()
    await running.close(2.0)
    token.close()
    upstream.close()
    return 0


def run_demo(args) -> int:
    import uvloop
    return uvloop.run(_demo(args.listen))
