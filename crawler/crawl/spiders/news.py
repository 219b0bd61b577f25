"""The generic news spider: for each source, reads its feeds and sitemaps and walks its listing
pages to find article pages, and yields each fetched article page as a :class:`PageItem`.

A thin spider: what an entry page leads to is decided by :func:`crawler.text.discovery.discover`
(pure); the spider turns that into requests (:mod:`crawler.crawl.requests`), items and stats. It
never touches the database. Its sources come from the crawl's configuration
(:func:`crawler.crawl.context.crawl_config`). Known articles are dropped by
:class:`crawler.crawl.middlewares.KnownUrlFilterMiddleware`, budgets by
:class:`crawler.crawl.middlewares.SourceBudgetMiddleware`; extraction and storage happen in
the pipelines. A page reached as a listing is judged by what it is once fetched
(:func:`crawler.text.pages.page_kind`): an article is stored, never polled as an entry page. How each
entry point's poll came out goes to the crawl's fallback chain (:mod:`crawler.crawl.fallback`), which says
when a source falls back to its other entry points or to its site's homepage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from functools import cached_property
from typing import Any

import scrapy
from scrapy import signals
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawler.crawl.addresses import AddressRefused, note_refusal
from crawler.crawl.context import CrawlContext, crawl_config
from crawler.crawl.failures import fetch_error, was_refused
from crawler.crawl.fallback import FALLBACK_META, ROOT_META, Fallback, FallbackChain, tag, tag_entry_point
from crawler.crawl.hosts import HostDeferred
from crawler.crawl.items import EntryPoll, FetchFailure, PageItem
from crawler.crawl.middlewares import RedirectsToKnownPage
from crawler.crawl.requests import (
    ENTRY_KINDS,
    NotModified,
    PollDeferred,
    article_request,
    entry_request,
    entry_url,
    is_linked_listing,
    stat_key,
)
from crawler.crawl.responses import (
    declares_article,
    entry_poll,
    fetched_entry_page,
    in_page_charset,
    page_item,
    unchanged_poll,
)
from crawler.sources import Source
from crawler.text.addresses import AddressPolicy
from crawler.text.discovery import ArticleLink, Discovery, EntryPage, Scope, discover, revisit
from crawler.text.pages import PageKind, page_kind
from crawler.text.urls import canonical_url
from crawler.text.wording import plural

#: Requests made from an entry page between two turns of the reactor (a sitemap can name 50,000 pages).
FOLLOW_BATCH = 200


class NewsSpider(scrapy.Spider):
    """Crawls the sources of the crawl's configuration (every source of the sources file, or those named)."""

    name = "news"

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.claim, signal=signals.request_scheduled)
        crawler.signals.connect(spider.note_answer, signal=signals.response_downloaded)
        return spider

    def note_answer(self, response: Response, request: scrapy.Request) -> None:
        """Tell the fallback chain that the host of ``request`` answered (robots.txt's answer counts too)."""
        self.chain.note_answer(request.url, response.status)

    @cached_property
    def sources(self) -> dict[str, Source]:
        """The sources of this crawl, by name (read when first needed: the crawl context that holds
        the configuration is created after the spider)."""
        return {source.name: source for source in crawl_config(self.crawler).sources}

    @cached_property
    def context(self) -> CrawlContext:
        """The crawl context (told which pages reached as listings turned out to be articles)."""
        return CrawlContext.of(self.crawler)

    @cached_property
    def chain(self) -> FallbackChain:
        """The crawl's fallback chain (told how every entry point's poll came out)."""
        chain = self.context.fallback_chain
        chain.enabled = self.crawler.settings.getbool("AI4S_FALLBACK", True)
        return chain

    @cached_property
    def scopes(self) -> dict[str, Scope]:
        """How far discovery may reach from each source's entry pages, by source name."""
        settings = self.crawler.settings
        return {
            name: Scope(
                addresses=AddressPolicy.from_urls(source.entry_urls),
                max_depth=source.max_depth,
                max_pagination=settings.getint("AI4S_MAX_PAGINATION", 10),
                max_sitemap_depth=settings.getint("AI4S_MAX_SITEMAP_DEPTH", 3),
                max_size=settings.getint("DOWNLOAD_MAXSIZE"),
            )
            for name, source in self.sources.items()
        }

    def count(self, source: str, counter: str) -> None:
        """Count one more ``counter`` of ``source`` in the crawl's stats."""
        self.crawler.stats.inc_value(stat_key(source, counter))

    def claim(self, request: scrapy.Request) -> None:
        """Make this spider handle the failures of ``request``, as it handles its response (``parse``).

        Requests are built by plain functions (:mod:`crawler.crawl.requests`), some by middlewares
        that do not know the spider, and Scrapy has no default errback: every request of the crawl
        is claimed here when it is scheduled.
        """
        if request.errback is None:
            request.errback = self.on_error

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """The entry points of every source: feeds, sitemaps (or robots.txt naming them), listing pages."""
        for source in self.sources.values():
            self.logger.info(
                "Source %s: %s, %s, %s",
                source.name,
                plural(len(source.feeds), "feed"),
                plural(len(source.sitemaps), "sitemap"),
                plural(len(source.start_urls), "listing page"),
            )
            pages, fallback = self.chain.start(source)
            for page in pages:
                yield self.entry_point_request(source, page)
            for request in self.fall_back(fallback):
                yield request

    def entry_point_request(self, source: Source, page: EntryPage, fallback: bool = False) -> scrapy.Request:
        """The request that polls an entry point of ``source`` (configured, or added by the fallback chain)."""
        request = entry_request(source, page)
        tag_entry_point(request.meta, page, fallback)
        return request

    def fall_back(self, fallback: Fallback | None, fetched: str | None = None) -> Iterator[scrapy.Request]:
        """Log and count a source's fallback; the requests for the pages it falls back to. ``fetched`` is the page a
        failing entry point was redirected to, fetched already as that entry point: where the fallback names it, it is
        requested again, as what it is."""
        if fallback is None:
            return
        self.crawler.stats.set_value(stat_key(fallback.source, "fallbacks"), self.chain.fallbacks(fallback.source))
        self.logger.warning("Source %s: %s", fallback.source, fallback.message)
        source = self.sources[fallback.source]
        for page in fallback.pages:
            request = self.entry_point_request(source, page, fallback=True)
            if fetched is not None and canonical_url(page.url) == canonical_url(fetched):
                # past the duplicate filter: a feed that redirects to the homepage (a site's usual answer for a feed it
                # dropped) fetched the homepage as a feed, and the filter dropped the homepage's own request
                request = request.replace(dont_filter=True)
            yield request

    async def parse(self, response: Response, **kwargs: Any) -> AsyncIterator[scrapy.Request | PageItem | EntryPoll]:
        """An article page as a :class:`PageItem`; for an entry page, requests for what it leads to, then
        its :class:`EntryPoll`. A page reached through a listing's link is an entry page only if it is no article
        (:func:`crawler.text.pages.page_kind`: the fetched page decides, not its URL); a start page that declares
        itself an article is also an item.

        An entry page is read in a thread and its requests are made in batches, so that the reactor goes on
        (downloads, their timeouts) while a large sitemap or listing is read: 50,000 URLs take seconds."""
        source = self.sources[response.meta["ai4s_source"]]
        kind = response.meta.get("ai4s_kind", "article")
        if kind == "article":
            yield page_item(response, source.name, response.meta.get("ai4s_via", "listing"))
            return
        if kind == "listing" and isinstance(response, TextResponse):
            response = in_page_charset(response)
        if is_linked_listing(response.meta) and isinstance(response, TextResponse):
            judged = page_kind(response.selector.root)
            if judged.is_article:
                yield self.linked_article(source, response, judged)
                return
        elif kind == "listing" and declares_article(response):
            yield page_item(response, source.name, "listing")
        scope = self.scopes[source.name]
        discovery = await asyncio.to_thread(lambda: discover(fetched_entry_page(response), scope))
        fallback_probe = is_fallback_probe(response.meta)
        if discovery.unreadable:
            if fallback_probe:  # the fallback chain tried it: no fault of the source
                self.logger.info("Source %s: %s %s: %s", source.name, kind, response.url, discovery.unreadable)
                self.chain.note_poll(response.meta, "unreadable", response.status, discovery.unreadable)
                return
            self.count(source.name, "entry_pages_failed")
            self.count(source.name, "errors")
            self.logger.warning(
                "Source %s: %s %s unreadable: %s", source.name, kind, response.url, discovery.unreadable
            )
            for request in self.fall_back(
                self.chain.note_poll(response.meta, "unreadable", response.status, discovery.unreadable),
                response.url if response.meta.get("redirect_urls") else None,
            ):
                yield request
            return
        if not discovery.leads and not discovery.refused and response.meta.get(ROOT_META) and not fallback_probe:
            # a configured feed or sitemap without an item, a start page without a link: a URL to check
            self.logger.warning(
                "Source %s: %s %s lists nothing (%s): check that it is the right URL",
                source.name,
                kind,
                response.url,
                discovery.summary or "no link",
            )
        elif discovery.summary:
            self.logger.info("Source %s: %s %s %s", source.name, kind, response.url, discovery.summary)
        for refused in discovery.refused:
            self.count(source.name, "refused")
            note_refusal(self.crawler.stats, source.name, refused.url, refused.refusal)
        for number, request in enumerate(self.follow(source, discovery, response.meta), 1):
            yield request
            if number % FOLLOW_BATCH == 0:
                await asyncio.sleep(0)
        self.count(source.name, "entry_pages_read")
        self.chain.note_poll(response.meta, "read", response.status)
        yield entry_poll(response, discovery.entry_pages, discovery.poll_hint)

    def linked_article(self, source: Source, response: Response, judged: PageKind) -> PageItem:
        """A page reached through a link that looked like a listing's but that is an article: an item (stored as
        an article, with the decision), never an entry page (its links are not followed, no poll is kept of it,
        and the listing that linked it does not keep it among its children)."""
        self.context.known.note_article_pages(entry_url(response.request), response.url)  # type: ignore[arg-type]
        self.crawler.stats.inc_value(stat_key(source.name, "linked_listings_were_articles"))
        self.logger.info(
            "Source %s: %s is an article, not a listing (%s)", source.name, response.url, ", ".join(judged.evidence)
        )
        return page_item(response, source.name, "listing")

    def follow(self, source: Source, discovery: Discovery, parent: dict[str, Any]) -> Iterator[scrapy.Request]:
        """Requests for what an entry page (whose request had meta ``parent``) leads to, in its order, until the
        source's page budget is used up (every further request of it would be dropped: none is made)."""
        for lead in discovery.leads:
            if self.context.was_cut(source.name):
                return
            if isinstance(lead, ArticleLink):
                request = article_request(lead.url, source, lead.via, lead.first_published)
                tag(request.meta, parent)
                self.chain.note_named(request.meta, lead.url)
            else:
                request = entry_request(source, lead)
                tag(request.meta, parent)
            yield request

    def on_error(self, failure: Failure) -> Iterator[FetchFailure | EntryPoll | scrapy.Request]:
        """Record a failed fetch: for an article candidate, or a page a listing links that is gone (404, 410), as a
        :class:`FetchFailure`, for others in the log (and, for an entry page whose server asked to wait, as an
        :class:`EntryPoll` that waits)."""
        request = failure.request  # type: ignore[attr-defined]
        source, kind = request.meta.get("ai4s_source", "?"), request.meta.get("ai4s_kind")
        if failure.check(NotModified):
            yield from self.unchanged(request, failure.value)
            return
        if failure.check(PollDeferred):
            self.logger.info("Source %s: %s %s not polled: %s", source, kind, request.url, failure.getErrorMessage())
            return
        if failure.check(HostDeferred):
            yield from self.deferred(request, failure.value)
            return
        if failure.check(RedirectsToKnownPage):
            yield from self.redirected_to_known(request, failure.value)
            return
        if was_refused(failure):
            self.count(source, "refused")
            reason = failure.getErrorMessage()
            if not failure.check(AddressRefused):  # the address policy logs its refusals once per host
                self.logger.info("Source %s: %s %s not fetched: %s", source, kind, request.url, reason)
            yield from self.fall_back(self.chain.note_poll(request.meta, "refused", None, reason))
            return
        error = fetch_error(failure)
        if is_fallback_probe(request.meta):  # the fallback chain tried it: no fault of the source
            self.logger.info("Source %s: %s %s: %s", source, kind, request.url, error.reason)
            self.chain.note_poll(request.meta, "failed", error.status, error.reason)
            return
        self.count(source, "errors")
        dead_link = is_linked_listing(request.meta) and error.outcome == "gone"
        self.logger.warning(
            "Source %s: %s %s failed: %s%s",
            source,
            kind,
            request.url,
            error.reason,
            " (a dead link: not requested again)" if dead_link else "",
        )
        if kind == "article" or dead_link:  # under the URL its source named, the start of a redirect chain
            requested = request.meta.get("redirect_urls", [request.url])[0]
            # known from now on: an article gone, or a page a listing links that is gone (a section, a menu's page)
            yield FetchFailure(source, requested, error.outcome, error.status, error.reason)
        elif kind in ENTRY_KINDS:
            self.count(source, "entry_pages_failed")
            if error.not_before:  # the server asked to wait: the next poll waits
                yield EntryPoll(source, entry_url(request), error.status or 0, False, not_before=error.not_before)
            # a site that asked to wait is alive and said when to come back: no fallback to it meanwhile; a site
            # that gave no answer at all (refused, timed out, robots.txt unreachable) is not alive, its homepage
            # would fail the same way, unless it answered something else in this crawl (its robots.txt): a feed
            # that hangs on a live site is a dead feed
            answered = error.status is not None or self.chain.site_answered(request.url)
            alive_and_failing = answered and not error.not_before
            fallback = self.chain.note_poll(
                request.meta, "failed", error.status, error.reason, may_fall_back=alive_and_failing
            )
            yield from self.fall_back(fallback)

    def redirected_to_known(self, request: scrapy.Request, redirect: RedirectsToKnownPage) -> Iterator[FetchFailure]:
        """An article link, or a page a listing links, that redirects to a page the corpus holds: counted as a known
        link, and recorded under the URL its source named with what the corpus holds for that page (a duplicate of
        its article, a page without article, a page gone): a link that stays the same is not requested again."""
        source = request.meta.get("ai4s_source", "?")
        if self.context.known.skip_url(redirect.target):
            self.count(source, "skipped_known")
        self.logger.info("Source %s: %s not followed: %s", source, request.url, redirect)
        requested = request.meta.get("redirect_urls", [request.url])[0]
        yield FetchFailure(source, requested, "duplicate", redirect.status, str(redirect), same_as=redirect.target)

    def deferred(self, request: scrapy.Request, deferred: HostDeferred) -> Iterator[FetchFailure | EntryPoll]:
        """A request not sent because its host asked to wait longer than this crawl does: an article URL is
        recorded as a failed fetch (tried again at the next crawl), an entry page is not polled before the host's
        deadline. Counted as an error of the source (and as ``deferred``)."""
        source, kind = request.meta.get("ai4s_source", "?"), request.meta.get("ai4s_kind")
        self.count(source, "deferred")
        self.count(source, "errors")
        self.logger.info("Source %s: %s %s not requested: %s", source, kind, request.url, deferred)
        if kind == "article":
            yield FetchFailure(source, request.url, "http_error", None, str(deferred))
        elif kind in ENTRY_KINDS:
            self.count(source, "entry_pages_failed")
            self.chain.note_poll(request.meta, "deferred", None, str(deferred))
            yield EntryPoll(source, entry_url(request), 0, False, not_before=deferred.until)

    def unchanged(self, request: scrapy.Request, unchanged: NotModified) -> Iterator[EntryPoll | scrapy.Request]:
        """An entry page unchanged since the last poll is not a failure: the entry pages it led to last
        time are requested again (they may have changed even if it did not)."""
        name = request.meta.get("ai4s_source", "?")
        self.count(name, "entry_pages_unchanged")
        self.logger.info("Source %s: %s %s unchanged (%s)", name, request.meta.get("ai4s_kind"), request.url, unchanged)
        self.chain.note_poll(request.meta, "unchanged", unchanged.status)
        source, state = self.sources.get(name), unchanged.state
        if source is not None and state is not None:
            yield from self.follow(source, revisit(state.children, self.scopes[name]), request.meta)
            yield unchanged_poll(request, unchanged, state.poll_hint)


def is_fallback_probe(meta: dict[str, Any]) -> bool:
    """Whether the request with ``meta`` is the fallback chain's poll of a site's homepage or robots.txt."""
    return bool(meta.get(FALLBACK_META) and meta.get(ROOT_META))
