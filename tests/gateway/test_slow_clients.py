"""Slow clients do not starve an upstream (issue 19, item 1): a client trickling a large body
takes no upstream connection before a buffer's worth of it arrived, and a client that stops
reading its answer gives its upstream connection back after the send timeout -- while normal
requests keep being answered. Scaled down from the issue's 300 + 300 clients by a pool of 4
connections, so the same starvation would happen at once."""
from __future__ import annotations

import socket


from netutil import GatewayThread, http_get, make_config

POOL = 4


def test_slow_body_and_non_reading_clients_leave_room_for_normal_requests(upstream):
    gw = GatewayThread(make_config(upstream.port),
                       pool_options={"max_per_host": POOL},
                       server_options={"send_timeout": 1.0, "body_buffer_size": 65536})
    slow, deaf = [], []
    try:
        for _ in range(5 * POOL):
            s = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\nx")
            slow.append(s)
        for _ in range(5 * POOL):
            s = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /big/200000000 HTTP/1.1\r\nHost: a\r\n\r\n")
            deaf.append(s)
        for s in slow:
            s.sendall(b"y")            # one more byte each: still far from a buffer's worth
        for i in range(10):
            status, _, body = http_get(gw.port, "/echo/normal%d" % i, timeout=25)
            assert status == 200
        # the trickling bodies never reached the upstream
        assert not [seen for seen in upstream.seen if seen[0] in (b"POST", "POST")]
    finally:
        for s in slow + deaf:
            s.close()
        gw.stop()
