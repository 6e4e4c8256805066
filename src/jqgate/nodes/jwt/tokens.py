"""`jwt_decode`, `jwt_sign`, `jwt_verify` (datakit.md §5.10-§5.12, D22), executor-independent.

Cryptography is PyJWT's algorithm objects (on `cryptography`); the token handling around them is
here so that the rules the spec lists are explicit and each one has a test:

- **Key classification first, then the algorithm family** (CVE-2026-14916). A key is one of:
  a PEM document (public key, certificate or private key), a JWK (object or JSON text), a JWKS
  (`{"keys": [...]}`), or else an HMAC secret (the text's UTF-8 bytes). `HS*` only accepts a
  secret or an `oct` JWK; `RS*`/`PS*` only RSA keys; `ES256/384/512` only EC keys on P-256 /
  P-384 / P-521; `EdDSA` only Ed25519/Ed448. So an HS256 token whose HMAC secret is an RSA
  public key PEM is refused when verified with that PEM: the PEM is classified as an RSA key and
  can never become an HMAC secret.
- JWKS: with a `kid` in the token header the JWK with that `kid` is used (none -> failure);
  without one, every JWK whose type fits the algorithm (and whose `alg`/`use`, when present,
  allow it) is tried.
- Claim checks run only after the signature is valid: `exp` / `nbf` (when present and enabled,
  with `leeway`, numeric values required), `iss` in `issuers`, `aud` (string or list)
  intersecting `audiences`, every `required_claims` present.
- jwt_sign (D22): claims = `static_claims`, overridden by the dynamic `claims`, then `iat`,
  `nbf` (= now + not_before) and `exp` (= now + expires_in) always set by the node.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from dataclasses import dataclass, field

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509 import load_pem_x509_certificate
from jwt.algorithms import get_default_algorithms
from jwt.exceptions import InvalidKeyError, PyJWKError

from jqgate.nodes.failure import NodeFailure

ALGORITHMS = get_default_algorithms()        # name -> PyJWT Algorithm object
FAMILY = {  # algorithm -> key family it requires
    "HS256": "oct", "HS384": "oct", "HS512": "oct",
    "RS256": "RSA", "RS384": "RSA", "RS512": "RSA",
    "PS256": "RSA", "PS384": "RSA", "PS512": "RSA",
    "ES256": "EC", "ES384": "EC", "ES512": "EC",
    "EdDSA": "OKP",
}
EC_CURVE = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
JWK_CURVE = {"P-256": "secp256r1", "P-384": "secp384r1", "P-521": "secp521r1"}


class JwtNodeError(NodeFailure):
    """The node fails with this text."""


# ------------------------------------------------------------------------------ encoding

def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(part: str, what: str) -> bytes:
    try:
        if any(c in part for c in "+/="):
            raise ValueError("not base64url")
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (ValueError, binascii.Error):
        raise JwtNodeError("invalid JWT: %s is not base64url" % what) from None


def strip_bearer(token) -> str:
    if not isinstance(token, str):
        raise JwtNodeError("invalid JWT: expected a string, got %s"
                           % ("null" if token is None else type(token).__name__))
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    return token


@dataclass(frozen=True)
class Parsed:
    header: dict
    payload: dict
    signature: str             # base64url, as in the token
    signing_input: bytes
    signature_bytes: bytes


def parse_token(token) -> Parsed:
    token = strip_bearer(token)
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtNodeError("invalid JWT: expected 3 dot-separated parts, got %d" % len(parts))
    h, p, s = parts
    objs = []
    for part, what in ((h, "header"), (p, "payload")):
        try:
            obj = orjson.loads(b64url_decode(part, what))
        except orjson.JSONDecodeError:
            raise JwtNodeError("invalid JWT: %s is not JSON" % what) from None
        if not isinstance(obj, dict):
            raise JwtNodeError("invalid JWT: %s is not a JSON object" % what)
        objs.append(obj)
    sig = b64url_decode(s, "signature")
    return Parsed(objs[0], objs[1], s, ("%s.%s" % (h, p)).encode("ascii"), sig)


def jwt_decode(token) -> dict:
    """§5.10: outputs header, payload, signature; no signature check."""
    t = parse_token(token)
    return {"header": t.header, "payload": t.payload, "signature": t.signature}


# ------------------------------------------------------------------------------ keys

@dataclass
class Key:
    family: str                # "oct" | "RSA" | "EC" | "OKP"
    material: object           # bytes (oct) or a cryptography key object
    curve: str | None = None   # EC curve name
    kid: str | None = None
    alg: str | None = None     # JWK "alg" restriction
    use: str | None = None
    private: bool = False


def _classify_crypto(obj, kid=None, alg=None, use=None) -> Key:
    if isinstance(obj, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return Key("RSA", obj, None, kid, alg, use, isinstance(obj, rsa.RSAPrivateKey))
    if isinstance(obj, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return Key("EC", obj, obj.curve.name, kid, alg, use, isinstance(obj, ec.EllipticCurvePrivateKey))
    if isinstance(obj, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey,
                        ed448.Ed448PrivateKey, ed448.Ed448PublicKey)):
        return Key("OKP", obj, None, kid, alg, use,
                   isinstance(obj, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)))
    raise JwtNodeError("unsupported key type %s" % type(obj).__name__)


def _load_pem(text: str) -> Key:
    data = text.strip().encode("utf-8")
    if b"-----BEGIN CERTIFICATE-----" in data:
        try:
            return _classify_crypto(load_pem_x509_certificate(data).public_key())
        except ValueError as e:
            raise JwtNodeError("invalid PEM certificate: %s" % e) from None
    if b"PRIVATE KEY-----" in data:
        try:
            return _classify_crypto(serialization.load_pem_private_key(data, password=None))
        except (ValueError, TypeError) as e:
            raise JwtNodeError("invalid PEM private key: %s" % e) from None
    try:
        return _classify_crypto(serialization.load_pem_public_key(data))
    except (ValueError, TypeError) as e:
        raise JwtNodeError("invalid PEM public key: %s" % e) from None


def _load_jwk(jwk: dict) -> Key:
    kty = jwk.get("kty")
    kid, alg, use = jwk.get("kid"), jwk.get("alg"), jwk.get("use")
    text = json.dumps(jwk)
    try:
        if kty == "oct":
            k = jwk.get("k")
            if not isinstance(k, str):
                raise JwtNodeError("invalid JWK: oct key without \"k\"")
            return Key("oct", b64url_decode(k, "JWK k"), None, kid, alg, use, True)
        if kty == "RSA":
            obj = ALGORITHMS["RS256"].from_jwk(text)
        elif kty == "EC":
            obj = ALGORITHMS["ES256"].from_jwk(text)
        elif kty == "OKP":
            obj = ALGORITHMS["EdDSA"].from_jwk(text)
        else:
            raise JwtNodeError("unsupported JWK key type %r" % kty)
    except (InvalidKeyError, PyJWKError, ValueError, KeyError, TypeError) as e:
        raise JwtNodeError("invalid JWK: %s" % (e or type(e).__name__)) from None
    return _classify_crypto(obj, kid, alg, use)


def load_keys(key) -> list[Key]:
    """One key, or several for a JWKS. Dicts and JSON texts are JWK/JWKS; PEM is PEM; anything
    else textual is an HMAC secret."""
    if key is None:
        raise JwtNodeError("no key: the \"key\" input is null")
    if isinstance(key, str):
        stripped = key.strip()
        if stripped.startswith("-----BEGIN"):
            return [_load_pem(stripped)]
        if stripped.startswith("{"):
            try:
                key = orjson.loads(stripped)
            except orjson.JSONDecodeError:
                return [Key("oct", key.encode("utf-8"), private=True)]
        else:
            if not key:
                raise JwtNodeError("no key: the HMAC secret is empty")
            return [Key("oct", key.encode("utf-8"), private=True)]
    if isinstance(key, dict):
        if isinstance(key.get("keys"), list):
            keys = [_load_jwk(k) for k in key["keys"] if isinstance(k, dict)]
            if not keys:
                raise JwtNodeError("the JWKS holds no keys")
            return keys
        if "kty" in key:
            return [_load_jwk(key)]
        raise JwtNodeError("key object is neither a JWK (\"kty\") nor a JWKS (\"keys\")")
    raise JwtNodeError("unsupported key input of type %s" % type(key).__name__)


def key_fits(key: Key, alg: str) -> str | None:
    """None when `key` may be used with `alg`, else why not (the CVE-2026-14916 binding)."""
    family = FAMILY[alg]
    if key.family != family:
        kind = "an HMAC secret" if key.family == "oct" else "an %s key" % key.family
        return "algorithm %s cannot be used with %s" % (alg, kind)
    if family == "EC" and key.curve != EC_CURVE[alg]:
        return "algorithm %s needs an EC key on %s, got %s" % (alg, EC_CURVE[alg], key.curve)
    if key.alg is not None and key.alg != alg:
        return "the JWK is restricted to %s" % key.alg
    if key.use is not None and key.use != "sig":
        return "the JWK is not a signature key (use=%s)" % key.use
    return None


# ------------------------------------------------------------------------------ sign

@dataclass(frozen=True)
class SignOptions:
    algorithm: str
    expires_in: int = 300
    not_before: int = 0
    kid: str | None = None
    typ: str = "JWT"
    static_claims: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: dict) -> "SignOptions":
        return cls(cfg["algorithm"], cfg.get("expires_in") or 300, cfg.get("not_before") or 0,
                   cfg.get("kid"), cfg.get("typ") or "JWT", dict(cfg.get("static_claims") or {}))


def jwt_sign(o: SignOptions, claims, key, now: float | None = None) -> dict:
    if claims is not None and not isinstance(claims, dict):
        raise JwtNodeError("input \"claims\": expected an object, got %s" % type(claims).__name__)
    keys = load_keys(key)
    if len(keys) != 1:
        raise JwtNodeError("jwt_sign needs one key, got a JWKS of %d keys" % len(keys))
    k = keys[0]
    why = key_fits(k, o.algorithm)
    if why:
        raise JwtNodeError(why)
    if not k.private:
        raise JwtNodeError("algorithm %s needs a private key to sign" % o.algorithm)
    issued = int(now if now is not None else time.time())
    all_claims = dict(o.static_claims)
    all_claims.update(claims or {})
    all_claims.update({"iat": issued, "nbf": issued + o.not_before, "exp": issued + o.expires_in})
    header = {"alg": o.algorithm, "typ": o.typ}
    if o.kid is not None:
        header["kid"] = o.kid
    signing_input = (b64url_encode(orjson.dumps(header)) + "."
                     + b64url_encode(orjson.dumps(all_claims))).encode("ascii")
    try:
        sig = ALGORITHMS[o.algorithm].sign(signing_input, k.material)
    except (ValueError, TypeError, InvalidKeyError) as e:
        raise JwtNodeError("signing failed: %s" % e) from None
    return {"token": signing_input.decode("ascii") + "." + b64url_encode(sig),
            "claims": all_claims, "header": header}


# ------------------------------------------------------------------------------ verify

@dataclass(frozen=True)
class VerifyOptions:
    allowed_algorithms: tuple = ()
    issuers: tuple = ()
    audiences: tuple = ()
    required_claims: tuple = ()
    leeway: int = 0
    validate_exp: bool = True
    validate_nbf: bool = True

    @classmethod
    def from_config(cls, cfg: dict) -> "VerifyOptions":
        return cls(tuple(cfg.get("allowed_algorithms") or ()), tuple(cfg.get("issuers") or ()),
                   tuple(cfg.get("audiences") or ()), tuple(cfg.get("required_claims") or ()),
                   cfg.get("leeway") or 0, cfg.get("validate_exp", True) is not False,
                   cfg.get("validate_nbf", True) is not False)


def _verify_with(alg: str, key: Key, t: Parsed) -> bool:
    try:
        if key.family == "oct":
            # PyJWT's HMAC verify also refuses PEM-looking secrets; compare ourselves so a
            # JWK oct key with any bytes works, in constant time.
            expected = ALGORITHMS[alg].sign(t.signing_input, key.material)
            return hmac.compare_digest(expected, t.signature_bytes)
        material = key.material
        if key.private:
            material = material.public_key()
        return bool(ALGORITHMS[alg].verify(t.signing_input, material, t.signature_bytes))
    except (ValueError, TypeError, InvalidKeyError):
        return False


def _number(claims: dict, name: str) -> float:
    v = claims[name]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise JwtNodeError("claim %r must be a number" % name)
    return float(v)


def jwt_verify(o: VerifyOptions, token, key, now: float | None = None) -> dict:
    t = parse_token(token)
    alg = t.header.get("alg")
    if not isinstance(alg, str) or alg not in FAMILY:
        raise JwtNodeError("unsupported JWT algorithm %r" % (alg,))
    if o.allowed_algorithms and alg not in o.allowed_algorithms:
        raise JwtNodeError("algorithm %s is not allowed" % alg)
    keys = load_keys(key)
    kid = t.header.get("kid")
    if len(keys) > 1 or keys[0].kid is not None:
        if kid is not None:
            keys = [k for k in keys if k.kid == kid]
            if not keys:
                raise JwtNodeError("no key with kid %r" % (kid,))
    reasons = [key_fits(k, alg) for k in keys]
    usable = [k for k, why in zip(keys, reasons) if why is None]
    if not usable:
        raise JwtNodeError(reasons[0] if len(reasons) == 1 else
                           "no key in the JWKS can verify %s" % alg)
    if not any(_verify_with(alg, k, t) for k in usable):
        raise JwtNodeError("invalid JWT signature")
    claims = t.payload
    current = time.time() if now is None else now
    if o.validate_exp and "exp" in claims and current >= _number(claims, "exp") + o.leeway:
        raise JwtNodeError("token expired")
    if o.validate_nbf and "nbf" in claims and current + o.leeway < _number(claims, "nbf"):
        raise JwtNodeError("token not valid yet (nbf)")
    if o.issuers and claims.get("iss") not in o.issuers:
        raise JwtNodeError("issuer %r is not allowed" % (claims.get("iss"),))
    if o.audiences:
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if not any(isinstance(a, str) and a in o.audiences for a in auds):
            raise JwtNodeError("audience %r is not allowed" % (aud,))
    missing = [c for c in o.required_claims if c not in claims]
    if missing:
        raise JwtNodeError("missing required claim(s): %s" % ", ".join(missing))
    return {"claims": claims, "header": t.header}
