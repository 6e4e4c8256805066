"""WebSocket (and any `Connection: Upgrade`) pass-through with a real WebSocket upstream and
client (the `websockets` package): the request window runs before the upgrade (a DataKit flow
authenticates the WebSocket), then bytes go both ways until either side closes, over plain and
TLS listeners; the service's read_timeout closes an idle tunnel; an upstream that does not
switch is answered as a plain request; CONNECT is refused."""
from __future__ import annotations

import socket
import ssl
import threading

import pytest

websockets = pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402
from websockets.sync.server import serve  # noqa: E402

from tls_gateway import TLSGateway  # noqa: E402
from tls_certs import CertAuthority  # noqa: E402

CA = CertAuthority()

# The request window: only ?token=secret goes on (else 401), and the upstream is told so.
AUTH_FLOW = {"name": "datakit", "config": {"nodes": [
    {"name": "OK", "type": "jq", "input": "request.query", "jq": '.token == "secret"'},
    {"name": "BR", "type": "branch", "input": "OK", "else": ["DENY"]},
    {"name": "DENY", "type": "exit", "status": 401},
    {"name": "MARK", "type": "jq", "output": "service_request.headers",
     "jq": '{"X-Authed": "yes"}'}]}}


class EchoServer:
    """A WebSocket upstream: echoes every message; /close-after-one closes after the first;
    refuses (403) a handshake the gateway did not mark as authenticated."""

    def __init__(self):
        self.handshakes = []

        def check(connection, request):
            self.handshakes.append(dict(request.headers.raw_items()))
            if request.headers.get("X-Authed") != "yes":
                return connection.respond(403, "not authenticated\n")
            return None

        def echo(ws):
            for message in ws:
                ws.send(message)
                if ws.request.path.startswith("/close-after-one"):
                    ws.close()
                    return

        self.server = serve(echo, "127.0.0.1", 0, process_request=check, max_size=None)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(10)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("wstls")
    cert, key = CA.leaf_files(d, "ws.test")
    return {"cert": cert, "key": key, "ca": CA.ca_file(d)}


@pytest.fixture
def echo():
    e = EchoServer()
    yield e
    e.stop()


def ws_doc(port, read_timeout_ms=60000):
    return {"_format_version": "3.0",
            "services": [{"name": "ws", "url": "http://127.0.0.1:%d" % port,
                          "read_timeout": read_timeout_ms}],
            "routes": [{"name": "ws", "service": "ws", "paths": ["/"], "strip_path": False}],
            "plugins": [AUTH_FLOW]}


def client_tls(files):
    return ssl.create_default_context(cafile=files["ca"])


@pytest.mark.parametrize("over_tls", [False, True])
def test_echo_both_ways_after_the_request_window(echo, files, over_tls):
    gw = TLSGateway(ws_doc(echo.port), files)
    try:
        if over_tls:
            uri = "wss://ws.test:%d/chat?token=secret" % gw.tls_port
            opts = {"ssl": client_tls(files), "sock": socket.create_connection(
                ("127.0.0.1", gw.tls_port), timeout=30)}
        else:
            uri = "ws://127.0.0.1:%d/chat?token=secret" % gw.plain_port
            opts = {}
        with connect(uri, open_timeout=30, max_size=None, **opts) as ws:
            ws.send("hello")
            assert ws.recv(timeout=30) == "hello"
            big = bytes(range(256)) * 8192              # 2 MiB: both sockets fill and drain
            ws.send(big)
            assert ws.recv(timeout=60) == big
            for i in range(50):
                ws.send("m%d" % i)
            assert [ws.recv(timeout=30) for _ in range(50)] == ["m%d" % i for i in range(50)]
        assert echo.handshakes[-1]["X-Authed"] == "yes"
        # the request window ran first: without the token the flow answers, no upgrade
        with pytest.raises(InvalidStatus) as refused:
            with connect(uri.replace("token=secret", "token=wrong"), open_timeout=30, **(
                    {"ssl": client_tls(files), "sock": socket.create_connection(
                        ("127.0.0.1", gw.tls_port), timeout=30)} if over_tls else {})):
                pass
        assert refused.value.response.status_code == 401
    finally:
        gw.stop()


def test_upstream_close_and_idle_timeout_end_the_tunnel(echo, files):
    gw = TLSGateway(ws_doc(echo.port, read_timeout_ms=300), files)
    try:
        with connect("ws://127.0.0.1:%d/close-after-one?token=secret" % gw.plain_port,
                     open_timeout=30) as ws:
            ws.send("bye")
            assert ws.recv(timeout=30) == "bye"
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=30)                  # the upstream closed: so does the client
        with connect("ws://127.0.0.1:%d/idle?token=secret" % gw.plain_port,
                     open_timeout=30, ping_interval=None) as ws:
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=30)                  # nothing either way for 0.3 s: closed
    finally:
        gw.stop()


def raw_exchange(port, head: bytes) -> bytes:
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(head)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    return out


class NoSwitchUpstream:
    """An HTTP upstream that answers every request 200 (it speaks no WebSocket), keeping the
    heads it was sent."""

    def __init__(self):
        self.heads = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.heads.append(data.split(b"\r\n\r\n")[0])
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno")

    def stop(self):
        self.sock.close()


def test_upstream_that_does_not_switch_and_connect(files):
    up = NoSwitchUpstream()
    doc = {"_format_version": "3.0",
           "services": [{"name": "plain", "url": "http://127.0.0.1:%d" % up.port}],
           "routes": [{"name": "all", "service": "plain", "paths": ["/"]}]}
    gw = TLSGateway(doc, files)
    try:
        answer = raw_exchange(gw.plain_port, b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade"
                                             b"\r\nUpgrade: websocket\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.lower().startswith(b"http/1.1 200 ") and b"connection: close" in head.lower()
        assert body == b"no"
        sent = up.heads[-1].lower()
        assert b"\r\nconnection: upgrade" in sent and b"\r\nupgrade: websocket" in sent
        answer = raw_exchange(gw.plain_port, b"CONNECT example.com:443 HTTP/1.1\r\n"
                                             b"Host: example.com:443\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 405 "), answer[:200]
    finally:
        gw.stop()
        up.stop()
