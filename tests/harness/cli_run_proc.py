"""`jqgate run ARGS...` through cli.build_parser, the settings layer and
jqgate.admin.cli_run.run_from_settings (what cli.cmd_run calls), with the plain proxy handler,
in its own process."""
import sys

from jqgate.admin.cli_run import run_from_settings
from jqgate.cli import build_parser, resolve_run_settings
from jqgate.errors import ConfigError
from jqgate.gateway.serve import configure_logging

args = build_parser().parse_args(["run", *sys.argv[1:]])
configure_logging("info")
try:
    sys.exit(run_from_settings(resolve_run_settings(args), args.upstream, args.plugin))
except ConfigError as exc:
    for error in exc.errors:
        print(error, file=sys.stderr)
    sys.exit(1)
