"""Claims on article URLs in the crawl: an article that two sources link, crawled at the same time by two
crawls (two processes, maybe two machines), is fetched by one of them.

Before an article request is scheduled, its canonical URL is claimed in the database for this crawl run
(:func:`storage.claims.claim_urls`); a URL a live other crawl claimed is dropped here (counted as
``ai4s/<source>/claimed_elsewhere``): that crawl stores it, and the next crawl knows it. A URL claimed and found
stored (or answered for good) since this crawl started, by a crawl that has ended since, is dropped as known
(``ai4s/<source>/skipped_known``): a crawl releases its claims only after it stored what it fetched. The
article links of one page are claimed in one statement, in the crawl context's database thread. Claims lapse after
``AI4S_URL_CLAIM_TTL`` seconds, so those of a crawl that died free their URLs by themselves; a crawl that
ends releases its own (:meth:`crawler.crawl.context.CrawlContext.close_run`).

The middleware comes after the known-URL filter and the source budgets, so only requests that will be sent
are claimed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from scrapy import Request

from crawler.crawl.context import CrawlContext
from crawler.crawl.requests import stat_key
from crawler.text.urls import canonical_url
from storage.claims import claim_urls
from storage.hashing import url_hash
from storage.repository import known_among

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

#: The stats counter of article requests dropped because another crawl claimed their URL.
CLAIMED_ELSEWHERE = "claimed_elsewhere"


def _is_article_request(output: Any) -> bool:
    return isinstance(output, Request) and output.meta.get("ai4s_kind") == "article"


class UrlClaimMiddleware:
    """Drops the article requests whose canonical URL another live crawl claimed; claims the others."""

    def __init__(self, crawler: Crawler, context: CrawlContext) -> None:
        self.stats = crawler.stats
        self.context = context
        self.ttl = timedelta(seconds=crawler.settings.getfloat("AI4S_URL_CLAIM_TTL", 900.0))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> UrlClaimMiddleware:
        return cls(crawler, CrawlContext.of(crawler))

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """The start requests (the pending retries among them are article requests), each article one claimed."""
        async for output in start:
            if not _is_article_request(output) or await self.claim([output]):
                yield output

    async def process_spider_output(self, response: Response, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """What the spider made of ``response``, in its order, without the article requests claimed elsewhere."""
        outputs = [output async for output in result]
        requests = [output for output in outputs if _is_article_request(output)]
        kept = {id(request) for request in await self.claim(requests)} if requests else set()
        for output in outputs:
            if not _is_article_request(output) or id(output) in kept:
                yield output

    async def claim(self, requests: list[Request]) -> list[Request]:
        """Claim the canonical URLs of ``requests`` (article requests) in one statement; those now this crawl's."""
        run_id = self.context.run_id
        if run_id is None:  # the crawl did not start: nothing to claim for
            return requests
        wanted = [(canonical_url(request.url), request.meta.get("ai4s_source", "?")) for request in requests]

        def claim_unknown(session: Session) -> tuple[set[str], set[str]]:
            claimed = claim_urls(session, wanted, run_id, self.ttl)
            # after the claim: see the module docstring
            return claimed, known_among(session, claimed, max_attempts=self.context.max_article_attempts)

        claimed, known = await self.context.write(claim_unknown)
        kept = []
        for request, (url, source) in zip(requests, wanted, strict=True):
            if url in known:
                if self.context.known.skip(url_hash(url)):  # and the known-URL filter drops its next links
                    self.stats.inc_value(stat_key(source, "skipped_known"))
                logger.info("Source %s: %s not fetched: another crawl stored it since this one started", source, url)
            elif url in claimed:
                kept.append(request)
            else:
                self.stats.inc_value(stat_key(source, CLAIMED_ELSEWHERE))
                logger.info("Source %s: %s not fetched: another crawl fetches it now", source, request.url)
        return kept
