"""Kong's certificates and snis through the Admin API: created, listed, changed and deleted;
refused with located errors when they could not be served; and the TLS listener serving each
change at the next handshake while a connection made before stays up."""
from __future__ import annotations

import socket
import ssl

import pytest

from adminutil import AdminGateway, declarative
from tls_certs import CertAuthority, common_name

CA = CertAuthority()


@pytest.fixture
def gw(tmp_path, upstream):
    cert, key = CA.leaf_files(tmp_path, "default.test")
    g = AdminGateway(tmp_path, declarative(upstream.port), tls=(cert, key))
    yield g
    g.stop()


def served(port, name):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30),
                         server_hostname=name) as s:
        return common_name(s.getpeercert(binary_form=True))


def test_certificate_lifecycle(gw):
    cert, key = CA.leaf("api.example.com")
    s, created, _ = gw.admin("POST", "/certificates",
                             {"cert": cert, "key": key, "snis": ["api.example.com"]})
    assert s == 201, created
    assert created["snis"] == ["api.example.com"] and len(created["id"]) == 36
    cid = created["id"]
    assert served(gw.tls_port, "api.example.com") == "api.example.com"
    assert served(gw.tls_port, "www.example.com") == "default.test"
    # a connection made now stays up through the changes below
    kept_ctx = ssl.create_default_context()
    kept_ctx.check_hostname, kept_ctx.verify_mode = False, ssl.CERT_NONE
    kept = kept_ctx.wrap_socket(socket.create_connection(("127.0.0.1", gw.tls_port), timeout=30),
                                server_hostname="api.example.com")

    s, sni, _ = gw.admin("POST", "/certificates/%s/snis" % cid, {"name": "*.example.com"})
    assert s == 201, sni
    assert sni["name"] == "*.example.com" and sni["certificate"] == {"id": cid}
    assert served(gw.tls_port, "www.example.com") == "api.example.com"
    s, listed, _ = gw.admin("GET", "/snis")
    assert sorted(x["name"] for x in listed["data"]) == ["*.example.com", "api.example.com"]
    s, listed, _ = gw.admin("GET", "/certificates/%s/snis" % cid)
    assert len(listed["data"]) == 2
    s, got, _ = gw.admin("GET", "/certificates/api.example.com")     # by one of its names
    assert s == 200 and got["id"] == cid

    other_cert, other_key = CA.leaf("other.example.com")
    s, patched, _ = gw.admin("PATCH", "/certificates/%s" % cid, {"cert": other_cert, "key": other_key})
    assert s == 200, patched
    assert served(gw.tls_port, "api.example.com") == "other.example.com"

    s, _, _ = gw.admin("DELETE", "/snis/*.example.com")
    assert s == 204
    assert served(gw.tls_port, "www.example.com") == "default.test"
    s, _, _ = gw.admin("DELETE", "/certificates/%s" % cid)
    assert s == 204
    s, listed, _ = gw.admin("GET", "/snis")
    assert listed["data"] == []
    assert served(gw.tls_port, "api.example.com") == "default.test"

    kept.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = b""
    while True:
        chunk = kept.recv(65536)
        if not chunk:
            break
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    kept.close()


def test_refused_certificates_name_the_field(gw):
    cert, key = CA.leaf("a.test")
    old_cert, old_key = CA.leaf("old.test", expired=True)
    s, body, _ = gw.admin("POST", "/certificates", {"cert": old_cert, "key": old_key})
    assert s == 400 and "expired" in body["fields"]["cert"], body
    s, body, _ = gw.admin("POST", "/certificates", {"cert": cert, "key": CA.leaf("b.test")[1]})
    assert s == 400 and body["fields"]["key"] == "the key does not match the certificate", body
    s, body, _ = gw.admin("POST", "/certificates", {"cert": "nope", "key": key})
    assert s == 400 and "invalid certificate" in body["fields"]["cert"], body
    s, created, _ = gw.admin("POST", "/certificates", {"cert": cert, "key": key, "snis": ["a.test"]})
    assert s == 201
    s, body, _ = gw.admin("POST", "/snis", {"name": "a.test", "certificate": {"id": created["id"]}})
    assert s == 409, body
    s, body, _ = gw.admin("POST", "/snis", {"name": "b.test", "certificate": {"id": "nope"}})
    assert s == 400, body
    s, listed, _ = gw.admin("GET", "/certificates")
    assert [c["id"] for c in listed["data"]] == [created["id"]]


def test_put_replaces_or_creates_certificates_and_snis(gw):
    """Kong's PUT: by id or by name, replacing the entity or creating it."""
    cert, key = CA.leaf("put.example.com")
    new_id = "5b1c5b6e-0c39-4d2e-9a57-1d0b8f0e6a11"
    s, made, _ = gw.admin("PUT", "/certificates/%s" % new_id,
                          {"cert": cert, "key": key, "snis": ["put.example.com"]})
    assert s == 200, made
    assert made["id"] == new_id and made["snis"] == ["put.example.com"]
    assert served(gw.tls_port, "put.example.com") == "put.example.com"

    # by one of its names: the body replaces it; the name in the URL stays one of its names
    other_cert, other_key = CA.leaf("other.example.com")
    s, replaced, _ = gw.admin("PUT", "/certificates/put.example.com",
                              {"cert": other_cert, "key": other_key})
    assert s == 200, replaced
    assert replaced["id"] == new_id and replaced["snis"] == ["put.example.com"]
    assert served(gw.tls_port, "put.example.com") == "other.example.com"

    # a name nobody holds yet: a new certificate holding it
    third_cert, third_key = CA.leaf("third.example.com")
    s, third, _ = gw.admin("PUT", "/certificates/third.example.com",
                           {"cert": third_cert, "key": third_key})
    assert s == 200, third
    assert third["id"] != new_id and third["snis"] == ["third.example.com"]

    # SNIs: created by name, then moved to another certificate by the same PUT
    s, sni, _ = gw.admin("PUT", "/snis/*.put.example.com", {"certificate": {"id": new_id}})
    assert s == 200, sni
    assert sni["name"] == "*.put.example.com" and sni["certificate"] == {"id": new_id}
    assert served(gw.tls_port, "a.put.example.com") == "other.example.com"
    s, moved, _ = gw.admin("PUT", "/snis/%s" % sni["id"],
                           {"name": "*.put.example.com", "certificate": {"id": third["id"]}})
    assert s == 200 and moved["id"] == sni["id"], moved
    assert served(gw.tls_port, "a.put.example.com") == "third.example.com"

    # refused, and nothing changed: a name another certificate holds, a mismatched id
    s, err, _ = gw.admin("PUT", "/certificates/%s" % new_id,
                         {"cert": other_cert, "key": other_key, "snis": ["third.example.com"]})
    assert s == 409, err
    s, err, _ = gw.admin("PUT", "/certificates/%s" % new_id,
                         {"id": third["id"], "cert": other_cert, "key": other_key})
    assert s == 400, err
    s, err, _ = gw.admin("PUT", "/snis/x.example.com", {"name": "y.example.com",
                                                         "certificate": {"id": new_id}})
    assert s == 400, err
    assert served(gw.tls_port, "third.example.com") == "third.example.com"
    assert served(gw.tls_port, "put.example.com") == "other.example.com"
