"""jqgate: Kong DataKit flows compiled to a static plan, run on a Cython core.

    plan = jqgate.compile(datakit_config)   # dict -> Plan; raises ConfigError (.errors)
    gw = jqgate.load("kong.yaml")           # declarative file -> compiled gateway configuration
    gw.run({"method": "GET", "path": "/x"})  # through the gateway's routing (jqgate.gateway.loaded)
    jqgate.serve("kong.yaml", listen="0.0.0.0:8000", workers=2)
    jqgate.asgi.DataKitMiddleware(app, flow)  # a DataKit flow in front of an ASGI app
"""
from jqgate.errors import ConfigError, ConfigIssue

__version__ = "0.1.0"


def compile(config, location: str = "config", instance: str = ""):
    """Compile one DataKit `config` object (the plugin's `config`) into a runnable plan:
    `plan.run({"method": ..., "path": ..., "headers": ..., "query": ..., "body": ...})`, or
    `await plan.run_async(...)`; the frozen Plan's fields read through it."""
    from jqgate.compiler import compile_datakit
    from jqgate.embed import runnable
    return runnable(compile_datakit(config, location, instance))


def load(path: str, skip_unknown_plugins: bool = False):
    """Load and compile a Kong declarative file; raises ConfigError with every located error.
    The answer (jqgate.gateway.loaded.LoadedGateway) runs requests through the gateway's routing:
    `.run(request)` / `await .run_async(request)`; `jqgate.serve()` serves it."""
    from jqgate.gateway.plans import compile_gateway
    from jqgate.config import load_file
    from jqgate.errors import Issues
    from jqgate.gateway.loaded import LoadedGateway

    config = load_file(path, skip_unknown_plugins=skip_unknown_plugins)
    issues = Issues()
    compiled = compile_gateway(config, issues)
    issues.raise_if_any()
    return LoadedGateway(compiled)


def serve(config, listen: str = "0.0.0.0:8000", workers: int = 1, *, log_level: str = "info",
          access_log: str = "stdout", **options) -> int:
    """Serve until SIGTERM/SIGINT: `config` is a declarative file path, a GatewayConfig or what
    `load()` returned. Logs as `jqgate run` does: the ready line and diagnostics to stderr
    (unless the application configured logging itself), access lines to `access_log` (stdout,
    stderr, a file path or "off"; log_format="json" for JSON lines).
    `plan_modules="DIR"` runs the plans `jqgate build` compiled into DIR in place of the
    generic executor's (each plan whose module is missing: generic, one log line); with
    `build_plan_modules=True` the missing ones are first built into DIR (docs/plan-modules.md).
    Options go to jqgate.gateway.serve.serve (admin_listen, status_listen, drain_timeout,
    server_options, pool_options, ssl_cert, ssl_cert_key, ...: docs/configuration.md)."""
    from jqgate.gateway.plans import CompiledGateway, compile_gateway
    from jqgate.config.model import GatewayConfig
    from jqgate.errors import Issues
    from jqgate.plan_module.loading import use_plan_modules
    from jqgate.gateway.plan_selection import gateway_for, handler_factory
    from jqgate.admin.attach import serve as serve_config
    from jqgate.gateway.serve import configure_logging

    plan_modules = options.pop("plan_modules", None)
    build_plan_modules = options.pop("build_plan_modules", False)
    if isinstance(config, str):
        compiled = load(config)
    elif isinstance(config, GatewayConfig):
        issues = Issues()
        compiled = compile_gateway(config, issues)
        issues.raise_if_any()
    elif isinstance(config, CompiledGateway):
        compiled = config
    else:
        raise TypeError("serve() takes a file path, a GatewayConfig or a compiled gateway")
    configure_logging(log_level)
    use_plan_modules(plan_modules, compiled, build_plan_modules)
    return serve_config(gateway_for(compiled), listen=listen, workers=workers,
                        handler_factory=handler_factory, access_log=access_log, **options)


__all__ = ["compile", "load", "serve", "ConfigError", "ConfigIssue", "__version__"]
