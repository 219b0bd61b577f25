"""The URL-claim middleware on a real SQLite corpus: an article URL another crawl stored after this crawl started
(and whose claim that crawl has released since) is not fetched again; an unknown one is claimed and kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

from scrapy import Request

from crawler.crawl.claims import UrlClaimMiddleware
from crawler.crawl.context import CrawlContext
from crawler.crawl.middlewares import KnownUrlFilterMiddleware
from crawler.crawl.requests import stat_key
from storage import Database
from storage.hashing import url_hash
from storage.repository import record_fetch
from tests.crawler.crawl.components import make_config, open_crawl

STORED_SINCE = "http://127.0.0.40:8040/2025/06/01/wire-story.html"
NEW = "http://127.0.0.40:8040/2025/06/02/fresh-story.html"


def _article_request(url: str) -> Request:
    return Request(url, meta={"ai4s_kind": "article", "ai4s_source": "alpha"})


def test_a_url_another_crawl_stored_since_this_one_started_is_not_fetched_again(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with open_crawl(config) as crawler:
        context = CrawlContext.of(crawler)
        assert url_hash(STORED_SINCE) not in context.known.hashes
        # another crawl fetches and stores the wire story now, then ends (its claims go with it)
        with Database(config.db_url) as database, database.session() as session, session.begin():
            record_fetch(session, source="beta", url=STORED_SINCE, canonical_url=STORED_SINCE, outcome="article")
        middleware = UrlClaimMiddleware.from_crawler(crawler)
        requests = [_article_request(STORED_SINCE), _article_request(NEW)]
        kept = asyncio.run(middleware.claim(requests))
        assert [request.url for request in kept] == [NEW]
        assert crawler.stats.get_value(stat_key("alpha", "skipped_known")) == 1
        assert url_hash(STORED_SINCE) in context.known.hashes  # its next links are dropped before any claim
        # linked again later in the crawl: the known-URL filter drops it, and it is still counted once
        dropped = KnownUrlFilterMiddleware.from_crawler(crawler).get_processed_request(requests[0], None)
        assert dropped is None and crawler.stats.get_value(stat_key("alpha", "skipped_known")) == 1
