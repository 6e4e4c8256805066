"""Running the gateway: event loop, listening sockets, workers, signals, logs.

Two entry points:

* `serve(config, listen="0.0.0.0:8000", workers=1, ...)` blocks: it runs the proxy until SIGTERM
  or SIGINT, then drains (stops accepting, lets in-flight requests finish, at most
  `drain_timeout` seconds) and returns 0. With `workers > 1` it forks that many processes that
  each bind the port with SO_REUSEPORT (the kernel spreads connections); the parent forwards
  signals and waits. One "ready" line is logged once every worker listens.
* `await start(config, host, port, ...)` starts the proxy on the running loop and returns a
  `RunningGateway` (its `.port`, `.pool`, `.settings`; `await .close()` drains). This is what an
  embedding application, `jqgate demo` or a test uses.

`handler_factory(gateway, pool)` replaces the plain proxy handler: this is where the DataKit
executor plugs in (it receives the built `Gateway` for routing and the process's client pool).
"""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
import socket
import sys
import time

from jqgate.config.model import GatewayConfig
from jqgate.errors import StartupError
from jqgate.gateway import DEFAULT_SERVER, Gateway
from jqgate.listen import parse_listen  # noqa: F401  (callers import it from here too)

log = logging.getLogger("jqgate")
access_log = logging.getLogger("jqgate.access")


def bind_socket(host: str, port: int, reuse_port: bool, listen: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(4096)
    sock.setblocking(False)
    return sock


def bind_listener(what: str, listen: str, reuse_port: bool, listen_now: bool = True):
    """bind_socket for the `what` listener ("proxy", "Admin API", "status"): a failure says
    which listener and which address, e.g. "the status listener 0.0.0.0:8100: Address already
    in use"."""
    try:
        host, port = parse_listen(listen)
    except ValueError:
        raise StartupError('the %s listener: "%s" is not HOST:PORT' % (what, listen)) from None
    try:
        return bind_socket(host, port, reuse_port=reuse_port, listen=listen_now)
    except OSError as exc:
        raise StartupError("the %s listener %s:%d: %s"
                           % (what, host, port, exc.strerror or exc)) from None


def tls_context(ssl_cert: str | None, ssl_cert_key: str | None):
    """The proxy listener's server-side TLS context, or None for plain HTTP. Loaded once,
    before any worker starts, so a missing or mismatched file stops the start-up by name."""
    if not ssl_cert and not ssl_cert_key:
        return None
    if not (ssl_cert and ssl_cert_key):
        raise StartupError("TLS needs both ssl_cert and ssl_cert_key (got only %s)"
                           % ("ssl_cert" if ssl_cert else "ssl_cert_key"))
    import ssl
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(ssl_cert, ssl_cert_key)
    except (OSError, ssl.SSLError) as exc:
        raise StartupError("TLS certificate %s with key %s: %s"
                           % (ssl_cert, ssl_cert_key, getattr(exc, "strerror", None) or exc)) \
            from None
    return context


def make_access_logger(json_format: bool = False):
    """callable(req, resp) writing one line per request to the `jqgate.access` logger."""
    if access_log.disabled or not access_log.isEnabledFor(logging.INFO):
        return None

    from jqgate._core.core import monotonic_now, route_and_service_names

    def write(req, resp):
        extra = resp.log_extra
        route, service = route_and_service_names(req, resp)
        upstream_ms = getattr(extra, "upstream_latency_ms", None) if extra is not None else None
        total_ms = int((monotonic_now() - req.start_time) * 1000)
        if json_format:
            access_log.info(json.dumps({
                "request_id": req.request_id.decode(), "client": req.client_ip,
                "method": req.method.decode("latin-1"), "path": req.path.decode("latin-1"),
                "status": resp.status, "bytes": resp.bytes_sent, "route": route,
                "service": service, "latency_ms": total_ms, "upstream_latency_ms": upstream_ms}))
        else:
            access_log.info('%s "%s %s HTTP/%s" %d %d rid=%s route=%s latency=%dms upstream=%s',
                            req.client_ip, req.method.decode("latin-1"),
                            req.target.decode("latin-1"), req.http_version, resp.status,
                            resp.bytes_sent, req.request_id.decode(), route or "-", total_ms,
                            "-" if upstream_ms is None else "%dms" % upstream_ms)
    return write


def make_request_observer(json_format: bool = False, metrics=None):
    """The server's per-request callback: Prometheus counters (jqgate.metrics), then the
    access log line. None when there is nothing to do.

    What it reads: the route and service from req.ctx (or resp.log_extra), the upstream latency
    from resp.log_extra (`upstream_latency_s`, else `upstream_latency_ms`), and a DataKit run's
    `node_timings` = [(node type, seconds)] and `call_outcomes` = [outcome] from either. The
    proxy's and DataKit's own objects are read directly (compiled: jqgate._core http_observe)."""
    from jqgate._core.core import RequestObserver
    write_log = make_access_logger(json_format)
    if metrics is None:
        return write_log
    return RequestObserver(metrics, write_log)


class RunningGateway:
    def __init__(self, server, settings, pool, port, gateway, handler, handler_factory=None,
                 proxy_options=None):
        self.server = server
        self.settings = settings
        self.pool = pool
        self.port = port
        self.gateway = gateway
        self.handler = handler
        self.handler_factory = handler_factory
        self.proxy_options = proxy_options

    def build_handler(self, gateway: Gateway):
        """A request handler for `gateway`, built as start() built the first one (hot reload
        builds a whole new one and swaps it in: jqgate.admin.swap)."""
        if self.handler_factory is not None:
            return self.handler_factory(gateway, self.pool)
        return gateway.make_handler(self.pool, **(self.proxy_options or {}))

    def reload(self, config: GatewayConfig | Gateway) -> None:
        """Switch to a new configuration: new requests route with it at once; requests in
        flight finish with the decision they started with. A custom handler takes part by
        having a `gateway` attribute (the default ProxyHandler has one)."""
        gateway = config if isinstance(config, Gateway) else Gateway(config)
        self.gateway = gateway
        if hasattr(self.handler, "gateway"):
            self.handler.gateway = gateway

    async def close(self, drain_timeout: float = 10.0):
        """Stop accepting, let in-flight requests finish (bounded), close the pool."""
        self.server.close()
        self.settings.drain()
        deadline = time.monotonic() + drain_timeout
        while self.settings.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            self.settings.drain()
        for proto in list(self.settings.connections):
            if proto.transport is not None:
                proto.transport.abort()
        self.pool.close()


async def start(config: GatewayConfig | Gateway, host: str = "127.0.0.1", port: int = 8000, *,
                sock: socket.socket | None = None, handler_factory=None, access_log_json=False,
                server_options: dict | None = None, pool_options: dict | None = None,
                proxy_options: dict | None = None, ssl_context=None,
                metrics=None) -> RunningGateway:
    """Start the proxy on the running loop (see the module docstring)."""
    from jqgate._core import core
    loop = asyncio.get_running_loop()
    gateway = config if isinstance(config, Gateway) else Gateway(config)
    pool = core.ConnectionPool(loop, **(pool_options or {}))
    if handler_factory is not None:
        handler = handler_factory(gateway, pool)
    else:
        # proxy_options: via, upstream_latency_header, proxy_latency_header (None = off)
        handler = gateway.make_handler(pool, **(proxy_options or {}))
    opts = dict(server_header=DEFAULT_SERVER,
                access_log=make_request_observer(access_log_json, metrics),
                scheme="https" if ssl_context is not None else "http")
    opts.update(server_options or {})
    settings = core.ServerSettings(handler, **opts)
    if sock is None:
        sock = bind_socket(host, port, reuse_port=False)
    server = await loop.create_server(lambda: core.HttpServerProtocol(settings, loop), sock=sock,
                                      backlog=4096, ssl=ssl_context)
    bound = sock.getsockname()[1]
    return RunningGateway(server, settings, pool, bound, gateway, handler, handler_factory,
                          proxy_options)


def _run_worker(config, host, port, sock, handler_factory, drain_timeout, ready_fd,
                access_log_json, server_options, pool_options, proxy_options,
                admin=None, ssl_context=None) -> int:
    import uvloop
    from jqgate._core import core
    core.reseed_request_ids()

    async def main():
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        from jqgate.metrics import METRICS
        running = await start(config, host, port, sock=sock, handler_factory=handler_factory,
                              access_log_json=access_log_json, server_options=server_options,
                              pool_options=pool_options, proxy_options=proxy_options,
                              metrics=METRICS, ssl_context=ssl_context)
        attached = await _attach_admin(running, config, admin, stop)
        # Everything built so far lives as long as the process: keep the collector from
        # walking it again on every collection.
        gc.collect()
        gc.freeze()
        if ready_fd is None:
            log.info("jqgate ready: proxy listening on %s://%s:%d (pid %d)",
                     "http" if ssl_context is None else "https", host, running.port, os.getpid())
        else:
            os.write(ready_fd, b"r")
            os.close(ready_fd)
        await stop.wait()
        log.info("jqgate worker %d draining", os.getpid())
        if attached is not None:
            attached.close()
        await running.close(drain_timeout)
        return 0

    return uvloop.run(main())


# -- Admin API, hot reload, SIGHUP (jqgate.admin.runtime) ------------------------------------
# serve(admin_listen=..., config_file=...) decides where they live: with one worker, in the
# worker's loop; with several, in the parent, which reaches each worker over a socketpair.

async def _attach_admin(running, config, admin, stop):
    if admin is None:
        return None
    from jqgate.admin import runtime
    gateway_config = config.config if isinstance(config, Gateway) else config
    if admin.get("control_sock") is not None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)     # the parent reloads, then tells us
        await runtime.attach_worker(running, gateway_config, admin["control_sock"], stop.set)
        return None
    return await runtime.attach_single(running, gateway_config,
                                       admin_listen=admin.get("admin_listen"),
                                       proxy_listen=admin["proxy_listen"],
                                       config_file=admin.get("config_file"),
                                       admin_sock=admin.get("admin_sock"),
                                       status_listen=admin.get("status_listen"),
                                       status_sock=admin.get("status_sock"))


def serve(config: GatewayConfig | Gateway, listen: str = "0.0.0.0:8000", workers: int = 1, *,
          handler_factory=None, drain_timeout: float = 10.0, access_log_json: bool = False,
          server_options: dict | None = None, pool_options: dict | None = None,
          proxy_options: dict | None = None, admin_listen: str | None = None,
          config_file: str | None = None, status_listen: str | None = None,
          ssl_cert: str | None = None, ssl_cert_key: str | None = None) -> int:
    """Run the proxy until SIGTERM/SIGINT; returns the exit status (see the module docstring).

    `admin_listen` ("HOST:PORT", None = no Admin API) serves the Admin API; `status_listen`
    the status listener (/status, /status/ready, /metrics: jqgate.admin.status_listener).
    `config_file` is what SIGHUP reloads: a path (any form config.load_any reads) or a callable
    returning a GatewayConfig. Hot reload and SIGHUP work with or without the Admin API, with
    any number of workers (jqgate.admin.runtime). `ssl_cert` + `ssl_cert_key` (PEM files) make
    the proxy listener speak HTTPS. A listener that cannot bind, or a TLS file that cannot be
    loaded, raises StartupError naming it before any worker starts."""
    host, port = parse_listen(listen)
    ssl_context = tls_context(ssl_cert, ssl_cert_key)
    admin = {"admin_listen": admin_listen, "config_file": config_file,
             "proxy_listen": "%s:%d" % (host, port), "admin_sock": None,
             "status_listen": status_listen, "status_sock": None}
    # The other listeners are bound first: a busy port fails before any worker starts.
    if admin_listen:
        admin["admin_sock"] = bind_listener("Admin API", admin_listen, reuse_port=False)
    if status_listen:
        admin["status_sock"] = bind_listener("status", status_listen, reuse_port=False)
    if workers <= 1:
        sock = bind_listener("proxy", listen, reuse_port=False)
        admin["proxy_listen"] = "%s:%d" % (host, sock.getsockname()[1])
        return _run_worker(config, host, port, sock, handler_factory, drain_timeout, None,
                           access_log_json, server_options, pool_options, proxy_options, admin,
                           ssl_context)
    # Bind once in the parent first, so a busy port fails loudly before any fork, and so
    # port 0 resolves to one port all workers share.
    probe = bind_listener("proxy", listen, reuse_port=True, listen_now=False)
    port = probe.getsockname()[1]
    children = []
    control_socks = []
    admin["proxy_listen"] = "%s:%d" % (host, port)
    ready_r, ready_w = os.pipe()
    for _ in range(workers):
        parent_end, child_end = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            probe.close()
            parent_end.close()
            for other in control_socks:
                other.close()
            for parent_sock in (admin["admin_sock"], admin["status_sock"]):
                if parent_sock is not None:
                    parent_sock.close()         # the parent serves the Admin API and status
            code = 1
            try:
                sock = bind_socket(host, port, reuse_port=True)
                code = _run_worker(config, host, port, sock, handler_factory, drain_timeout,
                                   ready_w, access_log_json, server_options, pool_options,
                                   proxy_options, {"control_sock": child_end}, ssl_context)
            except BaseException:
                logging.getLogger("jqgate").exception("worker failed")
            finally:
                os._exit(code)
        children.append(pid)
        child_end.close()
        control_socks.append(parent_end)
    os.close(ready_w)
    probe.close()   # workers hold their own sockets; the parent accepts nothing
    got = 0
    while got < workers:
        b = os.read(ready_r, workers - got)
        if not b:
            break
        got += len(b)
    os.close(ready_r)
    from jqgate.admin.runtime import run_parent
    # The parent logs the ready line once its Admin API listens too.
    ready = ("jqgate ready: proxy listening on %s://%s:%d (%d workers)"
             % ("http" if ssl_context is None else "https", host, port, workers)
             if got == workers else None)
    return run_parent(config.config if isinstance(config, Gateway) else config, children,
                      control_socks, admin_listen=admin_listen,
                      proxy_listen=admin["proxy_listen"], config_file=config_file,
                      ready_message=ready, admin_sock=admin["admin_sock"],
                      status_listen=status_listen, status_sock=admin["status_sock"])


def configure_logging(level: str = "info", access_log_to: str = "stderr") -> None:
    """What `jqgate run` and `jqgate.serve()` log: the `jqgate` loggers to stderr at `level`,
    access lines to `access_log_to` (stderr with the other logs, stdout or a file path as bare
    lines, or "off"). Logging an application configured itself is left alone."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(stream=sys.stderr, level=getattr(logging, level.upper(), logging.INFO),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in list(access_log.handlers):
        if getattr(handler, "jqgate_access", False):
            access_log.removeHandler(handler)
            handler.close()
    access_log.disabled = access_log_to == "off"
    access_log.propagate = access_log_to == "stderr"
    if access_log_to in ("off", "stderr"):
        access_log.setLevel(logging.NOTSET)
        return
    handler = (logging.StreamHandler(sys.stdout) if access_log_to == "stdout"
               else logging.FileHandler(access_log_to, encoding="utf-8"))
    handler.jqgate_access = True
    handler.setFormatter(logging.Formatter("%(message)s"))   # one line per request, as written
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
