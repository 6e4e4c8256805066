"""request.query decoding (D8) through the C percent-decoder: equal to urllib's parse rules."""
from urllib.parse import unquote_plus

from hypothesis import given, settings, strategies as st

from hypothesis_budget import examples

from jqgate._core.core import values_decode_query

PIECES = list("ab+%=/ é中") + ["%20", "%2", "%zz", "%C3%A9", "%E4%B8%AD", "%ff", "%2B", "%C3"]
COMPONENT = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)


@settings(max_examples=examples(400))
@given(st.lists(st.tuples(COMPONENT.filter(lambda s: "=" not in s and s), COMPONENT), max_size=4))
def test_decoding_matches_urllib(pairs):
    qs = "&".join(f"{k}={v}".replace("&", "") for k, v in pairs)
    expected = {}
    for part in qs.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        k, v = unquote_plus(k), unquote_plus(v)
        if k in expected:
            expected[k] = (expected[k] if isinstance(expected[k], list) else [expected[k]]) + [v]
        else:
            expected[k] = v
    assert values_decode_query(qs) == expected


def test_d8_bare_keys_repeats_and_escapes():
    assert values_decode_query("a&b=1&b=2&c=x%20y+z&d=%zz&e=%") == {
        "a": True, "b": ["1", "2"], "c": "x y z", "d": "%zz", "e": "%"}
    assert values_decode_query("") == {}
    assert values_decode_query("name=%E4%B8%AD%ff") == {"name": "中\ufffd"}


def _split_reference(qs):
    """The split-based reading values_decode_query walks in place: parts between '&' (empty
    ones skipped), split at the first '=', a bare key true, repeats collected in order."""
    out = {}
    for part in qs.split("&"):
        if not part:
            continue
        if "=" in part:
            k, v = part.split("=", 1)
            k, v = unquote_plus(k), unquote_plus(v)
        else:
            k, v = unquote_plus(part), True
        if k in out:
            out[k] = (out[k] if isinstance(out[k], list) else [out[k]]) + [v]
        else:
            out[k] = v
    return out


@settings(max_examples=examples(400))
@given(st.lists(st.sampled_from(PIECES + ["&", "&&", "=", "==", "a=", "=b"]), max_size=12)
       .map("".join))
def test_any_query_string_reads_as_split_would(qs):
    assert values_decode_query(qs) == _split_reference(qs)


def test_empty_parts_bare_keys_and_equals_at_the_edges():
    for qs in ["&", "&&a", "a&&", "=", "=1", "a=", "a==b", "&a=1&", "a&a&a=2", "中=中&=&"]:
        assert values_decode_query(qs) == _split_reference(qs), qs
