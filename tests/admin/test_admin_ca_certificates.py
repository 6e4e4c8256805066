"""Kong's `/ca_certificates` on the Admin API: POST, GET one and a page (`size`, `offset`,
`tags`), PUT upsert by id, PATCH, DELETE, in Kong's shapes (`cert_digest`, `tags`,
`created_at`); Kong's entity checks (one certificate, unexpired, a CA) as located 400s and the
same certificate twice as a 409 on `cert_digest`; and the change reaching a DataKit plugin that
names the entity in `config.ca_certificates` at its next call."""
from __future__ import annotations

import datetime
import hashlib
import ssl
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adminutil import AdminGateway, declarative
from netutil import Upstream
from tls_certs import CertAuthority

CA = CertAuthority("jqgate test CA one")
OTHER = CertAuthority("jqgate test CA two")


def expired_ca_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=10))
            .not_valid_after(now - datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def digest(pem: str) -> str:
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


@pytest.fixture
def gw(tmp_path, upstream):
    g = AdminGateway(tmp_path, declarative(upstream.port))
    yield g
    g.stop()


def test_ca_certificate_writes_reads_and_pages(gw):
    s, one, _ = gw.admin("POST", "/ca_certificates", {"cert": CA.pem, "tags": ["team-a", "prod"]})
    assert s == 201, one
    assert len(one["id"]) == 36 and one["cert"] == CA.pem and one["cert_digest"] == digest(CA.pem)
    assert one["tags"] == ["team-a", "prod"] and one["created_at"] > 0
    s, got, _ = gw.admin("GET", "/ca_certificates/%s" % one["id"])
    assert s == 200 and got == one

    # the same certificate under another id: Kong's unique cert_digest
    s, err, _ = gw.admin("POST", "/ca_certificates", {"cert": CA.pem})
    assert s == 409 and err["fields"] == {"cert_digest": digest(CA.pem)}, err

    # PUT creates with the URL's id, then replaces (fields left out are dropped: tags)
    put_id = str(uuid.uuid4())
    s, two, _ = gw.admin("PUT", "/ca_certificates/%s" % put_id, {"cert": OTHER.pem, "tags": ["prod"]})
    assert s == 200 and two["id"] == put_id and two["tags"] == ["prod"], two
    s, two, _ = gw.admin("PUT", "/ca_certificates/%s" % put_id, {"cert": OTHER.pem})
    assert s == 200 and two["tags"] is None, two
    s, err, _ = gw.admin("PUT", "/ca_certificates/not-a-uuid", {"cert": OTHER.pem})
    assert s == 400 and err["fields"]["id"] == "expected a valid UUID", err
    s, err, _ = gw.admin("PUT", "/ca_certificates/%s" % put_id, {"id": one["id"], "cert": OTHER.pem})
    assert s == 400, err
    s, two, _ = gw.admin("PATCH", "/ca_certificates/%s" % put_id, {"tags": ["prod", "team-b"]})
    assert s == 200 and two["tags"] == ["prod", "team-b"] and two["cert"] == OTHER.pem, two

    third = CertAuthority("jqgate test CA three")
    s, three, _ = gw.admin("POST", "/ca_certificates", {"cert": third.pem, "tags": ["team-a"]})
    assert s == 201, three

    s, first, _ = gw.admin("GET", "/ca_certificates?size=2")
    assert s == 200 and [c["id"] for c in first["data"]] == [one["id"], put_id], first
    assert first["offset"] and first["next"].startswith("/ca_certificates?offset=")
    s, rest, _ = gw.admin("GET", "/ca_certificates?size=2&offset=%s" % first["offset"])
    assert [c["id"] for c in rest["data"]] == [three["id"]] and rest["next"] is None, rest
    s, tagged, _ = gw.admin("GET", "/ca_certificates?tags=team-a")
    assert [c["id"] for c in tagged["data"]] == [one["id"], three["id"]]
    s, tagged, _ = gw.admin("GET", "/ca_certificates?tags=team-a,prod")
    assert [c["id"] for c in tagged["data"]] == [one["id"]]
    s, tagged, _ = gw.admin("GET", "/ca_certificates?tags=team-b/team-a")
    assert len(tagged["data"]) == 3

    assert gw.admin("DELETE", "/ca_certificates/%s" % three["id"])[0] == 204
    assert gw.admin("GET", "/ca_certificates/%s" % three["id"])[0] == 404
    assert gw.admin("DELETE", "/ca_certificates/%s" % three["id"])[0] == 204
    # the document the Admin API keeps carries them (ids and tags) whole
    s, config, _ = gw.admin("GET", "/config")
    assert s == 200


def test_refused_ca_certificates_say_why(gw):
    leaf, _ = CA.leaf("not-a-ca.test")
    s, err, _ = gw.admin("POST", "/ca_certificates", {"cert": leaf})
    assert s == 400 and "missing the \"CA\" basic constraint" in err["fields"]["cert"], err
    s, err, _ = gw.admin("POST", "/ca_certificates", {"cert": CA.pem + OTHER.pem})
    assert s == 400 and err["fields"]["cert"] == "please submit only one certificate at a time", err
    s, err, _ = gw.admin("POST", "/ca_certificates", {"cert": expired_ca_pem()})
    assert s == 400 and "expired" in err["fields"]["cert"], err
    s, err, _ = gw.admin("POST", "/ca_certificates", {"cert": "nope"})
    assert s == 400 and "invalid certificate" in err["fields"]["cert"], err
    s, err, _ = gw.admin("POST", "/ca_certificates", {})
    assert s == 400, err
    s, err, _ = gw.admin("POST", "/ca_certificates", {"id": "mine", "cert": CA.pem})
    assert s == 400 and err["fields"]["id"] == "expected a valid UUID", err
    s, listed, _ = gw.admin("GET", "/ca_certificates")
    assert listed["data"] == []


@pytest.fixture
def tls_upstream(tmp_path):
    cert, key = CA.leaf_files(tmp_path, "localhost")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    u = Upstream(ssl_context=ctx)
    yield u
    u.stop()


def test_a_plugin_trusts_what_its_ca_certificate_entity_holds_now(gw, tls_upstream):
    """The plugin's https call verifies against the entity's PEM: CA one signed the upstream's
    certificate, so the call succeeds; PATCHed to CA two, the next call fails verification;
    deleting the entity while the plugin names it is refused with the plugin's location."""
    s, entity, _ = gw.admin("POST", "/ca_certificates", {"cert": CA.pem})
    assert s == 201, entity
    nodes = [{"name": "CALL", "type": "call", "url": "https://localhost:%d/x" % tls_upstream.port},
             {"name": "EXIT", "type": "exit", "status": 200, "inputs": {"body": "CALL.body"}}]
    s, plugin, _ = gw.admin("POST", "/plugins", {"name": "datakit", "route": {"name": "main"},
                                                 "config": {"nodes": nodes,
                                                            "ca_certificates": [entity["id"]]}})
    assert s == 201, plugin
    s, body, _ = gw.proxy("/")
    assert s == 200, body
    assert tls_upstream.requests == 1

    s, changed, _ = gw.admin("PATCH", "/ca_certificates/%s" % entity["id"], {"cert": OTHER.pem})
    assert s == 200 and changed["cert_digest"] == digest(OTHER.pem), changed
    s, body, _ = gw.proxy("/")
    assert s == 500, body
    assert tls_upstream.requests == 1          # the handshake failed: no request went out

    s, err, _ = gw.admin("DELETE", "/ca_certificates/%s" % entity["id"])
    assert s == 400 and entity["id"] in str(err), err
    assert gw.admin("GET", "/ca_certificates/%s" % entity["id"])[0] == 200
    assert gw.admin("DELETE", "/plugins/%s" % plugin["id"])[0] == 204
    assert gw.admin("DELETE", "/ca_certificates/%s" % entity["id"])[0] == 204
