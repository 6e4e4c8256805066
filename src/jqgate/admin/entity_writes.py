"""Creating, changing and deleting services and routes, as the Kong getting-started scripts do
before they add a plugin (`POST /services --data name=... --data url=...`,
`POST /services/{service}/routes --data 'paths[]=/mock'`).

Like plugin writes: the body is checked on its own (errors located in the body), references are
resolved against the running configuration, then the whole new configuration is compiled and
applied. Kong's rules kept: new entities get a random uuid, names and ids are unique (409), a
service still referenced by routes cannot be deleted (400, foreign key), deleting a service or
route deletes the plugins scoped to it. Nested `routes`/`plugins` in a body are not Admin API
fields (they are declarative-file nesting) and are refused.
"""
from __future__ import annotations

import uuid

from jqgate.admin import errors
from jqgate.admin.bodies import decode_object
from jqgate.admin.entities import kong_route, kong_service
from jqgate.admin.handlers import _apply, _issue, _services, merge_patch
from jqgate.config.plugins import reference_key
from jqgate.config.routes import parse_route
from jqgate.config.services import parse_service
from jqgate.errors import Issues

URL_PARTS = ("protocol", "host", "port", "path")
FOREIGN_KEY_VIOLATION = 4


def _check(parse, body: dict) -> None:
    issues = Issues()
    for key in ("routes", "plugins"):
        if key in body:
            issues.add(key, "unknown field")
    parse(body, "", issues)
    if issues:
        raise errors.schema_violation(issues.items)


def _check_unique(records: list, body: dict, skip_id: str | None = None) -> None:
    for record in records:
        if record["id"] == skip_id:
            continue
        for key in ("id", "name"):
            if body.get(key) is not None and record.get(key) == body[key]:
                raise errors.unique_violation(key, body[key])


def _index(records: list, ref: str):
    """Position of the record whose id (first) or name is `ref`."""
    for i, record in enumerate(records):
        if record["id"] == ref:
            return i
    for i, record in enumerate(records):
        if record.get("name") == ref:
            return i
    return None


def _service_out(admin, service_id):
    s = next(s for s in admin.store.config.services if s.id == service_id)
    return kong_service(s, admin.store.created.get(s.id, 0))


def _route_out(admin, route_id):
    r = next(r for r in admin.store.config.routes if r.id == route_id)
    return kong_route(r, admin.store.created.get(r.id, 0))


# -- services ---------------------------------------------------------------------------------

async def create_service(admin, call):
    body = decode_object(call.body, call.content_type)
    _check(parse_service, body)
    body.setdefault("id", str(uuid.uuid4()))
    async with admin.edit_lock:
        doc = admin.store.copy_document()
        _check_unique(doc.get("services", []), body)
        doc.setdefault("services", []).append(body)
        await _apply(admin, doc)
    return 201, _service_out(admin, body["id"])


def _split_url(record: dict, loaded) -> dict:
    """A record written with `url`, as separate fields (so a PATCH of `host` can apply)."""
    record = dict(record)
    record.pop("url", None)
    record.update(protocol=loaded.protocol, host=loaded.host, port=loaded.port)
    if loaded.path:
        record["path"] = loaded.path
    return record


async def patch_service(admin, call):
    patch = decode_object(call.body, call.content_type)
    async with admin.edit_lock:
        doc = admin.store.copy_document()
        services = doc.get("services", [])
        i = _index(services, call.params["service"])
        if i is None:
            raise errors.not_found()
        record = services[i]
        if "url" in record and any(k in patch for k in URL_PARTS) and "url" not in patch:
            loaded = next(s for s in admin.store.config.services if s.id == record["id"])
            record = _split_url(record, loaded)
        elif "url" in patch:
            record = {k: v for k, v in record.items() if k not in URL_PARTS}
        updated = merge_patch(record, patch)
        if updated.get("id") != record["id"]:
            raise errors.schema_violation([_issue("id", "the id of a service cannot change")])
        _check(parse_service, updated)
        _check_unique(services, updated, skip_id=record["id"])
        services[i] = updated
        await _apply(admin, doc)
    return 200, _service_out(admin, updated["id"])


async def delete_service(admin, call):
    async with admin.edit_lock:
        doc = admin.store.copy_document()
        i = _index(doc.get("services", []), call.params["service"])
        if i is None:
            return 204, None
        service_id = doc["services"][i]["id"]
        if any((r.get("service") or {}).get("id") == service_id for r in doc.get("routes", [])):
            raise errors.AdminError(400, {
                "code": FOREIGN_KEY_VIOLATION, "name": "foreign key violation",
                "message": "an existing 'routes' entity references this 'services' entity",
                "fields": {"@referenced_by": "routes"}})
        del doc["services"][i]
        doc["plugins"] = [p for p in doc.get("plugins", [])
                          if (p.get("service") or {}).get("id") != service_id]
        await _apply(admin, doc)
    return 204, None


# -- routes -----------------------------------------------------------------------------------

def _route_service(admin, body: dict, call) -> None:
    """The route's service: from the URL (/services/{s}/routes) or the body; {"id": ...}."""
    if "service" in call.params:
        s = _services(admin).get(call.params["service"])
        if s is None:
            raise errors.not_found()
        body["service"] = {"id": s.id}
        return
    ref = body.get("service")
    if ref is None:
        return
    s = _services(admin).get(reference_key(ref))
    if s is None:
        raise errors.schema_violation([_issue("service", f"the foreign key '{reference_key(ref)}' "
                                                         f"does not reference an existing "
                                                         f"'services' entity")])
    body["service"] = {"id": s.id}


async def create_route(admin, call):
    body = decode_object(call.body, call.content_type)
    _check(parse_route, body)
    _route_service(admin, body, call)
    body.setdefault("id", str(uuid.uuid4()))
    async with admin.edit_lock:
        doc = admin.store.copy_document()
        _check_unique(doc.get("routes", []), body)
        doc.setdefault("routes", []).append(body)
        await _apply(admin, doc)
    return 201, _route_out(admin, body["id"])


async def patch_route(admin, call):
    patch = decode_object(call.body, call.content_type)
    async with admin.edit_lock:
        doc = admin.store.copy_document()
        routes = doc.get("routes", [])
        i = _index(routes, call.params["route"])
        if i is None:
            raise errors.not_found()
        record = routes[i]
        updated = merge_patch(record, patch)
        if updated.get("id") != record["id"]:
            raise errors.schema_violation([_issue("id", "the id of a route cannot change")])
        _check(parse_route, updated)
        _route_service(admin, updated, call)
        _check_unique(routes, updated, skip_id=record["id"])
        routes[i] = updated
        await _apply(admin, doc)
    return 200, _route_out(admin, updated["id"])


async def delete_route(admin, call):
    async with admin.edit_lock:
        doc = admin.store.copy_document()
        i = _index(doc.get("routes", []), call.params["route"])
        if i is not None:
            route_id = doc["routes"][i]["id"]
            del doc["routes"][i]
            doc["plugins"] = [p for p in doc.get("plugins", [])
                              if (p.get("route") or {}).get("id") != route_id]
            await _apply(admin, doc)
    return 204, None


# -- PUT: Kong's upsert -----------------------------------------------------------------------

def looks_like_uuid(text: str) -> bool:
    import uuid as _uuid
    try:
        return len(text) == 36 and str(_uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def _upsert_key(body: dict, ref: str) -> None:
    """The URL names the entity: by id when `ref` is a uuid, else by name; a body naming
    another is an error (Kong's rule)."""
    key = "id" if looks_like_uuid(ref) else "name"
    if body.get(key) is not None and body[key] != ref:
        raise errors.schema_violation([_issue(key, f"the {key} in the body differs from the "
                                                   f"{key} in the URL")])
    body[key] = ref


async def put_service(admin, call):
    """PUT /services/{name|id}: the body replaces the service (fields it leaves out take their
    defaults), or creates it; its id stays, so its routes keep pointing at it."""
    body = decode_object(call.body, call.content_type)
    ref = call.params["service"]
    _upsert_key(body, ref)
    async with admin.edit_lock:
        doc = admin.store.copy_document()
        services = doc.setdefault("services", [])
        i = _index(services, ref)
        body["id"] = services[i]["id"] if i is not None else body.get("id") or str(uuid.uuid4())
        _check(parse_service, body)
        _check_unique(services, body, skip_id=body["id"])
        if i is None:
            services.append(body)
        else:
            services[i] = body
        await _apply(admin, doc)
    return 200, _service_out(admin, body["id"])


async def put_route(admin, call):
    body = decode_object(call.body, call.content_type)
    ref = call.params["route"]
    _upsert_key(body, ref)
    _check(parse_route, body)
    _route_service(admin, body, call)
    async with admin.edit_lock:
        doc = admin.store.copy_document()
        routes = doc.setdefault("routes", [])
        i = _index(routes, ref)
        body["id"] = routes[i]["id"] if i is not None else body.get("id") or str(uuid.uuid4())
        _check_unique(routes, body, skip_id=body["id"])
        if i is None:
            routes.append(body)
        else:
            routes[i] = body
        await _apply(admin, doc)
    return 200, _route_out(admin, body["id"])
