"""TLS rules for a `call` node's https requests (datakit.md §5.1).

- `ssl_verify: false` under the gateway's `tls_certificate_verify` (serve(...,
  tls_certificate_verify=True), Kong's kong.conf setting of that name): the request is blocked
  at run time, since a URL built at run time cannot be checked when the configuration is
  loaded; `http` URLs are not concerned.
- the plugin's `ca_certificates` (Kong 3.16: ids of `ca_certificates` entities): one trust
  store made from those certificates replaces the system's for that plugin's https calls.
Both executors use this module: one rule.
"""
from __future__ import annotations

import ssl

_enforced = False


class UnverifiedBlocked(ValueError):
    pass


def set_tls_certificate_verify(on: bool) -> None:
    """The process's setting (before workers fork, so they inherit it)."""
    global _enforced
    _enforced = bool(on)


def tls_certificate_verify() -> bool:
    return _enforced


def check_unverified(host: str) -> None:
    """Raises UnverifiedBlocked when an https call without verification may not go out."""
    if _enforced:
        raise UnverifiedBlocked(
            "ssl_verify is false but the gateway enforces tls_certificate_verify: the https "
            "request to %s was blocked" % host)


def trust_store(pems: list[str]) -> ssl.SSLContext:
    """A verifying client context that trusts exactly these CA certificates (PEM texts)."""
    context = ssl.create_default_context(cadata="\n".join(pems))
    return context
