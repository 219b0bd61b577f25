"""The middlewares one by one, as Scrapy builds them (``from_crawler`` on a crawler with the
project's settings), fed with Scrapy's own requests and responses, against a real SQLite corpus."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Response

from crawler.config import Config
from crawler.crawl.addresses import AddressPolicyMiddleware
from crawler.crawl.context import CrawlContext
from crawler.crawl.middlewares import (
    _ASCII_MARKUP_ENCODINGS,
    BackoffRetryMiddleware,
    ConditionalGetMiddleware,
    HeadMetaRefreshMiddleware,
    KnownUrlFilterMiddleware,
    PendingRetryMiddleware,
    SourceBudgetMiddleware,
)
from crawler.crawl.requests import NotModified, PollDeferred, article_request, entry_request, stat_key
from crawler.text.urls import canonical_url
from storage.polling import save_entry_page
from storage.repository import ensure_source, record_fetch
from tests.crawler.crawl.components import corpus, make_config, make_crawler, open_crawl
from tests.localweb import load_corpus

FEED = "http://127.0.0.40:8040/rss.xml"
LISTING = "http://127.0.0.41:8041/news/"
FEED_BODY = b"<rss><channel><item><link>http://127.0.0.40:8040/a.html</link></item></channel></rss>"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


def _remember_feed(config: Config, **state: object) -> None:
    """The corpus remembers a poll of the alpha feed with ``state`` (validators, body hash, not before)."""
    with corpus(config) as session:
        save_entry_page(session, canonical_url(FEED), ensure_source(session, "alpha"), changed=True, **state)  # type: ignore[arg-type]


def _feed_request(config: Config) -> Request:
    return entry_request(config.source("alpha"), (FEED, "feed", 0, 1))


# -- conditional GET ----------------------------------------------------------------------
def test_a_re_poll_sends_the_validators_of_the_last_poll(config: Config) -> None:
    _remember_feed(config, etag='"v7"', last_modified="Mon, 01 Dec 2025 08:00:00 GMT")
    with open_crawl(config) as crawler:
        middleware = ConditionalGetMiddleware.from_crawler(crawler)
        request = _feed_request(config)
        middleware.process_request(request)
        first_poll = entry_request(config.source("beta"), (LISTING, "listing", 0, 1))
        middleware.process_request(first_poll)
    assert request.headers[b"If-None-Match"] == b'"v7"'
    assert request.headers[b"If-Modified-Since"] == b"Mon, 01 Dec 2025 08:00:00 GMT"
    assert b"If-None-Match" not in first_poll.headers and b"If-Modified-Since" not in first_poll.headers


def test_a_304_or_the_same_body_again_is_not_modified_and_a_new_body_is_read(config: Config) -> None:
    _remember_feed(config, etag='"v7"', body_hash=hashlib.sha256(FEED_BODY).hexdigest())
    with open_crawl(config) as crawler:
        middleware = ConditionalGetMiddleware.from_crawler(crawler)
        request = _feed_request(config)
        with pytest.raises(NotModified) as not_modified:
            middleware.process_response(request, Response(FEED, status=304, headers={"ETag": '"v7"'}))
        assert (not_modified.value.status, not_modified.value.etag) == (304, '"v7"')
        with pytest.raises(NotModified) as same_body:
            middleware.process_response(request, Response(FEED, status=200, body=FEED_BODY))
        assert same_body.value.status == 200 and same_body.value.state is not None
        changed = Response(FEED, status=200, body=FEED_BODY + b"<!-- new -->")
        assert middleware.process_response(request, changed) is changed
        assert request.meta["ai4s_body_hash"] == hashlib.sha256(changed.body).hexdigest()
        article = article_request("http://127.0.0.40:8040/a.html", config.source("alpha"), "feed")
        unread = Response(article.url, status=304)
        assert middleware.process_response(article, unread) is unread  # articles are not re-polled


def test_a_page_the_site_asked_to_wait_for_is_deferred_unless_hints_are_off(config: Config) -> None:
    _remember_feed(config, not_before=datetime.now(UTC) + timedelta(hours=1))
    with open_crawl(config) as crawler:
        with pytest.raises(PollDeferred, match="asked not to poll before"):
            ConditionalGetMiddleware.from_crawler(crawler).process_request(_feed_request(config))
        assert crawler.stats.get_value(stat_key("alpha", "deferred")) == 1
    with open_crawl(config, AI4S_HONOUR_POLL_HINTS=False) as crawler:
        assert ConditionalGetMiddleware.from_crawler(crawler).process_request(_feed_request(config)) is None


# -- known URLs, pending retries, budgets ---------------------------------------------------
def test_articles_the_corpus_knows_are_dropped_and_counted_once(config: Config) -> None:
    known = "http://127.0.0.40:8040/2025/01/01/known.html"
    with corpus(config) as session:
        record_fetch(session, source="alpha", url=known, canonical_url=canonical_url(known), outcome="gone")
    alpha = config.source("alpha")
    with open_crawl(config) as crawler:
        middleware = KnownUrlFilterMiddleware.from_crawler(crawler)
        for _ in range(2):  # a URL variant of the known page, linked twice
            assert (
                middleware.get_processed_request(article_request(known + "?utm_source=rss", alpha, "feed"), None)
                is None
            )
        new = article_request("http://127.0.0.40:8040/2025/01/02/new.html", alpha, "feed")
        assert middleware.get_processed_request(new, None) is new
        feed = _feed_request(config)
        assert middleware.get_processed_request(feed, None) is feed
        assert crawler.stats.get_value(stat_key("alpha", "skipped_known")) == 1


def test_a_linked_listing_known_as_an_article_is_dropped_but_never_a_start_page_or_a_next_page(config: Config) -> None:
    article = "http://127.0.0.41:8041/article/ai-finds-new-catalysts"  # linked as a listing by an older crawl
    with corpus(config) as session:
        for url in (article, LISTING):  # the start page is stored too: its site marks it og:type=article
            record_fetch(session, source="beta", url=url, canonical_url=canonical_url(url), outcome="article")
    beta = config.source("beta")
    with open_crawl(config) as crawler:
        middleware = KnownUrlFilterMiddleware.from_crawler(crawler)
        assert middleware.get_processed_request(entry_request(beta, (article, "listing", 1, 1)), None) is None
        kept = [
            entry_request(beta, (LISTING, "listing", 0, 1)),  # the configured start page
            entry_request(beta, (article, "listing", 1, 2)),  # a next page stays a listing
            entry_request(beta, ("http://127.0.0.41:8041/science/", "listing", 1, 1)),  # a section not known
        ]
        assert all(middleware.get_processed_request(request, None) is request for request in kept)
        found = "http://127.0.0.41:8041/p/quantum-chemistry-goes-faster"
        CrawlContext.of(crawler).known.note_article_pages(found)  # found to be an article by this crawl
        assert middleware.get_processed_request(entry_request(beta, (found, "listing", 2, 1)), None) is None
        assert crawler.stats.get_value(stat_key("beta", "skipped_known")) == 2


def test_article_urls_that_failed_before_are_requested_again_after_the_start_requests(config: Config) -> None:
    failed = "http://127.0.0.40:8040/2025/01/03/flaky.html"
    with corpus(config) as session:
        record_fetch(
            session,
            source="alpha",
            url=failed,
            canonical_url=canonical_url(failed),
            outcome="http_error",
            http_status=503,
        )

    async def start() -> AsyncIterator[Request]:
        yield _feed_request(config)

    async def requested(middleware: PendingRetryMiddleware) -> list[Request]:
        return [request async for request in middleware.process_start(start())]

    with open_crawl(config) as crawler:
        first, retry = asyncio.run(requested(PendingRetryMiddleware.from_crawler(crawler)))
    assert first.url == FEED
    assert retry.url == failed
    assert (retry.meta["ai4s_source"], retry.meta["ai4s_kind"], retry.meta["ai4s_via"]) == ("alpha", "article", "retry")
    assert retry.meta["ai4s_max_pages"] == config.source("alpha").max_pages


def test_a_source_gets_no_more_requests_than_its_budget(config: Config) -> None:
    alpha, beta = config.source("alpha"), config.source("beta")  # alpha: max_pages = 3
    crawler = make_crawler(config)
    middleware = SourceBudgetMiddleware.from_crawler(crawler)
    urls = [f"http://127.0.0.40:8040/2025/02/0{i}/story.html" for i in range(1, 6)]
    passed = [middleware.get_processed_request(article_request(url, alpha, "feed"), None) for url in urls]
    assert [request is not None for request in passed] == [True, True, True, False, False]
    assert middleware.get_processed_request(article_request(urls[0], beta, "listing"), None) is not None
    assert crawler.stats.get_value(stat_key("alpha", "over_budget")) == 2
    assert crawler.stats.get_value(stat_key("beta", "over_budget")) is None


def test_a_page_named_again_does_not_use_up_the_budget(config: Config) -> None:
    alpha = config.source("alpha")  # max_pages = 3
    crawler = make_crawler(config)
    middleware = SourceBudgetMiddleware.from_crawler(crawler)
    repeated = "http://127.0.0.40:8040/2025/02/01/story.html"
    others = [f"http://127.0.0.40:8040/2025/02/0{i}/story.html" for i in range(2, 5)]
    named = [repeated] * 30 + [f"{repeated}?utm_source=rss", *others]  # a feed that repeats its first item
    passed = [middleware.get_processed_request(article_request(url, alpha, "feed"), None) for url in named]
    assert [request.url for request in passed[-3:] if request is not None] == others[:2]  # two of three: the cap
    assert crawler.stats.get_value(stat_key("alpha", "over_budget")) == 1


# -- address policy ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("http://127.0.0.40:8040/a.html", None),  # a configured source's host
        ("https://www.example.org/a.html", None),  # a public host
        ("http://127.0.0.99:8040/a.html", "internal_address"),
        ("http://192.168.1.1/admin", "internal_address"),
        ("ftp://127.0.0.40/a.html", "scheme"),
    ],
)
def test_internal_addresses_are_fetched_only_on_configured_hosts(config: Config, url: str, refusal: str | None) -> None:
    crawler = make_crawler(config)
    middleware = AddressPolicyMiddleware.from_crawler(crawler)
    if refusal is None:
        assert middleware.process_request(Request(url)) is None
    else:
        with pytest.raises(IgnoreRequest):
            middleware.process_request(Request(url))
        assert crawler.stats.get_value(f"ai4s/refused/{refusal}") == 1


# -- retries -------------------------------------------------------------------------------
def _busy(request: Request, retry_after: str) -> HtmlResponse:
    return HtmlResponse(request.url, status=503, headers={"Retry-After": retry_after}, body=b"busy", request=request)


def _retried_after(middleware: BackoffRetryMiddleware, request: Request, retry_after: str) -> tuple[object, float]:
    """What the middleware returned for a 503 with ``retry_after``, and how long it waited."""
    started = time.monotonic()
    result = asyncio.run(middleware.process_response(request, _busy(request, retry_after)))
    return result, time.monotonic() - started


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_retry_waits_as_long_as_retry_after_asks_in_either_form(config: Config, form: str) -> None:
    crawler = make_crawler(config, AI4S_RETRY_BACKOFF_BASE=0.01, AI4S_RETRY_BACKOFF_MAX=10.0)
    middleware = BackoffRetryMiddleware.from_crawler(crawler)
    request = article_request("http://127.0.0.40:8040/2025/01/04/busy.html", config.source("alpha"), "feed")
    # an HTTP date has whole seconds: two seconds from now is a wait of more than one
    value = "2" if form == "seconds" else format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    retry, waited = _retried_after(middleware, request, value)
    assert isinstance(retry, Request) and retry.meta["retry_times"] == 1
    assert waited >= 0.95, waited  # the backoff alone would have waited 0.01 s


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_server_asking_for_a_longer_wait_than_the_maximum_is_not_retried_now(config: Config, form: str) -> None:
    crawler = make_crawler(config, AI4S_RETRY_BACKOFF_BASE=0.01, AI4S_RETRY_BACKOFF_MAX=10.0)
    middleware = BackoffRetryMiddleware.from_crawler(crawler)
    request = _feed_request(config)
    value = "3600" if form == "seconds" else format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    result, waited = _retried_after(middleware, request, value)
    assert isinstance(result, Response) and result.status == 503 and waited < 0.5


def test_without_retry_after_the_backoff_doubles_up_to_its_maximum(config: Config) -> None:
    crawler = make_crawler(config, AI4S_RETRY_BACKOFF_BASE=1.0, AI4S_RETRY_BACKOFF_MAX=5.0)
    middleware = BackoffRetryMiddleware.from_crawler(crawler)
    delays = [middleware.delay(Request(FEED, meta={"retry_times": attempt})) for attempt in (1, 2, 3, 4)]
    assert delays == [1.0, 2.0, 4.0, 5.0]
    assert middleware.delay(Request(FEED, meta={"retry_times": 1}), retry_after=3.0) == 3.0


def test_every_component_gets_the_one_crawl_context(config: Config) -> None:
    crawler = make_crawler(config)
    context = CrawlContext.of(crawler)
    assert ConditionalGetMiddleware.from_crawler(crawler).context is context
    assert KnownUrlFilterMiddleware.from_crawler(crawler).context is context
    assert PendingRetryMiddleware.from_crawler(crawler).context is context
    assert crawler.spider is not None and list(crawler.spider.sources) == config.source_names


# -- meta refresh ------------------------------------------------------------------------------
class _CountingResponse(HtmlResponse):
    """An HTML response that counts the reads of its decoded text."""

    decoded = 0

    @property
    def text(self) -> str:
        self.decoded += 1
        return super().text


def _refreshed(middleware: MetaRefreshMiddleware, body: bytes, content_type: str) -> tuple[str | None, int]:
    """Where ``middleware`` redirects a page of ``body`` (``None``: nowhere), and how often it decoded it."""
    request = Request(LISTING)
    response = _CountingResponse(LISTING, body=body, headers={"Content-Type": content_type}, request=request)
    result = middleware.process_response(request, response)
    return (result.url if isinstance(result, Request) else None), response.decoded


META_REFRESH = "<meta http-equiv='refresh' content='0; url=/moved.html'>"
HTML = "text/html"

#: Pages as served (body, Content-Type), and whether a browser following Scrapy would be redirected.
REFRESH_PAGES: dict[str, tuple[bytes, str, bool]] = {
    "plain": (b"<html><head><meta http-equiv='Refresh' content='0; url=/moved.html'></head></html>", HTML, True),
    "after Chinese text": (f"<title>科学智能</title>{META_REFRESH}".encode("gbk"), f"{HTML}; charset=gbk", True),
    "in UTF-16, declared": (META_REFRESH.encode("utf-16"), f"{HTML}; charset=utf-16", True),
    # a byte order mark wins over the header; no NUL byte among the first Chinese characters
    "in UTF-16 after its BOM": (
        b"\xff\xfe" + f"科学智能研究{'人' * 31}{META_REFRESH}".encode("utf-16-le"),
        f"{HTML}; charset=utf-8",
        True,
    ),
    "in EBCDIC, declared": (META_REFRESH.encode("cp500"), f"{HTML}; charset=cp500", True),
    "in EBCDIC, by its <meta>": (b"<meta charset=cp500>" + META_REFRESH.encode("cp500"), HTML, True),
    "in EBCDIC, by its XML declaration": (
        b'<?xml version="1.0" encoding="cp037"?>' + META_REFRESH.encode("cp037"),
        HTML,
        True,
    ),
    "in EBCDIC, undeclared": (
        ("<html><body>" + "Die Forscher nutzten künstliche Intelligenz. " * 20 + META_REFRESH).encode("cp500"),
        HTML,
        True,
    ),
    "after ISO-2022-JP escapes": (b"\x1b(B" * 6000 + META_REFRESH.encode(), f"{HTML}; charset=iso-2022-jp", True),
    "after HZ line continuations": (b"~\n" * 9000 + META_REFRESH.encode(), f"{HTML}; charset=hz-gb-2312", True),
    "spelled with a reference": (b"<meta http-equiv='&#114;efresh' content='1;url=/moved.html'>", HTML, False),
    "too slow to follow": (b"<meta http-equiv='refresh' content='600; url=/moved.html'>", HTML, False),
    "none": (b"<html><head><title>Fresh news</title></head><body><p>&#8220;AI&#8221;</p></body></html>", HTML, False),
    "none, in GBK by its <meta>": ("<meta charset=gbk><p>科学智能</p>".encode("gbk"), HTML, False),
    "none, undeclared UTF-8": ("<html><body><p>科学智能</p></body></html>".encode(), HTML, False),
    "beyond what is read": (("<p>科学智能" * 2000 + "</p>" + META_REFRESH).encode(), f"{HTML}; charset=utf-8", False),
}


@pytest.mark.parametrize("kind", sorted(REFRESH_PAGES))
def test_a_meta_refresh_redirects_as_with_scrapys_middleware(config: Config, kind: str) -> None:
    raw, content_type, redirects = REFRESH_PAGES[kind]
    crawler = make_crawler(config)
    ours = _refreshed(HeadMetaRefreshMiddleware.from_crawler(crawler), raw, content_type)
    scrapys = _refreshed(MetaRefreshMiddleware.from_crawler(crawler), raw, content_type)
    assert ours[0] == scrapys[0]
    assert (ours[0] is not None) == redirects
    if kind.startswith("none") or kind == "beyond what is read":
        assert ours[1] == 0 < scrapys[1]  # no refresh where one is read: the page is never decoded


def test_corpus_pages_are_redirected_as_with_scrapys_middleware(config: Config, corpus_dir: Path) -> None:
    crawler = make_crawler(config)
    ours, scrapys = HeadMetaRefreshMiddleware.from_crawler(crawler), MetaRefreshMiddleware.from_crawler(crawler)
    decoded = 0
    pages = [page for page in load_corpus(corpus_dir) if page.source != "relevance"]
    for page in pages:
        for content_type in (f"text/html; charset={page.encoding}", "text/html"):  # declared, or found by Scrapy
            (url, read), (expected, _) = (
                _refreshed(ours, page.raw(), content_type),
                _refreshed(scrapys, page.raw(), content_type),
            )
            assert url == expected, page.id
            decoded += read > 0
    assert decoded < 2 * len(pages) / 4  # most pages spell no "refresh": only the others are decoded


def test_the_encodings_read_as_ascii_write_refresh_only_as_its_ascii_bytes() -> None:
    letters = set("refreshREFRESH")
    # ASCII written otherwise by the encodings left out: escapes (ISO-2022-JP, HZ), Python's escape codecs, UTF-7
    ascii_tricks = [
        bytes(range(128)),
        b"a\x1b(Bb",
        b"a\x1b$Bb",
        b"a~\nb",
        b"a~{b",
        b"a\\x72b",
        b"a\\u0072b",
        b"a+AHI-b",
    ]
    for encoding in _ASCII_MARKUP_ENCODINGS:
        for ascii_bytes in ascii_tricks:  # ASCII bytes are their own characters, whatever comes around them
            assert ascii_bytes.decode(encoding) == ascii_bytes.decode("ascii"), (encoding, ascii_bytes)
        for lead in range(0x80, 0x100):  # a non-ASCII byte, alone or leading a pair, never gives a letter of its own
            for second in range(0x100):
                decoded = bytes((lead, second)).decode(encoding, "replace")
                assert not (letters & set(decoded)) or chr(second) in decoded, (encoding, lead, second)
