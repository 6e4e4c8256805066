"""A real `redis-server` on a free loopback port, for the cache tests (Debian package
`redis-server`, installed by .ci/run). Started and stopped by the tests themselves; tests that
need it are skipped with a clear reason only when the binary is missing."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from ports import free_port

REDIS_SERVER = shutil.which("redis-server") or (
    "/usr/bin/redis-server" if shutil.os.path.exists("/usr/bin/redis-server") else None)

needs_redis = pytest.mark.skipif(
    REDIS_SERVER is None,
    reason="redis-server is not installed (apt-get install redis-server; .ci/run does this)")


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.proc = None

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _ping(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start on port %d" % self.port)
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None
        deadline = time.monotonic() + 5
        while _ping(self.port) and time.monotonic() < deadline:
            time.sleep(0.02)

    def command(self, *args: str):
        """A raw RESP command (for assertions that bypass the code under test)."""
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port).execute_command(*args)


@pytest.fixture
def redis_server():
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does this)")
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()
