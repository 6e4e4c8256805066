"""Run the gateway with its Admin API in its own process for tests:
python admin_gateway_proc.py CONFIG_FILE LISTEN ADMIN_LISTEN WORKERS [plain|json]

Exactly `jqgate run CONFIG --listen LISTEN --admin-listen ADMIN_LISTEN --workers N --log-format F`
(ADMIN_LISTEN "off" = --no-admin): the real command, DataKit flows included."""
import sys

from jqgate.cli import main as jqgate_main


def main():
    config_file, listen, admin_listen, workers = sys.argv[1:5]
    log_format = sys.argv[5] if len(sys.argv) > 5 else "plain"
    argv = ["run", config_file, "--listen", listen, "--workers", workers, "--log-format", log_format]
    argv += ["--no-admin"] if admin_listen == "off" else ["--admin-listen", admin_listen]
    sys.exit(jqgate_main(argv))


if __name__ == "__main__":
    main()
