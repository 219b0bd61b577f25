"""Scrapy middlewares of the crawler: URL identity, address policy, known-URL skipping,
per-source budgets and statistics, and retries with backoff.

Request meta keys used throughout: ``ai4s_source`` (the source name), ``ai4s_kind``
(``feed``, ``sitemap``, ``robots``, ``listing`` or ``article``) and ``ai4s_max_pages``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from crawler.sources import load_sources
from crawler.urls import canonical_url, is_http_url, is_internal_host, url_host
from storage import Database
from storage.hashing import url_hash
from storage.repository import known_url_hashes

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)


def stat_key(source: str, counter: str) -> str:
    """The stats-collector key of a per-source counter."""
    return f"ai4s/{source}/{counter}"


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


class AddressPolicyMiddleware:
    """Fetch only http(s); fetch internal addresses (loopback, private, link-local) only on hosts
    that a configured source names. Applies to every request, redirects included."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        sources = load_sources(settings.get("AI4S_SOURCES_FILE"), settings.getlist("AI4S_SOURCE_NAMES"))
        self.configured_hosts = frozenset(host for source in sources for host in source.hosts)
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressPolicyMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        """Raise :class:`IgnoreRequest` for a URL that policy forbids."""
        if not is_http_url(request.url):
            self.stats.inc_value("ai4s/refused/scheme")
            raise IgnoreRequest(f"not an http(s) URL: {request.url}")
        host = url_host(request.url)
        if is_internal_host(host) and host not in self.configured_hosts:
            self.stats.inc_value("ai4s/refused/internal_address")
            logger.warning("Refused %s: internal address not configured as a source", request.url)
            raise IgnoreRequest(f"internal address not configured as a source: {request.url}")


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
    or the server's ``Retry-After`` when it asks for longer (within the maximum)."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("AI4S_RETRY_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("AI4S_RETRY_BACKOFF_MAX", 30.0)

    def _delay(self, retry: Request, response: Response | None = None) -> float:
        attempt = max(1, int(retry.meta.get("retry_times", 1)))
        delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        if response is not None:
            retry_after = response.headers.get(b"Retry-After")
            if retry_after and retry_after.strip().isdigit():
                delay = min(self.backoff_max, max(delay, float(retry_after.strip())))
        return delay

    async def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        """A delayed retry request for a retryable status, else the response."""
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await asyncio.sleep(self._delay(result, response))
        return result

    async def process_exception(self, request: Request, exception: Exception) -> Request | None:  # type: ignore[override]
        """A delayed retry request for a retryable network error, else ``None``."""
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await asyncio.sleep(self._delay(result))
        return result


class KnownUrlFilterMiddleware(BaseSpiderMiddleware):
    """Drops article requests whose canonical URL the corpus already knows, before they are scheduled.

    The known URLs are read from the database once, when the crawl starts.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.known: set[str] = set()
        self.skipped: set[str] = set()  # counted once per URL, however often it is linked
        crawler.signals.connect(self._load, signal=signals.spider_opened)

    def _load(self) -> None:
        with Database(self.crawler.settings.get("AI4S_DB")) as database, database.session() as session:
            self.known = known_url_hashes(session)
        logger.info("%d URLs already known to the corpus will not be fetched again", len(self.known))

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        """``None`` (dropped) for an article request whose canonical URL is known."""
        if request.meta.get("ai4s_kind") != "article":
            return request
        key = url_hash(canonical_url(request.url))
        if key in self.known:
            if key not in self.skipped:
                self.skipped.add(key)
                self.crawler.stats.inc_value(stat_key(request.meta.get("ai4s_source", "?"), "skipped_known"))
            return None
        return request


class SourceBudgetMiddleware(BaseSpiderMiddleware):
    """Caps the pages requested per source and crawl (``max_pages`` in the sources file)."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.requested: Counter[str] = Counter()
        self.warned: set[str] = set()

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        """The request, or ``None`` once its source has used up its budget."""
        source = request.meta.get("ai4s_source")
        budget = request.meta.get("ai4s_max_pages")
        if not source or budget is None:
            return request
        if self.requested[source] >= budget:
            self.crawler.stats.inc_value(stat_key(source, "over_budget"))
            if source not in self.warned:
                self.warned.add(source)
                logger.warning(
                    "Source %s reached its budget of %d pages; the rest waits for the next crawl", source, budget
                )
            return None
        self.requested[source] += 1
        return request
