"""`jqgate run`: load, compile, and serve a configuration (interface.md)."""
from __future__ import annotations

import os

from jqgate.compiled import compile_gateway
from jqgate.errors import ConfigError, ConfigIssue, Issues


def _workers(value: str) -> int:
    if str(value).strip().lower() == "auto":
        return os.cpu_count() or 1
    try:
        count = int(value)
    except ValueError:
        raise ConfigError([ConfigIssue("--workers", f'expected a number or "auto", got "{value}"')])
    if count < 1:
        raise ConfigError([ConfigIssue("--workers", "must be at least 1")])
    return count


def load_for_run(args):
    """The configuration `jqgate run` serves: a declarative file, or the quick-start flags."""
    from jqgate.config import load_file, quick_start

    if args.config and args.upstream:
        raise ConfigError([ConfigIssue("--upstream", "give a declarative CONFIG or --upstream, not both")])
    if args.config:
        if args.plugin:
            raise ConfigError([ConfigIssue("--plugin", "--plugin adds plugins in quick-start mode "
                                           "(with --upstream); put them in the declarative file instead")])
        config = load_file(args.config, skip_unknown_plugins=args.skip_unknown_plugins)
    elif args.upstream:
        config = quick_start(args.upstream, args.plugin, skip_unknown_plugins=args.skip_unknown_plugins)
    else:
        raise ConfigError([ConfigIssue("", "nothing to serve: give a declarative CONFIG file, "
                                       "or --upstream URL [--plugin FILE]...")])
    issues = Issues()
    compiled = compile_gateway(config, issues)
    issues.raise_if_any()
    return compiled


def run_from_args(args) -> int:
    from jqgate.runtime import handler_factory
    from jqgate.server_main import serve

    workers = _workers(args.workers)
    compiled = load_for_run(args)
    return serve(compiled.config, listen=args.listen, workers=workers,
                 handler_factory=handler_factory(compiled))
