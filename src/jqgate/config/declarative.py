"""Kong declarative configuration (`_format_version: "3.0"`) → `GatewayConfig`.

Entities may be written at the top level (with references by name or id) or nested (routes and
plugins under a service, plugins under a route, targets under an upstream). Every problem is
collected with its location and raised once as `ConfigError`.

Top-level keys, decided one by one:
- `_format_version` must be "3.0" (Kong 3.x's format; "1.1"/"2.1" files are Kong 1.x/2.x and
  differ, e.g. in regex path syntax). `_transform`, `_workspace`, `_info`, `_konnect`,
  `_comment` are metadata and ignored.
- `services`, `routes`, `upstreams`, `targets`, `plugins`: loaded.
- `certificates` (with nested `snis`) and top-level `snis`: loaded and checked (PEM, key pair,
  expiry: jqgate.config.certificates); the proxy's TLS listeners serve them by SNI.
- `consumers`, `consumer_groups`: accepted because they cannot change what this gateway does
  (nothing here authenticates); a `plugins` list under them is D31's error.
- `ca_certificates`: loaded, for the DataKit plugins' `config.ca_certificates`.
- `vaults`, `keys`, `key_sets`, `filter_chains` and
  anything else: rejected, since ignoring them would change behaviour silently.
"""
from __future__ import annotations

from typing import Any

from jqgate.config import certificates as tls_records
from jqgate.config import checks
from jqgate.config.ca_certificates import parse_ca_certificate
from jqgate.config.model import GatewayConfig, Route, Service
from jqgate.config.plugins import (CONSUMER_SCOPE_MESSAGE, DATAKIT, PluginRecord,
                                  check_reference, log, parse_plugin, reference_key)
from jqgate.config.routes import parse_route
from jqgate.config.services import parse_service
from jqgate.config.upstreams import parse_target, parse_upstream
from jqgate.errors import Issues, join

FORMAT_VERSIONS = ("3.0",)
IGNORED_KEYS = ("_transform", "_workspace", "_info", "_konnect", "_comment")
ENTITY_KEYS = ("services", "routes", "upstreams", "targets", "plugins", "consumers",
               "consumer_groups", "certificates", "snis", "ca_certificates")
REJECTED_KEYS = {
    "vaults": "vault entities (the built-in `env` vault needs no entity)",
    "keys": "key entities", "key_sets": "key set entities",
    "filter_chains": "Wasm filter chains (use the datakit plugin)",
}


def load_declarative(doc: Any, source: str, skip_unknown_plugins: bool = False) -> GatewayConfig:
    """Load a declarative document; raises `ConfigError` with every problem found."""
    builder = DeclarativeBuilder(source, skip_unknown_plugins)
    builder.load(doc)
    builder.issues.raise_if_any()
    return builder.config


class DeclarativeBuilder:
    def __init__(self, source: str, skip_unknown_plugins: bool) -> None:
        self.issues = Issues()
        self.config = GatewayConfig(source=source)
        self.skip_unknown = skip_unknown_plugins
        # (location, raw reference, route) for top-level routes naming their service
        self.route_refs: list[tuple[str, Any, Route]] = []
        self.plugin_records: list[tuple[PluginRecord, str | None, str | None]] = []
        self.target_refs: list[tuple[str, Any, Any]] = []

    # -- top level ---------------------------------------------------------------------------

    def load(self, doc: Any) -> None:
        if not isinstance(doc, dict):
            self.issues.add("", f"a declarative configuration is a mapping, got {checks.type_name(doc)}")
            return
        self.check_format_version(doc)
        for key in doc:
            if key in REJECTED_KEYS:
                if doc[key]:
                    self.issues.add(str(key), f"not supported: {REJECTED_KEYS[key]}")
            elif key not in ENTITY_KEYS and key not in IGNORED_KEYS and key != "_format_version":
                self.issues.add(str(key), "unknown top-level key")
        for index, record in enumerate(self.entity_list(doc, "services")):
            self.add_service(record, f"services[{index}]")
        for index, record in enumerate(self.entity_list(doc, "routes")):
            self.add_route(record, f"routes[{index}]", service=None)
        for index, record in enumerate(self.entity_list(doc, "upstreams")):
            upstream = parse_upstream(record, f"upstreams[{index}]", self.issues)
            if upstream is not None:
                self.config.upstreams.append(upstream)
        for index, record in enumerate(self.entity_list(doc, "targets")):
            self.add_top_level_target(record, f"targets[{index}]")
        for index, record in enumerate(self.entity_list(doc, "ca_certificates")):
            parsed = parse_ca_certificate(record, f"ca_certificates[{index}]", self.issues)
            if parsed is None:
                continue
            twin = next((c for c in self.config.ca_certificate_records.values()
                         if c.cert_digest == parsed.cert_digest), None)
            if parsed.id in self.config.ca_certificates or twin is not None:
                self.issues.add(f"ca_certificates[{index}]", "uniqueness violation: "
                                + (f'id "{parsed.id}" is used twice' if twin is None else
                                   f'the certificate (cert_digest {parsed.cert_digest}) is '
                                   f'already ca_certificate "{twin.id}"'))
                continue
            self.config.ca_certificates[parsed.id] = parsed.cert
            self.config.ca_certificate_records[parsed.id] = parsed
        for index, record in enumerate(self.entity_list(doc, "plugins")):
            self.add_plugin(record, f"plugins[{index}]", service_id=None, route_id=None)
        for key in ("consumers", "consumer_groups"):
            for index, record in enumerate(self.entity_list(doc, key)):
                self.check_consumer(record, f"{key}[{index}]")
        for index, record in enumerate(self.entity_list(doc, "certificates")):
            cert = tls_records.parse_certificate(record, f"certificates[{index}]", self.issues)
            if cert is not None:
                self.config.certificates.append(cert)
        self.add_top_level_snis(doc)
        self.check_unique_names()
        tls_records.check_unique_names(self.config.certificates, self.issues)
        self.resolve_references()

    def check_format_version(self, doc: dict) -> None:
        version = doc.get("_format_version")
        if version is None:
            self.issues.add("_format_version", 'missing: a Kong declarative file starts with '
                                               '_format_version: "3.0"')
        elif str(version) not in FORMAT_VERSIONS:
            self.issues.add("_format_version", f'unsupported format version "{version}": this '
                                               f'gateway reads Kong 3.x files ("3.0")')

    def entity_list(self, doc: dict, key: str, location: str = "") -> list:
        value = doc.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.issues.add(join(location, key), f"expected an array, got {checks.type_name(value)}")
            return []
        return value

    # -- entities ----------------------------------------------------------------------------

    def add_service(self, record: Any, location: str) -> None:
        service = parse_service(record, location, self.issues)
        if service is None:
            return
        self.config.services.append(service)
        for index, route in enumerate(self.entity_list(record, "routes", location)):
            self.add_route(route, join(location, f"routes[{index}]"), service=service)
        for index, plugin in enumerate(self.entity_list(record, "plugins", location)):
            self.add_plugin(plugin, join(location, f"plugins[{index}]"),
                            service_id=service.id, route_id=None)

    def add_route(self, record: Any, location: str, service: Service | None) -> None:
        parsed = parse_route(record, location, self.issues)
        if parsed is None:
            return
        route, service_ref = parsed
        if service is not None:
            if service_ref is not None:
                self.issues.add(join(location, "service"), "a route nested under a service "
                                                           "cannot name another service")
            route.service_id = service.id
        elif service_ref is not None:
            self.route_refs.append((join(location, "service"), service_ref, route))
        self.config.routes.append(route)
        for index, plugin in enumerate(self.entity_list(record, "plugins", location)):
            self.add_plugin(plugin, join(location, f"plugins[{index}]"),
                            service_id=None, route_id=route.id)

    def add_plugin(self, record: Any, location: str, service_id: str | None,
                   route_id: str | None) -> None:
        parsed = parse_plugin(record, location, self.issues, skip_unknown=self.skip_unknown)
        if parsed is None:
            return
        nested_under = "service" if service_id else "route" if route_id else None
        for key in ("service", "route"):
            if nested_under and getattr(parsed, f"{key}_ref") is not None:
                self.issues.add(join(location, key), f"a plugin nested under a {nested_under} "
                                                     f"cannot name a {key}")
        parsed.plugin.service_id = service_id
        parsed.plugin.route_id = route_id
        self.config.plugins.append(parsed.plugin)
        if not nested_under:
            self.plugin_records.append((parsed, location, None))

    def add_top_level_target(self, record: Any, location: str) -> None:
        target = parse_target(record, location, self.issues, nested=False)
        if target is None:
            return
        ref = record.get("upstream")
        if ref is None:
            self.issues.add(location, "missing field `upstream`")
        elif check_reference(ref, join(location, "upstream"), self.issues):
            self.target_refs.append((join(location, "upstream"), ref, target))

    def add_top_level_snis(self, doc: dict) -> None:
        """`snis: [{name, certificate: {id}}]`: each name joins its certificate."""
        by_id = {c.id: c for c in self.config.certificates}
        for index, record in enumerate(self.entity_list(doc, "snis")):
            location = f"snis[{index}]"
            parsed = tls_records.parse_sni(record, location, self.issues)
            if parsed is None:
                continue
            name, sni_id, ref = parsed
            if not check_reference(ref, join(location, "certificate"), self.issues):
                continue
            cert = by_id.get(reference_key(ref))
            if cert is None:
                self.issues.add(join(location, "certificate"),
                                f'unknown certificate "{reference_key(ref)}"')
                continue
            tls_records.add_name(cert, name, sni_id)

    def check_consumer(self, record: Any, location: str) -> None:
        if not checks.check_object(record, location, self.issues):
            return
        for index, plugin in enumerate(self.entity_list(record, "plugins", location)):
            plugin_location = join(location, f"plugins[{index}]")
            name = plugin.get("name") if isinstance(plugin, dict) else None
            if name != DATAKIT and isinstance(name, str) and self.skip_unknown:
                log.warning("%s: skipping plugin %r (only datakit runs here)", plugin_location, name)
                continue
            self.issues.add(plugin_location, CONSUMER_SCOPE_MESSAGE)                # D31

    # -- cross-entity rules ------------------------------------------------------------------

    def check_unique_names(self) -> None:
        for kind, items in (("service", self.config.services), ("route", self.config.routes),
                            ("upstream", self.config.upstreams)):
            seen: dict[str, str] = {}
            for item in items:
                for key in ("name", "id"):
                    value = getattr(item, key)
                    if value is None or value == "":
                        continue
                    if (key, value) in seen:
                        self.issues.add(join(item.location, key), f'duplicate {kind} {key} "{value}" '
                                                                  f"(first at {seen[(key, value)]})")
                    else:
                        seen[(key, value)] = item.location
        seen_plugins: dict[str, str] = {}
        for plugin in self.config.plugins:
            if plugin.id in seen_plugins:
                self.issues.add(join(plugin.location, "id"), f'duplicate plugin id "{plugin.id}" '
                                                             f"(first at {seen_plugins[plugin.id]})")
            seen_plugins.setdefault(plugin.id, plugin.location)

    def resolve_references(self) -> None:
        services = index_by_name_and_id(self.config.services)
        routes = index_by_name_and_id(self.config.routes)
        upstreams = index_by_name_and_id(self.config.upstreams)
        for location, ref, route in self.route_refs:
            service = services.get(reference_key(ref))
            if service is None:
                self.issues.add(location, f'unknown service "{reference_key(ref)}"')
            else:
                route.service_id = service.id
        for record, location, _ in self.plugin_records:
            if record.service_ref is not None:
                service = services.get(reference_key(record.service_ref))
                if service is None:
                    self.issues.add(join(location, "service"),
                                    f'unknown service "{reference_key(record.service_ref)}"')
                else:
                    record.plugin.service_id = service.id
            if record.route_ref is not None:
                route = routes.get(reference_key(record.route_ref))
                if route is None:
                    self.issues.add(join(location, "route"),
                                    f'unknown route "{reference_key(record.route_ref)}"')
                else:
                    record.plugin.route_id = route.id
        for location, ref, target in self.target_refs:
            upstream = upstreams.get(reference_key(ref))
            if upstream is None:
                self.issues.add(location, f'unknown upstream "{reference_key(ref)}"')
            else:
                upstream.targets.append(target)


def index_by_name_and_id(items: list) -> dict[str, Any]:
    """Look-up by id and by name (ids first: Kong resolves an id before a name)."""
    index: dict[str, Any] = {}
    for item in items:
        if item.name:
            index.setdefault(item.name, item)
    for item in items:
        index[item.id] = item
    return index
