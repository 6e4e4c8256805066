"""The `jqgate` command line: run, build, check, plan, demo (interface.md).

`jqgate run` reads its settings through jqgate.settings: defaults < settings file
(`--settings FILE`) < environment (`JQGATE_<NAME>`, Kong's `KONG_<NAME>` where it means the
same) < flags. Its flags are generated from that table, so --help shows each one's default and
environment names. check, plan and demo read `JQGATE_LOG_LEVEL` and
`JQGATE_SKIP_UNKNOWN_PLUGINS` too.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from jqgate import __version__
from jqgate.errors import ConfigError, Issues, StartupError
from jqgate.settings import BY_NAME, SETTINGS, describe, parse_bool

log = logging.getLogger("jqgate")


def _env(name: str, default=None):
    return os.environ.get("JQGATE_" + name.upper().replace("-", "_"), default)


def _add_common(p: argparse.ArgumentParser) -> None:
    """--log-level and --skip-unknown-plugins for check, plan and demo."""
    p.add_argument("--log-level", default=_env("log_level", "info"),
                   choices=["debug", "info", "warning", "error"],
                   help=describe(BY_NAME["log_level"]))
    p.add_argument("--skip-unknown-plugins", action="store_true",
                   default=parse_bool(_env("skip_unknown_plugins", "") or False),
                   help=describe(BY_NAME["skip_unknown_plugins"]))


def _add_settings_flags(p: argparse.ArgumentParser) -> None:
    """One flag per setting (jqgate.settings.SETTINGS); default None = "not given", so the
    settings layer can tell a flag from a default."""
    for setting in SETTINGS:
        if not setting.flags:
            continue
        kwargs = {"dest": setting.name, "default": None, "help": describe(setting)}
        if setting.parse is parse_bool:
            kwargs["action"] = "store_const"
            kwargs["const"] = True
        else:
            kwargs["metavar"] = setting.metavar or setting.name.upper()
            choices = getattr(setting.parse, "choices", None)
            if choices:
                kwargs["metavar"] = "{%s}" % ",".join(choices)
        p.add_argument(*setting.flags, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jqgate", description="An edge gateway that runs Kong DataKit flows.",
        epilog="Settings reference: docs/configuration.md. `jqgate run --help` lists every "
               "setting with its default and environment variables.")
    parser.add_argument("--version", action="version", version="jqgate " + __version__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="serve a configuration",
        description="Serve a Kong declarative configuration. Each setting comes from, in "
                    "increasing precedence: its default, the settings file, the environment "
                    "(JQGATE_<NAME>, or Kong's KONG_<NAME> where shown), the flag.")
    run.add_argument("config", nargs="?", default=None, metavar="CONFIG",
                     help=describe(BY_NAME["config"]))
    run.add_argument("--settings", default=_env("settings"), metavar="FILE",
                     help="a YAML settings file (keys: the setting names in "
                          "docs/configuration.md; env JQGATE_SETTINGS)")
    _add_settings_flags(run)
    run.add_argument("--no-admin", action="store_const", const="off", dest="no_admin",
                     help="no Admin API (the same as --admin-listen off)")
    run.add_argument("--upstream", default=_env("upstream"),
                     help="quick start: the one service's URL (env JQGATE_UPSTREAM)")
    run.add_argument("--plugin", action="append", default=[p for p in [_env("plugin")] if p],
                     help="quick start: a DataKit plugin file (any Kong form); repeatable "
                          "(env JQGATE_PLUGIN, one file)")

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
    demo.add_argument("--listen", default=_env("listen", "127.0.0.1:0"),
                      help="the demo gateway's address (default: 127.0.0.1:0, any free port)")
    _add_common(demo)
    return parser


def _load_compiled(path: str, skip_unknown: bool):
    from jqgate.gateway.plans import compile_gateway
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


def resolve_run_settings(args):
    """The settings of `jqgate run`: flags given on the command line over the rest."""
    from jqgate.settings import resolve
    flags = {s.name: getattr(args, s.name, None) for s in SETTINGS}
    flags["config"] = args.config
    if args.no_admin:
        flags["admin_listen"] = "off"
    return resolve(flags, settings_file=args.settings)


def cmd_run(args) -> int:
    from jqgate.admin.cli_run import run_from_settings
    from jqgate.gateway.plan_selection import handler_factory
    from jqgate.gateway.serve import configure_logging
    settings = resolve_run_settings(args)
    configure_logging(settings.log_level)
    for warning in settings.warnings:
        log.warning("%s", warning)
    return run_from_settings(settings, args.upstream, args.plugin,
                             handler_factory=handler_factory)


def cmd_demo(args) -> int:
    from jqgate.demo import run_demo
    return run_demo(args)


COMMANDS = {"build": cmd_build, "check": cmd_check, "plan": cmd_plan, "run": cmd_run, "demo": cmd_demo}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "run":            # run configures logging from its settings
        logging.basicConfig(level=args.log_level.upper(),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args) or 0
    except ConfigError as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return 1
    except StartupError as exc:
        print(f"jqgate: cannot start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # never a traceback unless asked for
        if getattr(args, "log_level", None) == "debug" or logging.getLogger().isEnabledFor(
                logging.DEBUG):
            raise
        print(f"jqgate: error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
