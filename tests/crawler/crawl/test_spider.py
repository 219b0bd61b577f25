"""The news spider as a component: requests built anywhere (the spider, a middleware) are handled
by it, responses by the parser of their kind, and an entry page's ``Retry-After`` (in either
form) becomes the earliest next poll of that page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, XmlResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.crawl.items import EntryPoll, FetchFailure
from crawler.crawl.requests import article_request, entry_request, stat_key
from crawler.crawl.spiders.news import NewsSpider
from tests.crawler.crawl.components import make_config, make_crawler

FEED = "http://127.0.0.40:8040/rss.xml"
STORY = "http://127.0.0.40:8040/2025/07/01/story.html"


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


def test_a_response_goes_to_the_parser_of_its_kind(spider: NewsSpider) -> None:
    request = entry_request(spider.sources["alpha"], (FEED, "feed", 0, 1))
    body = f"<rss><channel><item><title>t</title><link>{STORY}</link></item></channel></rss>".encode()
    response = XmlResponse(FEED, body=body, request=request)
    article, poll = spider.parse(response)
    assert isinstance(article, Request) and article.url == STORY and article.meta["ai4s_via"] == "feed"
    assert isinstance(poll, EntryPoll) and poll.url == FEED and poll.changed
    assert spider.crawler.stats.get_value(stat_key("alpha", "entry_pages_read")) == 1


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
