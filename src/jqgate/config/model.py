"""The gateway configuration after loading: typed records of Kong entities.

Every form of configuration (declarative file, Admin API plugin body, KongPlugin manifest, bare
DataKit config, quick-start flags) loads into one `GatewayConfig`. Records keep the location of
their source so later stages can report errors against what the user wrote.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Target:
    target: str            # "host:port" as written (port defaults to 8000, as Kong)
    host: str
    port: int
    weight: int = 100
    location: str = ""
    id: str | None = None           # as written; else a stable id from upstream and target
    tags: list | None = None


@dataclass
class Upstream:
    name: str
    id: str
    targets: list[Target] = field(default_factory=list)
    algorithm: str = "round-robin"   # or "consistent-hashing"
    hash_on: str = "none"            # none | ip | header | path | query_arg
    hash_on_header: str | None = None
    hash_on_query_arg: str | None = None
    hash_fallback: str = "none"
    hash_fallback_header: str | None = None
    hash_fallback_query_arg: str | None = None
    location: str = ""
    # Kong's healthchecks, complete with defaults (jqgate.config.healthchecks); None = all off
    healthchecks: dict | None = None
    slots: int = 10000
    tags: list | None = None


@dataclass
class Service:
    name: str | None
    id: str
    protocol: str          # http | https
    host: str              # a hostname, or the name of an Upstream
    port: int
    path: str | None
    connect_timeout: int = 60000   # milliseconds, Kong's defaults
    read_timeout: int = 60000
    write_timeout: int = 60000
    retries: int = 5
    tls_verify: bool | None = None
    location: str = ""
    raw: dict[str, Any] = field(default_factory=dict)   # the record as written (kong.router.service)
    enabled: bool = True             # Kong: routes of a disabled service do not match


@dataclass
class Route:
    name: str | None
    id: str
    service_id: str | None           # Service.id, or None for a route without a service
    paths: list[str] = field(default_factory=list)      # "~" prefix = regex
    hosts: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    headers: dict[str, list[str]] = field(default_factory=dict)  # name -> values ("~*" regex)
    snis: list[str] = field(default_factory=list)   # the TLS server name (https requests only)
    protocols: list[str] = field(default_factory=lambda: ["http", "https"])
    strip_path: bool = True
    preserve_host: bool = False
    regex_priority: int = 0
    path_handling: str = "v0"        # Kong's default; v1 joins service and request paths as-is
    # Kong's defaults. request_buffering false: the body streams to the upstream from its
    # first byte; response_buffering true: the upstream's answer is read ahead of a slow
    # client up to the proxy's response_buffer_size (jqgate/_core/proxy/handler.pyx)
    request_buffering: bool = True
    response_buffering: bool = True
    location: str = ""
    raw: dict[str, Any] = field(default_factory=dict)   # the record as written (kong.router.route)


@dataclass
class PluginInstance:
    name: str                        # only "datakit" runs; others are rejected (D32) or skipped
    id: str
    config: dict[str, Any]           # the DataKit config object, as written
    service_id: str | None = None    # scope; both None = global
    route_id: str | None = None
    instance_name: str | None = None
    enabled: bool = True
    protocols: list[str] = field(default_factory=lambda: ["grpc", "grpcs", "http", "https"])
    location: str = ""               # location of the plugin record, e.g. "plugins[0]"
    config_location: str = "config"  # location of `config`, prefix for DataKit schema errors
    source: str = ""                 # file the plugin came from (quick start: its --plugin FILE)


@dataclass
class Certificate:
    """Kong's `certificates` entity: a PEM chain and its key (and optionally a second pair of
    another key type, `cert_alt`/`key_alt`), served to TLS clients asking for one of `snis`."""
    id: str
    cert: str                        # PEM: the leaf first, then its chain
    key: str                         # PEM private key of the leaf
    cert_alt: str | None = None
    key_alt: str | None = None
    snis: list[str] = field(default_factory=list)        # names, exact or "*.x" / "x.*"
    sni_ids: dict[str, str] = field(default_factory=dict)  # name -> the `snis` entity's id
    tags: list[str] | None = None
    not_after: float = 0.0           # expiry of the leaf (Unix time), for /certificates
    location: str = ""


@dataclass
class GatewayConfig:
    services: list[Service] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    upstreams: list[Upstream] = field(default_factory=list)
    plugins: list[PluginInstance] = field(default_factory=list)
    certificates: list[Certificate] = field(default_factory=list)
    ca_certificates: dict[str, str] = field(default_factory=dict)   # id -> PEM
    # id -> the whole entity (digest, tags), for the Admin API's /ca_certificates
    ca_certificate_records: dict[str, Any] = field(default_factory=dict)
    source: str = ""                 # file name or "<admin>", for messages
