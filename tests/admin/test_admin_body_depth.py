"""Admin API bodies nested too deeply are a located 400, never a RecursionError (issue 19,
item 7): form keys, multipart fields and JSON alike."""
from __future__ import annotations

import json

import pytest

from jqgate.admin.bodies import MAX_DEPTH, decode_object
from jqgate.admin.errors import AdminError

FORM = b"application/x-www-form-urlencoded"


def refused(body, content_type):
    with pytest.raises(AdminError) as caught:
        decode_object(body, content_type)
    assert caught.value.status == 400
    return caught.value.body["message"]


def test_a_deeply_nested_form_key_is_a_located_400():
    key = "config" + "[a]" * 5000
    message = refused(("name=datakit&%s=1" % key).encode(), FORM)
    assert "nested too deeply" in message and "config[a][a]" in message


def test_a_deeply_nested_json_body_is_a_located_400():
    doc = {"name": "datakit", "config": {"nodes": [1]}}
    inner = doc["config"]
    for _ in range(MAX_DEPTH + 5):
        inner["x"] = {}
        inner = inner["x"]
    message = refused(json.dumps(doc).encode(), b"application/json")
    assert "nested too deeply at config.x.x" in message


def test_nesting_up_to_the_limit_is_taken():
    key = "config" + "[a]" * (MAX_DEPTH - 1)
    doc = decode_object(("%s=1" % key).encode(), FORM)
    depth, node = 0, doc
    while isinstance(node, dict):
        node = node.get("config", node.get("a"))
        depth += 1
    assert depth == MAX_DEPTH and node == "1"
