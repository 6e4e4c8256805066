"""Absolute http(s) URLs are split in one place (jqgate/http_url.py) for the compiler, both
executors' runtime `url` input and the schema's S14 check; what each of them accepts is this."""
from __future__ import annotations

import pytest

from jqgate.http_url import split_http_url
from jqgate.nodes.call import is_http_url


@pytest.mark.parametrize("url,scheme,host,port,target,host_header", [
    ("http://api.example/v1?a=1", "http", "api.example", 80, "/v1?a=1", "api.example"),
    ("HTTPS://API.example:443", "https", "api.example", 443, "/", "api.example"),
    ("https://api.example:8443/x", "https", "api.example", 8443, "/x", "api.example:8443"),
    ("http://[::1]:8080/p", "http", "::1", 8080, "/p", "[::1]:8080"),
    ("http://[::1]/", "http", "::1", 80, "/", "[::1]"),
])
def test_the_parts_a_call_sends(url, scheme, host, port, target, host_header):
    t = split_http_url(url)
    assert (t.scheme, t.host, t.port, t.target, t.host_header) == (scheme, host, port, target, host_header)
    assert is_http_url(url)


@pytest.mark.parametrize("url,why", [
    ("ftp://files.example/x", "an absolute http or https URL is required"),
    ("/relative/path", "an absolute http or https URL is required"),
    ("http://:80/", "an absolute http or https URL is required"),
    ("http://api.example:99999/", "out of range"),
    ("http://api.example:port/", "Port could not be cast"),
])
def test_what_is_refused_and_why(url, why):
    with pytest.raises(ValueError, match=why):
        split_http_url(url)
    assert not is_http_url(url)


def test_whitespace_is_refused_by_the_schema():
    assert not is_http_url("http://api.example/a b")
