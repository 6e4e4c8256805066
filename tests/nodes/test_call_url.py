"""jqgate.nodes.call.url: a call URL made safe for the request line (issue 15 item 5)."""
import pytest

from jqgate.nodes.call.url import UnsafeUrl, split_safe_url


@pytest.mark.parametrize("url, expected", [
    ("http://h/a/b?x=1", ("http", "h", 80, "/a/b", "x=1", "h")),
    ("https://h:8443", ("https", "h", 8443, "/", "", "h:8443")),
    ("HTTP://[::1]:80/x", ("http", "::1", 80, "/x", "", "[::1]")),
    ("http://h/caf\u00e9?q=\u00e9", ("http", "h", 80, "/caf%C3%A9", "q=%C3%A9", "h")),
    ("http://h/a%2fb%2F", ("http", "h", 80, "/a%2fb%2F", "", "h")),       # escapes kept
    ("http://h/100%/x?p=5%", ("http", "h", 80, "/100%25/x", "p=5%25", "h")),
    ("http://h/{a}|b^`\\\"<>", ("http", "h", 80, "/%7Ba%7D%7Cb%5E%60%5C%22%3C%3E", "", "h")),
    ("http://h/a?b=c/d?e&f=g:h@i", ("http", "h", 80, "/a", "b=c/d?e&f=g:h@i", "h")),
    ("http://h/a.b/..c/.d./...", ("http", "h", 80, "/a.b/..c/.d./...", "", "h")),  # not dots
])
def test_safe_urls_split_and_encoded(url, expected):
    assert split_safe_url(url) == expected


@pytest.mark.parametrize("url, reason", [
    ("http://h/a b", "not allowed in a request target"),
    ("http://h/a\tb", "not allowed in a request target"),      # urlsplit would drop it
    ("http://h/a\r\nX: y", "not allowed in a request target"),
    ("http://h/a\x00", "not allowed in a request target"),
    ("http://h/a\x7f", "not allowed in a request target"),
    ("http://h/?q=a b", "not allowed in a request target"),
    ("http://h\x00.example/", "not allowed in a request target"),
    ("http://h/../admin", "dot segment"),
    ("http://h/a/..", "dot segment"),
    ("http://h/./a", "dot segment"),
    ("http://h/a/%2e%2E/b", "dot segment"),
    ("http://h/a/.%2e", "dot segment"),
    ("ftp://h/", "absolute http or https URL"),
    ("/relative", "absolute http or https URL"),
    ("http://h:99999/", "invalid URL"),
])
def test_unsafe_urls_are_refused(url, reason):
    with pytest.raises(UnsafeUrl) as info:
        split_safe_url(url)
    assert reason in str(info.value)
