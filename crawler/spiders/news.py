"""The generic news spider: for each source, reads its feeds and sitemaps and walks its listing
pages to find article pages, and yields each fetched article page as a :class:`PageItem`.

Discovery and fetching only: it never touches the database. Known articles are dropped
by :class:`crawler.middlewares.KnownUrlFilterMiddleware`, budgets by
:class:`crawler.middlewares.SourceBudgetMiddleware`, extraction and storage happen in
the pipelines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip, gzip_magic_number
from twisted.internet.error import DNSLookupError, TCPTimedOutError
from twisted.internet.error import TimeoutError as TwistedTimeoutError
from twisted.python.failure import Failure

from crawler.feeds import FeedError, parse_feed, parse_sitemap, sitemaps_in_robots
from crawler.items import FetchFailure, PageItem
from crawler.links import is_fetchable_link, is_pagination, looks_like_article
from crawler.middlewares import stat_key
from crawler.sources import Source, load_sources
from crawler.urls import clean_url, is_http_url, is_internal_host, url_host


class NewsSpider(scrapy.Spider):
    """Crawls every configured source (or those named in ``AI4S_SOURCE_NAMES``)."""

    name = "news"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sources: dict[str, Source] = {}

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        names = settings.getlist("AI4S_SOURCE_NAMES")
        spider.sources = {s.name: s for s in load_sources(settings.get("AI4S_SOURCES_FILE"), names)}
        spider.max_pagination = settings.getint("AI4S_MAX_PAGINATION", 10)
        spider.max_sitemap_depth = settings.getint("AI4S_MAX_SITEMAP_DEPTH", 3)
        spider.link_extractor = LinkExtractor(unique=True, tags=("a", "area"), attrs=("href",))
        return spider

    # -- requests -------------------------------------------------------------------
    def _request(self, url: str, source: Source, kind: str, callback: Any, **meta: Any) -> scrapy.Request:
        return scrapy.Request(
            clean_url(url),
            callback=callback,
            errback=self.on_error,
            meta={"ai4s_source": source.name, "ai4s_kind": kind, "ai4s_max_pages": source.max_pages, **meta},
        )

    def _allowed(self, url: str, source: Source) -> bool:
        """Discovered links: http(s) only, and internal addresses only on the source's own hosts."""
        if not is_http_url(url):
            return False
        host = url_host(url)
        return not is_internal_host(host) or host in source.hosts

    def article_request(self, url: str, source: Source, via: str) -> scrapy.Request:
        """A request for a candidate article page."""
        return self._request(url, source, "article", self.parse_article, ai4s_via=via)

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
                yield self._request(url, source, "feed", self.parse_feed, priority=10)
            for url in source.sitemaps:
                if url.rstrip("/").endswith("/robots.txt"):
                    yield self._request(url, source, "robots", self.parse_robots, priority=10)
                else:
                    yield self._request(url, source, "sitemap", self.parse_sitemap, ai4s_depth=0, priority=10)
            for url in source.start_urls:
                yield self._request(url, source, "listing", self.parse_listing, ai4s_depth=0, ai4s_page=1)

    # -- feeds and sitemaps ----------------------------------------------------------------
    def _source_of(self, response: Response) -> Source:
        return self.sources[response.meta["ai4s_source"]]

    def _count_error(self, source: str, message: str, *args: Any) -> None:
        self.crawler.stats.inc_value(stat_key(source, "errors"))
        self.logger.warning(message, *args)

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request]:
        """Article requests for the items of an RSS/Atom feed."""
        source = self._source_of(response)
        try:
            entries = parse_feed(response.body, response.url)
        except FeedError as exc:
            self._count_error(source.name, "Source %s: feed %s unreadable: %s", source.name, response.url, exc)
            return
        self.logger.info("Source %s: feed %s lists %d items", source.name, response.url, len(entries))
        for entry in entries:
            if self._allowed(entry.url, source):
                yield self.article_request(entry.url, source, "feed")

    def parse_robots(self, response: Response) -> Iterator[scrapy.Request]:
        """Sitemap requests for the ``Sitemap:`` lines of a robots.txt."""
        source = self._source_of(response)
        text = response.body.decode("utf-8", errors="replace")
        urls = sitemaps_in_robots(text, response.url)
        if not urls:
            self._count_error(source.name, "Source %s: %s names no sitemap", source.name, response.url)
        for url in urls:
            if self._allowed(url, source):
                yield self._request(url, source, "sitemap", self.parse_sitemap, ai4s_depth=0, priority=10)

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        """Article requests for a urlset; sitemap requests for an index (bounded nesting)."""
        source = self._source_of(response)
        body = response.body
        if gzip_magic_number(response):
            try:
                body = gunzip(body, max_size=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
            except (OSError, ValueError, EOFError) as exc:
                self._count_error(source.name, "Source %s: sitemap %s: bad gzip: %s", source.name, response.url, exc)
                return
        try:
            sitemap = parse_sitemap(body, response.url)
        except FeedError as exc:
            self._count_error(source.name, "Source %s: sitemap %s unreadable: %s", source.name, response.url, exc)
            return
        depth = response.meta.get("ai4s_depth", 0)
        self.logger.info(
            "Source %s: sitemap %s lists %d %s",
            source.name,
            response.url,
            len(sitemap.children),
            "sitemaps" if sitemap.is_index else "pages",
        )
        for entry in sitemap.children:
            if not self._allowed(entry.url, source):
                continue
            if sitemap.is_index:
                if depth < self.max_sitemap_depth:
                    yield self._request(
                        entry.url, source, "sitemap", self.parse_sitemap, ai4s_depth=depth + 1, priority=10
                    )
            else:
                yield self.article_request(entry.url, source, "sitemap")

    # -- listing pages ---------------------------------------------------------------------
    def parse_listing(self, response: Response) -> Iterator[scrapy.Request | PageItem]:
        """Article requests for article-like links of a listing page; listing requests for the
        next page (bounded pagination) and for other same-site pages (bounded depth)."""
        source = self._source_of(response)
        if not isinstance(response, TextResponse):
            return
        if self._declares_article(response):
            yield self._page_item(response, source, "listing")
        depth = response.meta.get("ai4s_depth", 0)
        page = response.meta.get("ai4s_page", 1)
        site = url_host(response.url)
        rels = self._rels(response)
        for link in self.link_extractor.extract_links(response):
            url = link.url
            if url_host(url) != site or not self._allowed(url, source) or not is_fetchable_link(url):
                continue
            if looks_like_article(url):
                yield self.article_request(url, source, "listing")
            elif is_pagination(url, response.url, link.text or "", rels.get(link.url, "")):
                if page < self.max_pagination:
                    yield self._request(
                        url, source, "listing", self.parse_listing, ai4s_depth=depth, ai4s_page=page + 1
                    )
            elif depth < source.max_depth:
                yield self._request(url, source, "listing", self.parse_listing, ai4s_depth=depth + 1, ai4s_page=1)

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

    def on_error(self, failure: Failure) -> Iterator[FetchFailure]:
        """Record a failed fetch: for an article candidate as a :class:`FetchFailure`, for others in the log."""
        request = failure.request  # type: ignore[attr-defined]
        source = request.meta.get("ai4s_source", "?")
        kind = request.meta.get("ai4s_kind")
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
