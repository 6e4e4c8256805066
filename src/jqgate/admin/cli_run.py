"""`jqgate run` as far as the Admin API is concerned: load + compile CONFIG (or quick start),
then serve() with the Admin API (default 127.0.0.1:8001 unless --no-admin), SIGHUP re-reading
the same source, and --access-log / --log-format. cli.cmd_run can call this directly, passing the DataKit
executor's handler_factory; it receives `Gateway(config, compiled)` (plans in
`gateway.compiled.plans`) at start and after every reload."""
from __future__ import annotations

import os

from jqgate.compiled import compile_gateway
from jqgate.config import load_any, quick_start
from jqgate.errors import ConfigError, ConfigIssue, Issues
from jqgate.gateway import Gateway
from jqgate.plan_module.loading import use_plan_modules
from jqgate.server_main import serve

DEFAULT_ADMIN_LISTEN = "127.0.0.1:8001"


def _workers(value) -> int:
    if str(value).strip().lower() == "auto":
        return os.cpu_count() or 1
    try:
        count = int(value)
    except ValueError:
        raise ConfigError([ConfigIssue("--workers", f'expected a number or "auto", got "{value}"')])
    if count < 1:
        raise ConfigError([ConfigIssue("--workers", "must be at least 1")])
    return count


def run_from_args(args, handler_factory=None) -> int:
    skip = args.skip_unknown_plugins
    if args.upstream:
        def load():                      # SIGHUP re-reads the --plugin files
            return quick_start(args.upstream, args.plugin, skip)
        reload_source = load
    elif args.config:
        def load():
            return load_any(args.config, skip_unknown_plugins=skip)
        reload_source = load
    else:
        raise ConfigError([ConfigIssue("", "nothing to serve: give a declarative CONFIG file, "
                                       "or --upstream URL [--plugin FILE]...")])
    if args.config and args.upstream:
        raise ConfigError([ConfigIssue("--upstream", "give a declarative CONFIG or --upstream, not both")])
    config = load()
    issues = Issues()
    compiled = compile_gateway(config, issues)
    issues.raise_if_any()                # ConfigError: cli.main prints every error, exits 1
    use_plan_modules(getattr(args, "plan_modules", None), compiled,
                     getattr(args, "build_plan_modules", False))
    workers = _workers(args.workers)
    admin_listen = None if args.no_admin else (args.admin_listen or DEFAULT_ADMIN_LISTEN)
    return serve(Gateway(config, compiled), listen=args.listen, workers=workers,
                 handler_factory=handler_factory, admin_listen=admin_listen,
                 config_file=reload_source, access_log=getattr(args, "access_log", "stdout"),
                 log_format=args.log_format,
                 admin_token=getattr(args, "admin_token", None),
                 admin_ssl_cert=getattr(args, "admin_ssl_cert", None),
                 admin_ssl_key=getattr(args, "admin_ssl_key", None))
