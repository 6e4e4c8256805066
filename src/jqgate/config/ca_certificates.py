"""Kong `ca_certificates` entities: trusted CA certificates (PEM) that other entities name by id.
Here a DataKit plugin's `config.ca_certificates` (Kong 3.16) names them: that plugin's https
calls trust exactly those certificates (jqgate.nodes.call.tls).

Kong's entity checks are kept, so a certificate the Admin API or a file accepts is one a trust
store can use: one certificate per entity ("please submit only one certificate at a time"), not
expired, and a CA (the basicConstraints CA flag). `cert_digest` is Kong's: the SHA-256 of the
certificate's DER form, in hex, unique across the entities.
"""
from __future__ import annotations

import hashlib
import ssl
import time
from dataclasses import dataclass
from typing import Any

from jqgate.config import checks
from jqgate.config.services import check_tags
from jqgate.errors import Issues, join

FIELDS = ("id", "cert", "cert_digest", "tags", "created_at", "updated_at")
BEGIN = "-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class CACertificate:
    id: str
    cert: str                       # PEM
    cert_digest: str                # hex SHA-256 of the DER form
    tags: list[str] | None = None


def parse_ca_certificate(record: Any, location: str, issues: Issues) -> CACertificate | None:
    """The entity when the record is valid; the certificate must load as a CA certificate."""
    if not checks.check_object(record, location, issues):
        return None
    before = len(issues)
    checks.check_known_keys(record, location, issues, FIELDS)
    entity_id = record.get("id")
    if entity_id is None:
        issues.add(location, "missing field `id` (plugins name CA certificates by id)")
    else:
        checks.check_string(entity_id, join(location, "id"), issues)
    cert = record.get("cert")
    digest = None
    if cert is None:
        issues.add(location, "missing field `cert`")
    elif checks.check_string(cert, join(location, "cert"), issues, max_len=1 << 20):
        digest = _check_ca(cert, join(location, "cert"), issues)
    check_tags(record, location, issues)
    if len(issues) != before or digest is None:
        return None
    return CACertificate(entity_id, cert, digest, record.get("tags"))


def _check_ca(pem: str, location: str, issues: Issues) -> str | None:
    """The certificate's digest when `pem` is one unexpired CA certificate; else an issue."""
    if pem.count(BEGIN) > 1:
        issues.add(location, "please submit only one certificate at a time")
        return None
    try:
        ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError) as e:
        issues.add(location, f"invalid certificate: {e}")
        return None
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        issues.add(location, "reading certificates needs the `cryptography` package "
                             "(pip install jqgate[tls])")
        return None
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as e:
        issues.add(location, f"invalid certificate: {e}")
        return None
    if cert.not_valid_after_utc.timestamp() < time.time():
        issues.add(location, 'certificate expired, "Not After" time is in the past')
        return None
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        issues.add(location, 'certificate does not appear to be a CA because it is missing the '
                             '"CA" basic constraint')
        return None
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
