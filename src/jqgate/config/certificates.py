"""Kong `certificates` and `snis` records: checked when the configuration loads, so a bad
certificate is a located error of `jqgate check`, the Admin API or a reload -- never a failed
handshake later.

A certificate is refused when its PEM does not parse, its key does not parse or belongs to
another certificate, or it has expired (Kong would serve it and every client would refuse it).
Names (`snis`, nested under a certificate or top-level with a `certificate` reference) are host
names, exact or with one wildcard label (`*.example.com`, `example.*`), unique across
certificates. Reading PEM needs the `cryptography` package (pip install jqgate[tls]).
"""
from __future__ import annotations

import hashlib
import time
from typing import Any

from jqgate.config import checks
from jqgate.config.ids import stable_id
from jqgate.config.model import Certificate
from jqgate.config.routes import check_sni
from jqgate.config.services import check_tags
from jqgate.errors import Issues, join

CERTIFICATE_FIELDS = ("id", "cert", "key", "cert_alt", "key_alt", "snis", "tags")
SNI_FIELDS = ("id", "name", "certificate", "tags")


def parse_certificate(record: Any, location: str, issues: Issues) -> Certificate | None:
    """The certificate with its nested `snis`, or None when it cannot be used."""
    if not checks.check_object(record, location, issues):
        return None
    first = len(issues)
    checks.check_known_keys(record, location, issues, CERTIFICATE_FIELDS)
    check_tags(record, location, issues)
    before = len(issues)
    for key in ("cert", "key"):
        if key not in record:
            issues.add(join(location, key), "required field missing")
        else:
            checks.check_string(record[key], join(location, key), issues, max_len=1 << 20)
    if ("cert_alt" in record) != ("key_alt" in record):
        issues.add(location, "cert_alt and key_alt go together")
    if len(issues) != before:
        return None
    given = record.get("id")
    if given is not None:
        checks.check_string(given, join(location, "id"), issues, max_len=255)
    cert_id = given if isinstance(given, str) else stable_id(
        "certificate", hashlib.sha256(record["cert"].encode()).hexdigest())
    cert = Certificate(id=cert_id, cert=record["cert"], key=record["key"],
                       cert_alt=record.get("cert_alt"), key_alt=record.get("key_alt"),
                       tags=record.get("tags"), location=location)
    not_after = check_pair(cert.cert, cert.key, location, "cert", "key", issues)
    if cert.cert_alt is not None:
        check_pair(cert.cert_alt, cert.key_alt, location, "cert_alt", "key_alt", issues)
    if not_after is None:
        return None
    cert.not_after = not_after
    for index, item in enumerate(checks_list(record, "snis", location, issues)):
        where = join(location, f"snis[{index}]")
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(item, dict):
            checks.check_known_keys(item, where, issues, ("id", "name", "tags"))
            where = join(where, "name")
        if checks.check_string(name, where, issues, max_len=255) and check_sni(name, where, issues):
            add_name(cert, name, item.get("id") if isinstance(item, dict) else None)
    return cert if len(issues) == first else None


def parse_sni(record: Any, location: str, issues: Issues):
    """A top-level `snis` record: (name, its id or None, the raw certificate reference)."""
    if not checks.check_object(record, location, issues):
        return None
    before = len(issues)
    checks.check_known_keys(record, location, issues, SNI_FIELDS)
    check_tags(record, location, issues)
    name = record.get("name")
    if name is None:
        issues.add(join(location, "name"), "required field missing")
    elif checks.check_string(name, join(location, "name"), issues, max_len=255):
        check_sni(name, join(location, "name"), issues)
    if record.get("certificate") is None:
        issues.add(join(location, "certificate"), "required field missing")
    if len(issues) != before:
        return None
    return name, record.get("id"), record["certificate"]


def add_name(cert: Certificate, name: str, sni_id: str | None) -> None:
    name = name.lower()
    cert.snis.append(name)
    cert.sni_ids[name] = sni_id or stable_id("sni", name)


def check_unique_names(certificates: list[Certificate], issues: Issues) -> None:
    """Kong: an SNI name belongs to one certificate."""
    owner: dict[str, Certificate] = {}
    seen_ids: dict[str, str] = {}
    for cert in certificates:
        if cert.id in seen_ids:
            issues.add(join(cert.location, "id"), f'duplicate certificate id "{cert.id}" '
                                                  f"(first at {seen_ids[cert.id]})")
        seen_ids.setdefault(cert.id, cert.location)
        for name in cert.snis:
            first = owner.setdefault(name, cert)
            if first is not cert:
                issues.add(cert.location, f'SNI "{name}" already belongs to the certificate '
                                          f"at {first.location}")


def checks_list(record: dict, key: str, location: str, issues: Issues) -> list:
    value = record.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        issues.add(join(location, key), f"expected an array, got {checks.type_name(value)}")
        return []
    return value


def check_pair(cert_pem: str, key_pem: str, location: str, cert_field: str, key_field: str,
               issues: Issues) -> float | None:
    """The leaf's expiry (Unix time) when `cert_pem` and `key_pem` are a usable pair; else the
    problems are added at `location.cert_field` / `location.key_field` and None returned."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        issues.add(join(location, cert_field), "reading certificates needs the `cryptography` "
                                               "package (pip install jqgate[tls])")
        return None
    try:
        chain = x509.load_pem_x509_certificates(cert_pem.encode())
    except ValueError as exc:
        issues.add(join(location, cert_field), f"invalid certificate: {exc}")
        return None
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        issues.add(join(location, key_field), f"invalid key: {exc}")
        return None
    leaf = chain[0]
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, spki) != \
            leaf.public_key().public_bytes(serialization.Encoding.DER, spki):
        issues.add(join(location, key_field), "the key does not match the certificate")
        return None
    not_after = leaf.not_valid_after_utc.timestamp()
    if not_after < time.time():
        issues.add(join(location, cert_field), "certificate expired on %s"
                   % leaf.not_valid_after_utc.strftime("%Y-%m-%d %H:%M:%S UTC"))
        return None
    return not_after
