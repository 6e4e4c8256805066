"""The compiled core recognises header names in place (case-insensitively, ASCII only) and
writes decimal header values without formatting: both are on every proxied request."""
from __future__ import annotations

import pytest

from jqgate._core.core import header_kind_of, header_name_is_token_of, write_int_of

SPECIAL = [b"host", b"content-length", b"transfer-encoding", b"connection", b"keep-alive",
           b"proxy-connection", b"proxy-authorization", b"te", b"trailer", b"trailers",
           b"upgrade", b"expect", b"via", b"x-kong-request-id", b"x-forwarded-for",
           b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port", b"x-forwarded-path",
           b"x-forwarded-prefix", b"x-real-ip"]


@pytest.mark.parametrize("name", SPECIAL)
def test_special_names_in_any_case(name):
    kind = header_kind_of(name)
    assert kind != 0
    assert header_kind_of(name.upper()) == kind
    assert header_kind_of(name.title()) == kind


@pytest.mark.parametrize("name", [b"accept", b"hosts", b"hos", b"content-lengths", b"x-forwarded",
                                  b"x-forwarded-fo", b"x-forwarded-forr", b"content_length",
                                  b"h\xc3\xb6st", b"", b"tE-", b"v\xc3\xada"[:3]])
def test_other_names(name):
    assert header_kind_of(name) == 0


def test_near_misses_that_differ_only_outside_letters():
    # '\r' | 0x20 == '-': a case fold by bit-twiddling would take this for content-length
    assert header_kind_of(b"content\rlength") == 0
    assert header_kind_of(b"x-forwarded\rfor") == 0


@pytest.mark.parametrize("value", [0, 7, 1023, 1024, 65536, 10**15, -1, -4096])
def test_write_int(value):
    assert write_int_of(value) == str(value).encode()


@pytest.mark.parametrize("name,ok", [(b"X-Api-Key", True), (b"a!#$%&'*+-.^_`|~9", True),
                                     (b"", False), (b"bad name", False), (b"x:y", False),
                                     (b"caf\xc3\xa9", False), (b"tab\t", False), (b"(x)", False)])
def test_header_name_tokens(name, ok):
    # DataKit-built header names must be RFC 9110 tokens before they are sent
    assert header_name_is_token_of(name) is ok
