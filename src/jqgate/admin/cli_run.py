"""`jqgate run` as far as the Admin API is concerned: load + compile CONFIG (or quick start),
then serve() with the resolved settings (jqgate.settings: listeners, workers, limits, pool,
TLS), SIGHUP re-reading the same source. cli.cmd_run can call this directly, passing the DataKit
executor's handler_factory; it receives `Gateway(config, compiled)` (plans in
`gateway.compiled.plans`) at start and after every reload."""
from __future__ import annotations

from jqgate.gateway.plans import compile_gateway
from jqgate.config import load_any, quick_start
from jqgate.errors import ConfigError, ConfigIssue, Issues
from jqgate.gateway.routing import Gateway
from jqgate.plan_module.loading import use_plan_modules
from jqgate.admin.attach import serve

DEFAULT_ADMIN_LISTEN = "127.0.0.1:8001"      # jqgate.settings holds the defaults; kept for callers


def run_from_settings(settings, upstream=None, plugins=(), handler_factory=None) -> int:
    """`settings`: jqgate.settings.resolve()'s answer; `upstream`/`plugins`: the quick start."""
    skip = settings.skip_unknown_plugins
    config_path = settings.config
    if upstream:
        def load():                      # SIGHUP re-reads the --plugin files
            return quick_start(upstream, list(plugins), skip)
    elif config_path:
        def load():
            return load_any(config_path, skip_unknown_plugins=skip)
    else:
        raise ConfigError([ConfigIssue("", "nothing to serve: give a declarative CONFIG file "
                                       "(or JQGATE_CONFIG / KONG_DECLARATIVE_CONFIG / `config` "
                                       "in the settings file), or --upstream URL "
                                       "[--plugin FILE]...")])
    if config_path and upstream:
        raise ConfigError([ConfigIssue("--upstream", "give a declarative CONFIG or --upstream, not both")])
    config = load()
    issues = Issues()
    compiled = compile_gateway(config, issues)
    issues.raise_if_any()                # ConfigError: cli.main prints every error, exits 1
    use_plan_modules(settings.plan_modules, compiled, settings.build_plan_modules)
    options = settings.serve_options()
    return serve(Gateway(config, compiled), handler_factory=handler_factory, config_file=load,
                 **options)
