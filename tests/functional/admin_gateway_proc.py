"""Run the gateway with its Admin API in its own process for tests:
python admin_gateway_proc.py CONFIG_FILE LISTEN ADMIN_LISTEN WORKERS [plain|json]

The same steps `jqgate run CONFIG --admin-listen ... --workers N --log-format F` takes: load and
compile the declarative file (exit 1 with every error when invalid), then serve() with the Admin
API and SIGHUP reloading CONFIG_FILE."""
import sys

from jqgate.compiled import compile_gateway
from jqgate.config import load_file
from jqgate.errors import ConfigError, Issues
from jqgate.server_main import configure_logging, serve


def main():
    config_file, listen, admin_listen, workers = sys.argv[1:5]
    log_format = sys.argv[5] if len(sys.argv) > 5 else "plain"
    configure_logging("info")
    try:
        config = load_file(config_file)
        issues = Issues()
        compile_gateway(config, issues)
        issues.raise_if_any()
    except ConfigError as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        sys.exit(1)
    sys.exit(serve(config, listen=listen, workers=int(workers), drain_timeout=10,
                   admin_listen=None if admin_listen == "off" else admin_listen,
                   config_file=config_file, access_log_json=log_format == "json"))


if __name__ == "__main__":
    main()
