"""Kong's certificates and snis entities in the declarative file: loaded, and refused at load
time with a located error when they could not be served."""
from __future__ import annotations

import pytest

from jqgate.config.declarative import load_declarative
from jqgate.errors import ConfigError
from jqgate.tls import CertificateTable
from tls_certs import CertAuthority

CA = CertAuthority()


def doc(**kw):
    return {"_format_version": "3.0", **kw}


def errors_of(d):
    with pytest.raises(ConfigError) as e:
        load_declarative(d, "k")
    return [str(i) for i in e.value.errors]


def test_certificates_with_nested_and_top_level_snis():
    a_cert, a_key = CA.leaf("a.example.com")
    w_cert, w_key = CA.leaf("*.example.org")
    config = load_declarative(doc(
        certificates=[{"id": "c-a", "cert": a_cert, "key": a_key,
                       "snis": ["A.example.com", {"name": "example.*"}]},
                      {"id": "c-w", "cert": w_cert, "key": w_key, "tags": ["t"]}],
        snis=[{"name": "*.example.org", "certificate": {"id": "c-w"}}]), "k")
    a, w = config.certificates
    assert (a.id, a.snis) == ("c-a", ["a.example.com", "example.*"])
    assert w.snis == ["*.example.org"] and w.tags == ["t"]
    table = CertificateTable(config.certificates)
    assert table.certificate_for("a.example.com") is a
    assert table.certificate_for("x.example.org") is w           # *.example.org
    assert table.certificate_for("x.y.example.org") is None      # one label only, as Kong
    assert table.certificate_for("example.net") is a             # example.*
    assert table.certificate_for("other.net") is None


def test_bad_certificates_are_located_errors():
    good_cert, good_key = CA.leaf("good.test")
    old_cert, old_key = CA.leaf("old.test", expired=True)
    other_key = CA.leaf("other.test")[1]
    errs = errors_of(doc(certificates=[
        {"cert": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
         "key": good_key},
        {"cert": good_cert, "key": "garbage"},
        {"cert": good_cert, "key": other_key},
        {"cert": old_cert, "key": old_key},
        {"cert": good_cert},
        {"cert": good_cert, "key": good_key, "snis": ["ok.test", "bad name"], "color": 1},
    ]))
    assert errs[0].startswith("certificates[0].cert: invalid certificate")
    assert errs[1].startswith("certificates[1].key: invalid key")
    assert errs[2] == "certificates[2].key: the key does not match the certificate"
    assert errs[3].startswith("certificates[3].cert: certificate expired on ")
    assert errs[4] == "certificates[4].key: required field missing"
    assert "certificates[5].color: unknown field" in errs
    assert any(e.startswith('certificates[5].snis[1]: "bad name" is not a valid SNI') for e in errs)


def test_sni_names_are_unique_and_references_resolve():
    c1, k1 = CA.leaf("one.test")
    c2, k2 = CA.leaf("two.test")
    errs = errors_of(doc(
        certificates=[{"id": "one", "cert": c1, "key": k1, "snis": ["same.test"]},
                      {"id": "two", "cert": c2, "key": k2, "snis": ["same.test"]}],
        snis=[{"name": "x.test", "certificate": {"id": "nope"}}, {"name": "y.test"}]))
    assert sorted(errs) == sorted([
        "snis[0].certificate: unknown certificate \"nope\"",
        "snis[1].certificate: required field missing",
        'certificates[1]: SNI "same.test" already belongs to the certificate at certificates[0]',
    ])
