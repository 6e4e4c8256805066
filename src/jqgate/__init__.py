"""jqgate: Kong DataKit flows compiled to a static plan, run on a Cython core.

    plan = jqgate.compile(datakit_config)   # dict -> Plan; raises ConfigError (.errors)
    gw = jqgate.load("kong.yaml")           # declarative file -> compiled gateway configuration
"""
from jqgate.errors import ConfigError, ConfigIssue

__version__ = "0.1.0"


def compile(config, location: str = "config", instance: str = ""):
    """Compile one DataKit `config` object (the plugin's `config`) into an execution plan."""
    from jqgate.compiler import compile_datakit
    return compile_datakit(config, location, instance)


def load(path: str, skip_unknown_plugins: bool = False):
    """Load and compile a Kong declarative file; raises ConfigError with every located error."""
    from jqgate.compiled import compile_gateway
    from jqgate.config import load_file
    from jqgate.errors import Issues

    config = load_file(path, skip_unknown_plugins=skip_unknown_plugins)
    issues = Issues()
    compiled = compile_gateway(config, issues)
    issues.raise_if_any()
    return compiled


__all__ = ["compile", "load", "ConfigError", "ConfigIssue", "__version__"]
