"""Item pipelines: extract and fingerprint (in a process pool, off the reactor thread) → score
against the topic profile → store, with the article's story (one short transaction per page, in a
dedicated database thread).

The pipelines own the crawl-run row: created when the spider opens (or, under the daemon,
adopted from it), closed with the per-source counts and a status when it closes. Entry-page
polls (for cheap re-polls) are saved when the crawl finishes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import socket
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy import signals

from crawler.crawl.extensions import PARENT_GONE
from crawler.crawl.items import EntryPoll, FetchFailure, PageItem
from crawler.crawl.middlewares import stat_key
from crawler.crawl.pool import ProcessedPage, process_page
from crawler.relevance.profile import Relevance, RelevanceScorer, load_profile
from crawler.stories.assign import assign_story
from crawler.stories.fingerprint import Fingerprint
from crawler.text.extract import ExtractedArticle, NotAnArticle, warm_up
from crawler.text.urls import canonical_url
from storage import Database, NewArticle
from storage.polling import save_entry_page
from storage.repository import (
    ENTRY_COUNTERS,
    RUN_COUNTERS,
    SourceRunCounts,
    ensure_source,
    finish_run,
    record_fetch,
    save_run_counts,
    start_run,
    store_article,
)
from storage.schedules import adopt_run

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: How a closing spider's reason maps to a crawl run's status.
RUN_STATUS_BY_REASON = {
    "finished": "ok",
    "shutdown": "interrupted",  # SIGTERM / SIGINT
    "cancelled": "interrupted",
    "closespider_timeout": "interrupted",  # the time limit of a crawl
    PARENT_GONE: "interrupted",  # the daemon that started it died
}


@dataclass
class ExtractedPage:
    """A fetched page with what extraction made of it, its fingerprint, and its relevance once scored."""

    page: PageItem
    result: ExtractedArticle | NotAnArticle
    fingerprint: Fingerprint | None = None
    credited_source: str | None = None
    relevance: Relevance | None = None


def make_extraction_pool(workers: int = 0) -> Executor:
    """A process pool for :func:`crawler.text.extract.extract_article` (``workers`` = 0: one per core).

    Workers are forked from a fork server that has already imported the extractor, so they
    start fast and share nothing with the reactor's threads.
    """
    workers = workers or os.cpu_count() or 1
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["crawler.crawl.pool_preload"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


class ExtractPipeline:
    """Runs extraction for every :class:`PageItem` in a pool of processes, so it uses every core."""

    def __init__(self, crawler: Crawler) -> None:
        self.workers = crawler.settings.getint("AI4S_EXTRACT_WORKERS", 0)
        self.pool: Executor | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        return cls(crawler)

    def _started_pool(self) -> Executor:
        """The worker pool, started with the first page to extract: a re-poll that finds nothing new
        (the daemon's most common crawl) never pays for it."""
        if self.pool is None:
            self.pool = make_extraction_pool(self.workers)
            for _ in range(self.workers or os.cpu_count() or 1):
                self.pool.submit(warm_up)
        return self.pool

    def close_spider(self) -> None:
        """Stop the worker pool."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    async def process_item(self, item: Any) -> Any:
        """An :class:`ExtractedPage` for a :class:`PageItem`; anything else passes unchanged."""
        if not isinstance(item, PageItem):
            return item
        future = self._started_pool().submit(process_page, item.body, item.url, item.header_charset, item.content_type)
        try:
            processed = await asyncio.wrap_future(future)
        except Exception as exc:  # a crashed worker or a bug on one page must not stop the crawl
            logger.error("Extraction of %s failed: %r", item.url, exc)
            processed = ProcessedPage(NotAnArticle("no_text", f"extraction failed: {exc!r}"))
        return ExtractedPage(item, processed.result, processed.fingerprint, processed.credited_source)


class ScorePipeline:
    """Scores every extracted article against the topic profile (``AI4S_TOPICS_FILE``).

    Scoring costs about a millisecond an article (one Aho-Corasick pass over normalised
    text), so it runs in the reactor thread.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.scorer = RelevanceScorer(load_profile(crawler.settings.get("AI4S_TOPICS_FILE")))
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScorePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        """The item, with its relevance when it is an extracted article."""
        if isinstance(item, ExtractedPage) and isinstance(item.result, ExtractedArticle):
            item.relevance = self.scorer.score(item.result.title, item.result.text)
        return item


class StorePipeline:
    """Stores articles and fetch outcomes, one short transaction per page, and keeps the crawl-run row."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.db_url = crawler.settings.get("AI4S_DB")
        self.database: Database | None = None
        self.run_id: int | None = None
        self.source_ids: dict[str, int] = {}
        self.sources: list[str] = list(crawler.settings.getlist("AI4S_SOURCE_NAMES"))
        self.given_run_id = crawler.settings.getint("AI4S_RUN_ID", 0) or None
        # Entry-page polls are remembered only when the crawl finishes: a crawl cut short must
        # not mark as unchanged a page whose links it never followed.
        self.entry_polls: list[EntryPoll] = []
        # SQLAlchemy sessions are used from this one thread only: writes are serialised and
        # the reactor never waits on the database.
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ai4s-db")
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        """Open the database (migrating it if needed) and create this crawl's run row."""
        self.database = Database(self.db_url)
        spider = self.crawler.spider
        names = sorted(getattr(spider, "sources", {}) or self.sources)
        with self.database.session() as session, session.begin():
            pid, host = os.getpid(), socket.gethostname()
            if self.given_run_id is not None:
                if not adopt_run(session, self.given_run_id, pid, host):
                    raise RuntimeError(f"crawl run {self.given_run_id} does not exist or is not running")
                self.run_id = self.given_run_id
            else:
                self.run_id = start_run(session, names, pid=pid, host=host)
            self.source_ids = {name: ensure_source(session, name) for name in names}
        self.sources = names
        self.stats.set_value("ai4s/run_id", self.run_id)
        self.stats.set_value("ai4s/db_url", self.database.url)
        logger.info("Crawl run %d started on %s", self.run_id, self.database.url)

    async def process_item(self, item: Any) -> Any:
        """Store ``item`` (an :class:`ExtractedPage` or a :class:`FetchFailure`) in the writer thread;
        keep an :class:`EntryPoll` until the crawl ends."""
        if isinstance(item, EntryPoll):
            self.entry_polls.append(item)
            return item
        await asyncio.wrap_future(self.writer.submit(self._store, item))
        return item

    def _store(self, item: Any) -> None:
        assert self.database is not None
        with self.database.session() as session, session.begin():
            if isinstance(item, FetchFailure):
                record_fetch(
                    session,
                    source=item.source,
                    url=item.url,
                    canonical_url=canonical_url(item.url),
                    outcome=item.outcome,
                    http_status=item.http_status,
                    error=item.error,
                    source_id=self.source_ids.get(item.source),
                )
                return
            if not isinstance(item, ExtractedPage):
                return
            page, result = item.page, item.result
            final_canonical = canonical_url(page.url)
            if isinstance(result, ExtractedArticle):
                relevance = item.relevance
                stored = store_article(
                    session,
                    NewArticle(
                        source=page.source,
                        url=page.url,
                        canonical_url=final_canonical,
                        title=result.title,
                        text=result.text,
                        author=result.author,
                        site_name=result.site_name,
                        published=result.published,
                        language=result.language,
                        encoding=result.encoding,
                        relevance=relevance.score if relevance else None,
                        relevant=relevance.relevant if relevance else True,
                        evidence=json.dumps(relevance.evidence(), ensure_ascii=False) if relevance else None,
                        credited_source=item.credited_source,
                    ),
                    run_id=self.run_id,
                    source_id=self.source_ids.get(page.source),
                )
                outcome, article_id, error = ("article" if stored.created else "duplicate"), stored.article_id, None
                if stored.created:
                    self._assign_story(session, stored.article_id, item.fingerprint, page.source)
                self.stats.inc_value(stat_key(page.source, "new_articles" if stored.created else "duplicates"))
                if stored.created and relevance is not None and not relevance.relevant:
                    self.stats.inc_value(stat_key(page.source, "off_topic"))
            else:
                outcome, article_id, error = result.outcome, None, result.reason
                self.stats.inc_value(stat_key(page.source, "not_articles"))
                logger.info("Source %s: %s is not an article: %s", page.source, page.url, result.reason)
            for url in dict.fromkeys((page.requested_url, page.url)):
                record_fetch(
                    session,
                    source=page.source,
                    url=url,
                    canonical_url=canonical_url(url),
                    outcome=outcome,
                    http_status=page.status,
                    error=error,
                    article_id=article_id,
                    source_id=self.source_ids.get(page.source),
                )

    def _remember_entry_polls(self, session: Any, hints_only: bool = False) -> None:
        """Save the entry-page polls of the sources that were crawled to the end (not cut by their
        budget); with ``hints_only`` (a crawl cut short) only the waits sites asked for (Retry-After)."""
        cut = {source for source in self.sources if self.stats.get_value(stat_key(source, "over_budget"), 0)}
        for poll in self.entry_polls:
            if hints_only:
                if poll.changed or poll.not_before is None:
                    continue
            elif poll.source in cut:
                continue
            save_entry_page(
                session,
                poll.url,
                self.source_ids.get(poll.source),
                changed=poll.changed,
                etag=poll.etag,
                last_modified=poll.last_modified,
                body_hash=poll.body_hash,
                not_before=poll.not_before,
                poll_hint=poll.poll_hint,
                http_status=poll.status,
                children=poll.children,
            )

    def _assign_story(self, session: Any, article_id: int, fp: Fingerprint | None, source: str) -> None:
        """Put a new article into its story; count and log it when it is a copy of an earlier one."""
        assignment = assign_story(session, article_id, fp)
        if assignment.joined:
            self.stats.inc_value(stat_key(source, "copies"))
            logger.info(
                "Source %s: article %d is a copy in story %d (similarity %.2f)",
                source,
                article_id,
                assignment.story_id,
                assignment.similarity,
            )

    def close_spider(self) -> None:
        """Nothing to do here: the run is closed on ``spider_closed``, when the reason is known."""

    def spider_closed(self, spider: Any, reason: str) -> None:
        """Save each source's counts, close the run row with a status, and log one line per source."""
        self.writer.shutdown(wait=True)
        if self.database is None or self.run_id is None:
            return
        status = RUN_STATUS_BY_REASON.get(reason, "ok" if reason.startswith("closespider") else "failed")
        message = f"spider closed: {reason}"
        counts = {
            source: {name: self.stats.get_value(stat_key(source, name), 0) for name in RUN_COUNTERS + ENTRY_COUNTERS}
            for source in self.sources
        }
        if status == "ok" and counts and all(SourceRunCounts(s, **c).unreachable for s, c in counts.items()):
            status, message = "failed", "no feed, sitemap or listing page of any source could be fetched"
        with self.database.session() as session, session.begin():
            # validators only after a complete crawl; the site's "not before" (Retry-After) always
            self._remember_entry_polls(session, hints_only=status != "ok")
            for source, values in counts.items():
                save_run_counts(session, self.run_id, source, values)
                logger.info(
                    "Source %s: %d pages fetched, %d new articles (%d off-topic), %d duplicates, %d not articles, "
                    "%d skipped as known, %d errors; entry pages: %d read, %d unchanged, %d failed",
                    source,
                    *(values[name] for name in RUN_COUNTERS + ENTRY_COUNTERS),
                )
            finish_run(session, self.run_id, status, message=message)
        self.stats.set_value("ai4s/run_status", status)
        self.database.close()
