"""jwt_decode / jwt_sign / jwt_verify (datakit.md §5.10-§5.12, D22, CVE-2026-14916): every
algorithm family, PEM / JWK / JWKS keys with kid, leeway, exp/nbf, issuers, audiences,
required claims, and forged tokens."""
from __future__ import annotations

import hashlib
import hmac
import json
import time

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization as S
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from jqgate.nodes.jwt.tokens import (JwtNodeError, SignOptions, VerifyOptions, b64url_encode,
                                      jwt_decode, jwt_sign, jwt_verify)

NOW = 1_800_000_000
# short HMAC test secrets are fine here; PyJWT's advice would only clutter the output
pytestmark = pytest.mark.filterwarnings("ignore:The HMAC key")


def pem_private(k) -> str:
    return k.private_bytes(S.Encoding.PEM, S.PrivateFormat.PKCS8, S.NoEncryption()).decode()


def pem_public(k) -> str:
    return k.public_key().public_bytes(S.Encoding.PEM, S.PublicFormat.SubjectPublicKeyInfo).decode()


RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEYS = {
    "HS": ("a-shared-secret-of-some-length", "a-shared-secret-of-some-length"),
    "RS": (pem_private(RSA), pem_public(RSA)),
    "PS": (pem_private(RSA), pem_public(RSA)),
    "ES256": (pem_private(ec.generate_private_key(ec.SECP256R1())), None),
    "ES384": (pem_private(ec.generate_private_key(ec.SECP384R1())), None),
    "ES512": (pem_private(ec.generate_private_key(ec.SECP521R1())), None),
    "Ed25519": (pem_private(ed25519.Ed25519PrivateKey.generate()), None),
    "Ed448": (pem_private(ed448.Ed448PrivateKey.generate()), None),
}


def keypair(alg):
    name = {"EdDSA": "Ed25519"}.get(alg, alg if alg.startswith("ES") else alg[:2])
    priv, pub = KEYS[name]
    if pub is None:
        pub = pem_public(S.load_pem_private_key(priv.encode(), None))
    return priv, pub


ALL = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
       "ES256", "ES384", "ES512", "EdDSA"]


@pytest.mark.parametrize("alg", ALL)
def test_sign_then_verify_every_algorithm(alg):
    priv, pub = keypair(alg)
    out = jwt_sign(SignOptions(alg, kid="k1"), {"sub": "alice"}, priv, now=NOW)
    assert out["header"] == {"alg": alg, "typ": "JWT", "kid": "k1"}
    got = jwt_verify(VerifyOptions(), out["token"], pub, now=NOW)
    assert got["claims"]["sub"] == "alice" and got["header"]["alg"] == alg
    # interoperability: PyJWT's own high-level API accepts our tokens
    assert pyjwt.decode(out["token"], pub, algorithms=[alg],
                        options={"verify_exp": False, "verify_nbf": False,
                                 "verify_iat": False})["sub"] == "alice"


def test_eddsa_with_ed448():
    priv = KEYS["Ed448"][0]
    out = jwt_sign(SignOptions("EdDSA"), {}, priv, now=NOW)
    assert jwt_verify(VerifyOptions(), out["token"], priv, now=NOW)["header"]["alg"] == "EdDSA"


@pytest.mark.parametrize("alg", ALL)
def test_tampered_payload_rejected(alg):
    priv, pub = keypair(alg)
    tok = jwt_sign(SignOptions(alg), {"role": "user"}, priv, now=NOW)["token"]
    h, p, s = tok.split(".")
    forged_payload = b64url_encode(json.dumps({"role": "admin", "exp": NOW + 300}).encode())
    with pytest.raises(JwtNodeError, match="invalid JWT signature"):
        jwt_verify(VerifyOptions(), "%s.%s.%s" % (h, forged_payload, s), pub, now=NOW)


def test_wrong_key_rejected():
    tok = jwt_sign(SignOptions("RS256"), {}, pem_private(RSA), now=NOW)["token"]
    with pytest.raises(JwtNodeError, match="invalid JWT signature"):
        jwt_verify(VerifyOptions(), tok, pem_public(RSA2), now=NOW)


def test_d22_claim_precedence_and_time_claims():
    o = SignOptions("HS256", expires_in=60, not_before=5,
                    static_claims={"iss": "kong", "aud": "static", "scope": "read"})
    out = jwt_sign(o, {"aud": "dynamic", "exp": 1, "iat": 2, "nbf": 3, "sub": "s"}, "k", now=NOW)
    assert out["claims"] == {"iss": "kong", "aud": "dynamic", "scope": "read", "sub": "s",
                             "iat": NOW, "nbf": NOW + 5, "exp": NOW + 60}
    assert jwt_decode(out["token"])["payload"] == out["claims"]


def test_sign_defaults():
    out = jwt_sign(SignOptions.from_config({"algorithm": "HS256"}), None, "k", now=NOW)
    assert out["claims"] == {"iat": NOW, "nbf": NOW, "exp": NOW + 300}
    assert out["header"] == {"alg": "HS256", "typ": "JWT"}
    out = jwt_sign(SignOptions.from_config({"algorithm": "HS256", "typ": "at+jwt"}), {}, "k", now=NOW)
    assert out["header"]["typ"] == "at+jwt"


@pytest.mark.parametrize("alg,key,match", [
    ("HS256", pem_private(RSA), "cannot be used with an RSA key"),
    ("RS256", "plain-secret", "cannot be used with an HMAC secret"),
    ("ES256", KEYS["ES384"][0], "needs an EC key on secp256r1"),
    ("EdDSA", pem_private(RSA), "cannot be used with an RSA key"),
    ("RS256", pem_public(RSA), "needs a private key"),
    ("PS256", "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----", "invalid PEM"),
])
def test_sign_key_algorithm_mismatch(alg, key, match):
    with pytest.raises(JwtNodeError, match=match):
        jwt_sign(SignOptions(alg), {}, key, now=NOW)


def test_sign_with_jwk_string_and_object():
    jwk = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(RSA))
    out = jwt_sign(SignOptions("RS256"), {}, json.dumps(jwk), now=NOW)
    assert jwt_verify(VerifyOptions(), out["token"], pem_public(RSA), now=NOW)
    oct_jwk = {"kty": "oct", "k": b64url_encode(b"jwk-secret")}
    out = jwt_sign(SignOptions("HS512"), {}, oct_jwk, now=NOW)
    assert jwt_verify(VerifyOptions(), out["token"], "jwk-secret", now=NOW)


# ------------------------------------------------------------------ CVE-2026-14916

def _hs256_with_secret(secret: bytes, payload: dict) -> str:
    h = b64url_encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    p = b64url_encode(json.dumps(payload).encode())
    sig = hmac.new(secret, ("%s.%s" % (h, p)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (h, p, b64url_encode(sig))


@pytest.mark.parametrize("as_jwks", [False, True])
def test_cve_2026_14916_hs256_signed_with_public_key(as_jwks):
    pub = pem_public(RSA)
    forged = _hs256_with_secret(pub.encode(), {"sub": "admin", "exp": NOW + 60})
    key = pub
    if as_jwks:
        key = {"keys": [json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(RSA.public_key()))]}
    with pytest.raises(JwtNodeError, match="cannot be used with an RSA key|no key in the JWKS"):
        jwt_verify(VerifyOptions(), forged, key, now=NOW)
    with pytest.raises(JwtNodeError):
        jwt_verify(VerifyOptions(allowed_algorithms=("HS256", "RS256")), forged, key, now=NOW)


def test_cve_variant_certificate_and_stripped_pem():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    import datetime
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(RSA.public_key()).serial_number(1)
            .not_valid_before(datetime.datetime(2020, 1, 1)).not_valid_after(datetime.datetime(2040, 1, 1))
            .sign(RSA, hashes.SHA256()))
    cert_pem = cert.public_bytes(S.Encoding.PEM).decode()
    forged = _hs256_with_secret(cert_pem.encode(), {"sub": "admin"})
    with pytest.raises(JwtNodeError, match="cannot be used with an RSA key"):
        jwt_verify(VerifyOptions(), forged, cert_pem, now=NOW)
    good = jwt_sign(SignOptions("RS256"), {"sub": "ok"}, pem_private(RSA), now=NOW)["token"]
    assert jwt_verify(VerifyOptions(), good, cert_pem, now=NOW)["claims"]["sub"] == "ok"
    forged = _hs256_with_secret((" " + pem_public(RSA) + "\n").encode(), {"sub": "admin"})
    with pytest.raises(JwtNodeError):
        jwt_verify(VerifyOptions(), forged, " " + pem_public(RSA) + "\n", now=NOW)


# ------------------------------------------------------------------ JWKS / kid

def _jwks():
    a = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(RSA.public_key()))
    b = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(RSA2.public_key()))
    a["kid"], b["kid"] = "a", "b"
    return {"keys": [a, b]}


def test_jwks_kid_selection():
    tok_b = jwt_sign(SignOptions("RS256", kid="b"), {"k": "b"}, pem_private(RSA2), now=NOW)["token"]
    assert jwt_verify(VerifyOptions(), tok_b, _jwks(), now=NOW)["claims"]["k"] == "b"
    assert jwt_verify(VerifyOptions(), tok_b, json.dumps(_jwks()), now=NOW)["claims"]["k"] == "b"
    # claims a kid whose key did not sign it
    tok_wrong = jwt_sign(SignOptions("RS256", kid="a"), {}, pem_private(RSA2), now=NOW)["token"]
    with pytest.raises(JwtNodeError, match="invalid JWT signature"):
        jwt_verify(VerifyOptions(), tok_wrong, _jwks(), now=NOW)
    tok_unknown = jwt_sign(SignOptions("RS256", kid="zzz"), {}, pem_private(RSA2), now=NOW)["token"]
    with pytest.raises(JwtNodeError, match="no key with kid"):
        jwt_verify(VerifyOptions(), tok_unknown, _jwks(), now=NOW)


def test_jwks_without_kid_tries_fitting_keys():
    tok = jwt_sign(SignOptions("RS256"), {"x": 1}, pem_private(RSA2), now=NOW)["token"]
    assert jwt_verify(VerifyOptions(), tok, _jwks(), now=NOW)["claims"]["x"] == 1


def test_jwk_alg_and_use_restrictions():
    jwks = _jwks()
    jwks["keys"][1]["alg"] = "RS512"
    tok = jwt_sign(SignOptions("RS256", kid="b"), {}, pem_private(RSA2), now=NOW)["token"]
    with pytest.raises(JwtNodeError, match="restricted to RS512"):
        jwt_verify(VerifyOptions(), tok, jwks, now=NOW)
    jwks = _jwks()
    jwks["keys"][1]["use"] = "enc"
    with pytest.raises(JwtNodeError, match="not a signature key"):
        jwt_verify(VerifyOptions(), tok, jwks, now=NOW)


def test_ec_jwk_and_okp_jwk():
    k = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(pyjwt.algorithms.ECAlgorithm.to_jwk(k.public_key()))
    tok = jwt_sign(SignOptions("ES256"), {"e": 1}, pem_private(k), now=NOW)["token"]
    assert jwt_verify(VerifyOptions(), tok, jwk, now=NOW)["claims"]["e"] == 1
    ed = ed25519.Ed25519PrivateKey.generate()
    jwk = json.loads(pyjwt.algorithms.OKPAlgorithm.to_jwk(ed.public_key()))
    tok = jwt_sign(SignOptions("EdDSA"), {"o": 1}, pem_private(ed), now=NOW)["token"]
    assert jwt_verify(VerifyOptions(), tok, jwk, now=NOW)["claims"]["o"] == 1


# ------------------------------------------------------------------ claims

def _tok(claims, alg="HS256", key="k"):
    return pyjwt.encode(claims, key, algorithm=alg)


def test_exp_and_leeway():
    tok = _tok({"exp": NOW - 10})
    with pytest.raises(JwtNodeError, match="token expired"):
        jwt_verify(VerifyOptions(), tok, "k", now=NOW)
    assert jwt_verify(VerifyOptions(leeway=11), tok, "k", now=NOW)
    with pytest.raises(JwtNodeError, match="token expired"):
        jwt_verify(VerifyOptions(leeway=10), tok, "k", now=NOW)       # exp + leeway == now
    assert jwt_verify(VerifyOptions(validate_exp=False), tok, "k", now=NOW)


def test_nbf_and_leeway():
    tok = _tok({"nbf": NOW + 10})
    with pytest.raises(JwtNodeError, match="not valid yet"):
        jwt_verify(VerifyOptions(), tok, "k", now=NOW)
    assert jwt_verify(VerifyOptions(leeway=10), tok, "k", now=NOW)
    assert jwt_verify(VerifyOptions(validate_nbf=False), tok, "k", now=NOW)


def test_non_numeric_exp_fails():
    with pytest.raises(JwtNodeError, match="must be a number"):
        jwt_verify(VerifyOptions(), _tok({"exp": "tomorrow"}), "k", now=NOW)


def test_issuers_audiences_required_claims():
    tok = _tok({"iss": "https://idp", "aud": ["api", "web"], "sub": "u"})
    o = VerifyOptions(issuers=("https://idp", "other"), audiences=("web",), required_claims=("sub",))
    assert jwt_verify(o, tok, "k", now=NOW)["claims"]["sub"] == "u"
    with pytest.raises(JwtNodeError, match="issuer"):
        jwt_verify(VerifyOptions(issuers=("x",)), tok, "k", now=NOW)
    with pytest.raises(JwtNodeError, match="audience"):
        jwt_verify(VerifyOptions(audiences=("mobile",)), tok, "k", now=NOW)
    assert jwt_verify(VerifyOptions(audiences=("api",)), _tok({"aud": "api"}), "k", now=NOW)
    with pytest.raises(JwtNodeError, match="audience"):
        jwt_verify(VerifyOptions(audiences=("api",)), _tok({}), "k", now=NOW)
    with pytest.raises(JwtNodeError, match="missing required claim.*email"):
        jwt_verify(VerifyOptions(required_claims=("sub", "email")), tok, "k", now=NOW)


def test_allowed_algorithms():
    with pytest.raises(JwtNodeError, match="not allowed"):
        jwt_verify(VerifyOptions(allowed_algorithms=("RS256",)), _tok({}), "k", now=NOW)


@pytest.mark.parametrize("token", [
    "a.b", "a.b.c.d", "!!.e30.sig", "e30.e30.***", b64url_encode(b"[]") + ".e30.",
    b64url_encode(b'{"alg":"none"}') + ".e30.", None, 42])
def test_malformed_and_none_alg_tokens(token):
    with pytest.raises(JwtNodeError):
        jwt_verify(VerifyOptions(), token, "k", now=NOW)


# ------------------------------------------------------------------ decode

def test_decode_with_bearer_prefix_any_case():
    tok = _tok({"sub": "x"})
    for prefix in ("", "Bearer ", "bearer ", "BEARER  "):
        out = jwt_decode(prefix + tok)
        assert out["payload"] == {"sub": "x"} and out["header"]["alg"] == "HS256"
        assert out["signature"] == tok.split(".")[2]


def test_decode_does_not_check_signature():
    tok = _tok({"sub": "x"})
    h, p, _ = tok.split(".")
    assert jwt_decode("%s.%s.%s" % (h, p, b64url_encode(b"garbage")))["payload"] == {"sub": "x"}


@pytest.mark.parametrize("token", ["", "x", "a.b.c", "e30.W10.", None, 5])
def test_decode_failures(token):
    with pytest.raises(JwtNodeError):
        jwt_decode(token)


def test_time_now_used_by_default():
    before = int(time.time())
    out = jwt_sign(SignOptions("HS256", expires_in=5), {}, "k")
    after = int(time.time())
    assert before <= out["claims"]["iat"] <= after       # "now", read while it signed
    assert out["claims"]["exp"] == out["claims"]["iat"] + 5
    assert jwt_verify(VerifyOptions(), out["token"], "k")
