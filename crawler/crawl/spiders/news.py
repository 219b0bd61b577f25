"""The generic news spider: for each source, reads its feeds and sitemaps and walks its listing
pages to find article pages, and yields each fetched article page as a :class:`PageItem`.

Discovery and fetching only: it never touches the database. Its sources come from the crawl's
configuration (:func:`crawler.crawl.context.crawl_config`), its requests from
:mod:`crawler.crawl.requests`. Known articles are dropped by
:class:`crawler.crawl.middlewares.KnownUrlFilterMiddleware`, budgets by
:class:`crawler.crawl.middlewares.SourceBudgetMiddleware`, extraction and storage happen in
the pipelines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import scrapy
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip, gzip_magic_number
from twisted.internet.error import DNSLookupError, TCPTimedOutError
from twisted.internet.error import TimeoutError as TwistedTimeoutError
from twisted.python.failure import Failure

from crawler.crawl.context import crawl_config
from crawler.crawl.items import EntryPoll, FetchFailure, PageItem
from crawler.crawl.requests import (
    ENTRY_KINDS,
    Child,
    NotModified,
    PollDeferred,
    article_request,
    entry_request,
    entry_url,
    stat_key,
)
from crawler.sources import Source
from crawler.text.dates import retry_after_seconds
from crawler.text.feeds import FeedError, parse_sitemap, read_feed, sitemaps_in_robots
from crawler.text.links import is_fetchable_link, is_pagination, looks_like_article
from crawler.text.urls import is_http_url, is_internal_host, url_host


class NewsSpider(scrapy.Spider):
    """Crawls the sources of the crawl's configuration (every source of the sources file, or those named)."""

    name = "news"
    max_pagination: int  # listing pages followed through "next page" links, per listing
    max_sitemap_depth: int  # nesting of sitemap indexes
    link_extractor: LinkExtractor

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.max_pagination = settings.getint("AI4S_MAX_PAGINATION", 10)
        spider.max_sitemap_depth = settings.getint("AI4S_MAX_SITEMAP_DEPTH", 3)
        spider.link_extractor = LinkExtractor(unique=True, tags=("a", "area"), attrs=("href",))
        crawler.signals.connect(spider.claim, signal=signals.request_scheduled)
        return spider

    @cached_property
    def sources(self) -> dict[str, Source]:
        """The sources of this crawl, by name (read when first needed: the crawl context that holds
        the configuration is created after the spider)."""
        return {source.name: source for source in crawl_config(self.crawler).sources}

    # -- requests -------------------------------------------------------------------
    def claim(self, request: scrapy.Request) -> None:
        """Make this spider handle the failures of ``request``, as it handles its response (``parse``).

        Requests are built by plain functions (:mod:`crawler.crawl.requests`), some by middlewares
        that do not know the spider, and Scrapy has no default errback: every request of the crawl
        is claimed here when it is scheduled.
        """
        if request.errback is None:
            request.errback = self.on_error

    def parse(self, response: Response, **kwargs: Any) -> Iterator[scrapy.Request | PageItem | EntryPoll]:
        """The response of a request built without a callback, handed to the parser of its kind."""
        parsers = {
            "feed": self.parse_feed,
            "robots": self.parse_robots,
            "sitemap": self.parse_sitemap,
            "listing": self.parse_listing,
            "article": self.parse_article,
        }
        return parsers[response.meta.get("ai4s_kind", "article")](response)

    def _allowed(self, url: str, source: Source) -> bool:
        """Discovered links: http(s) only, and internal addresses only on the source's own hosts."""
        if not is_http_url(url):
            return False
        host = url_host(url)
        return not is_internal_host(host) or host in source.hosts

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """The entry points of every source: feeds, sitemaps (or robots.txt naming them), listing pages."""
        for source in self.sources.values():
            self.logger.info(
                "Source %s: %d feeds, %d sitemaps, %d listing pages",
                source.name,
                len(source.feeds),
                len(source.sitemaps),
                len(source.start_urls),
            )
            for url in source.feeds:
                yield entry_request(source, (url, "feed", 0, 1))
            for url in source.sitemaps:
                kind = "robots" if url.rstrip("/").endswith("/robots.txt") else "sitemap"
                yield entry_request(source, (url, kind, 0, 1))
            for url in source.start_urls:
                yield entry_request(source, (url, "listing", 0, 1))

    def _polled(self, response: Response, children: list[Child], poll_hint: float | None = None) -> EntryPoll:
        """What to remember of an entry page that was read: validators, body hash, where it led."""
        source = response.meta["ai4s_source"]
        self.crawler.stats.inc_value(stat_key(source, "entry_pages_read"))
        etag = response.headers.get(b"ETag")
        modified = response.headers.get(b"Last-Modified")
        return EntryPoll(
            source=source,
            url=entry_url(response.request) if response.request else response.url,
            status=response.status,
            changed=True,
            etag=etag.decode("latin-1") if etag else None,
            last_modified=modified.decode("latin-1") if modified else None,
            body_hash=response.meta.get("ai4s_body_hash"),
            not_before=datetime.now(UTC) + timedelta(seconds=poll_hint) if poll_hint else None,
            poll_hint=poll_hint,
            children=children,
        )

    # -- feeds and sitemaps ----------------------------------------------------------------
    def _source_of(self, response: Response) -> Source:
        return self.sources[response.meta["ai4s_source"]]

    def _count_error(self, source: str, message: str, *args: Any) -> None:
        self.crawler.stats.inc_value(stat_key(source, "errors"))
        self.logger.warning(message, *args)

    def _unreadable(self, source: str, message: str, *args: Any) -> None:
        """Count an entry page that was fetched but could not be used, as an error and a failed entry page."""
        self.crawler.stats.inc_value(stat_key(source, "entry_pages_failed"))
        self._count_error(source, message, *args)

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request | EntryPoll]:
        """Article requests for the items of an RSS/Atom feed."""
        source = self._source_of(response)
        try:
            feed = read_feed(response.body, response.url)
        except FeedError as exc:
            self._unreadable(source.name, "Source %s: feed %s unreadable: %s", source.name, response.url, exc)
            return
        self.logger.info("Source %s: feed %s lists %d items", source.name, response.url, len(feed.entries))
        for entry in feed.entries:
            if self._allowed(entry.url, source):
                yield article_request(entry.url, source, "feed")
        yield self._polled(response, [], feed.poll_hint)

    def parse_robots(self, response: Response) -> Iterator[scrapy.Request | EntryPoll]:
        """Sitemap requests for the ``Sitemap:`` lines of a robots.txt."""
        source = self._source_of(response)
        text = response.body.decode("utf-8", errors="replace")
        urls = sitemaps_in_robots(text, response.url)
        if not urls:
            self._unreadable(source.name, "Source %s: %s names no sitemap", source.name, response.url)
            return
        children: list[Child] = [(url, "sitemap", 0, 1) for url in urls if self._allowed(url, source)]
        for child in children:
            yield entry_request(source, child)
        yield self._polled(response, children)

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request | EntryPoll]:
        """Article requests for a urlset; sitemap requests for an index (bounded nesting)."""
        source = self._source_of(response)
        body = response.body
        if gzip_magic_number(response):
            try:
                body = gunzip(body, max_size=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
            except (OSError, ValueError, EOFError) as exc:
                self._unreadable(source.name, "Source %s: sitemap %s: bad gzip: %s", source.name, response.url, exc)
                return
        try:
            sitemap = parse_sitemap(body, response.url)
        except FeedError as exc:
            self._unreadable(source.name, "Source %s: sitemap %s unreadable: %s", source.name, response.url, exc)
            return
        depth = response.meta.get("ai4s_depth", 0)
        self.logger.info(
            "Source %s: sitemap %s lists %d %s",
            source.name,
            response.url,
            len(sitemap.children),
            "sitemaps" if sitemap.is_index else "pages",
        )
        children: list[Child] = []
        for entry in sitemap.children:
            if not self._allowed(entry.url, source):
                continue
            if sitemap.is_index:
                if depth < self.max_sitemap_depth:
                    children.append((entry.url, "sitemap", depth + 1, 1))
                    yield entry_request(source, children[-1])
            else:
                yield article_request(entry.url, source, "sitemap")
        yield self._polled(response, children)

    # -- listing pages ---------------------------------------------------------------------
    def parse_listing(self, response: Response) -> Iterator[scrapy.Request | PageItem | EntryPoll]:
        """Article requests for article-like links of a listing page; listing requests for the
        next page (bounded pagination) and for other same-site pages (bounded depth)."""
        source = self._source_of(response)
        if not isinstance(response, TextResponse):
            self._unreadable(source.name, "Source %s: listing %s is not a web page", source.name, response.url)
            return
        if self._declares_article(response):
            yield self._page_item(response, source, "listing")
        depth = response.meta.get("ai4s_depth", 0)
        page = response.meta.get("ai4s_page", 1)
        site = url_host(response.url)
        rels = self._rels(response)
        children: list[Child] = []
        for link in self.link_extractor.extract_links(response):
            url = link.url
            if url_host(url) != site or not self._allowed(url, source) or not is_fetchable_link(url):
                continue
            if looks_like_article(url):
                yield article_request(url, source, "listing")
                continue
            if is_pagination(url, response.url, link.text or "", rels.get(link.url, "")):
                if page >= self.max_pagination:
                    continue
                children.append((url, "listing", depth, page + 1))
            elif depth < source.max_depth:
                children.append((url, "listing", depth + 1, 1))
            else:
                continue
            yield entry_request(source, children[-1])
        yield self._polled(response, children)

    @staticmethod
    def _rels(response: TextResponse) -> dict[str, str]:
        """The ``rel`` values of a page's links (``rel=next`` marks pagination), by absolute URL."""
        rels: dict[str, str] = {}
        for element in response.css("a[rel], link[rel]"):
            url = response.urljoin(element.attrib.get("href", ""))
            rels[url] = f"{rels.get(url, '')} {element.attrib.get('rel', '')}".strip()
        return rels

    @staticmethod
    def _declares_article(response: TextResponse) -> bool:
        """True when a page reached as a listing says it is an article (Open Graph or published time)."""
        og_type = response.css('meta[property="og:type"]::attr(content)').get("")
        return og_type.strip().lower() == "article" or bool(response.css('meta[property="article:published_time"]'))

    # -- articles ------------------------------------------------------------------------------
    def _page_item(self, response: Response, source: Source, via: str) -> PageItem:
        content_type = response.headers.get(b"Content-Type")
        content_type_text = content_type.decode("latin-1") if content_type else None
        charset = None
        if content_type_text and "charset=" in content_type_text.lower():
            charset = content_type_text.lower().split("charset=", 1)[1].split(";")[0].strip().strip("'\"") or None
        requested = response.request.meta.get("redirect_urls", [response.url])[0] if response.request else response.url
        return PageItem(
            source=source.name,
            url=response.url,
            requested_url=requested,
            status=response.status,
            body=response.body,
            content_type=content_type_text,
            header_charset=charset,
            via=via,
        )

    def parse_article(self, response: Response) -> Iterator[PageItem]:
        """The fetched page, for the pipelines to extract and store."""
        yield self._page_item(response, self._source_of(response), response.meta.get("ai4s_via", "listing"))

    def on_error(self, failure: Failure) -> Iterator[FetchFailure | EntryPoll | scrapy.Request]:
        """Record a failed fetch: for an article candidate as a :class:`FetchFailure`, for others in the log.

        An entry page unchanged since the last poll is not a failure: the entry pages it led to
        last time are requested again (they may have changed even if it did not).
        """
        request = failure.request  # type: ignore[attr-defined]
        source = request.meta.get("ai4s_source", "?")
        kind = request.meta.get("ai4s_kind")
        if failure.check(NotModified):
            yield from self._unchanged(request, failure.value)
            return
        if failure.check(PollDeferred):
            self.logger.info("Source %s: %s %s not polled: %s", source, kind, request.url, failure.getErrorMessage())
            return
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            # robots.txt or the address policy said no: nothing was fetched
            self.crawler.stats.inc_value(stat_key(source, "refused"))
            self.logger.info("Source %s: %s %s not fetched: %s", source, kind, request.url, failure.getErrorMessage())
            return
        status = None
        if failure.check(HttpError):
            status = failure.value.response.status
            outcome = "gone" if status in (404, 410) else "http_error"
            reason = f"HTTP {status}"
        elif failure.check(TwistedTimeoutError, TCPTimedOutError):
            outcome, reason = "network_error", "timed out"
        elif failure.check(DNSLookupError):
            outcome, reason = "network_error", "DNS lookup failed"
        else:
            outcome, reason = "network_error", f"{failure.type.__name__}: {failure.getErrorMessage()}"
        self.crawler.stats.inc_value(stat_key(source, "errors"))
        self.logger.warning("Source %s: %s %s failed: %s", source, kind, request.url, reason)
        if kind == "article":
            yield FetchFailure(source=source, url=request.url, outcome=outcome, http_status=status, error=reason)
        elif kind in ENTRY_KINDS:
            self.crawler.stats.inc_value(stat_key(source, "entry_pages_failed"))
            now = datetime.now(UTC)
            retry_after = failure.value.response.headers.get(b"Retry-After") if failure.check(HttpError) else None
            wait = retry_after_seconds(retry_after, now)
            if wait:
                not_before = now + timedelta(seconds=wait)
                yield EntryPoll(source, entry_url(request), status or 0, changed=False, not_before=not_before)

    def _unchanged(self, request: scrapy.Request, unchanged: NotModified) -> Iterator[EntryPoll | scrapy.Request]:
        source_name = request.meta.get("ai4s_source", "?")
        self.crawler.stats.inc_value(stat_key(source_name, "entry_pages_unchanged"))
        self.logger.info(
            "Source %s: %s %s unchanged (%s)", source_name, request.meta.get("ai4s_kind"), request.url, unchanged
        )
        source = self.sources.get(source_name)
        state = unchanged.state
        if source is None or state is None:
            return
        for child in state.children:
            if self._allowed(child[0], source):
                yield entry_request(source, child)
        # the feed's ttl still holds: the next poll waits for it again
        not_before = datetime.now(UTC) + timedelta(seconds=state.poll_hint) if state.poll_hint else None
        yield EntryPoll(
            source_name, entry_url(request), unchanged.status, changed=False, etag=unchanged.etag, not_before=not_before
        )
