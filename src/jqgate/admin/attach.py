"""Where the Admin API, the status listener, hot reload and SIGHUP attach to a running gateway.

jqgate.gateway.serve.serve takes this module as its `control` and calls it back:

One process (`--workers 1`): the proxy, the Admin API and the SIGHUP handler share one event
loop; a change is compiled and swapped in place (LocalApplier -> PlanSwitch): attach_single.

Several workers: the parent process forks the workers, then runs its own event loop with the
Admin API and the SIGHUP handler (run_parent); it validates and compiles each change itself,
then sends the document to every worker over its control channel (jqgate.admin.control), and
each worker compiles and swaps (attach_worker). GET /status and GET /metrics ask every worker.

`serve(...)` here is jqgate.gateway.serve.serve with this module attached: what `jqgate run`
and jqgate.serve() call.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from jqgate.admin.control import WorkerLink, WorkersApplier, WorkerStats, live, serve_control
from jqgate.admin.entities import canonical_document, document_hash
from jqgate.admin.guard import AdminGuard, own_origins, warn_if_exposed
from jqgate.admin.reload import ApplyError, ConfigStore
from jqgate.admin.server import Admin, start_admin
from jqgate.admin.status import LocalStats
from jqgate.admin.supervisor import Supervisor
from jqgate.admin.status_listener import listen_status
from jqgate.gateway.serve import parse_listen
from jqgate.gateway.serve import serve as serve_gateway
from jqgate.gateway.swap import PlanSwitch
from jqgate.errors import ConfigError, ConfigIssue
from jqgate.metrics import Metrics

log = logging.getLogger("jqgate.admin")


def serve(config, listen: str = "0.0.0.0:8000", workers: int = 1, **options) -> int:
    """jqgate.gateway.serve.serve (every option of it) with the Admin API, the status
    listener, SIGHUP reload and the supervising parent of several workers attached."""
    return serve_gateway(config, listen, workers, control=sys.modules[__name__], **options)


def initial_hash(config) -> str:
    return document_hash(canonical_document(config))


class LocalApplier:
    def __init__(self, switch: PlanSwitch):
        self.switch = switch

    async def __call__(self, doc, config_hash, compiled):
        try:
            await self.switch.swap_off_loop(compiled, config_hash)
        except Exception as exc:
            log.exception("building the new handler failed")
            raise ApplyError(str(exc)) from exc


class AdminAttachment:
    """What was attached; close() stops the Admin API listener."""

    def __init__(self, store, admin_server=None, admin_settings=None, admin_port=None,
                 status=(None, None, None)):
        self.store = store
        self.admin_server = admin_server
        self.admin_settings = admin_settings
        self.admin_port = admin_port
        self.status_server, self.status_settings, self.status_port = status

    def close(self):
        # The status listener first: a draining gateway stops answering /status/ready at once.
        for server, settings in ((self.status_server, self.status_settings),
                                 (self.admin_server, self.admin_settings)):
            if server is not None:
                server.close()
                settings.drain()


def install_sighup(store: ConfigStore, also=None) -> None:
    """SIGHUP reloads the configuration file; `also()` runs first (the access log's flush and
    reopen: in this process, or forwarded to the workers)."""
    loop = asyncio.get_running_loop()

    def on_sighup():
        if also is not None:
            also()
        loop.create_task(reload())

    async def reload():
        try:
            new_hash = await store.reload_file("sighup")
            what = store.config_file if isinstance(store.config_file, str) else "the configuration"
            log.info("SIGHUP: reloaded %s (configuration %s)", what, new_hash)
        except (ConfigError, ApplyError) as exc:
            errors = getattr(exc, "errors", None) or [exc]
            for error in errors:
                log.error("SIGHUP: %s", error)
            log.error("SIGHUP: configuration refused; still running %s", store.hash)

    loop.add_signal_handler(signal.SIGHUP, on_sighup)


def admin_ssl_context(cert: str | None, key: str | None):
    """The Admin API's TLS context from a PEM certificate (chain) and key; None without them."""
    if not cert and not key:
        return None
    if not (cert and key):
        raise ConfigError([ConfigIssue("--admin-ssl-cert", "TLS for the Admin API needs both "
                                       "a certificate and a key")])
    import ssl
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError([ConfigIssue("--admin-ssl-cert", "cannot load the Admin API "
                                       "certificate %s / key %s: %s" % (cert, key, exc))]) from None
    return context


async def _listen_admin(admin: Admin, admin_listen: str | None, sock=None,
                        security: dict | None = None) -> tuple:
    """Serve the Admin API on `sock` (bound by serve() before anything started, so a busy
    port fails at once) or on a socket bound here. `security`: admin_token, admin_ssl_cert,
    admin_ssl_key (jqgate.admin.guard)."""
    if not admin_listen:
        return None, None, None
    security = security or {}
    host, port = parse_listen(admin_listen)
    ssl_context = admin_ssl_context(security.get("admin_ssl_cert"), security.get("admin_ssl_key"))
    token = security.get("admin_token")
    server, settings, bound = await start_admin(admin, host, port, sock=sock,
                                                ssl_context=ssl_context)
    admin.admin_listen = "%s:%d" % (host, bound)
    admin.guard = AdminGuard(token, own_origins(host, bound, ssl_context is not None))
    warn_if_exposed(host, token, ssl_context is not None)
    log.info("jqgate admin API listening on %s://%s:%d",
             "https" if ssl_context is not None else "http", host, bound)
    return server, settings, bound


async def attach_single(running, config, *, admin_listen: str | None, proxy_listen: str,
                        config_file, admin_sock=None, security: dict | None = None,
                        status_listen: str | None = None, status_sock=None) -> AdminAttachment:
    """One process: Admin API + SIGHUP on this loop, swapping this process's handler."""
    switch = PlanSwitch(running, initial_hash(config))
    store = ConfigStore(config, LocalApplier(switch), config_file)
    admin = Admin(store, LocalStats(switch, running.settings, running.pool), proxy_listen,
                  admin_listen or "off")
    install_sighup(store, also=running.reopen_logs)
    server, settings, port = await _listen_admin(admin, admin_listen, admin_sock, security)
    status = await listen_status(admin, status_listen, status_sock)
    return AdminAttachment(store, server, settings, port, status)


async def attach_worker(running, config, control_sock, on_parent_gone) -> asyncio.Task:
    """A worker of several: obey the admin process's channel."""
    switch = PlanSwitch(running, initial_hash(config))
    return asyncio.get_running_loop().create_task(
        serve_control(control_sock, switch, running.settings, running.pool, on_parent_gone))


def run_parent(config, children: list[int], control_socks: list, *, admin_listen: str | None,
               proxy_listen: str, config_file, ready_message: str | None,
               admin_sock=None, security: dict | None = None, spawn=None,
               supervisor_options: dict | None = None, status_listen: str | None = None,
               status_sock=None) -> int:
    """The parent of several workers: Admin API, status listener, SIGHUP, signal forwarding,
    supervision (spawn(config) -> (pid, control socket) starts a replacement:
    jqgate.admin.supervisor)."""
    import uvloop

    async def main():
        loop = asyncio.get_running_loop()
        links = [WorkerLink(pid, sock) for pid, sock in zip(children, control_socks)]
        admin_metrics = Metrics()
        store = ConfigStore(config, WorkersApplier(links), config_file, metrics=admin_metrics)
        stats = WorkerStats(links, admin_metrics)
        stats.supervisor = Supervisor(links, spawn or _no_spawn, store, admin_metrics,
                                      **(supervisor_options or {}))
        admin = Admin(store, stats, proxy_listen, admin_listen or "off")

        def forward_sighup():
            """Workers flush and reopen their access logs (the parent reloads the config)."""
            for link in live(links):
                try:
                    os.kill(link.pid, signal.SIGHUP)
                except ProcessLookupError:
                    pass
        install_sighup(store, also=forward_sighup)

        def stop(signum):
            admin.draining = True            # /status/ready answers 503 from now on
            stats.supervisor.stop(signum)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop, signal.SIGTERM)
        server, settings, _ = await _listen_admin(admin, admin_listen, admin_sock, security)
        status_server, _, _ = await listen_status(admin, status_listen, status_sock)
        if ready_message:
            logging.getLogger("jqgate").info("%s", ready_message)
        codes = await stats.supervisor.run()
        for listener in (server, status_server):
            if listener is not None:
                listener.close()
        return 0 if all(code == 0 for code in codes) else 1

    return uvloop.run(main())


def _no_spawn(doc):
    raise OSError("this parent cannot start workers")
