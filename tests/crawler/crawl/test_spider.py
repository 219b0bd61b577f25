"""The news spider as a component: requests built anywhere (the spider, a middleware) are handled
by it, responses by the parser of their kind, a listing page's links become requests in page order
within the crawl's bounds, and an entry page's ``Retry-After`` (in either form) becomes the
earliest next poll of that page."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response, XmlResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.crawl.items import EntryPoll, FetchFailure, PageItem
from crawler.crawl.requests import article_request, entry_request, stat_key
from crawler.crawl.spiders.news import NewsSpider
from crawler.text.discovery import EntryPage
from crawler.text.urls import canonical_url
from tests.crawler.crawl.components import make_config, make_crawler
from tests.crawler.support import PARAGRAPH

FEED = "http://127.0.0.40:8040/rss.xml"
STORY = "http://127.0.0.40:8040/2025/07/01/story.html"
LISTING = "http://127.0.0.41:8041/news/"
#: A section front page of source beta: a section, an article, the next page (named in <head>), hostile links.
LISTING_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>News</title>
<link rel="next" href="/news/continued/"><meta property="og:type" content="{og_type}"></head>
<body><nav><a href="/news/tech/">Tech</a> <a href="javascript:openMenu()">Menu</a></nav>
<ul><li><a href="/2025/07/01/ai-discovers-new-antibiotics.html">AI discovers new antibiotics</a></li>
<li><a href="http://10.0.0.1/2025/07/01/intranet-story.html">Intranet</a></li>
<li><a href="ftp://127.0.0.41/2025/07/01/archive.html">Archive</a></li></ul>
<a href="/news/continued/">Continue</a></body></html>"""


@pytest.fixture
def spider(tmp_path: Path) -> NewsSpider:
    crawler = make_crawler(make_config(tmp_path))
    assert isinstance(crawler.spider, NewsSpider)
    return crawler.spider


def _failed(request: Request, status: int, **headers: str) -> Failure:
    """The failure Scrapy hands an errback for an HTTP error response to ``request``."""
    response = HtmlResponse(request.url, status=status, headers=headers, body=b"", request=request)
    failure = Failure(HttpError(response, f"HTTP {status}"))
    failure.request = request  # type: ignore[attr-defined]
    return failure


def test_a_request_built_outside_the_spider_is_handled_by_it(spider: NewsSpider) -> None:
    request = article_request(STORY, spider.sources["alpha"], "retry")
    spider.claim(request)
    assert request.callback is None and request.errback == spider.on_error  # parse, then on_error
    (failure,) = spider.on_error(_failed(request, 500))
    assert isinstance(failure, FetchFailure)
    assert (failure.url, failure.outcome, failure.http_status) == (STORY, "http_error", 500)


def parsed(spider: NewsSpider, response: Response) -> list[Any]:
    """What the spider's callback yields for ``response``, in order."""

    async def collect() -> list[Any]:
        return [output async for output in spider.parse(response)]

    return asyncio.run(collect())


def test_a_response_goes_to_the_parser_of_its_kind(spider: NewsSpider) -> None:
    request = entry_request(spider.sources["alpha"], (FEED, "feed", 0, 1))
    body = f"<rss><channel><item><title>t</title><link>{STORY}</link></item></channel></rss>".encode()
    response = XmlResponse(FEED, body=body, request=request)
    article, poll = parsed(spider, response)
    assert isinstance(article, Request) and article.url == STORY and article.meta["ai4s_via"] == "feed"
    assert isinstance(poll, EntryPoll) and poll.url == FEED and poll.changed
    assert spider.crawler.stats.get_value(stat_key("alpha", "entry_pages_read")) == 1


def test_the_date_a_feed_gives_an_article_travels_with_its_request_to_its_page_item(spider: NewsSpider) -> None:
    request = entry_request(spider.sources["alpha"], (FEED, "feed", 0, 1))
    item = f"<item><title>t</title><link>{STORY}</link><pubDate>Tue, 01 Jul 2025 06:30:00 GMT</pubDate></item>"
    article, _ = parsed(
        spider, XmlResponse(FEED, body=f"<rss><channel>{item}</channel></rss>".encode(), request=request)
    )
    assert article.meta["ai4s_first_published"] == datetime(2025, 7, 1, 6, 30, tzinfo=UTC)
    page = HtmlResponse(STORY, body=b"<html><body><p>story</p></body></html>", request=article)
    (fetched,) = parsed(spider, page)
    assert isinstance(fetched, PageItem) and fetched.first_published == datetime(2025, 7, 1, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_an_entry_page_that_asks_to_wait_is_not_polled_again_before_then(spider: NewsSpider, form: str) -> None:
    wait = timedelta(hours=2)
    value = (
        str(int(wait.total_seconds())) if form == "seconds" else format_datetime(datetime.now(UTC) + wait, usegmt=True)
    )
    request = entry_request(spider.sources["alpha"], (FEED, "feed", 0, 1))
    (poll,) = spider.on_error(_failed(request, 503, **{"Retry-After": value}))
    assert isinstance(poll, EntryPoll) and poll.url == FEED and not poll.changed and poll.not_before is not None
    assert abs(poll.not_before - (datetime.now(UTC) + wait)) < timedelta(seconds=5)
    assert spider.crawler.stats.get_value(stat_key("alpha", "entry_pages_failed")) == 1


def listing_response(spider: NewsSpider, og_type: str = "website") -> HtmlResponse:
    request = entry_request(spider.sources["beta"], (LISTING, "listing", 0, 1))
    return HtmlResponse(LISTING, body=LISTING_PAGE.format(og_type=og_type).encode(), request=request)


def test_a_listing_page_leads_to_its_pages_and_articles_in_page_order_then_its_poll(spider: NewsSpider) -> None:
    *requests, poll = parsed(spider, listing_response(spider))
    assert [(r.url, r.meta["ai4s_kind"], r.meta.get("ai4s_depth"), r.meta.get("ai4s_page")) for r in requests] == [
        ("http://127.0.0.41:8041/news/tech/", "listing", 1, 1),
        ("http://127.0.0.41:8041/2025/07/01/ai-discovers-new-antibiotics.html", "article", None, None),
        ("http://127.0.0.41:8041/news/continued/", "listing", 0, 2),  # the next page, by the rel of its <link>
    ]
    assert isinstance(poll, EntryPoll) and poll.url == canonical_url(LISTING) and poll.changed
    assert poll.children == [
        ("http://127.0.0.41:8041/news/tech/", "listing", 1, 1),
        ("http://127.0.0.41:8041/news/continued/", "listing", 0, 2),
    ]


def test_a_listing_page_that_says_it_is_an_article_is_also_an_item(spider: NewsSpider) -> None:
    item, *rest = parsed(spider, listing_response(spider, og_type="article"))
    assert isinstance(item, PageItem) and (item.url, item.via, item.source) == (LISTING, "listing", "beta")
    assert len(rest) == 4 and isinstance(rest[-1], EntryPoll)


def test_the_bounds_of_a_crawl_come_from_its_settings(tmp_path: Path) -> None:
    crawler = make_crawler(make_config(tmp_path), AI4S_MAX_PAGINATION=1, AI4S_MAX_SITEMAP_DEPTH=0)
    spider = crawler.spider
    assert isinstance(spider, NewsSpider)
    *requests, poll = parsed(spider, listing_response(spider))
    assert [r.url for r in requests if r.meta["ai4s_kind"] == "listing"] == ["http://127.0.0.41:8041/news/tech/"]
    index = b"<sitemapindex><sitemap><loc>/sitemap-1.xml</loc></sitemap></sitemapindex>"
    request = entry_request(spider.sources["alpha"], ("http://127.0.0.40:8040/sitemap.xml", "sitemap", 0, 1))
    (poll,) = parsed(spider, XmlResponse(request.url, body=index, request=request))
    assert isinstance(poll, EntryPoll) and poll.children == []


def test_an_unreadable_entry_page_counts_as_failed_and_leads_nowhere(spider: NewsSpider) -> None:
    request = entry_request(spider.sources["alpha"], (FEED, "feed", 0, 1))
    assert list(parsed(spider, HtmlResponse(FEED, body=b"<html><body>Moved</body></html>", request=request))) == []
    stats = spider.crawler.stats
    assert stats.get_value(stat_key("alpha", "entry_pages_failed")) == stats.get_value(stat_key("alpha", "errors")) == 1
    assert stats.get_value(stat_key("alpha", "entry_pages_read")) is None


ARTICLE_PAGE = (
    "<!doctype html><html><head><title>Catalysts</title></head><body><nav><a href='/'>Home</a> "
    "<a href='/news/tech/'>Tech</a></nav><article><h1>Catalysts</h1>"
    + "".join(f"<p>{PARAGRAPH} Paragraph {i}.</p>" for i in range(6))
    + "<p><a href='/2025/07/02/another-story.html'>Another story of the day on catalysts</a></p></article></body></html>"
)


def test_a_page_linked_as_a_listing_that_is_an_article_is_an_item_and_never_an_entry_page(spider: NewsSpider) -> None:
    url = "http://127.0.0.41:8041/article/ai-finds-catalysts"
    request = entry_request(spider.sources["beta"], (url, "listing", 1, 1))
    (item,) = parsed(spider, HtmlResponse(url, body=ARTICLE_PAGE.encode(), request=request))
    assert isinstance(item, PageItem) and (item.url, item.via, item.source) == (url, "listing", "beta")
    assert spider.crawler.stats.get_value(stat_key("beta", "linked_listings_were_articles")) == 1
    assert url + "?utm_source=home" in spider.context.known
    # the listing that linked it does not keep it among the entry pages it leads to
    parent = EntryPoll(
        "beta",
        LISTING,
        200,
        True,
        children=[EntryPage(url, "listing", 1, 1), EntryPage("http://127.0.0.41:8041/news/tech/", "listing", 1, 1)],
    )
    assert spider.context.entry_children(parent) == [("http://127.0.0.41:8041/news/tech/", "listing", 1, 1)]


def test_a_section_of_headlines_stays_a_listing_whatever_it_declares(spider: NewsSpider) -> None:
    request = entry_request(spider.sources["beta"], ("http://127.0.0.41:8041/news/tech/", "listing", 1, 1))
    body = LISTING_PAGE.format(og_type="article").encode()
    *requests, poll = parsed(spider, HtmlResponse(request.url, body=body, request=request))
    assert isinstance(poll, EntryPoll) and poll.children and len(requests) == 3
    assert all(isinstance(r, Request) for r in requests)  # og:type alone does not make it an item
    assert spider.crawler.stats.get_value(stat_key("beta", "linked_listings_were_articles")) is None


#: A GBK section page whose next page is named only by its link's text.
GBK_LISTING = (
    "<!doctype html><html><head><title>科学智能</title></head><body><ul>"
    + "".join(f'<li><a href="/2025/07/0{d}/story.html">人工智能驱动的科学研究第{d}篇报道</a></li>' for d in range(1, 4))
    + '</ul><a href="/news/more.html">下一页</a></body></html>'
).encode("gbk")


@pytest.mark.parametrize("label", ["utf-8", "rot13", "utf-16"])
def test_a_listing_page_is_read_in_the_charset_its_bytes_are_in_whatever_its_label(
    spider: NewsSpider, label: str
) -> None:
    # Scrapy took the label as given: a garbled "下一页" (no next page), or a LookupError (rot13)
    request = entry_request(spider.sources["beta"], (LISTING, "listing", 0, 1))
    headers = {"Content-Type": f"text/html; charset={label}"}
    *requests, poll = parsed(spider, HtmlResponse(LISTING, body=GBK_LISTING, headers=headers, request=request))
    assert isinstance(poll, EntryPoll)
    listings = [(r.url, r.meta["ai4s_page"]) for r in requests if r.meta["ai4s_kind"] == "listing"]
    assert listings == [("http://127.0.0.41:8041/news/more.html", 2)]
    assert sum(r.meta["ai4s_kind"] == "article" for r in requests) == 3
