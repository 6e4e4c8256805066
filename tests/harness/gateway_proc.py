"""Run the gateway in its own process for tests: python gateway_proc.py UPSTREAM_PORT LISTEN
[WORKERS] [READ_TIMEOUT_MS]. Logs go to stderr (the ready line is what tests wait for), the
access log too unless the environment says otherwise: ACCESS_LOG (a destination, or "off"),
ACCESS_LOG_FORMAT (plain|json), ACCESS_LOG_FLUSH (seconds between timed flushes),
ACCESS_LOG_BUFFER (bytes)."""
import os
import sys

from jqgate.config.model import GatewayConfig, Route, Service
from jqgate.admin.attach import serve
from jqgate.gateway.serve import configure_logging


def main():
    upstream_port = int(sys.argv[1])
    listen = sys.argv[2]
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    read_timeout = int(sys.argv[4]) if len(sys.argv) > 4 else 60000
    cfg = GatewayConfig(
        services=[Service(name="svc", id="svc", protocol="http", host="127.0.0.1",
                          port=upstream_port, path=None, read_timeout=read_timeout)],
        routes=[Route(name="all", id="all", service_id="svc", paths=["/"])])
    configure_logging("info")
    sys.exit(serve(cfg, listen=listen, workers=workers, drain_timeout=10,
                   access_log=os.environ.get("ACCESS_LOG", "stderr"),
                   log_format=os.environ.get("ACCESS_LOG_FORMAT", "plain"),
                   access_log_flush_interval=float(os.environ.get("ACCESS_LOG_FLUSH", "1.0")),
                   access_log_buffer_size=int(os.environ.get("ACCESS_LOG_BUFFER", "65536"))))


if __name__ == "__main__":
    main()
