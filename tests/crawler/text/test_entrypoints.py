"""What a page declares about an outlet's entry points, and what a fetched feed yields (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from crawler.text.addresses import AddressPolicy
from crawler.text.discovery import Scope
from crawler.text.entrypoints import check_feed, read_page, source_name
from crawler.text.feeds import read_feed

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
SCOPE = Scope(AddressPolicy())


def test_read_page_finds_declared_feeds_resolved_against_the_base() -> None:
    html = (
        b'<html lang="zh-CN"><head><base href="https://news.example.cn/a/">'
        b'<link rel="alternate" type="application/rss+xml" href="rss.xml">'
        b'<link rel="Alternate" type="application/atom+xml; charset=utf-8" href="/atom.xml">'
        b'<link rel="alternate" type="application/feed+json" href="https://news.example.cn/feed.json">'
        b'<link rel="alternate" hreflang="en" href="/en/">'
        b'<link rel="stylesheet" type="text/css" href="/s.css"></head><body><a href="/x">x</a></body></html>'
    )
    page = read_page(html, "https://news.example.cn/")
    assert page is not None
    assert page.feeds == (
        "https://news.example.cn/a/rss.xml",
        "https://news.example.cn/atom.xml",
        "https://news.example.cn/feed.json",
    )
    assert page.language == "zh"


def test_a_json_feed_is_read_newest_first() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [
            {"id": "1", "url": "/a/1.html", "date_published": "2026-11-01T08:00:00Z"},
            {"id": "2", "url": "https://x.example/a/2.html", "date_published": "2026-11-30T08:00:00Z"},
            {"id": "3", "content_text": "no link"},
        ],
    }
    feed = read_feed(json.dumps(document).encode(), "https://x.example/feed.json")
    assert [entry.url for entry in feed.entries] == ["https://x.example/a/2.html", "https://x.example/a/1.html"]


def test_a_feed_check_says_how_many_articles_and_how_fresh() -> None:
    rss = (
        b"<rss><channel><item><link>https://x.example/a/1.html</link>"
        b"<pubDate>Mon, 30 Nov 2026 08:00:00 GMT</pubDate></item>"
        b"<item><link>https://x.example/a/2.html</link><pubDate>Mon, 02 Nov 2026 08:00:00 GMT</pubDate></item>"
        b"</channel></rss>"
    )
    check = check_feed(rss, "https://x.example/rss.xml", SCOPE, NOW)
    assert check.usable and len(check.articles) == 2 and check.fresh
    assert check.describe() == "2 articles, newest 2026-11-30, fresh"
    stale = check_feed(rss, "https://x.example/rss.xml", SCOPE, datetime(2027, 3, 1, tzinfo=UTC))
    assert stale.fresh is False
    broken = check_feed(b"<html><body>moved</body></html>", "https://x.example/rss.xml", SCOPE, NOW)
    assert not broken.usable and broken.problem is not None and broken.problem.startswith("not a feed")


def test_a_feed_naming_internal_addresses_yields_nothing_from_them() -> None:
    rss = b"<rss><channel><item><link>http://127.0.0.1:8080/a/1.html</link></item></channel></rss>"
    assert not check_feed(rss, "https://x.example/rss.xml", SCOPE, NOW).usable


def test_source_names_come_from_the_host() -> None:
    assert source_name("https://www.news.cn/tech/") == "news_cn"
    assert source_name("http://127.0.7.1:8000/") == "127_0_7_1"
    assert source_name("https://English.News.CN/") == "english_news_cn"
