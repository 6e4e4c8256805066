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

The Admin API, the status listener, SIGHUP reload and the parent of several workers are not
built here: they come in as `control` (jqgate.admin.attach, which jqgate.serve and `jqgate run`
pass), so this package never imports jqgate.admin and admin imports it one way. Without
`control` one process serves, and asking for what only `control` provides is refused.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import stat
import sys
import time

from jqgate.config.model import GatewayConfig
from jqgate.errors import StartupError
from jqgate.gateway.routing import DEFAULT_SERVER, Gateway
from jqgate.listen import parse_listen  # noqa: F401  (callers import it from here too)

log = logging.getLogger("jqgate")


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


def proxy_listeners(listen: str):
    """The proxy's listeners from Kong's syntax (jqgate.listen.parse_listeners), or
    StartupError naming what does not read."""
    from jqgate.listen import parse_listeners
    try:
        listeners = parse_listeners(listen)
    except ValueError as exc:
        raise StartupError('the proxy listener "%s": %s' % (listen, exc)) from None
    for listener in listeners:
        if listener.ignored:
            log.warning("proxy listener %s: %s accepted without effect", listener.address,
                        " ".join(listener.ignored))
    return listeners


def server_tls(listeners, ssl_cert: str | None, ssl_cert_key: str | None):
    """The ssl listeners' jqgate.tls.ServerTLS (None when no listener says ssl). Made once,
    before any worker starts (a missing or mismatched file stops the start-up by name, and
    every worker shares the session ticket keys)."""
    from jqgate import tls
    if bool(ssl_cert) != bool(ssl_cert_key):
        raise StartupError("TLS needs both ssl_cert and ssl_cert_key (got only %s)"
                           % ("ssl_cert" if ssl_cert else "ssl_cert_key"))
    secure = [listener for listener in listeners if listener.ssl]
    if not secure:
        if ssl_cert:
            log.warning("ssl_cert is set but no proxy listener says ssl (e.g. --listen "
                        "\"0.0.0.0:8443 ssl\"): it is not used")
        return None
    try:
        server = tls.ServerTLS(ssl_cert, ssl_cert_key)
        for listener in secure:
            server.prepare(listener.http2)
    except tls.TLSFileError as exc:
        raise StartupError(str(exc)) from None
    return server


def listener_urls(listeners, ports) -> str:
    return ", ".join("%s://%s:%d" % ("https" if listener.ssl else "http",
                                      "[%s]" % listener.host if ":" in listener.host
                                      else listener.host, port)
                     for listener, port in zip(listeners, ports))


def open_access_log(access_log="off", log_format: str = "plain",
                    buffer_size: int | None = None, flush_interval: float | None = None):
    """The process's access log (jqgate._core AccessLog, written from the core in batches), or
    None when `access_log` is None / "off". `access_log`: "stdout", "stderr", a file path, or
    an AccessLog already made (returned as it is)."""
    from jqgate._core import core
    if access_log is None or access_log == "off":
        return None
    if isinstance(access_log, core.AccessLog):
        return access_log
    return core.AccessLog(str(access_log), log_format,
                          core.ACCESS_LOG_BUFFER_SIZE if buffer_size is None else buffer_size,
                          core.ACCESS_LOG_FLUSH_INTERVAL if flush_interval is None
                          else flush_interval)


def check_access_log(access_log) -> None:
    """Fail now (OSError) when the access log file cannot be opened for appending, before any
    worker starts: a typo in the path must not leave a gateway running without its log."""
    if access_log is None or not isinstance(access_log, str) or access_log in (
            "off", "stdout", "stderr"):
        return
    os.close(os.open(access_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644))


def make_request_observer(json_format: bool = False, metrics=None, access_log=None):
    """The server's per-request callback: Prometheus counters (jqgate.metrics), then the
    access log line (`access_log`: an AccessLog, a destination open_access_log takes, or any
    callable(req, resp)). None when there is nothing to do.

    What it reads: the route and service from req.ctx (or resp.log_extra), the upstream latency
    from resp.log_extra (`upstream_latency_s`, else `upstream_latency_ms`), and a DataKit run's
    `node_timings` = [(node type, seconds)] and `call_outcomes` = [outcome] from either. The
    proxy's and DataKit's own objects are read directly (compiled: jqgate._core http_observe)."""
    from jqgate._core.core import RequestObserver
    if access_log is not None and not callable(access_log):
        access_log = open_access_log(access_log, "json" if json_format else "plain")
    if metrics is None and access_log is None:
        return None
    return RequestObserver(metrics, access_log)


def with_read_ahead(handler, proxy_options):
    """A factory-built proxying handler (the DataKit one) takes the proxy's
    response_buffer_size setting too."""
    size = (proxy_options or {}).get("response_buffer_size")
    if size is not None and hasattr(handler, "response_buffer_size"):
        handler.response_buffer_size = size
    return handler


class RunningGateway:
    def __init__(self, server, settings, pool, port, gateway, handler, handler_factory=None,
                 proxy_options=None, access_log=None, servers=None, ports=None, tls=None):
        self.server = server
        self.servers = servers or [server]    # one per listener (plain and TLS)
        self.ports = ports or [port]          # their bound ports, in listener order
        self.tls = tls                        # jqgate.tls.ServerTLS of the TLS listeners
        self.settings = settings
        self.pool = pool
        self.port = port
        self.gateway = gateway
        self.handler = handler
        self.handler_factory = handler_factory
        self.proxy_options = proxy_options
        self.access_log = access_log          # jqgate._core AccessLog, or None
        # Active health checks, and the targets' health carried from one configuration to
        # the next (jqgate.health); attached again on every reload.
        from jqgate.health import HealthChecker
        self.health = HealthChecker()
        self.health.attach(gateway)

    @property
    def gateway(self) -> Gateway:
        return self._gateway

    @gateway.setter
    def gateway(self, gateway: Gateway) -> None:
        # Every switch of configuration (reload, the Admin API's swap) passes here: the TLS
        # listeners' next handshakes use its certificates; connections made keep theirs.
        self._gateway = gateway
        if self.tls is not None:
            self.tls.table = gateway.certificates

    def reopen_logs(self) -> None:
        """SIGHUP: write out the buffered access log lines and reopen its file by name (so a
        rotated log is left to its rotator)."""
        if self.access_log is not None:
            self.access_log.reopen()

    def build_handler(self, gateway: Gateway):
        """A request handler for `gateway`, built as start() built the first one (hot reload
        builds a whole new one and swaps it in: jqgate.gateway.swap)."""
        if self.handler_factory is not None:
            return with_read_ahead(self.handler_factory(gateway, self.pool), self.proxy_options)
        return gateway.make_handler(self.pool, **(self.proxy_options or {}))

    def reload(self, config: GatewayConfig | Gateway) -> None:
        """Switch to a new configuration: new requests route with it at once; requests in
        flight finish with the decision they started with. A custom handler takes part by
        having a `gateway` attribute (the default ProxyHandler has one)."""
        gateway = config if isinstance(config, Gateway) else Gateway(config)
        self.health.attach(gateway)
        self.gateway = gateway
        if hasattr(self.handler, "gateway"):
            self.handler.gateway = gateway

    async def close(self, drain_timeout: float = 10.0):
        """Stop accepting, let in-flight requests finish (bounded), close the pool."""
        self.health.close()
        for server in self.servers:
            server.close()
        self.settings.drain()
        deadline = time.monotonic() + drain_timeout
        while self.settings.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            self.settings.drain()
        for proto in list(self.settings.connections):
            if proto.transport is not None:
                proto.transport.abort()
        self.pool.close()
        if self.access_log is not None:
            self.access_log.close()       # after the last answer: its line is written too


async def start(config: GatewayConfig | Gateway, host: str = "127.0.0.1", port: int = 8000, *,
                sock: socket.socket | None = None, handler_factory=None, access_log_json=False,
                server_options: dict | None = None, pool_options: dict | None = None,
                proxy_options: dict | None = None, ssl_context=None,
                listeners=None, tls=None, ssl_handshake_timeout: float | None = None,
                metrics=None, access_log=None, log_format: str | None = None,
                access_log_buffer_size: int | None = None,
                access_log_flush_interval: float | None = None) -> RunningGateway:
    """Start the proxy on the running loop (see the module docstring).

    `access_log`: None / "off" (the default here: an embedding application decides), "stdout",
    "stderr", a file path or an AccessLog; `log_format` "plain" or "json" (access_log_json=True
    is the older spelling of "json"); lines are buffered (access_log_buffer_size bytes, 64 KiB)
    and written at most access_log_flush_interval seconds (1.0) after they were logged, and
    when the gateway closes.

    `listeners` (jqgate.listen.Listener, e.g. from parse_listeners("0.0.0.0:8000, 0.0.0.0:8443
    ssl http2"); each bound here unless it carries a `sock`) replaces host/port/sock: one
    server per listener, all serving the same gateway. Those that say `ssl` use `tls` (a
    jqgate.tls.ServerTLS: the default certificate, and the configuration's certificates by
    SNI) and give a handshake at most `ssl_handshake_timeout` seconds (default
    jqgate.tls.DEFAULT_HANDSHAKE_TIMEOUT, 60). `ssl_context` alone is the older form: the one
    listener speaks TLS with that context."""
    from jqgate._core import core
    from jqgate import tls as tls_module
    if ssl_handshake_timeout is None:
        ssl_handshake_timeout = tls_module.DEFAULT_HANDSHAKE_TIMEOUT
    loop = asyncio.get_running_loop()
    log_format = log_format or ("json" if access_log_json else "plain")
    access = open_access_log(access_log, log_format, access_log_buffer_size,
                             access_log_flush_interval)
    gateway = config if isinstance(config, Gateway) else Gateway(config)
    pool = core.ConnectionPool(loop, **(pool_options or {}))
    if handler_factory is not None:
        handler = with_read_ahead(handler_factory(gateway, pool), proxy_options)
    else:
        # proxy_options: via, upstream_latency_header, proxy_latency_header (None = off),
        # response_buffer_size
        handler = gateway.make_handler(pool, **(proxy_options or {}))
    opts = dict(server_header=DEFAULT_SERVER,
                access_log=make_request_observer(metrics=metrics, access_log=access),
                scheme="https" if ssl_context is not None else "http")
    opts.update(server_options or {})
    settings = core.ServerSettings(handler, **opts)
    if listeners is None:
        if sock is None:
            sock = bind_socket(host, port, reuse_port=False)
        bound_listeners = [(sock, ssl_context, settings.http2 is not None)]
        if settings.http2 is not None and ssl_context is not None:
            # HTTP/2 on TLS is chosen in the handshake (ALPN); clients without it get HTTP/1.1.
            ssl_context.set_alpn_protocols(core.ALPN_PROTOCOLS)
    else:
        if any(listener.ssl for listener in listeners) and tls is None:
            raise ValueError("a listener says ssl: start() needs tls=jqgate.tls.ServerTLS(...)")
        # --http2 alone: every listener; a listen list that names http2 listeners: those.
        everywhere = settings.http2 is not None and not any(l.http2 for l in listeners)
        bound_listeners = [(getattr(listener, "sock", None)
                            or bind_socket(listener.host, listener.port, reuse_port=False),
                            tls if listener.ssl else None,
                            settings.http2 is not None and (listener.http2 or everywhere),
                            listener.http2 or everywhere)        # ALPN offers h2
                           for listener in listeners]
    servers = []
    for listen_sock, context, http2, *offer_h2 in bound_listeners:
        app_factory = core.listener_protocol_factory(settings, loop, http2)
        if isinstance(context, tls_module.ServerTLS):
            # the listener's TLS engine (jqgate.tls): the core's, or uvloop's SSL transport
            options = context.server_options(app_factory, offer_h2[0], loop,
                                             ssl_handshake_timeout)
        else:
            options = {"protocol_factory": app_factory, "ssl": context,
                       "ssl_handshake_timeout": ssl_handshake_timeout if context else None}
        servers.append(await loop.create_server(sock=listen_sock, backlog=4096, **options))
    ports = [listener[0].getsockname()[1] for listener in bound_listeners]
    if access is not None:
        access.start(loop)
    return RunningGateway(servers[0], settings, pool, ports[0], gateway, handler,
                          handler_factory, proxy_options, access, servers, ports, tls)


def _run_worker(config, listeners, handler_factory, drain_timeout, ready_fd,
                access, server_options, pool_options, proxy_options,
                admin=None, tls=None, ssl_handshake_timeout=None) -> int:
    """One worker: `listeners` (jqgate.listen.Listener, each with its bound `sock`)."""
    import uvloop
    from jqgate._core import core
    core.reseed_request_ids()

    async def main():
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        from jqgate.metrics import METRICS
        # Each worker opens the access log itself (O_APPEND): its own buffer, whole-line writes.
        running = await start(config, listeners=listeners, handler_factory=handler_factory,
                              server_options=server_options, pool_options=pool_options,
                              proxy_options=proxy_options, metrics=METRICS, tls=tls,
                              ssl_handshake_timeout=ssl_handshake_timeout, **access)
        attached = await _attach_admin(running, config, admin, stop)
        # Everything built so far lives as long as the process: keep the collector from
        # walking it again on every collection.
        gc.collect()
        gc.freeze()
        if ready_fd is None:
            log.info("jqgate ready: proxy listening on %s (pid %d)",
                     listener_urls(listeners, running.ports), os.getpid())
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


# -- Admin API, hot reload, SIGHUP (`control`: jqgate.admin.attach) -------------------------
# serve(admin_listen=..., config_file=...) decides where they live: with one worker, in the
# worker's loop; with several, in the parent, which reaches each worker over a socketpair.

async def _attach_admin(running, config, admin, stop):
    if admin is None or admin.get("control") is None:
        # Nothing to reload from: SIGHUP writes out and reopens the access log, as nginx's USR1.
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, running.reopen_logs)
        return None
    runtime = admin["control"]
    gateway_config = config.config if isinstance(config, Gateway) else config
    if admin.get("control_sock") is not None:
        # The parent reloads the configuration, then tells us; the SIGHUP it forwards to us
        # writes out and reopens our access log.
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, running.reopen_logs)
        await runtime.attach_worker(running, gateway_config, admin["control_sock"], stop.set)
        return None
    return await runtime.attach_single(running, gateway_config,
                                       admin_listen=admin.get("admin_listen"),
                                       proxy_listen=admin["proxy_listen"],
                                       config_file=admin.get("config_file"),
                                       admin_sock=admin.get("admin_sock"),
                                       security=admin.get("security"),
                                       status_listen=admin.get("status_listen"),
                                       status_sock=admin.get("status_sock"))


def set_jq_budgets(steps: int | None = None, memory_mib: int | None = None) -> None:
    """The process's default jq budgets (before workers fork, so they inherit them)."""
    from jqgate._core import core
    if isinstance(memory_mib, bool) or not (memory_mib is None or isinstance(memory_mib, int)):
        raise ValueError("jq memory budget must be a whole number of MiB, got %r" % (memory_mib,))
    core.set_jq_budgets(steps, None if memory_mib is None else memory_mib * 1024 * 1024)


def serve(config: GatewayConfig | Gateway, listen: str = "0.0.0.0:8000", workers: int = 1, *,
          handler_factory=None, drain_timeout: float = 10.0, access_log_json: bool = False,
          server_options: dict | None = None, pool_options: dict | None = None,
          proxy_options: dict | None = None, admin_listen: str | None = None,
          config_file: str | None = None, admin_token: str | None = None,
          admin_ssl_cert: str | None = None, admin_ssl_key: str | None = None,
          jq_step_budget: int | None = None, jq_memory_budget_mib: int | None = None,
          tls_certificate_verify: bool = False,
          access_log: str | None = "stdout", log_format: str | None = None,
          access_log_buffer_size: int = 65536, access_log_flush_interval: float = 1.0,
          supervisor_options: dict | None = None, status_listen: str | None = None,
          ssl_cert: str | None = None, ssl_cert_key: str | None = None,
          ssl_handshake_timeout: float | None = None, control=None) -> int:
    """Run the proxy until SIGTERM/SIGINT; returns the exit status (see the module docstring).

    `control`: what attaches the Admin API, the status listener, SIGHUP reload and the
    supervising parent of several workers (jqgate.admin.attach: its attach_single,
    attach_worker, run_parent and admin_ssl_context). jqgate.admin.attach.serve and
    jqgate.serve pass it; without it, `admin_listen`, `status_listen`, `config_file` and
    `workers` > 1 raise ValueError (one plain process serves; SIGHUP reopens the access log).

    `jq_step_budget` (libjq instructions per jq run, default 2,000,000: about 0.1-0.3 s of one
    core) and `jq_memory_budget_mib` (MiB a run may hold, default 64) bound every jq program
    whose plugin sets no `config.jq_budget` of its own (compiler/jq_bounds.py); a run over
    budget fails its node (500) and nothing else. None keeps the default.

    `tls_certificate_verify` (Kong's kong.conf setting, default False): when True, a DataKit
    `call` to an https URL with `ssl_verify: false` is blocked at run time (the node fails).

    The access log: `access_log` "stdout" (default), "stderr", a file path (appended to, by
    every worker, whole lines only) or "off"/None; `log_format` "plain" (default) or "json"
    (access_log_json=True is the older spelling); each worker buffers up to
    `access_log_buffer_size` bytes of lines (64 KiB; 0 = write every line at once, like nginx
    without `buffer=`) and writes them out when the buffer is
    full, `access_log_flush_interval` seconds (1.0) after they were logged, on SIGHUP (which
    also reopens the file, for log rotation) and when it stops.

    `admin_listen` ("HOST:PORT", None = no Admin API) serves the Admin API; `status_listen`
    the status listener (/status, /status/ready, /metrics: jqgate.admin.status_listener).
    `listen` is Kong's proxy_listen: "0.0.0.0:8000, 0.0.0.0:8443 ssl http2" (docs/tls.md);
    the `ssl` listeners serve `ssl_cert` + `ssl_cert_key` (PEM files; without them a
    self-signed default made at start-up) and the configuration's certificates by SNI, and
    give a client `ssl_handshake_timeout` seconds (default 60) to finish its handshake. A
    listener that cannot bind, or a TLS file that cannot be loaded, raises StartupError naming
    it before any worker starts. `config_file` is
    what SIGHUP reloads: a path (any form config.load_any reads) or a callable returning a
    GatewayConfig. Hot reload and SIGHUP work with or without the Admin API, with any number of
    workers (jqgate.admin.attach).

    Admin API security (jqgate.admin.guard): `admin_token` (default None: no token) is then
    required on every Admin request as `Authorization: Bearer` or `Kong-Admin-Token`;
    `admin_ssl_cert` / `admin_ssl_key` (PEM files, default None: plain HTTP) serve it over TLS.
    Listening beyond loopback without both logs a warning at startup.

    Limits and timeouts, each with its documented default where it is defined:
    `server_options` -> core.ServerSettings (header/body/keep-alive/send timeouts, body
    buffering, size limits), `pool_options` -> core.ConnectionPool (max_per_host, queue_limit,
    queue_timeout, keepalive_pool_size, keepalive_max_requests, idle_timeout,
    max_call_response_bytes, max_service_response_bytes); `http2` in server_options: HTTP/2
    too, h2c prior knowledge or ALPN h2, with its limits (core.Http2Limits),
    `supervisor_options` -> jqgate.admin.supervisor.Supervisor (heartbeat_interval,
    heartbeat_timeout; with several workers)."""
    if control is None:
        wanted = [name for name, value in (("admin_listen", admin_listen),
                                           ("status_listen", status_listen),
                                           ("config_file", config_file)) if value]
        if workers > 1:
            wanted.append("workers > 1")
        if wanted:
            raise ValueError("%s need the Admin API attachment: serve with "
                             "jqgate.admin.attach.serve or jqgate.serve" % ", ".join(wanted))
    set_jq_budgets(jq_step_budget, jq_memory_budget_mib)
    from jqgate.nodes.call.tls import set_tls_certificate_verify
    set_tls_certificate_verify(tls_certificate_verify)
    listeners = proxy_listeners(listen)
    host, port = listeners[0].host, listeners[0].port
    tls = server_tls(listeners, ssl_cert, ssl_cert_key)
    tls_options = {"tls": tls, "ssl_handshake_timeout": ssl_handshake_timeout}
    security = {"admin_token": admin_token, "admin_ssl_cert": admin_ssl_cert,
                "admin_ssl_key": admin_ssl_key}
    check_access_log(access_log)
    access = {"access_log": access_log,
              "log_format": log_format or ("json" if access_log_json else "plain"),
              "access_log_buffer_size": access_log_buffer_size,
              "access_log_flush_interval": access_log_flush_interval}
    admin = {"admin_listen": admin_listen, "config_file": config_file,
             "proxy_listen": "%s:%d" % (host, port), "admin_sock": None, "security": security,
             "status_listen": status_listen, "status_sock": None, "control": control}
    if admin_listen:
        control.admin_ssl_context(admin_ssl_cert, admin_ssl_key)     # unusable files: fail before forking
        # The other listeners are bound first: a busy port fails before any worker starts.
        admin["admin_sock"] = bind_listener("Admin API", admin_listen, reuse_port=False)
    if status_listen:
        admin["status_sock"] = bind_listener("status", status_listen, reuse_port=False)
    if workers <= 1:
        for listener in listeners:
            listener.sock = bind_listener("proxy", listener.address, reuse_port=False)
        port = listeners[0].sock.getsockname()[1]
        admin["proxy_listen"] = "%s:%d" % (host, port)
        return _run_worker(config, listeners, handler_factory, drain_timeout, None,
                           access, server_options, pool_options, proxy_options, admin,
                           **tls_options)
    # Bind once in the parent first, so a busy port fails loudly before any fork, and so
    # port 0 resolves to one port all workers share.
    probes = [bind_listener("proxy", listener.address, reuse_port=True, listen_now=False)
              for listener in listeners]
    for listener, probe in zip(listeners, probes):
        listener.port = probe.getsockname()[1]
    port = listeners[0].port
    # One health state for all workers (and the parent's probes): mapped before they fork.
    from jqgate import shared_health
    shared_health.enable()
    children = []
    control_socks = []
    admin["proxy_listen"] = "%s:%d" % (host, port)
    ready_r, ready_w = os.pipe()

    def spawn(doc=None, ready_fd=None):
        """Fork one worker: (pid, the parent's end of its channel). It runs `config`, or the
        configuration document `doc` (the Admin API's current one, compiled by the worker
        before it listens). The supervisor calls it for a replacement, from the parent's loop."""
        parent_end, child_end = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _forget_parent_loop()
                _close_parent_sockets(keep=child_end.fileno())
                if ready_fd is not None:
                    os.close(ready_r)
                worker_config = config if doc is None else _compile_document(doc)
                for listener in listeners:
                    listener.sock = bind_socket(listener.host, listener.port, reuse_port=True)
                code = _run_worker(worker_config, listeners, handler_factory,
                                   drain_timeout, ready_fd, access, server_options,
                                   pool_options, proxy_options,
                                   {"control_sock": child_end, "control": control},
                                   **tls_options)
            except BaseException:
                logging.getLogger("jqgate").exception("worker failed")
            finally:
                os._exit(code)
        child_end.close()
        return pid, parent_end

    for _ in range(workers):
        pid, parent_end = spawn(None, ready_w)
        children.append(pid)
        control_socks.append(parent_end)
    os.close(ready_w)
    for probe in probes:
        probe.close()   # workers hold their own sockets; the parent accepts nothing
    got = 0
    while got < workers:
        b = os.read(ready_r, workers - got)
        if not b:
            break
        got += len(b)
    os.close(ready_r)
    # The parent logs the ready line once its Admin API listens too.
    ready = ("jqgate ready: proxy listening on %s (%d workers)"
             % (listener_urls(listeners, [listener.port for listener in listeners]), workers)
             if got == workers else None)
    return control.run_parent(config.config if isinstance(config, Gateway) else config, children,
                              control_socks, admin_listen=admin_listen,
                              proxy_listen=admin["proxy_listen"], config_file=config_file,
                              ready_message=ready, admin_sock=admin["admin_sock"], security=security,
                              status_listen=status_listen, status_sock=admin["status_sock"],
                              spawn=spawn, supervisor_options=supervisor_options)


def _forget_parent_loop() -> None:
    """In a worker forked from the parent's running event loop (a replacement): the parent's
    loop is not ours to run or close -- a fresh one is made -- and its wakeup descriptor must not
    get our signals. (Python 3.12 does this itself at fork.)"""
    asyncio.events._set_running_loop(None)
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:
        pass


def _compile_document(doc: dict) -> Gateway:
    """A configuration document (as the Admin API keeps it) as a gateway with its plans."""
    from jqgate.gateway.plan_selection import gateway_for
    from jqgate.gateway.plans import compile_document
    return gateway_for(compile_document(doc, "<admin>"))


def _close_parent_sockets(keep: int) -> None:
    """In a new worker: close every socket inherited from the parent but its own control
    channel -- the other workers' channels (each worker learns its parent is gone by EOF on
    its own, which a copy held here would prevent), the Admin API's listener and connections,
    the probe. Files (logs) and the standard streams stay."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd <= 2 or fd == keep:
            continue
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
        except OSError:
            pass


def configure_logging(level: str = "info") -> None:
    """What `jqgate run` and `jqgate.serve()` log besides the access log (which the core writes
    itself: open_access_log): the `jqgate` loggers to stderr at `level`. Logging an application
    configured itself is left alone."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(stream=sys.stderr, level=getattr(logging, level.upper(), logging.INFO),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    else:
        logging.getLogger("jqgate").setLevel(getattr(logging, level.upper(), logging.INFO))
