"""Creating, replacing, changing and deleting upstreams and their targets, as Kong's Admin API
does (`POST /upstreams`, `PUT|PATCH|DELETE /upstreams/{name|id}`,
`POST /upstreams/{u}/targets`, `PUT|PATCH|DELETE /upstreams/{u}/targets/{host:port|id}`).

Same path as service and route writes (jqgate.admin.entity_writes): the body is checked on its
own, then the whole new configuration is compiled and applied. Targets are kept nested under
their upstream in the running document; deleting an upstream deletes its targets (Kong's
cascade); a target is unique per upstream by its `host:port` (409). Replacing or changing an
upstream keeps its targets, which are entities of their own in Kong.
"""
from __future__ import annotations

import uuid

from jqgate.admin import errors
from jqgate.admin.bodies import decode_object
from jqgate.admin.entities import kong_target, kong_upstream, upstream_record
from jqgate.admin.entity_writes import _check_unique, _index
from jqgate.admin.entity_writes import looks_like_uuid as _looks_like_uuid
from jqgate.admin.handlers import _apply, _issue, merge_patch
from jqgate.config.upstreams import DEFAULT_TARGET_PORT, HOST_PORT, parse_target, parse_upstream
from jqgate.errors import Issues

def _check_upstream(body: dict) -> None:
    issues = Issues()
    if "targets" in body:
        issues.add("targets", "unknown field")
    parse_upstream(body, "", issues)
    if issues:
        raise errors.schema_violation(issues.items)


def _check_target(body: dict) -> None:
    issues = Issues()
    parse_target(body, "", issues, nested=True)
    if issues:
        raise errors.schema_violation(issues.items)


def _document(admin) -> dict:
    """A copy of the running document with every upstream written out with its targets
    nested (a /config body may have listed targets at the top level, or nested without ids)."""
    doc = admin.store.copy_document()
    doc.pop("targets", None)
    upstreams = [upstream_record(u) for u in admin.store.config.upstreams]
    if upstreams:
        doc["upstreams"] = upstreams
    return doc


def _upstream_out(admin, upstream_id):
    u = next(u for u in admin.store.config.upstreams if u.id == upstream_id)
    return kong_upstream(u, admin.store.created.get(u.id, 0))


def _target_out(admin, upstream_id, target_id):
    u = next(u for u in admin.store.config.upstreams if u.id == upstream_id)
    t = next(t for t in u.targets if t.id == target_id)
    return kong_target(u, t, admin.store.created.get(u.id, 0))


# -- upstreams --------------------------------------------------------------------------------

async def create_upstream(admin, call):
    body = decode_object(call.body, call.content_type)
    _check_upstream(body)
    body.setdefault("id", str(uuid.uuid4()))
    async with admin.edit_lock:
        doc = _document(admin)
        _check_unique(doc.get("upstreams", []), body)
        doc.setdefault("upstreams", []).append(dict(body, targets=[]))
        await _apply(admin, doc)
    return 201, _upstream_out(admin, body["id"])


async def put_upstream(admin, call):
    """Kong's upsert: the body replaces the upstream named (or with the id) in the URL,
    creating it when there is none; the URL's name or id is the entity's."""
    body = decode_object(call.body, call.content_type)
    ref = call.params["upstream"]
    key = "id" if _looks_like_uuid(ref) else "name"
    if body.get(key) is not None and body[key] != ref:
        raise errors.schema_violation([_issue(key, f"the {key} in the body differs from "
                                                   f"the {key} in the URL")])
    body[key] = ref
    async with admin.edit_lock:
        doc = _document(admin)
        upstreams = doc.setdefault("upstreams", [])
        i = _index(upstreams, ref)
        targets = []
        if i is not None:
            body["id"] = upstreams[i]["id"]
            targets = upstreams[i].get("targets", [])
        else:
            body.setdefault("id", str(uuid.uuid4()))
        _check_upstream(body)
        _check_unique(upstreams, body, skip_id=body["id"])
        record = dict(body, targets=targets)
        if i is None:
            upstreams.append(record)
        else:
            upstreams[i] = record
        await _apply(admin, doc)
    return 200, _upstream_out(admin, body["id"])


async def patch_upstream(admin, call):
    patch = decode_object(call.body, call.content_type)
    async with admin.edit_lock:
        doc = _document(admin)
        upstreams = doc.get("upstreams", [])
        i = _index(upstreams, call.params["upstream"])
        if i is None:
            raise errors.not_found()
        record = upstreams[i]
        targets = record.get("targets", [])
        updated = merge_patch({k: v for k, v in record.items() if k != "targets"}, patch)
        if updated.get("id") != record["id"]:
            raise errors.schema_violation([_issue("id", "the id of an upstream cannot change")])
        _check_upstream(updated)
        _check_unique(upstreams, updated, skip_id=record["id"])
        upstreams[i] = dict(updated, targets=targets)
        await _apply(admin, doc)
    return 200, _upstream_out(admin, updated["id"])


async def delete_upstream(admin, call):
    async with admin.edit_lock:
        doc = _document(admin)
        i = _index(doc.get("upstreams", []), call.params["upstream"])
        if i is not None:
            del doc["upstreams"][i]
            await _apply(admin, doc)
    return 204, None


# -- targets ----------------------------------------------------------------------------------

def _upstream_record(doc: dict, ref: str) -> dict:
    i = _index(doc.get("upstreams", []), ref)
    if i is None:
        raise errors.not_found()
    return doc["upstreams"][i]


def _normalised(text: str) -> str:
    """`host` and `host:8000` are one target (Kong adds the default port)."""
    match = HOST_PORT.fullmatch(text) if isinstance(text, str) else None
    if match is None or match["port"]:
        return text
    return f"{text}:{DEFAULT_TARGET_PORT}"


def target_index(record: dict, ref: str):
    """Position of the target whose id or `host:port` is `ref` among an upstream's."""
    for i, target in enumerate(record.get("targets", [])):
        if target.get("id") == ref or _normalised(target.get("target")) == _normalised(ref):
            return i
    return None


def _check_target_unique(record: dict, body: dict, skip: int | None = None) -> None:
    for i, target in enumerate(record.get("targets", [])):
        if i == skip:
            continue
        if target.get("id") == body.get("id"):
            raise errors.unique_violation("id", body["id"])
        if _normalised(target.get("target")) == _normalised(body.get("target")):
            raise errors.AdminError(409, {
                "code": errors.UNIQUE_VIOLATION, "name": "unique constraint violation",
                "message": "UNIQUE violation detected on '{target=\"%s\",upstream={id=\"%s\"}}'"
                           % (body["target"], record["id"]),
                "fields": {"target": body["target"], "upstream": {"id": record["id"]}}})


def _target_body(call) -> dict:
    body = decode_object(call.body, call.content_type)
    upstream_ref = body.pop("upstream", None)
    if upstream_ref is not None and not isinstance(upstream_ref, (dict, str)):
        raise errors.schema_violation([_issue("upstream", "expected a record")])
    return body


async def create_target(admin, call):
    body = _target_body(call)
    _check_target(body)
    body.setdefault("id", str(uuid.uuid4()))
    async with admin.edit_lock:
        doc = _document(admin)
        record = _upstream_record(doc, call.params["upstream"])
        _check_target_unique(record, body)
        record.setdefault("targets", []).append(body)
        await _apply(admin, doc)
    return 201, _target_out(admin, record["id"], body["id"])


async def get_target(admin, call):
    doc = _document(admin)
    record = _upstream_record(doc, call.params["upstream"])
    i = target_index(record, call.params["target"])
    if i is None:
        raise errors.not_found()
    return 200, _target_out(admin, record["id"], record["targets"][i]["id"])


async def put_target(admin, call):
    body = _target_body(call)
    ref = call.params["target"]
    async with admin.edit_lock:
        doc = _document(admin)
        record = _upstream_record(doc, call.params["upstream"])
        i = target_index(record, ref)
        if i is not None:
            body["id"] = record["targets"][i]["id"]
            body.setdefault("target", record["targets"][i]["target"])
        elif _looks_like_uuid(ref):
            body["id"] = ref
        else:
            body.setdefault("target", ref)
            body.setdefault("id", str(uuid.uuid4()))
        _check_target(body)
        _check_target_unique(record, body, skip=i)
        targets = record.setdefault("targets", [])
        if i is None:
            targets.append(body)
        else:
            targets[i] = body
        await _apply(admin, doc)
    return 200, _target_out(admin, record["id"], body["id"])


async def patch_target(admin, call):
    patch = _target_body(call)
    async with admin.edit_lock:
        doc = _document(admin)
        record = _upstream_record(doc, call.params["upstream"])
        i = target_index(record, call.params["target"])
        if i is None:
            raise errors.not_found()
        current = record["targets"][i]
        updated = merge_patch(current, patch)
        if updated.get("id") != current["id"]:
            raise errors.schema_violation([_issue("id", "the id of a target cannot change")])
        _check_target(updated)
        _check_target_unique(record, updated, skip=i)
        record["targets"][i] = updated
        await _apply(admin, doc)
    return 200, _target_out(admin, record["id"], updated["id"])


async def delete_target(admin, call):
    async with admin.edit_lock:
        doc = _document(admin)
        record = _upstream_record(doc, call.params["upstream"])
        i = target_index(record, call.params["target"])
        if i is None:
            raise errors.not_found()
        del record["targets"][i]
        await _apply(admin, doc)
    return 204, None
