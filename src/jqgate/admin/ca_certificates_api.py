"""Kong's `ca_certificates` through the Admin API: /ca_certificates (GET with paging and tags,
POST) and /ca_certificates/{id} (GET, PUT upsert, PATCH, DELETE).

A CA certificate is named by its id only (Kong's entity has no other key: a PUT to a name that is
not a UUID is refused). Every write builds a new canonical document and applies it whole, like
the other entity writes, so the certificate is checked by the same loader as a file's (one
certificate, unexpired, a CA: errors located in the body) and a DataKit plugin naming it in
`config.ca_certificates` trusts the new PEM from the next request on. The same certificate under
two ids is a 409 on `cert_digest` (Kong's unique field); deleting a certificate a plugin still
names is refused with that plugin's location, as every invalid configuration is.
"""
from __future__ import annotations

import time
import uuid

from jqgate.admin import errors
from jqgate.admin.bodies import decode_object
from jqgate.admin.entities import kong_ca_certificate
from jqgate.admin.entity_writes import looks_like_uuid
from jqgate.admin.handlers import _apply, _created, _issue, merge_patch
from jqgate.admin.paging import page
from jqgate.config.ca_certificates import parse_ca_certificate
from jqgate.errors import Issues

# Kong derives these; a body may carry them back (a GET's answer PUT again) but not set them.
DERIVED = ("cert_digest", "created_at", "updated_at")


def _entities(admin) -> dict:
    return admin.store.config.ca_certificate_records


def _out(admin, entity_id: str) -> dict:
    store = admin.store
    return kong_ca_certificate(_entities(admin)[entity_id], _created(admin, entity_id),
                               store.updated.get(entity_id, _created(admin, entity_id)))


def _found(admin, ref: str):
    entity = _entities(admin).get(ref)
    if entity is None:
        raise errors.not_found()
    return entity


def _checked(body: dict):
    """The entity the record describes; 400 with Kong's located messages when it is invalid."""
    for key in DERIVED:
        body.pop(key, None)
    issues = Issues()
    entity = parse_ca_certificate(body, "", issues)
    if issues:
        raise errors.schema_violation(issues.items)
    return entity


def _check_unique(doc: dict, entity) -> None:
    for record in doc.get("ca_certificates", []):
        if record["id"] == entity.id:
            continue
        issues = Issues()
        other = parse_ca_certificate(dict(record), "", issues)
        if other is not None and other.cert_digest == entity.cert_digest:
            raise errors.unique_violation("cert_digest", entity.cert_digest)


async def _store(admin, entity_id: str, record: dict) -> None:
    """Insert or replace the record (under the edit lock), apply, stamp its update time."""
    entity = _checked(record)
    doc = admin.store.copy_document()
    records = doc.setdefault("ca_certificates", [])
    _check_unique(doc, entity)
    i = next((i for i, r in enumerate(records) if r["id"] == entity_id), None)
    if i is None:
        records.append(record)
    else:
        records[i] = record
    await _apply(admin, doc)
    admin.store.updated[entity_id] = int(time.time())


async def list_ca_certificates(admin, call):
    return 200, page([_out(admin, i) for i in _entities(admin)], call)


async def get_ca_certificate(admin, call):
    return 200, _out(admin, _found(admin, call.params["ca_certificate"]).id)


async def create_ca_certificate(admin, call):
    body = decode_object(call.body, call.content_type)
    body.setdefault("id", str(uuid.uuid4()))
    if not isinstance(body["id"], str) or not looks_like_uuid(body["id"]):
        raise errors.schema_violation([_issue("id", "expected a valid UUID")])
    async with admin.edit_lock:
        if body["id"] in _entities(admin):
            raise errors.unique_violation("id", body["id"])
        await _store(admin, body["id"], body)
    return 201, _out(admin, body["id"])


async def put_ca_certificate(admin, call):
    """PUT /ca_certificates/{id}: the body replaces the certificate, or creates it with that id."""
    ref = call.params["ca_certificate"]
    if not looks_like_uuid(ref):
        raise errors.schema_violation([_issue("id", "expected a valid UUID")])
    body = decode_object(call.body, call.content_type)
    if body.get("id") is not None and body["id"] != ref:
        raise errors.schema_violation([_issue("id", "the id in the body differs from the id in "
                                                    "the URL")])
    body["id"] = ref
    async with admin.edit_lock:
        await _store(admin, ref, body)
    return 200, _out(admin, ref)


async def patch_ca_certificate(admin, call):
    patch = decode_object(call.body, call.content_type)
    async with admin.edit_lock:
        entity = _found(admin, call.params["ca_certificate"])
        record = next(r for r in admin.store.copy_document().get("ca_certificates", [])
                      if r["id"] == entity.id)
        updated = merge_patch(record, patch)
        if updated.get("id") != entity.id:
            raise errors.schema_violation([_issue("id", "the id of a CA certificate cannot "
                                                        "change")])
        await _store(admin, entity.id, updated)
    return 200, _out(admin, entity.id)


async def delete_ca_certificate(admin, call):
    async with admin.edit_lock:
        entity = _entities(admin).get(call.params["ca_certificate"])
        if entity is None:
            return 204, None
        doc = admin.store.copy_document()
        doc["ca_certificates"] = [r for r in doc.get("ca_certificates", []) if r["id"] != entity.id]
        await _apply(admin, doc)
    return 204, None
