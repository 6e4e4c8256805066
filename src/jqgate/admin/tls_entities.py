"""Kong's `certificates` and `snis` through the Admin API: /certificates, /certificates/{c},
/certificates/{c}/snis, /snis, /snis/{s}.

Like the other entity writes (jqgate.admin.entity_writes), every change builds a new canonical
document and applies it whole: the certificate is checked by the same loader as a file's (PEM,
key pair, expiry: errors located in the body), the TLS listeners switch to the new certificates
with the reload, and connections already established keep theirs. In the canonical document a
certificate carries no names; each name is a top-level `snis` record referencing it by id.

Kong's rules kept: `{c}` is a certificate id or one of its SNI names, `{s}` an SNI id or name;
a name belongs to one certificate (409 when taken); deleting a certificate deletes its SNIs;
`snis` in a certificate body replaces the certificate's names. PUT replaces or creates: a
certificate by id, or by a name (an SNI name that does not exist yet creates a certificate
holding that name); an SNI by id or name.
"""
from __future__ import annotations

import uuid

from jqgate.admin import errors
from jqgate.admin.bodies import decode_object
from jqgate.admin.entities import kong_certificate, kong_sni
from jqgate.admin.entity_writes import looks_like_uuid
from jqgate.admin.handlers import _apply, _created, _issue, merge_patch
from jqgate.admin.paging import page
from jqgate.config.certificates import parse_certificate, parse_sni
from jqgate.errors import Issues


def _certificates(admin) -> list:
    return admin.store.config.certificates


def _find_certificate(admin, ref: str):
    for c in _certificates(admin):
        if c.id == ref:
            return c
    ref = ref.lower()
    for c in _certificates(admin):
        if ref in c.snis:
            return c
    return None


def _find_sni(admin, ref: str):
    """(certificate, name) for an SNI id or name, or (None, None)."""
    for c in _certificates(admin):
        for name, sni_id in c.sni_ids.items():
            if sni_id == ref or name == ref.lower():
                return c, name
    return None, None


def _certificate_out(admin, cert_id: str) -> dict:
    c = next(c for c in _certificates(admin) if c.id == cert_id)
    return kong_certificate(c, _created(admin, c.id))


def _check(parse, body: dict) -> None:
    issues = Issues()
    parse(body, "", issues)
    if issues:
        raise errors.schema_violation(issues.items)


def _check_names_free(doc: dict, names, cert_id: str) -> None:
    for record in doc.get("snis", []):
        if record["name"] in names and record["certificate"]["id"] != cert_id:
            raise errors.unique_violation("name", record["name"])


def _set_names(doc: dict, cert_id: str, names: list) -> None:
    """The certificate's `snis` records become `names` (ids kept for names it already had)."""
    kept = {r["name"]: r for r in doc.get("snis", []) if r["certificate"]["id"] == cert_id}
    others = [r for r in doc.get("snis", []) if r["certificate"]["id"] != cert_id]
    mine = [kept.get(n) or {"id": str(uuid.uuid4()), "name": n, "certificate": {"id": cert_id}}
            for n in names]
    doc["snis"] = others + mine


def _names(body: dict) -> list:
    names = body.pop("snis", None) or []
    return [(n.get("name") if isinstance(n, dict) else n).lower() for n in names]


# -- certificates -----------------------------------------------------------------------------

async def list_certificates(admin, call):
    return 200, page([kong_certificate(c, _created(admin, c.id)) for c in _certificates(admin)],
                     call)


async def get_certificate(admin, call):
    c = _find_certificate(admin, call.params["certificate"])
    if c is None:
        raise errors.not_found()
    return 200, kong_certificate(c, _created(admin, c.id))


async def create_certificate(admin, call):
    body = decode_object(call.body, call.content_type)
    _check(parse_certificate, body)
    body.setdefault("id", str(uuid.uuid4()))
    names = _names(body)
    async with admin.edit_lock:
        doc = admin.store.copy_document()
        if any(r["id"] == body["id"] for r in doc.get("certificates", [])):
            raise errors.unique_violation("id", body["id"])
        _check_names_free(doc, names, body["id"])
        doc.setdefault("certificates", []).append(body)
        _set_names(doc, body["id"], names)
        await _apply(admin, doc)
    return 201, _certificate_out(admin, body["id"])


async def patch_certificate(admin, call):
    patch = decode_object(call.body, call.content_type)
    async with admin.edit_lock:
        doc = admin.store.copy_document()
        c = _find_certificate(admin, call.params["certificate"])
        if c is None:
            raise errors.not_found()
        records = doc.get("certificates", [])
        i = next(i for i, r in enumerate(records) if r["id"] == c.id)
        names = _names(patch) if "snis" in patch else None
        updated = merge_patch(records[i], patch)
        if updated.get("id") != c.id:
            raise errors.schema_violation([_issue("id", "the id of a certificate cannot change")])
        _check(parse_certificate, updated)
        records[i] = updated
        if names is not None:
            _check_names_free(doc, names, c.id)
            _set_names(doc, c.id, names)
        await _apply(admin, doc)
    return 200, _certificate_out(admin, c.id)


async def put_certificate(admin, call):
    """PUT /certificates/{c}: the body replaces certificate {c} (an id or one of its names), or
    creates it: with that id, or holding that name. The body's `snis` (none when absent) are its
    names, and a name in the URL stays one of them, as in Kong."""
    ref = call.params["certificate"]
    body = decode_object(call.body, call.content_type)
    url_name = None if looks_like_uuid(ref) else ref.lower()
    names = _names(body)
    if url_name is not None and url_name not in names:
        names.append(url_name)
    async with admin.edit_lock:
        existing = _find_certificate(admin, ref)
        cert_id = existing.id if existing is not None else (ref if url_name is None
                                                            else str(uuid.uuid4()))
        if body.get("id") is not None and body["id"] != cert_id:
            raise errors.schema_violation([_issue("id", "the id in the body differs from the "
                                                        "certificate in the URL")])
        body["id"] = cert_id
        _check(parse_certificate, body)
        doc = admin.store.copy_document()
        _check_names_free(doc, names, cert_id)
        doc["certificates"] = [r for r in doc.get("certificates", []) if r["id"] != cert_id] \
            + [body]
        _set_names(doc, cert_id, names)
        await _apply(admin, doc)
    return 200, _certificate_out(admin, cert_id)


async def delete_certificate(admin, call):
    async with admin.edit_lock:
        c = _find_certificate(admin, call.params["certificate"])
        if c is None:
            return 204, None
        doc = admin.store.copy_document()
        doc["certificates"] = [r for r in doc.get("certificates", []) if r["id"] != c.id]
        doc["snis"] = [r for r in doc.get("snis", []) if r["certificate"]["id"] != c.id]
        await _apply(admin, doc)
    return 204, None


# -- snis -------------------------------------------------------------------------------------

async def list_snis(admin, call):
    only = None
    if "certificate" in call.params:
        only = _find_certificate(admin, call.params["certificate"])
        if only is None:
            raise errors.not_found()
    return 200, page([kong_sni(c, name, _created(admin, c.sni_ids[name]))
                      for c in _certificates(admin) if only is None or c is only
                      for name in c.snis], call)


async def get_sni(admin, call):
    c, name = _find_sni(admin, call.params["sni"])
    if c is None:
        raise errors.not_found()
    return 200, kong_sni(c, name, _created(admin, c.sni_ids[name]))


async def create_sni(admin, call):
    body = decode_object(call.body, call.content_type)
    if "certificate" in call.params:
        c = _find_certificate(admin, call.params["certificate"])
        if c is None:
            raise errors.not_found()
        body["certificate"] = {"id": c.id}
    _check(parse_sni, body)
    async with admin.edit_lock:
        cert = _referenced_certificate(admin, body)
        name = body["name"].lower()
        doc = admin.store.copy_document()
        if any(r["name"] == name for r in doc.get("snis", [])):
            raise errors.unique_violation("name", name)
        record = {"id": body.get("id") or str(uuid.uuid4()), "name": name,
                  "certificate": {"id": cert.id}}
        doc.setdefault("snis", []).append(record)
        await _apply(admin, doc)
    c, name = _find_sni(admin, record["id"])
    return 201, kong_sni(c, name, _created(admin, record["id"]))


async def patch_sni(admin, call):
    patch = decode_object(call.body, call.content_type)
    async with admin.edit_lock:
        c, name = _find_sni(admin, call.params["sni"])
        if c is None:
            raise errors.not_found()
        doc = admin.store.copy_document()
        records = doc.get("snis", [])
        i = next(i for i, r in enumerate(records) if r["id"] == c.sni_ids[name])
        updated = merge_patch(records[i], patch)
        _check(parse_sni, updated)
        target = _find_certificate(admin, _ref(updated["certificate"]))
        if target is None:
            raise errors.schema_violation([_issue("certificate", "unknown certificate")])
        updated = {"id": records[i]["id"], "name": updated["name"].lower(),
                   "certificate": {"id": target.id}}
        if any(r["name"] == updated["name"] for j, r in enumerate(records) if j != i):
            raise errors.unique_violation("name", updated["name"])
        records[i] = updated
        await _apply(admin, doc)
    c, name = _find_sni(admin, updated["id"])
    return 200, kong_sni(c, name, _created(admin, updated["id"]))


async def put_sni(admin, call):
    """PUT /snis/{s}: the body replaces SNI {s} (an id or a name), or creates it with that id
    or name; `certificate` is required, as in a POST."""
    ref = call.params["sni"]
    body = decode_object(call.body, call.content_type)
    if looks_like_uuid(ref):
        if body.get("id") is not None and body["id"] != ref:
            raise errors.schema_violation([_issue("id", "the id in the body differs from the "
                                                        "id in the URL")])
    else:
        body.setdefault("name", ref)
        if str(body["name"]).lower() != ref.lower():
            raise errors.schema_violation([_issue("name", "the name in the body differs from "
                                                          "the name in the URL")])
    _check(parse_sni, body)
    async with admin.edit_lock:
        cert = _referenced_certificate(admin, body)
        old, old_name = _find_sni(admin, ref)
        sni_id = old.sni_ids[old_name] if old is not None else (
            ref if looks_like_uuid(ref) else str(uuid.uuid4()))
        record = {"id": sni_id, "name": body["name"].lower(), "certificate": {"id": cert.id}}
        doc = admin.store.copy_document()
        others = [r for r in doc.get("snis", []) if r["id"] != sni_id]
        if any(r["name"] == record["name"] for r in others):
            raise errors.unique_violation("name", record["name"])
        doc["snis"] = others + [record]
        await _apply(admin, doc)
    c, name = _find_sni(admin, sni_id)
    return 200, kong_sni(c, name, _created(admin, sni_id))


async def delete_sni(admin, call):
    async with admin.edit_lock:
        c, name = _find_sni(admin, call.params["sni"])
        if c is None:
            return 204, None
        doc = admin.store.copy_document()
        doc["snis"] = [r for r in doc.get("snis", []) if r["id"] != c.sni_ids[name]]
        await _apply(admin, doc)
    return 204, None


def _referenced_certificate(admin, body: dict):
    """The certificate an SNI body names, or a schema violation (Kong's foreign-key message)."""
    cert = _find_certificate(admin, _ref(body["certificate"]))
    if cert is None:
        raise errors.schema_violation([_issue(
            "certificate", f"the foreign key '{_ref(body['certificate'])}' does not "
                           f"reference an existing 'certificates' entity")])
    return cert


def _ref(ref) -> str:
    return ref.get("id") or ref.get("name") if isinstance(ref, dict) else str(ref)
