"""URL identity (clean and canonical forms) and what counts as an http(s) URL."""

from __future__ import annotations

import pytest

from crawler.text.urls import canonical_url, clean_url, is_http_url


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (
            "http://news.example/a/2024/05/01/x.html?utm_source=rss&utm_medium=feed",
            "http://news.example/a/2024/05/01/x.html",
        ),
        ("http://news.example/a/2024/05/01/x.html#comments", "http://news.example/a/2024/05/01/x.html"),
        ("HTTP://News.Example:80/a/2024/05/01/x.html", "http://news.example/a/2024/05/01/x.html"),
        ("https://news.example:443/section/", "https://news.example/section"),
        ("http://news.example/item?id=7&spm=c.1.2&from=timeline", "http://news.example/item?id=7"),
        ("http://news.example/item?b=2&a=1", "http://news.example/item?a=1&b=2"),
        ("http://news.example/a.jsp;jsessionid=0A1B2C?id=5&sid=99", "http://news.example/a.jsp?id=5"),
        ("http://127.0.0.2:8080/news/?page=2&utm_campaign=x", "http://127.0.0.2:8080/news?page=2"),
    ],
)
def test_variants_share_one_canonical_url(variant: str, expected: str) -> None:
    assert canonical_url(variant) == expected


def test_clean_url_keeps_what_the_server_needs() -> None:
    # The trailing slash and parameter order are the server's business: only trackers go.
    assert clean_url("http://x.example/news/?page=2&utm_source=a#top") == "http://x.example/news/?page=2"
    assert clean_url("http://x.example/p?b=1&a=2") == "http://x.example/p?b=1&a=2"


def test_meaningful_parameters_are_kept() -> None:
    assert canonical_url("http://x.example/p?id=1") != canonical_url("http://x.example/p?id=2")


@pytest.mark.parametrize(
    "url", ["ftp://x.example/a", "file:///etc/passwd", "javascript:alert(1)", "mailto:a@b", "/relative"]
)
def test_only_absolute_http_urls_are_fetchable(url: str) -> None:
    assert not is_http_url(url)
