"""Small loopback HTTP services for `jqgate demo`: a token service and an echo upstream.

They are deliberately plain (asyncio streams, Content-Length bodies, keep-alive) so the demo needs
nothing but the installed package.
"""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable
from urllib.parse import parse_qs

import orjson

Handler = Callable[[str, str, list[tuple[str, str]], bytes], Awaitable[tuple[int, dict, bytes]]]


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:] if ":" in line]
            length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
            body = await reader.readexactly(length) if length else b""
            status, out_headers, out_body = await handler(method, target, headers, body)
            out = [f"HTTP/1.1 {status} OK", f"Content-Length: {len(out_body)}"]
            out += [f"{k}: {v}" for k, v in out_headers.items()]
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + out_body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def start_service(handler: Handler, host: str = "127.0.0.1", port: int = 0) -> asyncio.base_events.Server:
    return await asyncio.start_server(lambda r, w: _serve_connection(r, w, handler), host, port)


async def token_service(method, target, headers, body):
    """POST /auth-token with a client_credentials form -> a bearer token derived from X-Api-Key."""
    if method != "POST":
        return 405, {"Content-Type": "application/json"}, b'{"error":"method not allowed"}'
    form = parse_qs(body.decode("utf-8", "replace"))
    if form.get("grant_type") != ["client_credentials"]:
        return 400, {"Content-Type": "application/json"}, b'{"error":"unsupported_grant_type"}'
    api_key = next((v for k, v in headers if k.lower() == "x-api-key"), "none")
    token = {"access_token": f"tok-{api_key}", "token_type": "Bearer", "expires_in": 3600}
    return 200, {"Content-Type": "application/json"}, orjson.dumps(token)


async def echo_service(method, target, headers, body):
    """Answers with what it received, so the demo can show the injected Authorization header."""
    seen = {"method": method, "target": target, "headers": dict(headers),
            "body": body.decode("utf-8", "replace")}
    return 200, {"Content-Type": "application/json"}, orjson.dumps(seen, option=orjson.OPT_INDENT_2)
