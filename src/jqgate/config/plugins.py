"""Kong `plugins` records (declarative entries and Admin API bodies) → `PluginInstance`.

Only `datakit` runs here. Another plugin is an error naming it (D32), unless the operator asked
to skip unknown plugins, which drops it with a warning. Consumer and consumer-group scoping is an
error (D31). The DataKit `config` itself is only checked to be an object here; its content is
validated by `jqgate.compiler.schema.validate_datakit_schema` at `PluginInstance.config_location`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from jqgate.config import checks
from jqgate.config.ids import stable_id
from jqgate.config.model import PluginInstance
from jqgate.errors import Issues, join

log = logging.getLogger("jqgate.config")

DATAKIT = "datakit"
PLUGIN_PROTOCOLS = ("grpc", "grpcs", "http", "https")
PLUGIN_FIELDS = ("name", "id", "config", "service", "route", "consumer", "consumer_group",
                 "instance_name", "enabled", "protocols", "tags", "ordering")
CONSUMER_SCOPE_MESSAGE = ("consumer scoping needs an authentication plugin, which this gateway "
                          "does not run")


@dataclass
class PluginRecord:
    plugin: PluginInstance
    service_ref: Any = None         # as written: "name", {name: ...} or {id: ...}; resolved later
    route_ref: Any = None


def unknown_plugin_message(name: str) -> str:
    return (f'plugin "{name}" is not supported: this gateway runs only "datakit" '
            f"(pass --skip-unknown-plugins to drop other plugins with a warning)")


def parse_plugin(record: Any, location: str, issues: Issues, *, skip_unknown: bool,
                 config_location: str | None = None, id_seed: str = "") -> PluginRecord | None:
    """One plugin record; None when invalid or skipped (a skipped plugin adds no issue).

    A record without `id` gets a stable one from `id_seed` (the source file for plugin
    documents, so two files do not collide) and its instance name or location.
    """
    if not checks.check_object(record, location, issues):
        return None
    name = record.get("name")
    if name is None:
        issues.add(location, "missing field `name`")
        return None
    if not checks.check_string(name, join(location, "name"), issues):
        return None
    if name != DATAKIT:
        if skip_unknown:
            log.warning("%s: skipping plugin %r (only datakit runs here)", location or "plugin", name)
            return None
        issues.add(join(location, "name"), unknown_plugin_message(name))           # D32
        return None
    before = len(issues)
    for key in record:
        if key not in PLUGIN_FIELDS:
            issues.add(join(location, str(key)), "unknown field")
    for key in ("consumer", "consumer_group"):                                       # D31
        if record.get(key) is not None:
            issues.add(join(location, key), CONSUMER_SCOPE_MESSAGE)
    if record.get("ordering") is not None:
        issues.add(join(location, "ordering"), "not supported: DataKit instances run in scope "
                                               "order (route, service, global)")
    config_location = config_location or join(location, "config")
    config = record.get("config")
    if config is None:
        issues.add(location, "missing field `config`")
    else:
        checks.check_object(config, config_location, issues)
    instance_name = record.get("instance_name")
    if instance_name is not None:
        checks.check_string(instance_name, join(location, "instance_name"), issues, max_len=255)
    plugin_id = record.get("id")
    if plugin_id is not None:
        checks.check_string(plugin_id, join(location, "id"), issues, max_len=255)
    plugin = PluginInstance(
        name=name, id=plugin_id if isinstance(plugin_id, str) else "",
        config=config if isinstance(config, dict) else {},
        instance_name=instance_name if isinstance(instance_name, str) else None,
        location=location, config_location=config_location)
    if record.get("enabled") is not None and checks.check_bool(
            record["enabled"], join(location, "enabled"), issues):
        plugin.enabled = record["enabled"]
    protocols = record.get("protocols")
    if protocols is not None and checks.check_list(protocols, join(location, "protocols"), issues,
                                                   min_items=1):
        for index, protocol in enumerate(protocols):
            checks.check_enum(protocol, join(location, f"protocols[{index}]"), issues, PLUGIN_PROTOCOLS)
        plugin.protocols = list(protocols)
    if record.get("tags") is not None:
        checks.check_string_list(record["tags"], join(location, "tags"), issues)
    for key in ("service", "route"):
        if record.get(key) is not None:
            check_reference(record[key], join(location, key), issues)
    if len(issues) != before:
        return None
    if not plugin.id:
        plugin.id = stable_id("plugin", f"{id_seed}#{instance_name or '@' + location}")
    return PluginRecord(plugin, record.get("service"), record.get("route"))


def check_reference(ref: Any, location: str, issues: Issues) -> bool:
    """Kong accepts `service: name-or-id`, `service: {name: ...}` or `service: {id: ...}`."""
    if isinstance(ref, str):
        return checks.check_string(ref, location, issues)
    if isinstance(ref, dict):
        keys = [key for key in ref if ref[key] is not None]
        if len(keys) != 1 or keys[0] not in ("name", "id"):
            issues.add(location, "a reference is a name or id string, {name: ...} or {id: ...}")
            return False
        return checks.check_string(ref[keys[0]], join(location, keys[0]), issues)
    issues.add(location, f"expected a name, id, {{name: ...}} or {{id: ...}}, got "
                         f"{checks.type_name(ref)}")
    return False


def reference_key(ref: Any) -> str:
    """The name-or-id text of a checked reference."""
    if isinstance(ref, dict):
        return ref.get("name") if ref.get("name") is not None else ref["id"]
    return ref
