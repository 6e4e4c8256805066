"""`jqgate run ARGS...` through cli.build_parser and jqgate.admin.cli_run.run_from_args (what
cli.cmd_run is to call), in its own process."""
import sys

from jqgate.admin.cli_run import run_from_args
from jqgate.cli import build_parser
from jqgate.errors import ConfigError
from jqgate.server_main import configure_logging

args = build_parser().parse_args(["run", *sys.argv[1:]])
configure_logging("info")
try:
    sys.exit(run_from_args(args))
except ConfigError as exc:
    for error in exc.errors:
        print(error, file=sys.stderr)
    sys.exit(1)
