"""Entry points from files: `load_file` (declarative), `load_any` (declarative or plugin form),
`quick_start` (`--upstream URL --plugin FILE...`).

`jqgate run/check/plan CONFIG` call `load_file`, which wants a Kong declarative file and names the
`--plugin` route when handed a plugin form instead. `load_any` also accepts a plugin form as
CONFIG (its plugins become global plugins, with no services): that is what `check` and `plan`
use, so `jqgate check admin-body.json` validates a plugin body on its own.
"""
from __future__ import annotations

from jqgate.config import checks
from jqgate.config.declarative import load_declarative
from jqgate.config.ids import stable_id
from jqgate.config.model import GatewayConfig, Route
from jqgate.config.plugin_forms import detect_form, load_plugin_documents
from jqgate.config.reading import fail, read_documents
from jqgate.config.services import parse_service
from jqgate.errors import ConfigError, Issues

QUICK_START_SERVICE = "quick-start"
QUICK_START_ROUTE = "catch-all"


def is_declarative(doc: object) -> bool:
    return detect_form(doc) == "declarative" and isinstance(doc, dict) and (
        "_format_version" in doc or any(k in doc for k in ("services", "routes", "upstreams")))


def load_file(path: str, skip_unknown_plugins: bool = False) -> GatewayConfig:
    """A Kong declarative file → `GatewayConfig`; raises `ConfigError`."""
    docs = read_documents(path)
    if len(docs) > 1:
        raise fail(path, "a declarative file holds one YAML document, found "
                         f"{len(docs)} (several documents are only allowed for KongPlugin manifests "
                         "given with --plugin)")
    doc = docs[0]
    if not isinstance(doc, dict):
        raise fail(path, f"a declarative configuration is a mapping, got {checks.type_name(doc)}")
    if not is_declarative(doc):
        form = {"manifest": "a KongPlugin manifest", "admin": "an Admin API plugin body",
                "bare": "a bare DataKit config"}.get(detect_form(doc) or "")
        if form:
            raise fail(path, f"this is {form}, not a Kong declarative file (_format_version: "
                             f'"3.0"); run it with `jqgate run --upstream URL --plugin {path}`')
    return load_declarative(doc, path, skip_unknown_plugins)


def load_any(path: str, skip_unknown_plugins: bool = False) -> GatewayConfig:
    """A declarative file, or any plugin form (its plugins global, no services)."""
    docs = read_documents(path)
    if len(docs) == 1 and is_declarative(docs[0]):
        return load_declarative(docs[0], path, skip_unknown_plugins)
    plugins = load_plugin_documents(docs, path, skip_unknown_plugins)
    for plugin in plugins:
        plugin.service_id = plugin.route_id = None
    return GatewayConfig(plugins=plugins, source=path)


def quick_start(upstream_url: str, plugin_files: list[str],
                skip_unknown_plugins: bool = False) -> GatewayConfig:
    """One service from `upstream_url`, one catch-all route, each file's plugins global."""
    issues = Issues()
    service = parse_service({"name": QUICK_START_SERVICE, "url": upstream_url}, "--upstream", issues)
    for issue in issues.items:                   # report against the flag, not a fake record
        issues.items[issues.items.index(issue)] = type(issue)("--upstream", issue.message)
    config = GatewayConfig(source="<quick start>")
    if service is not None:
        config.services.append(service)
        config.routes.append(Route(name=QUICK_START_ROUTE, id=stable_id("route", QUICK_START_ROUTE),
                                   service_id=service.id, paths=["/"], location="--upstream",
                                   raw={"name": QUICK_START_ROUTE, "paths": ["/"]}))
    for path in plugin_files:
        try:
            plugins = load_plugin_documents(read_documents(path), path, skip_unknown_plugins)
        except ConfigError as exc:
            # Several files: name the file in every location.
            issues.items.extend(type(e)(f"{path}: {e.location}" if e.location and e.location != path
                                        else path, e.message) for e in exc.errors)
            continue
        for plugin in plugins:
            plugin.service_id = plugin.route_id = None
            config.plugins.append(plugin)
    first_source: dict[str, str] = {}
    for plugin in config.plugins:
        if plugin.id in first_source:
            issues.add(plugin.source, f'duplicate plugin id "{plugin.id}" (also in '
                                      f"{first_source[plugin.id]})")
        first_source.setdefault(plugin.id, plugin.source)
    issues.raise_if_any()
    return config
