"""Entities as the Admin API shows them (Kong's JSON shapes), and the running configuration as
one canonical declarative document.

The Admin API's source of truth is a declarative document (`_format_version: "3.0"`) with every
entity written at the top level with its id and references by id. Each change (a plugin added,
patched, deleted, a whole /config) produces a new document that goes through the same loader and
compiler as a file would: there is one validation path, and a reload of the same document gives
the same ids and the same hash.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from jqgate.config.healthchecks import parse_healthchecks
from jqgate.config.model import (Certificate, GatewayConfig, PluginInstance, Route, Service,
                                 Upstream)
from jqgate.errors import Issues


def canonical_document(config: GatewayConfig) -> dict:
    """A loaded configuration back as a declarative document (top-level entities, ids)."""
    doc: dict[str, Any] = {"_format_version": "3.0"}
    doc["services"] = [service_record(s) for s in config.services]
    doc["routes"] = [route_record(r) for r in config.routes]
    doc["upstreams"] = [upstream_record(u) for u in config.upstreams]
    doc["plugins"] = [plugin_record(p) for p in config.plugins]
    doc["certificates"] = [certificate_record(c) for c in config.certificates]
    doc["snis"] = [{"id": c.sni_ids[name], "name": name, "certificate": {"id": c.id}}
                   for c in config.certificates for name in c.snis]
    doc["ca_certificates"] = [ca_certificate_record(i, pem, config.ca_certificate_records.get(i))
                              for i, pem in config.ca_certificates.items()]
    return {k: v for k, v in doc.items() if v or k == "_format_version"}


def service_record(s: Service) -> dict:
    record = dict(s.raw) if s.raw else {"protocol": s.protocol, "host": s.host, "port": s.port,
                                        **({"path": s.path} if s.path else {})}
    if s.name is not None:
        record["name"] = s.name
    record["id"] = s.id
    return record


def route_record(r: Route) -> dict:
    record = dict(r.raw) if r.raw else {"paths": list(r.paths), "hosts": list(r.hosts),
                                        "methods": list(r.methods)}
    record.pop("service", None)
    if r.name is not None:
        record["name"] = r.name
    record["id"] = r.id
    if r.service_id is not None:
        record["service"] = {"id": r.service_id}
    return record


def upstream_record(u: Upstream) -> dict:
    """Every field the upstream was loaded with (hashing, health checks, tags), its targets
    nested with their ids, so a document written back loads to the same upstream."""
    record: dict[str, Any] = {"name": u.name, "id": u.id, "algorithm": u.algorithm,
                              "hash_on": u.hash_on, "hash_fallback": u.hash_fallback}
    for key in ("hash_on_header", "hash_on_query_arg", "hash_fallback_header",
                "hash_fallback_query_arg", "tags"):
        if getattr(u, key) is not None:
            record[key] = getattr(u, key)
    if u.slots != 10000:
        record["slots"] = u.slots
    if u.healthchecks is not None:
        record["healthchecks"] = u.healthchecks
    record["targets"] = [target_record(u, t) for t in u.targets]
    return record


def target_id(u: Upstream, t) -> str:
    from jqgate.config.ids import stable_id
    return t.id or stable_id("target", f"{u.id}/{t.target}")


def target_record(u: Upstream, t) -> dict:
    record = {"target": t.target, "weight": t.weight, "id": target_id(u, t)}
    if t.tags is not None:
        record["tags"] = t.tags
    return record


def plugin_record(p: PluginInstance) -> dict:
    record: dict[str, Any] = {"name": p.name, "id": p.id, "config": p.config,
                              "enabled": p.enabled, "protocols": list(p.protocols)}
    if p.instance_name:
        record["instance_name"] = p.instance_name
    if p.service_id:
        record["service"] = {"id": p.service_id}
    if p.route_id:
        record["route"] = {"id": p.route_id}
    return record


def certificate_record(c: Certificate) -> dict:
    """A certificate without its names: the canonical document lists them under `snis`."""
    record: dict[str, Any] = {"id": c.id, "cert": c.cert, "key": c.key}
    if c.cert_alt:
        record.update(cert_alt=c.cert_alt, key_alt=c.key_alt)
    if c.tags is not None:
        record["tags"] = c.tags
    return record


def document_hash(doc: dict) -> str:
    """Kong's `configuration_hash` is 32 hex digits; ours: md5 of the canonical JSON."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.md5(text.encode()).hexdigest()


# -- Kong's entity shapes ----------------------------------------------------------------------

def kong_service(s: Service, created: int) -> dict:
    return {"id": s.id, "name": s.name, "protocol": s.protocol, "host": s.host, "port": s.port,
            "path": s.path, "retries": s.retries, "connect_timeout": s.connect_timeout,
            "write_timeout": s.write_timeout, "read_timeout": s.read_timeout,
            "tags": s.raw.get("tags"), "enabled": s.enabled, "tls_verify": s.tls_verify,
            "tls_verify_depth": None, "client_certificate": None, "ca_certificates": None,
            "created_at": created, "updated_at": created}


def kong_route(r: Route, created: int) -> dict:
    raw = r.raw or {}
    return {"id": r.id, "name": r.name, "protocols": list(r.protocols),
            "methods": list(r.methods) or None, "hosts": list(r.hosts) or None,
            "paths": list(r.paths) or None,
            "headers": {k: list(v) for k, v in r.headers.items()} or None,
            "snis": list(r.snis) or None, "sources": None,
            "destinations": None, "https_redirect_status_code": raw.get("https_redirect_status_code", 426),
            "regex_priority": r.regex_priority, "strip_path": r.strip_path,
            "path_handling": r.path_handling, "preserve_host": r.preserve_host,
            "request_buffering": raw.get("request_buffering", True),
            "response_buffering": raw.get("response_buffering", True),
            "tags": raw.get("tags"),
            "service": {"id": r.service_id} if r.service_id else None,
            "created_at": created, "updated_at": created}


def kong_upstream(u: Upstream, created: int) -> dict:
    return {"id": u.id, "name": u.name, "algorithm": u.algorithm,
            "hash_on": u.hash_on, "hash_fallback": u.hash_fallback,
            "hash_on_header": u.hash_on_header, "hash_fallback_header": u.hash_fallback_header,
            "hash_on_query_arg": u.hash_on_query_arg,
            "hash_fallback_query_arg": u.hash_fallback_query_arg,
            "hash_on_cookie": None, "hash_on_cookie_path": "/", "hash_on_uri_capture": None,
            "hash_fallback_uri_capture": None, "host_header": None, "client_certificate": None,
            "use_srv_name": False, "slots": u.slots,
            "healthchecks": u.healthchecks if u.healthchecks is not None else parse_healthchecks(
                None, "", Issues()),
            "tags": u.tags, "created_at": created, "updated_at": created}


def kong_target(u: Upstream, t, created: int) -> dict:
    return {"id": target_id(u, t), "target": t.target, "weight": t.weight,
            "upstream": {"id": u.id}, "tags": t.tags,
            "created_at": created, "updated_at": created}


def kong_plugin(record: dict, created: int, updated: int) -> dict:
    """A plugin record of the canonical document, as Kong answers it."""
    return {"id": record["id"], "name": record["name"],
            "instance_name": record.get("instance_name"),
            "config": record.get("config"), "enabled": record.get("enabled", True),
            "protocols": record.get("protocols", ["grpc", "grpcs", "http", "https"]),
            "service": record.get("service"), "route": record.get("route"),
            "consumer": None, "consumer_group": None,
            "tags": record.get("tags"), "ordering": None,
            "created_at": created, "updated_at": updated}


def kong_certificate(c: Certificate, created: int) -> dict:
    return {"id": c.id, "cert": c.cert, "key": c.key, "cert_alt": c.cert_alt,
            "key_alt": c.key_alt, "snis": list(c.snis), "tags": c.tags,
            "created_at": created, "updated_at": created}


def ca_certificate_record(entity_id: str, pem: str, entity) -> dict:
    record = {"id": entity_id, "cert": pem}
    if entity is not None and entity.tags is not None:
        record["tags"] = entity.tags
    return record


def kong_ca_certificate(entity, created: int, updated: int) -> dict:
    return {"id": entity.id, "cert": entity.cert, "cert_digest": entity.cert_digest,
            "tags": entity.tags, "created_at": created, "updated_at": updated}


def kong_sni(c: Certificate, name: str, created: int) -> dict:
    return {"id": c.sni_ids[name], "name": name, "certificate": {"id": c.id}, "tags": None,
            "created_at": created, "updated_at": created}

