"""Scrapy middlewares of the crawler: URL identity, known-URL skipping,
per-source budgets and statistics, conditional GET of entry pages, the article URLs to try
again, retries with backoff, and meta-refresh redirects read without decoding every page.

What they know of the crawl (the sources, the corpus's known URLs and entry-page states) they
get from the crawl context (:mod:`crawler.crawl.context`); the requests they build come from
:mod:`crawler.crawl.requests`, where the request meta keys are described. The address policy's
middlewares are in :mod:`crawler.crawl.addresses`.
"""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from scrapy import Request
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import HtmlResponse
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom
from w3lib.url import safe_url_string

from crawler.crawl.context import CrawlContext
from crawler.crawl.requests import (
    ENTRY_KINDS,
    OVER_BUDGET,
    NotModified,
    PollDeferred,
    article_request,
    entry_url,
    is_linked_listing,
    stat_key,
)
from crawler.text.dates import retry_after_seconds
from crawler.text.urls import canonical_url, is_well_formed
from storage.hashing import url_hash

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from storage.polling import EntryPageState

logger = logging.getLogger(__name__)


class CanonicalUrlFingerprinter:
    """Request fingerprints by canonical URL, so URL variants of one page are fetched once per crawl."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CanonicalUrlFingerprinter:
        return cls()

    def fingerprint(self, request: Request) -> bytes:
        """SHA-1 of the method, canonical URL and body of ``request``."""
        digest = hashlib.sha1(request.method.encode())
        digest.update(canonical_url(request.url).encode())
        digest.update(request.body or b"")
        return digest.digest()


class SourceStatsMiddleware:
    """Counts the responses received per source (``ai4s/<source>/pages_fetched``)."""

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SourceStatsMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        """Count ``response`` for its source and pass it on."""
        source = request.meta.get("ai4s_source")
        if source:
            self.stats.inc_value(stat_key(source, "pages_fetched"))
        return response


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries (5xx, 429, timeouts, connection errors), waiting longer before each retry:
    ``AI4S_RETRY_BACKOFF_BASE`` seconds, doubled each time up to ``AI4S_RETRY_BACKOFF_MAX``,
    or the server's ``Retry-After`` (seconds or an HTTP date) when it asks for longer (within the maximum).
    The host of a ``Retry-After`` is paused as a whole by the downloader (:mod:`crawler.crawl.hosts`), so a
    retry never goes out before the time the server asked for."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("AI4S_RETRY_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("AI4S_RETRY_BACKOFF_MAX", 30.0)
        self.retry_after_max = settings.getfloat("AI4S_RETRY_AFTER_MAX", 60.0)

    def delay(self, retry: Request, retry_after: float | None = None) -> float:
        """Seconds to wait before sending ``retry``: the backoff of its attempt, or the server's
        ``retry_after`` when longer, capped at ``AI4S_RETRY_BACKOFF_MAX``."""
        attempt = max(1, int(retry.meta.get("retry_times", 1)))
        backoff = self.backoff_base * 2 ** (attempt - 1)
        return min(self.backoff_max, max(backoff, retry_after or 0.0))

    async def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        """A delayed retry request for a retryable status, else the response. A server asking for a
        longer wait than ``AI4S_RETRY_AFTER_MAX`` is not retried in this crawl: its ``Retry-After`` is
        remembered for the next poll of an entry page."""
        retry_after = retry_after_seconds(response.headers.get(b"Retry-After"), datetime.now(UTC))
        if retry_after is not None and retry_after > self.retry_after_max:
            return response
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await asyncio.sleep(self.delay(result, retry_after))
        return result

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        """A delayed retry request for a retryable network error, else ``None``."""
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await asyncio.sleep(self.delay(result))
        return result


#: Scrapy reads a meta refresh in a page's first 4,096 characters: at most this many bytes in the encodings of
#: :data:`_ASCII_MARKUP_ENCODINGS` (four bytes a character in UTF-8 and GB18030, and a byte order mark).
_REFRESH_HEAD_BYTES = 4 * 4096 + 4
_REFRESH = re.compile(rb"refresh", re.IGNORECASE)
#: Encodings in which the word ``refresh`` is only ever written as its ASCII bytes: stateless, every ASCII byte
#: itself, and no other byte sequence an ASCII letter (the encodings of the web but UTF-16; not ISO-2022-JP or
#: HZ, whose escapes can split a word, nor EBCDIC or Python's escape codecs).
_ASCII_MARKUP_ENCODINGS = frozenset(
    codecs.lookup(name).name
    for name in (
        *("utf-8", "ascii", "latin-1", "cp866", "cp874", "koi8-r", "koi8-u", "mac-roman", "mac-cyrillic"),
        *(f"iso8859-{part}" for part in (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16)),
        *(f"cp{page}" for page in range(1250, 1259)),
        *("gbk", "gb2312", "gb18030", "big5", "big5hkscs", "cp950", "euc-jp", "shift_jis", "cp932", "euc-kr", "cp949"),
    )
)


def _scrapy_encoding(body: bytes, content_type: str | None) -> str | None:
    """The encoding Scrapy decodes an HTML page with, where it is found without decoding the page (a byte order
    mark, the ``Content-Type`` header, a ``<meta>`` or XML declaration, in Scrapy's order); ``None`` where Scrapy
    would guess it from the whole body (ASCII or UTF-8 where it decodes as either, else charset_normalizer's)."""
    bom, _ = read_bom(body)
    declared = bom or http_content_type_encoding(content_type) or html_body_declared_encoding(body)
    if not declared:
        return None
    try:
        return codecs.lookup(declared).name
    except LookupError:  # unknown to Python: not one of ours, so Scrapy's middleware decides
        return declared


def may_refresh(body: bytes, content_type: str | None) -> bool:
    """Whether an HTML page may hold a meta refresh where Scrapy reads one (a ``<meta>`` whose attributes say
    ``refresh``, in its first 4,096 characters): ``False`` only where it certainly holds none, in an encoding
    that writes the word only as its ASCII bytes and whose bytes do not spell it there."""
    encoding = _scrapy_encoding(body, content_type)
    if encoding is None:
        try:
            body.decode("utf-8")  # what Scrapy's guess would be (ASCII is UTF-8)
        except UnicodeDecodeError:
            return True
        encoding = "utf-8"
    if encoding not in _ASCII_MARKUP_ENCODINGS:
        return True
    return _REFRESH.search(body, 0, _REFRESH_HEAD_BYTES) is not None


class HeadMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Scrapy's meta-refresh redirects, without decoding every page: Scrapy's middleware decodes a page's whole
    body (kept on the response, about twice its size in memory) to read its first 4,096 characters, while most
    pages certainly hold no refresh there (:func:`may_refresh`); only the others go through it."""

    def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        """The redirect a page's meta refresh asks for, as Scrapy's middleware makes it, or the response."""
        content_type = response.headers.get(b"Content-Type")
        if isinstance(response, HtmlResponse) and not may_refresh(
            response.body, content_type.decode("latin-1") if content_type else None
        ):
            return response
        return super().process_response(request, response)


class RedirectFailed(Exception):
    """A redirect back to a URL of its own chain, or past the most redirects: a failed fetch, never a refusal;
    ``status`` is the redirect's (the site answered: it is alive)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RedirectToNoUrl(Exception):
    """A redirect whose ``Location`` is empty or no URL (a port that is no number or past 65535, a broken IPv6 host): an
    error of the site's, recorded with the redirect's status and asked again by the next crawls up to their most
    attempts, as an HTTP error (for robots.txt, a failure to read it, as any error but a loop). ``status`` is the
    redirect's."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RedirectsToKnownPage(Exception):
    """An article's link that redirects to a page the corpus holds (a feed's redirector, a link with a cache
    buster that the site sends to the page's own URL): not followed, the page is not downloaded again."""

    def __init__(self, target: str, status: int) -> None:
        super().__init__(f"redirects ({status}) to {target}, a page the corpus holds")
        self.target = target
        self.status = status


#: The statuses Scrapy's redirect middleware follows through their ``Location``.
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class RedirectChainMiddleware:
    """Checks a redirect before Scrapy's middleware follows it. A redirect to the same page under another spelling
    (``/a`` to ``/a/``, a tracking parameter dropped) is followed: the scheduler's duplicate filter, which knows
    pages by canonical URL, dropped it without a word, and the page was lost. A redirect back to a URL of its own
    chain (a loop), or one past ``REDIRECT_MAX_TIMES``, fails the request (:class:`RedirectFailed`), which is
    recorded as any failed fetch (a redirect to an empty Location or to no URL, :class:`RedirectToNoUrl`, as an HTTP
    error): the loop was dropped without a word too, and Scrapy's own limit made it a refusal. An article's redirect
    to another page the corpus holds is not followed (:class:`RedirectsToKnownPage`), nor is a listing's link to a
    page that redirects there: the known-URL filter sees the links the spider makes, never the redirects Scrapy makes
    of them."""

    def __init__(self, max_redirects: int, context: CrawlContext | None = None) -> None:
        self.max_redirects = max_redirects
        self.context = context

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedirectChainMiddleware:
        return cls(crawler.settings.getint("REDIRECT_MAX_TIMES"), CrawlContext.of(crawler))

    def process_response(self, request: Request, response: Response) -> Response:
        """The response, after checking where it redirects; raises :class:`RedirectFailed` or
        :class:`RedirectsToKnownPage`."""
        location = response.headers.get(b"Location")
        if response.status not in _REDIRECT_STATUSES or location is None or request.meta.get("dont_redirect"):
            return response
        if not location.strip():  # Scrapy's middleware would redirect to the page itself, which the filter drops
            raise RedirectToNoUrl(f"a redirect ({response.status}) to nowhere: its Location is empty", response.status)
        try:
            target = urljoin(request.url, safe_url_string(location))  # as Scrapy's middleware reads it (UTF-8 bytes)
        except ValueError as exc:  # it was a network_error, tried again at every crawl, though no URL ever changes
            raise RedirectToNoUrl(f"a redirect ({response.status}) to no URL: {exc}", response.status) from exc
        if not is_well_formed(target):
            raise RedirectToNoUrl(f"a redirect ({response.status}) to no URL: {target}", response.status)
        chain = [*request.meta.get("redirect_urls", ()), request.url]
        if target in chain:
            raise RedirectFailed(f"redirect loop: {request.url} leads back to {target}", response.status)
        if len(chain) > self.max_redirects:
            raise RedirectFailed(f"more than {self.max_redirects} redirects, the last to {target}", response.status)
        if canonical_url(target) == canonical_url(request.url):
            request.dont_filter = True  # Scrapy's redirect middleware gives the redirect the same
        elif self.context is not None and _fetched_once(request.meta) and target in self.context.known:
            raise RedirectsToKnownPage(target, response.status)
        return response


def _fetched_once(meta: dict[str, Any]) -> bool:
    """Whether the request with ``meta`` asks for a page fetched once at most: an article, or a page a listing links
    that may turn out to be one (an old URL, ``/old/1``, or a redirector, ``/r?u=...``, look like no article)."""
    return meta.get("ai4s_kind") == "article" or is_linked_listing(meta)


class ConditionalGetMiddleware:
    """Cheap re-polls of entry pages: sends the ``ETag`` / ``Last-Modified`` remembered from the
    last poll, turns a 304 or an unchanged body into :class:`NotModified` (so nothing is parsed),
    and defers a page the site asked not to poll yet (``Retry-After``, a feed's ``ttl``) with
    :class:`PollDeferred`. What was seen is remembered by the crawl context (``EntryPoll`` items).
    """

    def __init__(self, crawler: Crawler, context: CrawlContext) -> None:
        self.stats = crawler.stats
        self.context = context
        self.honour_hints = crawler.settings.getbool("AI4S_HONOUR_POLL_HINTS", True)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalGetMiddleware:
        return cls(crawler, CrawlContext.of(crawler))

    def state_of(self, request: Request) -> EntryPageState | None:
        """What the last poll of ``request``'s entry page left, if any."""
        return self.context.entry_pages.get(url_hash(entry_url(request)))

    def process_request(self, request: Request) -> None:
        """Add the validators of the last poll; raise :class:`PollDeferred` before the allowed time."""
        if request.meta.get("ai4s_kind") not in ENTRY_KINDS:
            return
        state = self.state_of(request)
        if state is None:
            return
        if self.honour_hints and state.not_before is not None and state.not_before > datetime.now(UTC):
            self.stats.inc_value(stat_key(request.meta.get("ai4s_source", "?"), "deferred"))
            raise PollDeferred(f"the site asked not to poll before {state.not_before:%Y-%m-%d %H:%M:%S} UTC")
        if state.etag:
            request.headers.setdefault(b"If-None-Match", state.etag.encode("latin-1", "replace"))
        if state.last_modified:
            request.headers.setdefault(b"If-Modified-Since", state.last_modified.encode("latin-1", "replace"))

    def process_response(self, request: Request, response: Response) -> Response:
        """The response; :class:`NotModified` for a 304 or a body identical to the last poll's."""
        if request.meta.get("ai4s_kind") not in ENTRY_KINDS:
            return response
        state = self.state_of(request)
        etag = response.headers.get(b"ETag")
        etag_text = etag.decode("latin-1") if etag else None
        if response.status == 304 and state is not None:
            raise NotModified("304 Not Modified", state, 304, etag_text)
        if response.status == 200:
            digest = hashlib.sha256(response.body).hexdigest()
            request.meta["ai4s_body_hash"] = digest
            if state is not None and state.body_hash == digest:
                raise NotModified("same body as the last poll", state, 200, etag_text)
        return response


class PendingRetryMiddleware(BaseSpiderMiddleware):
    """Requests again, at the start of a crawl, the article URLs of its sources whose last fetch
    failed for a passing reason (5xx, 429, network), up to ``AI4S_MAX_ARTICLE_ATTEMPTS`` tries:
    an article once announced is not lost because its page failed, even if no entry page
    announces it again."""

    def __init__(self, crawler: Crawler, context: CrawlContext) -> None:
        super().__init__(crawler)
        self.context = context

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PendingRetryMiddleware:
        return cls(crawler, CrawlContext.of(crawler))

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """The spider's start requests, then the pending retries."""
        async for item_or_request in start:
            yield item_or_request
        pending = self.context.pending_retries
        if pending:
            logger.info("%d article URLs that failed before are tried again", len(pending))
        config = self.context.config
        for url, source in pending:
            yield article_request(url, config.source(source), "retry")


class KnownUrlFilterMiddleware(BaseSpiderMiddleware):
    """Drops requests of pages the corpus already knows, before they are scheduled: article requests whose
    canonical URL is known, and requests of listing pages reached through a link (depth 1 or more, first
    page) whose canonical URL is known as an article page (fetched as one before, or found to be one by this
    crawl): an article is never an entry page, even where an older crawl kept it among a listing's children.
    Configured start pages and next pages of a listing are never dropped.

    The known URLs are those the crawl context read from the database when the crawl started, and those the
    crawl found to be articles since.
    """

    def __init__(self, crawler: Crawler, context: CrawlContext) -> None:
        super().__init__(crawler)
        self.context = context

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> KnownUrlFilterMiddleware:
        return cls(crawler, CrawlContext.of(crawler))

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        """``None`` (dropped) for an article request, or a linked listing's request, whose canonical URL is known."""
        meta = request.meta
        if meta.get("ai4s_kind") != "article" and not is_linked_listing(meta):
            return request
        key = url_hash(canonical_url(request.url))
        if key in self.context.known.hashes:
            if self.context.known.skip(key):
                self.crawler.stats.inc_value(stat_key(meta.get("ai4s_source", "?"), "skipped_known"))
            return None
        return request


class SourceBudgetMiddleware(BaseSpiderMiddleware):
    """Caps the pages requested per source and crawl (``max_pages`` in the sources file). A page is counted
    once, however often the source names it: until the budget is used up, a request for a page already counted
    (which the scheduler's duplicate filter drops) passes uncounted, so a feed that repeats one link does not
    use up the budget."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.requested: Counter[str] = Counter()
        #: The fingerprints of the requests counted (at most the budget of each source).
        self.counted: set[bytes] = set()
        self.warned: set[str] = set()

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        """The request, or ``None`` once its source has used up its budget."""
        source = request.meta.get("ai4s_source")
        budget = request.meta.get("ai4s_max_pages")
        if not source or budget is None:
            return request
        if self.requested[source] >= budget:
            self.crawler.stats.inc_value(stat_key(source, OVER_BUDGET))
            if source not in self.warned:
                self.warned.add(source)
                logger.warning(
                    "Source %s reached its budget of %d pages; the rest waits for the next crawl", source, budget
                )
            return None
        fingerprint = self.crawler.request_fingerprinter.fingerprint(request)  # kept: the scheduler's too
        if fingerprint not in self.counted:
            self.requested[source] += 1
            self.counted.add(fingerprint)
        return request
