"""The core's header patch (values_patch_headers, SinkPatch.apply) against the reference
executor's (jqgate/reference/values.py): the core compares names in C for ASCII and must give
exactly what str.lower() gives, for wire bytes and flow-set text, ASCII or not."""
from __future__ import annotations

import pytest

from jqgate._core.core import SinkPatch, values_patch_headers
from jqgate.reference import values as ref

PAIRS = [
    (b"Host", b"gw"), (b"X-Api-Key", b"k1"), (b"x-api-key", b"k2"), (b"Accept", b"*/*"),
    (b"X-\xc1ccent", b"latin-1 name"), ("X-Flow", "set by a flow"), ("key", "plain"),
    (b"Content-Length", b"12"), (b"Content-Type", b"text/plain"),
]

PATCHES = [
    None,
    {},
    {"Authorization": "Bearer t"},
    {"X-API-KEY": "new", "accept": None},
    {"x-api-key": ["a", "b"], "X-Api-Key": "last wins"},
    {"x-\xe1ccent": "lower-cased latin-1"},        # matches b"X-\xc1ccent" read as latin-1
    {"X-\xc1CCENT": "upper"},
    {"\u212aey": "Kelvin sign"},                   # str.lower() makes it "key"
    {"KEY": 1, "x-flow": True},
    {"content-length": "99", "Transfer-Encoding": "chunked", "x-new": "kept"},
    {"h%d" % i: str(i) for i in range(12)} | {"HOST": "many keys: the dict path"},
    # one key: the path without the map of touched names (ASCII lower-cased in C)
    {"X-API-KEY": "one, upper case"},
    {"host": "one, lower case already"},
    {"accept": None},
    {"X-Api-Key": ["a", "b"]},
    {"Content-Length": "5"},
    {"X-\xc1ccent": "one, latin-1"},
]


def as_text(pairs):
    return [(ref.to_str(n), ref.to_str(v)) for n, v in pairs]


@pytest.mark.parametrize("patch", PATCHES)
def test_patch_matches_the_reference(patch):
    assert as_text(values_patch_headers(PAIRS, patch)) == ref.patch_headers(PAIRS, patch)


def test_untouched_wire_headers_pass_as_the_same_objects():
    out = values_patch_headers(PAIRS, {"Authorization": "Bearer t"})
    assert all(a is b for a, b in zip(out, PAIRS))
    assert out[-1] == ("Authorization", "Bearer t")


@pytest.mark.parametrize("body_ct", [None, "application/json"])
def test_sink_patch_with_a_body_drops_framing_any_case(body_ct):
    p = SinkPatch()
    p.headers = {"x-a": "1"}
    p.body = b"{}"
    p.body_ct = body_ct
    pairs = [(b"CONTENT-LENGTH", b"5"), (b"transfer-encoding", b"chunked"),
             ("Content-Encoding", "gzip"), (b"content-type", b"text/plain"), (b"X-Keep", b"1")]
    out = as_text(p.apply(pairs))
    expected = [("content-type", "text/plain")] if body_ct is None else []
    expected += [("X-Keep", "1"), ("x-a", "1")]
    if body_ct is not None:
        expected.append(("Content-Type", body_ct))
    expected.append(("Content-Length", "2"))
    assert out == expected
