"""Loopback ports for the servers the tests start (gateways, upstreams, Redis).

Asking the kernel for port 0 and handing that number to a server started a moment later
races with every outgoing connection in the meantime: connect() takes its local port from the
same ephemeral range (`net.ipv4.ip_local_port_range`), and the gateway's pool and the test
clients connect all the time. So the ports come from just below that range, where no outgoing
connection lands, and none is handed out twice in a run."""
from __future__ import annotations

import random
import socket

_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    low = _ephemeral_low()
    if low - 1024 >= 4096:
        for _ in range(200):
            port = random.randrange(max(1024, low - 16384), low)
            if port in _handed_out:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _handed_out.add(port)
            return port
    with socket.socket() as s:       # no room below the range: the kernel's choice
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
