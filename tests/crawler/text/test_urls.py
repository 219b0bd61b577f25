"""URL identity (clean and canonical forms) and what counts as an http(s) URL."""

from __future__ import annotations

import lxml.html
import pytest

from crawler.text.extract import declared_url
from crawler.text.urls import canonical_url, clean_url, declared_identity, identity_spellings, is_http_url


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
        (
            "http://news.example/a.jsp;jsessionid=0A1B2C?id=5&sid=8f14e45fceea167a5a36dedd4bea2543",
            "http://news.example/a.jsp?id=5",
        ),
        # the feed's spelling of a page the corpus holds
        ("http://news.example/2025/03/01/a02/index.html", "http://news.example/2025/03/01/a02"),
        ("http://news.example/index.php?p=5", "http://news.example/?p=5"),
        ("http://news.example//news/2025/a07.html", "http://news.example/news/2025/a07.html"),
        ("http://news.example/news/a05.html?ref=rss", "http://news.example/news/a05.html"),
        ("http://news.example/news/a12.html?CMP=share_btn_tw", "http://news.example/news/a12.html"),
        # the AMP form of a page
        ("http://news.example/news/a03.html?amp=1", "http://news.example/news/a03.html"),
        ("http://news.example/news/a03.html?amp", "http://news.example/news/a03.html"),
        ("http://news.example/2025/03/01/a04/amp/", "http://news.example/2025/03/01/a04"),
        ("http://news.example/story?id=3&outputType=amp", "http://news.example/story?id=3"),
        ("http://news.example/amp/news/2025/a04.html", "http://news.example/news/2025/a04.html"),
        ("http://news.example/news/2025/a04.amp.htm", "http://news.example/news/2025/a04.htm"),
        ("http://news.example/news/2025/a04.amp.html?_=1733220000000", "http://news.example/news/2025/a04.html"),
        ("http://127.0.0.2:8080/news/?page=2&utm_campaign=x", "http://127.0.0.2:8080/news?page=2"),
        # one host in other spellings: a trailing dot, an IPv4 address as one number, in hex, in octal parts,
        # with fewer parts; IPv6 in any case and with its zeros written out
        ("http://news.example.:80/a/x.html", "http://news.example/a/x.html"),
        ("http://2130706434:8080/a/x.html", "http://127.0.0.2:8080/a/x.html"),
        ("http://0x7f000002:8080/a/x.html", "http://127.0.0.2:8080/a/x.html"),
        ("http://0177.0.0.02:8080/a/x.html", "http://127.0.0.2:8080/a/x.html"),
        ("http://127.2.:8080/a/x.html", "http://127.0.0.2:8080/a/x.html"),
        ("http://[2001:DB8:0:0::1]:8080/a/x.html", "http://[2001:db8::1]:8080/a/x.html"),
    ],
)
def test_variants_share_one_canonical_url(variant: str, expected: str) -> None:
    assert canonical_url(variant) == expected


def test_clean_url_keeps_what_the_server_needs() -> None:
    # The trailing slash and parameter order are the server's business: only trackers go.
    assert clean_url("http://x.example/news/?page=2&utm_source=a#top") == "http://x.example/news/?page=2"
    assert clean_url("http://x.example/p?b=1&a=2") == "http://x.example/p?b=1&a=2"


def test_an_ampersand_left_escaped_separates_parameters() -> None:
    # a feed or sitemap escaped its links twice: the crawl asked the server for a parameter named "amp;page" (so
    # for page 1 of a multi-page article), and a cache buster after "&amp;" made the page new to every crawl
    assert clean_url("http://x.example/article.php?id=50&amp;page=2") == "http://x.example/article.php?id=50&page=2"
    assert clean_url("http://x.example/a.php?id=5&amp;amp;page=3") == "http://x.example/a.php?id=5&page=3"
    assert clean_url("http://x.example/show.asp?aid=4&AMP;_t=1733212345") == "http://x.example/show.asp?aid=4"
    assert canonical_url("http://x.example/article.php?id=50&amp;page=2") == canonical_url(
        "http://x.example/article.php?page=2&id=50"
    )
    assert canonical_url("http://x.example/p?id=3&amp;utm_campaign=x") == "http://x.example/p?id=3"
    assert clean_url("http://x.example/s?q=a%26amp%3Bb") == "http://x.example/s?q=a%26amp%3Bb"  # a value's own text


def test_meaningful_parameters_are_kept() -> None:
    assert canonical_url("http://x.example/p?id=1") != canonical_url("http://x.example/p?id=2")
    assert canonical_url("http://x.example/p?_id=1") != canonical_url("http://x.example/p?_id=2")
    assert canonical_url("http://x.example/amplifiers/a.html") != canonical_url("http://x.example/a.html")
    assert canonical_url("http://x.example/news/amp.html") == "http://x.example/news/amp.html"
    assert canonical_url("http://x.example/p?outputType=print") != canonical_url("http://x.example/p")


def test_an_article_number_named_like_a_session_id_stays_in_the_url_requested_and_in_its_identity() -> None:
    """PHP-Nuke's article URLs: ``sid`` is the article's number there, a session's token elsewhere."""
    urls = [f"http://x.example/modules.php?name=News&file=article&sid={number}" for number in (101, 102)]
    assert [clean_url(url) for url in urls] == urls
    assert canonical_url(urls[0]) != canonical_url(urls[1])
    assert clean_url("http://x.example/a?id=5&sid=5f2b60531c9e1") == "http://x.example/a?id=5"
    assert clean_url("http://x.example/record?ref=2034") == "http://x.example/record?ref=2034"  # a number: kept
    assert clean_url("http://x.example/a.html?ref=rss") == "http://x.example/a.html"


@pytest.mark.parametrize(
    "url", ["ftp://x.example/a", "file:///etc/passwd", "javascript:alert(1)", "mailto:a@b", "/relative"]
)
def test_only_absolute_http_urls_are_fetchable(url: str) -> None:
    assert not is_http_url(url)


PAGE = "https://www.site.cn/news/2024/a.html?from=rss"


@pytest.mark.parametrize(
    ("declared", "identity"),
    [
        ("https://m.site.cn/news/2024/a.html", "https://m.site.cn/news/2024/a.html"),  # its mobile edition
        ("http://site.cn/print/a.html", "http://site.cn/print/a.html"),  # http, without www.
        ("https://www.site.cn/?p=12", "https://www.site.cn/?p=12"),  # a page of the home page's address
        ("https://www.site.cn/news/2024/a.html", None),  # itself
        ("https://site.cn/", None),  # the home page, as a template names it on every page
        ("https://www.site.cn/news/", None),  # a section the page is in
        ("https://www.site.cn/news/2024", None),
        ("https://www.site.cn/news/2024/a.html", None),
        ("https://other.cn/news/2024/a.html", None),  # another site: a repost naming its original
        ("https://www.site.cn:8080/news/a.html", None),  # another server
        ("javascript:void(0)", None),
        ("http://[bad/a.html", None),
        (None, None),
    ],
)
def test_declared_identity_is_another_page_of_the_site_only(declared: str | None, identity: str | None) -> None:
    assert declared_identity(PAGE, declared) == identity


@pytest.mark.parametrize(
    ("head", "named"),
    [
        ('<link rel="canonical" href="https://h/a.html">', "https://h/a.html"),
        ('<link rel="Canonical amphtml" href="a.html">', "http://h/y/a.html"),  # relative, any case, among others
        ('<base href="/x/"><link rel="canonical" href="a.html">', "http://h/x/a.html"),  # against <base>
        ('<meta property="og:url" content="https://h/b.html">', "https://h/b.html"),  # og:url without a link
        (
            '<link rel="canonical" href="http://[bad"><meta property="og:url" content="https://h/b.html">',
            "https://h/b.html",
        ),
        ('<link rel="canonical" href="mailto:x@h">', None),
        ("", None),
    ],
)
def test_declared_url_is_the_canonical_link_then_og_url(head: str, named: str | None) -> None:
    tree = lxml.html.fromstring(f"<html><head>{head}</head><body><p>text</p></body></html>")
    assert declared_url(tree, "http://h/y/z.html") == named


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        # an article's id, an offset: kept
        ("sid=07/01/23/1234217", True),
        ("sid=a81f3c", True),
        ("sid=101", True),
        ("ref=A1234", True),
        ("ref=2034", True),
        ("from=20", True),
        ("v=dQw4w9WgXcQ", True),
        ("t=2", True),
        ("r=5", True),
        ("s=r", True),
        ("ref=AB1234", True),
        ("ref=PR-2024-017", True),
        ("source=nature12345", True),
        ("t=123456789", True),  # a topic's number, not a time of 1973
        ("ver=1.0001", True),
        # a session, a tag of where the visit came from, a cache buster: dropped
        ("sid=5f2b60531c9e1", False),
        ("s=0123456789abcdef0123456789abcdef", False),
        ("ref=rss", False),
        ("ref=feed_2", False),
        ("from=timeline", False),
        ("source=newsletter", False),
        ("t=1733212345", False),
        ("v=1733212345000", False),
        ("r=0.84191", False),
        ("_dc=1733212345123", False),
        ("rnd=7", False),
        ("mpshare=1&scene=23&srcid=0512aaa", False),
        ("sessid=9f8e7d6c5b", False),
    ],
)
def test_a_parameter_that_tracks_on_some_sites_is_dropped_only_with_a_trackers_value(query: str, kept: bool) -> None:
    url = f"http://x.example/a.php?id=5&{query}"
    assert clean_url(url) == (url if kept else "http://x.example/a.php?id=5")


def test_a_pages_print_edition_under_its_path_may_name_it() -> None:
    # WordPress's /story/print/ names /story/: not a section above the page
    assert (
        declared_identity("https://x.cn/2026/05/slug/print/", "https://x.cn/2026/05/slug/")
        == "https://x.cn/2026/05/slug"
    )
    assert declared_identity("https://x.cn/2026/05/slug/comments/", "https://x.cn/2026/05/slug/") is None


def test_identity_spellings_are_the_schemes_and_editions_of_one_host() -> None:
    spellings = identity_spellings("https://www.site.cn/a.html?x=1#top")
    assert sorted(spellings) == sorted(
        f"{scheme}://{host}/a.html?x=1"
        for scheme in ("http", "https")
        for host in ("site.cn", "www.site.cn", "m.site.cn", "wap.site.cn", "mobile.site.cn", "amp.site.cn")
    )
    assert identity_spellings("http://127.0.0.1:8080/a") == ["https://127.0.0.1:8080/a", "http://127.0.0.1:8080/a"]


def test_a_pages_own_script_or_home_page_is_never_its_declared_identity() -> None:
    assert declared_identity("https://example.com/?p=123", "https://example.com/") is None
    assert declared_identity("https://e.com/article.php?id=5", "https://e.com/article.php") is None


def test_a_long_value_that_is_no_tag_is_judged_at_once() -> None:
    # a repeated group with an optional separator took exponential time on such a value: every link of a crawl
    # goes through here
    value = "aHR0cHM6Ly93d3cuZXhhbXBsZS5jb20vbmV3cy8xMjM" * 3 + "%3D"
    assert clean_url(f"https://x.com/a?ref={value}") == f"https://x.com/a?ref={value}"


def test_og_url_is_read_from_a_name_attribute_too() -> None:
    tree = lxml.html.fromstring('<html><head><meta name="og:url" content="/b.html"></head><body>x</body></html>')
    assert declared_url(tree, "http://h/a.html") == "http://h/b.html"
