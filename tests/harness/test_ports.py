"""The test servers' ports cannot be taken by an outgoing connection before the server binds
them (a run failed once: "Address already in use" for a gateway whose port a pool connection
had taken as its local port)."""
from __future__ import annotations

import socket

from ports import _ephemeral_low, free_port


def test_ports_are_below_the_ephemeral_range_and_never_handed_out_twice():
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(1024 <= p < _ephemeral_low() for p in ports)


def test_an_outgoing_connection_does_not_take_such_a_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()) as out:
            assert out.getsockname()[1] >= _ephemeral_low()
