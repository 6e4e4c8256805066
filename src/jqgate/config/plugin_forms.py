"""A plugin document (`--plugin FILE`, Admin API body) in any form the Kong docs show → plugins.

Forms, detected from the document's keys:
- Kubernetes manifest: `apiVersion` + `kind: KongPlugin | KongClusterPlugin`, `plugin: datakit`,
  `config:`; a multi-document YAML file may hold several manifests.
- Declarative file: `_format_version` or a `plugins:` list (with `services`/`routes` it is loaded
  in full and its plugins keep their scope).
- Admin API `POST /plugins` body: `name` + `config`, optional `service`/`route` references,
  `instance_name`, `enabled`, `protocols`, `id`; `consumer`/`consumer_group` are D31's error.
- Bare DataKit config: `nodes` (with `debug`, `resources`).

Scope references (`service:`/`route:`) in a plugin-only document are checked for shape but not
resolved: such documents feed quick start, whose single service and catch-all route make any
scope equal to global. Locations: `config` (bare, Admin body, manifest), `plugins[i].config`
(declarative); `documents[i].` is prepended when a file holds several YAML documents.
"""
from __future__ import annotations

from typing import Any

from jqgate.config import checks
from jqgate.config.declarative import load_declarative
from jqgate.config.ids import stable_id
from jqgate.config.model import PluginInstance
from jqgate.config.plugins import (DATAKIT, PLUGIN_PROTOCOLS, log, parse_plugin,
                                  unknown_plugin_message)
from jqgate.errors import ConfigError, Issues, join

MANIFEST_API_VERSION = "configuration.konghq.com/v1"
MANIFEST_KINDS = ("KongPlugin", "KongClusterPlugin")
MANIFEST_FIELDS = ("apiVersion", "kind", "metadata", "plugin", "config", "configFrom",
                   "configPatches", "disabled", "protocols", "ordering", "instance_name")
DECLARATIVE_ENTITIES = ("services", "routes", "upstreams", "targets", "consumers", "consumer_groups")
BARE_CONFIG_KEYS = ("nodes", "debug", "resources", "ca_certificates")
FORMS_HINT = ("expected a DataKit plugin document: an Admin API body ({name: datakit, config: "
              "{...}}), a declarative file with `plugins:`, a KongPlugin/KongClusterPlugin "
              "manifest, or a bare DataKit config ({nodes: [...]})")


def detect_form(doc: Any) -> str | None:
    """"manifest", "declarative", "admin", "bare", or None."""
    if not isinstance(doc, dict):
        return None
    if "apiVersion" in doc or "kind" in doc:
        return "manifest"
    if "_format_version" in doc or "plugins" in doc or any(k in doc for k in DECLARATIVE_ENTITIES):
        return "declarative"
    if "nodes" in doc:
        return "bare"
    if "name" in doc or "config" in doc:
        return "admin"
    return None


def load_plugin_document(doc: Any, source: str, skip_unknown_plugins: bool = False,
                         prefix: str = "") -> list[PluginInstance]:
    """Plugins of one document; raises `ConfigError` (locations prefixed by `prefix`)."""
    issues = Issues()
    form = detect_form(doc)
    plugins: list[PluginInstance] = []
    if form is None:
        issues.add(prefix.rstrip("."), FORMS_HINT if isinstance(doc, dict) else
                   f"{FORMS_HINT}; got {checks.type_name(doc)}")
    elif form == "declarative" and (any(doc.get(k) for k in DECLARATIVE_ENTITIES)):
        plugins = load_declarative_plugins(doc, source, skip_unknown_plugins, prefix)
    elif form == "declarative":
        plugins = load_plugin_list(doc, source, prefix, issues, skip_unknown_plugins)
    elif form == "manifest":
        plugins = load_manifest(doc, prefix, issues, skip_unknown_plugins)
    elif form == "admin":
        parsed = parse_plugin(doc, prefix.rstrip("."), issues, skip_unknown=skip_unknown_plugins,
                              config_location=prefix + "config", id_seed=source)
        plugins = [parsed.plugin] if parsed is not None else []
    else:
        checks.check_known_keys(doc, prefix.rstrip("."), issues, BARE_CONFIG_KEYS)
        plugins = [PluginInstance(name=DATAKIT, id=stable_id("plugin", f"{source}#{prefix}config"),
                                  config=doc, location=prefix.rstrip("."),
                                  config_location=prefix + "config")]
    issues.raise_if_any()
    for plugin in plugins:
        plugin.source = source
    return plugins


def load_plugin_documents(docs: list[Any], source: str,
                          skip_unknown_plugins: bool = False) -> list[PluginInstance]:
    """Every document of a file; several documents are allowed only as manifests."""
    if len(docs) == 1:
        return load_plugin_document(docs[0], source, skip_unknown_plugins)
    issues = Issues()
    plugins: list[PluginInstance] = []
    for index, doc in enumerate(docs):
        prefix = f"documents[{index}]."
        if detect_form(doc) != "manifest":
            issues.add(prefix.rstrip("."), "a file with several YAML documents may only hold "
                                           "KongPlugin/KongClusterPlugin manifests")
            continue
        try:
            plugins += load_plugin_document(doc, source, skip_unknown_plugins, prefix)
        except ConfigError as exc:
            issues.items.extend(exc.errors)
    issues.raise_if_any()
    return plugins


def load_declarative_plugins(doc: dict, source: str, skip_unknown: bool,
                             prefix: str) -> list[PluginInstance]:
    try:
        return load_declarative(doc, source, skip_unknown).plugins
    except ConfigError as exc:
        if not prefix:
            raise
        raise ConfigError([type(e)(join(prefix.rstrip("."), e.location) if e.location else
                                   prefix.rstrip("."), e.message) for e in exc.errors]) from None


def load_plugin_list(doc: dict, source: str, prefix: str, issues: Issues,
                     skip_unknown: bool) -> list[PluginInstance]:
    for key in doc:
        if key not in ("_format_version", "plugins", "_transform", "_workspace", "_info", "_comment"):
            issues.add(prefix + str(key), "unknown top-level key in a plugin document")
    version = doc.get("_format_version")
    if version is not None and str(version) != "3.0":
        issues.add(prefix + "_format_version", f'unsupported format version "{version}": this '
                                               f'gateway reads Kong 3.x files ("3.0")')
    records = doc.get("plugins")
    if not isinstance(records, list) or not records:
        issues.add(prefix + "plugins", "expected a non-empty array of plugins")
        return []
    plugins = []
    for index, record in enumerate(records):
        parsed = parse_plugin(record, f"{prefix}plugins[{index}]", issues, skip_unknown=skip_unknown,
                              id_seed=source)
        if parsed is not None:
            plugins.append(parsed.plugin)
    return plugins


def load_manifest(doc: dict, prefix: str, issues: Issues, skip_unknown: bool) -> list[PluginInstance]:
    location = prefix.rstrip(".")
    before = len(issues)
    checks.check_known_keys(doc, location, issues, MANIFEST_FIELDS)
    if doc.get("apiVersion") != MANIFEST_API_VERSION:
        issues.add(prefix + "apiVersion", f'expected "{MANIFEST_API_VERSION}"')
    if doc.get("kind") not in MANIFEST_KINDS:
        issues.add(prefix + "kind", f"expected one of: {', '.join(MANIFEST_KINDS)}")
    metadata = doc.get("metadata")
    name = None
    if metadata is not None and checks.check_object(metadata, prefix + "metadata", issues):
        name = metadata.get("name")
        if name is not None:
            checks.check_string(name, prefix + "metadata.name", issues)
    plugin_name = doc.get("plugin")
    if plugin_name is None:
        issues.add(location, "missing field `plugin`")
        return []
    if not checks.check_string(plugin_name, prefix + "plugin", issues):
        return []
    if plugin_name != DATAKIT:
        if skip_unknown:
            log.warning("%s: skipping plugin %r (only datakit runs here)", location or "manifest",
                        plugin_name)
            return []
        issues.add(prefix + "plugin", unknown_plugin_message(plugin_name))
        return []
    for key in ("configFrom", "configPatches", "ordering"):
        if doc.get(key) is not None:
            issues.add(prefix + key, "not supported: give the DataKit config inline under `config:`")
    config = doc.get("config")
    if config is None:
        issues.add(location, "missing field `config`")
    else:
        checks.check_object(config, prefix + "config", issues)
    disabled = doc.get("disabled")
    if disabled is not None:
        checks.check_bool(disabled, prefix + "disabled", issues)
    protocols = doc.get("protocols")
    if protocols is not None and checks.check_list(protocols, prefix + "protocols", issues, min_items=1):
        for index, protocol in enumerate(protocols):
            checks.check_enum(protocol, f"{prefix}protocols[{index}]", issues, PLUGIN_PROTOCOLS)
    if len(issues) != before:
        return []
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    plugin = PluginInstance(
        name=DATAKIT, id=stable_id("plugin", f"{doc['kind']}/{namespace}/{name}#{prefix}"), config=config,
        instance_name=doc.get("instance_name") or name, enabled=not disabled,
        location=location, config_location=prefix + "config")
    if protocols:
        plugin.protocols = list(protocols)
    return [plugin]
