"""Vault references (datakit.md §2.1, §4.5): `{vault://<backend>/<key>[/<json-field>]}`.

A backend turns a key into a string. Backends are looked up by name in `BACKENDS`; `env` is
built in (Kong's env vault: `{vault://env/my-token}` reads `MY_TOKEN`, upper-cased with `-` ->
`_`; a third segment picks a field of the JSON document stored there). Other backends register
with `register_backend(name, backend)`; a config that *uses* a reference to an unregistered
backend is refused at load time (see `check_reference`).

Values are resolved at run time, once per request that runs the `vault` op, so a rotated
environment variable is seen by the next request. Any failure fails the node.

Resolved secrets are masked (`MASK`) wherever a trace or a log line would show them: `mask`
replaces every string that contains a resolved secret, which also covers values derived from
one (a jq node building `"Bearer " + secret`).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Protocol

import orjson

from jqgate.nodes.failure import NodeFailure

MASK = "********"
REFERENCE = re.compile(r"\{vault://([^/{}\s]+)/([^/{}\s]+)(?:/([^{}\s]+))?\}")


class VaultError(NodeFailure):
    """A resolution failure: the node fails with this text."""


class VaultBackend(Protocol):
    def get(self, key: str) -> str:
        """The secret stored under `key`; raise VaultError when it is missing."""


class EnvBackend:
    """Kong's `env` vault: the variable named by the upper-cased key, `-` -> `_`."""

    def __init__(self, environ=None):
        self.environ = os.environ if environ is None else environ

    @staticmethod
    def variable(key: str) -> str:
        return key.upper().replace("-", "_")

    def get(self, key: str) -> str:
        name = self.variable(key)
        value = self.environ.get(name)
        if value is None:
            raise VaultError("environment variable %s is not set" % name)
        return value


BACKENDS: dict[str, VaultBackend] = {"env": EnvBackend()}


def register_backend(name: str, backend: VaultBackend) -> None:
    BACKENDS[name] = backend


@dataclass(frozen=True)
class Reference:
    text: str                  # as written
    backend: str
    key: str
    json_field: str | None


def parse_reference(text: str) -> Reference:
    m = REFERENCE.fullmatch(text or "")
    if not m:
        raise VaultError("not a vault reference: %r" % (text,))
    return Reference(text, m.group(1), m.group(2), m.group(3))


def check_reference(text: str) -> str | None:
    """Load-time check of a used reference: None when fine, else the error."""
    try:
        ref = parse_reference(text)
    except VaultError as e:
        return str(e)
    if ref.backend not in BACKENDS:
        return ("vault backend %r is not supported (available: %s)"
                % (ref.backend, ", ".join(sorted(BACKENDS))))
    return None


def resolve(ref: Reference) -> str:
    backend = BACKENDS.get(ref.backend)
    if backend is None:
        raise VaultError("vault backend %r is not supported" % ref.backend)
    value = backend.get(ref.key)
    if ref.json_field is None:
        return value
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise VaultError("%s: the stored value is not a JSON document, cannot read %r"
                         % (ref.text, ref.json_field)) from None
    if not isinstance(doc, dict) or ref.json_field not in doc:
        raise VaultError("%s: the JSON document has no field %r" % (ref.text, ref.json_field))
    field = doc[ref.json_field]
    if isinstance(field, str):
        return field
    if field is None or isinstance(field, (dict, list)):
        raise VaultError("%s: field %r is not a scalar" % (ref.text, ref.json_field))
    return orjson.dumps(field).decode()      # numbers / booleans as their JSON text


def resolve_all(entries) -> dict[str, str]:
    """{output field: secret} for [(field, Reference)]; the first failure raises with the
    entry named (never the secret)."""
    out = {}
    for name, ref in entries:
        try:
            out[name] = resolve(ref)
        except VaultError as e:
            raise VaultError("vault.%s: %s" % (name, e)) from None
    return out


def mask(value, secrets):
    """`value` with every string that contains one of `secrets` replaced by MASK."""
    secrets = [s for s in secrets or () if s]      # an empty secret would match every string
    if not secrets:
        return value
    return _mask(value, secrets)


def _mask(value, secrets):
    if isinstance(value, str):
        return MASK if any(s in value for s in secrets) else value
    if isinstance(value, list):
        return [_mask(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _mask(v, secrets) for k, v in value.items()}
    return value
