"""Listen addresses, read the same way everywhere (server start-up, the settings layer)."""
from __future__ import annotations


def parse_listen(listen: str) -> tuple[str, int]:
    """"HOST:PORT", ":PORT", "PORT" or "[v6]:PORT"."""
    listen = listen.strip()
    if listen.startswith("["):
        host, _, port = listen[1:].partition("]:")
    elif ":" in listen:
        host, _, port = listen.rpartition(":")
    else:
        host, port = "", listen
    return host or "0.0.0.0", int(port)
