"""What each Admin API route does. Each handler is `async handler(admin, call) -> (status, body)`
with `body` a JSON-able object (None for an empty answer); errors are raised as AdminError.

Plugin writes follow Kong: the body is validated on its own first (errors located in the body:
`config.nodes[2].inputs.headers`), its references resolved against the running configuration,
then the whole new configuration is compiled and applied (jqgate.admin.reload).
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from jqgate.admin import errors
from jqgate.admin.bodies import decode_config_body, decode_object
from jqgate.admin.entities import (kong_plugin, kong_route, kong_service, kong_target,
                                   kong_upstream)
from jqgate.admin.paging import page
from jqgate.admin.reload import ApplyError
from jqgate.gateway.plans import instance_namespace
from jqgate.compiler import compile_datakit
from jqgate.config.declarative import index_by_name_and_id
from jqgate.config.plugins import CONSUMER_SCOPE_MESSAGE, parse_plugin, reference_key
from jqgate.errors import ConfigError, ConfigIssue, Issues


@dataclass
class AdminCall:
    method: str
    params: dict                        # path parameters from the route pattern
    query: dict
    body: bytes
    content_type: bytes | None
    extra: dict = field(default_factory=dict)


# -- node -------------------------------------------------------------------------------------

async def get_root(admin, call):
    from jqgate.admin.status import node_info
    return 200, node_info(admin)


async def get_status(admin, call):
    from jqgate.admin.status import node_status
    return 200, await node_status(admin)


async def get_metrics(admin, call):
    from jqgate.admin.status import metrics_text
    return 200, await metrics_text(admin)


# -- read -------------------------------------------------------------------------------------

def _services(admin):
    return index_by_name_and_id(admin.store.config.services)


def _routes(admin):
    return index_by_name_and_id(admin.store.config.routes)


def _created(admin, entity_id):
    return admin.store.created.get(entity_id, 0)


async def list_services(admin, call):
    return 200, page([kong_service(s, _created(admin, s.id))
                      for s in admin.store.config.services], call)


async def get_service(admin, call):
    s = _services(admin).get(call.params["service"])
    if s is None:
        raise errors.not_found()
    return 200, kong_service(s, _created(admin, s.id))


async def list_routes(admin, call):
    routes = admin.store.config.routes
    if "service" in call.params:
        s = _services(admin).get(call.params["service"])
        if s is None:
            raise errors.not_found()
        routes = [r for r in routes if r.service_id == s.id]
    return 200, page([kong_route(r, _created(admin, r.id)) for r in routes], call)


async def get_route(admin, call):
    r = _routes(admin).get(call.params["route"])
    if r is None:
        raise errors.not_found()
    return 200, kong_route(r, _created(admin, r.id))


def _plugin_out(admin, record):
    pid = record["id"]
    return kong_plugin(record, admin.store.created.get(pid, 0), admin.store.updated.get(pid, 0))


async def list_plugins(admin, call):
    records = admin.store.doc.get("plugins", [])
    scope = _scope_from_path(admin, call)
    if scope is not None:
        key, entity_id = scope
        records = [p for p in records if (p.get(key) or {}).get("id") == entity_id]
    return 200, page([_plugin_out(admin, p) for p in records], call)


def _find_plugin(admin, plugin_id):
    for index, record in enumerate(admin.store.doc.get("plugins", [])):
        if record["id"] == plugin_id or (record.get("instance_name") and
                                         record.get("instance_name") == plugin_id):
            return index, record
    return None, None


async def get_plugin(admin, call):
    _, record = _find_plugin(admin, call.params["plugin"])
    if record is None:
        raise errors.not_found()
    return 200, _plugin_out(admin, record)


async def enabled_plugins(admin, call):
    return 200, {"enabled_plugins": ["datakit"]}


def _upstreams(admin):
    from jqgate.config.declarative import index_by_name_and_id as index
    return index(admin.store.config.upstreams)


async def list_upstreams(admin, call):
    return 200, page([kong_upstream(u, _created(admin, u.id))
                      for u in admin.store.config.upstreams], call)


async def get_upstream(admin, call):
    u = _upstreams(admin).get(call.params["upstream"])
    if u is None:
        raise errors.not_found()
    return 200, kong_upstream(u, _created(admin, u.id))


async def list_targets(admin, call):
    u = _upstreams(admin).get(call.params["upstream"])
    if u is None:
        raise errors.not_found()
    return 200, page([kong_target(u, t, _created(admin, u.id)) for t in u.targets], call)


# -- plugin writes ----------------------------------------------------------------------------

def _scope_from_path(admin, call):
    """("service"|"route", id) for /services/{x}/plugins and /routes/{x}/plugins."""
    if "service" in call.params:
        s = _services(admin).get(call.params["service"])
        if s is None:
            raise errors.not_found()
        return "service", s.id
    if "route" in call.params:
        r = _routes(admin).get(call.params["route"])
        if r is None:
            raise errors.not_found()
        return "route", r.id
    return None


def validate_plugin_body(body: dict) -> None:
    """The body as Kong checks a plugin entity: fields, then the DataKit config (schema and
    graph), every error located in the body. Raises AdminError(400 schema violation)."""
    issues = Issues()
    parsed = parse_plugin(body, "", issues, skip_unknown=False, config_location="config")
    if parsed is not None:
        compile_datakit(parsed.plugin.config, "config", instance_namespace(parsed.plugin), issues)
    if issues:
        raise errors.schema_violation(issues.items)


def _resolve_reference(admin, body: dict, key: str) -> None:
    """Body `service`/`route` (name, id, {name}, {id}) -> {"id": ...} of a running entity."""
    ref = body.get(key)
    if ref is None:
        return
    index = _services(admin) if key == "service" else _routes(admin)
    entity = index.get(reference_key(ref))
    if entity is None:
        raise errors.schema_violation([_issue(key, f"the foreign key '{reference_key(ref)}' "
                                                   f"does not reference an existing '{key}' entity")])
    body[key] = {"id": entity.id}


def _issue(location: str, message: str) -> ConfigIssue:
    return ConfigIssue(location, message)


async def _apply(admin, doc, source="admin", canonical=False):
    try:
        return await admin.store.replace(doc, source, canonical=canonical)
    except ConfigError as exc:
        raise errors.schema_violation(exc.errors) from None
    except ApplyError as exc:
        raise errors.AdminError(500, {"message": f"the configuration is valid but was not "
                                                 f"applied everywhere: {exc}"}) from None


def _consumer_scope(body: dict) -> None:
    for key in ("consumer", "consumer_group"):
        if body.get(key) is not None:
            raise errors.schema_violation([_issue(key, CONSUMER_SCOPE_MESSAGE)])


async def create_plugin(admin, call):
    body = decode_object(call.body, call.content_type)
    scope = _scope_from_path(admin, call)
    if scope is not None:
        # /services/{s}/plugins: the URL names the scope; a body naming another is an error.
        key, entity_id = scope
        index = _services(admin) if key == "service" else _routes(admin)
        if body.get(key) is not None and index.get(reference_key(body[key])) is not index.get(entity_id):
            raise errors.schema_violation([_issue(key, f"the {key} in the body differs from "
                                                       f"the {key} in the URL")])
        body[key] = {"id": entity_id}
    _consumer_scope(body)
    validate_plugin_body(body)
    _resolve_reference(admin, body, "service")
    _resolve_reference(admin, body, "route")
    body.setdefault("id", str(uuid.uuid4()))
    body.setdefault("enabled", True)
    body.setdefault("protocols", ["grpc", "grpcs", "http", "https"])
    async with admin.edit_lock:
        check_plugin_unique(admin.store.doc.get("plugins", []), body)
        doc = admin.store.copy_document()
        doc.setdefault("plugins", []).append(body)
        await _apply(admin, doc)
    return 201, _plugin_out(admin, body)


def check_plugin_unique(records: list, body: dict, skip_id: str | None = None) -> None:
    """Kong's unique keys: id, instance_name, and one instance of a plugin per scope (the
    plugin's cache key is its name and scope). 409 in Kong's shape."""
    for record in records:
        if record["id"] == skip_id:
            continue
        if record["id"] == body["id"]:
            raise errors.unique_violation("id", body["id"])
        if body.get("instance_name") and record.get("instance_name") == body["instance_name"]:
            raise errors.unique_violation("instance_name", body["instance_name"])
        if (record.get("service"), record.get("route"), record["name"]) == \
                (body.get("service"), body.get("route"), body["name"]):
            raise errors.AdminError(409, {
                "code": errors.UNIQUE_VIOLATION, "name": "unique constraint violation",
                "message": "UNIQUE violation detected on '{consumer=null,name=\"datakit\","
                           f"route={_ref_text(body.get('route'))},"
                           f"service={_ref_text(body.get('service'))}}}'",
                "fields": {"name": "datakit"}})


def _ref_text(ref):
    return "null" if ref is None else "{id=\"%s\"}" % ref["id"]


def merge_patch(target: dict, patch: dict) -> dict:
    """Kong's PATCH: records (objects) merge field by field, anything else is replaced,
    null resets the field."""
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = value
    return out


async def patch_plugin(admin, call):
    patch = decode_object(call.body, call.content_type)
    _consumer_scope(patch)
    async with admin.edit_lock:
        index, record = _find_plugin(admin, call.params["plugin"])
        if record is None:
            raise errors.not_found()
        if "id" in patch and patch["id"] != record["id"]:
            raise errors.schema_violation([_issue("id", "the id of a plugin cannot change")])
        updated = merge_patch(record, patch)
        validate_plugin_body(updated)
        _resolve_reference(admin, updated, "service")
        _resolve_reference(admin, updated, "route")
        check_plugin_unique(admin.store.doc.get("plugins", []), updated, skip_id=record["id"])
        doc = admin.store.copy_document()
        doc["plugins"][index] = updated
        await _apply(admin, doc)
        admin.store.updated[updated["id"]] = int(time.time())
    return 200, _plugin_out(admin, updated)


async def put_plugin(admin, call):
    """PUT /plugins/{id|instance_name}: Kong's upsert. The body replaces the plugin (fields it
    leaves out take their defaults) or creates it with the id or instance_name of the URL."""
    body = decode_object(call.body, call.content_type)
    ref = call.params["plugin"]
    from jqgate.admin.entity_writes import looks_like_uuid
    key = "id" if looks_like_uuid(ref) else "instance_name"
    if body.get(key) is not None and body[key] != ref:
        raise errors.schema_violation([_issue(key, f"the {key} in the body differs from the "
                                                   f"{key} in the URL")])
    body[key] = ref
    _consumer_scope(body)
    async with admin.edit_lock:
        index, record = _find_plugin(admin, ref)
        body["id"] = record["id"] if record is not None else body.get("id") or str(uuid.uuid4())
        body.setdefault("enabled", True)
        body.setdefault("protocols", ["grpc", "grpcs", "http", "https"])
        validate_plugin_body(body)
        _resolve_reference(admin, body, "service")
        _resolve_reference(admin, body, "route")
        check_plugin_unique(admin.store.doc.get("plugins", []), body, skip_id=body["id"])
        doc = admin.store.copy_document()
        if record is None:
            doc.setdefault("plugins", []).append(body)
        else:
            doc["plugins"][index] = body
        await _apply(admin, doc)
        admin.store.updated[body["id"]] = int(time.time())
    return 200, _plugin_out(admin, body)


async def delete_plugin(admin, call):
    async with admin.edit_lock:
        index, record = _find_plugin(admin, call.params["plugin"])
        if record is not None:
            doc = admin.store.copy_document()
            del doc["plugins"][index]
            await _apply(admin, doc)
    return 204, None        # Kong answers 204 whether or not the plugin existed


async def consumer_plugins(admin, call):
    scope = "consumer group" if "consumer_group" in call.params else "consumer"
    raise errors.bad_request(f"plugins cannot be scoped to a {scope} here: "
                             f"{CONSUMER_SCOPE_MESSAGE}; configure the plugin globally or on a "
                             f"service or route (POST /plugins, /services/{{name|id}}/plugins, "
                             f"/routes/{{name|id}}/plugins)")


async def validate_plugin(admin, call):
    body = decode_object(call.body, call.content_type)
    _consumer_scope(body)
    validate_plugin_body(body)
    return 200, {"message": "schema validation successful"}


# -- whole configuration ----------------------------------------------------------------------

async def get_config(admin, call):
    return 200, {"config": admin.store.doc, "configuration_hash": admin.store.hash}


async def post_config(admin, call):
    doc, _ = decode_config_body(call.body, call.content_type)
    async with admin.edit_lock:
        try:
            new_hash = await admin.store.replace(doc, "admin", canonical=True)
        except ConfigError as exc:
            raise errors.invalid_declarative(exc.errors) from None
        except ApplyError as exc:
            raise errors.AdminError(500, {"message": f"the configuration is valid but was not "
                                                     f"applied everywhere: {exc}"}) from None
    out = {k: v for k, v in admin.store.doc.items() if k != "_format_version"}
    out["configuration_hash"] = new_hash
    return 201, out
