"""The `jqgate` command line: run, build, check, plan, demo (interface.md).

Every flag also reads an environment variable `JQGATE_<FLAG>` (`JQGATE_LISTEN`, `JQGATE_WORKERS`…);
a flag given on the command line wins.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from jqgate.errors import ConfigError, Issues

log = logging.getLogger("jqgate")


def _env(name: str, default=None):
    return os.environ.get("JQGATE_" + name.upper().replace("-", "_"), default)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-level", default=_env("log_level", "info"),
                   choices=["debug", "info", "warning", "error"],
                   help="logging level; at debug, unexpected errors show their traceback")
    p.add_argument("--skip-unknown-plugins", action="store_true",
                   default=_env("skip_unknown_plugins", "") not in ("", "0", "false"),
                   help="drop plugins other than datakit with a warning instead of refusing the config (D32)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jqgate", description="Kong DataKit flows on a compiled core")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="serve a configuration")
    run.add_argument("config", nargs="?", default=_env("config"), help="Kong declarative file (YAML or JSON)")
    run.add_argument("--listen", default=_env("listen", "0.0.0.0:8000"), help="proxy listen address")
    run.add_argument("--admin-listen", default=_env("admin_listen"), help="Admin API listen address")
    run.add_argument("--no-admin", action="store_true", default=_env("no_admin", "") not in ("", "0", "false"))
    run.add_argument("--admin-token", default=_env("admin_token"),
                     help="require this token on every Admin API request (Authorization: Bearer "
                          "or Kong-Admin-Token); default: none")
    run.add_argument("--admin-ssl-cert", default=_env("admin_ssl_cert"),
                     help="serve the Admin API over TLS with this PEM certificate (chain)")
    run.add_argument("--admin-ssl-key", default=_env("admin_ssl_key"),
                     help="the PEM private key of --admin-ssl-cert")
    run.add_argument("--access-log", default=_env("access_log", "stdout"), metavar="PATH|stdout|stderr|off",
                     help="where the access log goes (default stdout): lines are buffered (64 KiB) and "
                          "written at least every second, on SIGHUP (which reopens the file) and at exit")
    run.add_argument("--log-format", default=_env("log_format", "plain"), choices=["plain", "json"],
                     help="access log lines: plain text or one JSON object per request")
    run.add_argument("--workers", default=_env("workers", "1"), help="worker processes, or 'auto'")
    run.add_argument("--upstream", default=_env("upstream"), help="quick start: the one service's URL")
    run.add_argument("--plugin", action="append", default=[p for p in [_env("plugin")] if p],
                     help="quick start: a DataKit plugin file (any Kong form); repeatable")
    run.add_argument("--plan-modules", default=_env("plan_modules"), metavar="DIR",
                     help="run the DataKit plans `jqgate build` compiled into DIR (a plan with no "
                          "module there runs on the generic executor, with one log line)")
    run.add_argument("--build-plan-modules", action="store_true",
                     default=_env("build_plan_modules", "") not in ("", "0", "false"),
                     help="with --plan-modules: first build into DIR the modules it lacks (needs a C "
                          "compiler and Cython; without them: one log line, generic executor)")
    _add_common(run)

    build = sub.add_parser("build", help="compile each DataKit plan into an importable extension module")
    build.add_argument("config")
    build.add_argument("-o", "--output", required=True, metavar="DIR", help="where the modules go")
    _add_common(build)

    check = sub.add_parser("check", help="validate and compile; exit 0 when valid, 1 when not")
    check.add_argument("config")
    _add_common(check)

    plan = sub.add_parser("plan", help="print the compiled execution plan(s)")
    plan.add_argument("config")
    plan.add_argument("--format", default="text", choices=["text", "json", "dot"])
    _add_common(plan)

    demo = sub.add_parser("demo", help="the seed flow in front of built-in loopback services")
    demo.add_argument("--listen", default=_env("listen", "127.0.0.1:0"))
    _add_common(demo)
    return parser


def _load_compiled(path: str, skip_unknown: bool):
    from jqgate.compiled import compile_gateway
    from jqgate.config import load_any as load_file

    config = load_file(path, skip_unknown_plugins=skip_unknown)
    issues = Issues()
    compiled = compile_gateway(config, issues)
    issues.raise_if_any()
    return compiled


def cmd_check(args) -> int:
    from jqgate.compiler.jq_bounds import check_warnings

    compiled = _load_compiled(args.config, args.skip_unknown_plugins)
    for warning in check_warnings(compiled):     # advice only: the config stays valid
        print(warning, file=sys.stderr)
    print(f"{args.config}: valid ({len(compiled.plans)} DataKit plan(s), "
          f"{len(compiled.config.services)} service(s), {len(compiled.config.routes)} route(s))")
    return 0


def cmd_plan(args) -> int:
    from jqgate.plan_dump import FORMATS

    compiled = _load_compiled(args.config, args.skip_unknown_plugins)
    dump = FORMATS[args.format]
    for plugin, plan in compiled.plans:
        if args.format == "text":
            print(f"# {plugin.location or 'plugin'}")
        sys.stdout.write(dump(plan))
    return 0


def cmd_build(args) -> int:
    from jqgate.plan_module.build import build_plan_modules

    compiled = _load_compiled(args.config, args.skip_unknown_plugins)
    built = build_plan_modules(compiled, args.output)
    for name, path in built:
        print(f"{path}")
    print(f"{args.config}: {len(built)} plan module(s) in {args.output}", file=sys.stderr)
    return 0


def cmd_run(args) -> int:
    from jqgate.admin.cli_run import run_from_args
    from jqgate.runtime import handler_factory
    return run_from_args(args, handler_factory=handler_factory)


def cmd_demo(args) -> int:
    from jqgate.demo import run_demo
    return run_demo(args)


COMMANDS = {"build": cmd_build, "check": cmd_check, "plan": cmd_plan, "run": cmd_run, "demo": cmd_demo}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args) or 0
    except ConfigError as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # never a traceback unless asked for
        if args.log_level == "debug":
            raise
        print(f"jqgate: error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
