"""Kong `ca_certificates` entities: trusted CA certificates (PEM) that other entities name by id.
Here a DataKit plugin's `config.ca_certificates` (Kong 3.16) names them: that plugin's https
calls trust exactly those certificates (jqgate.nodes.call.tls)."""
from __future__ import annotations

import ssl
from typing import Any

from jqgate.config import checks
from jqgate.config.services import check_tags
from jqgate.errors import Issues, join

FIELDS = ("id", "cert", "cert_digest", "tags", "created_at", "updated_at")


def parse_ca_certificate(record: Any, location: str, issues: Issues) -> tuple[str, str] | None:
    """(id, PEM text) of a valid record; the certificate must load as a CA certificate."""
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
    if cert is None:
        issues.add(location, "missing field `cert`")
    elif checks.check_string(cert, join(location, "cert"), issues):
        try:
            ssl.create_default_context(cadata=cert)
        except (ssl.SSLError, ValueError) as e:
            issues.add(join(location, "cert"), f"invalid certificate: {e}")
    check_tags(record, location, issues)
    return (entity_id, cert) if len(issues) == before else None
