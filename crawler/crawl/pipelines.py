"""Item pipelines: extract, fingerprint and score (in a process pool, off the reactor thread) → clean of the
source's template (scoring and fingerprinting again where that is not the text the worker had) and store, with
the article's page (kept compressed) and its story (in the crawl context's database thread: the template is
learned from what is stored, so cleaning and storing are one step). Pages that arrive while a transaction runs
are stored together in the next one (group commit): a kill loses at most the pages of the transaction under way,
which were not recorded as fetched and are fetched again by the next crawl.

They handle items only: the crawl-run row, the database and the entry-page polls belong to the
crawl context (:mod:`crawler.crawl.context`), which the store pipeline hands its writes to.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from crawler.corpus.templates import clean_again, clean_new_text, learn_blocks
from crawler.crawl.context import CrawlContext
from crawler.crawl.items import EntryPoll, FetchFailure, PageItem
from crawler.crawl.pool import CleanedInWorker, ProcessedPage, make_extraction_pool, process_page, warm_up_worker
from crawler.crawl.requests import stat_key
from crawler.relevance.profile import Relevance, RelevanceScorer
from crawler.stories.assign import (
    PageIdentity,
    assign_story,
    repeated_article,
    same_text_among,
    same_text_in_source,
)
from crawler.stories.fingerprint import Fingerprint, fingerprint
from crawler.text.article import EXTRACTOR, ExtractedArticle, NotAnArticle
from crawler.text.template_blocks import KeyedBlocks
from crawler.text.urls import canonical_url, declared_identity, identity_spellings
from crawler.text.wording import plural
from storage import NewArticle
from storage.models import RETRIABLE_OUTCOMES, TERMINAL_OUTCOMES
from storage.pages import PageToKeep, compress_page, keep_page
from storage.repository import (
    adopt_named_url,
    articles_named,
    ensure_source,
    record_fetch,
    recorded_fetch,
    seen_again,
    store_article,
)

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

#: Times a page is extracted alone, each time by a new worker, before a worker's death is put down to it (a worker
#: can die of something else, such as memory pressure, once).
ISOLATED_TRIES = 2

#: The most pages (and failures) stored in one transaction: bounds what a kill can make the next crawl fetch again.
STORE_BATCH_MAX = 64


@dataclass
class StoreReport:
    """What a store adds to the crawl once its transaction is committed: counters (stat keys) and log lines, so
    that a store run again after a rollback neither counts nor logs twice, and a rolled-back one does neither."""

    counters: list[str] = field(default_factory=list)
    lines: list[tuple[int, str, tuple[object, ...]]] = field(default_factory=list)

    def log(self, level: int, message: str, *args: object) -> None:
        """Log ``message % args`` at ``level`` once the transaction is committed."""
        self.lines.append((level, message, args))


#: A store: run in a transaction (perhaps again, after a rollback), it returns what it adds to the crawl.
Store = Callable[["Session"], StoreReport]


@dataclass
class ExtractedPage:
    """A fetched page with what a worker made of it, and its relevance once scored."""

    page: PageItem
    processed: ProcessedPage
    relevance: Relevance | None = None

    @property
    def result(self) -> ExtractedArticle | NotAnArticle:
        """What extraction made of the page: its article, or why it has none."""
        return self.processed.result


class ExtractPipeline:
    """Runs extraction for every :class:`PageItem` in a pool of processes, so it uses every core.

    A worker that dies (killed, out of memory, a crash in a C library) breaks its pool: the next pages go to
    a new pool, and the pages the broken one held are extracted again one at a time, each alone in a pool of
    one worker, so that none is lost and a page that kills its worker again is known as the likely cause
    (stored as ``extraction_error``: fetched again by the next crawls, up to their most attempts; see
    :func:`storage.repository.known_url_hashes`). A page whose extraction raises is the page's failure
    (``no_text``, final): the worker returns it as its result. A page may take ``AI4S_EXTRACT_CPU_LIMIT``
    seconds of a worker's CPU time: beyond it, it is an ``extraction_error`` too (or ends its worker, as
    :func:`crawler.crawl.pool.cpu_time_limit` says), so that a hostile page cannot hold a worker for ever."""

    def __init__(self, crawler: Crawler, context: CrawlContext) -> None:
        self.workers = crawler.settings.getint("AI4S_EXTRACT_WORKERS", 0)
        self.cpu_limit = crawler.settings.getfloat("AI4S_EXTRACT_CPU_LIMIT", 0) or None
        self.context = context
        self.pool: Executor | None = None
        self.starting: asyncio.Future[Executor] | None = None
        #: The pool of one worker that extracts, one at a time, the pages a broken pool held (stopped once none
        #: is left: a worker's memory is not kept for the rest of the crawl).
        self.isolation: Executor | None = None
        self.isolation_lock = asyncio.Lock()
        self.waiting_alone = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        return cls(crawler, CrawlContext.of(crawler))

    async def _started_pool(self) -> Executor:
        """The worker pool, started with the first page to extract (a re-poll that finds nothing new, the
        daemon's most common crawl, never pays for it), in a thread: downloads go on while its fork server
        loads the extractor. A start that failed is tried again."""
        starting = self.starting
        if starting is None or (starting.done() and (starting.cancelled() or starting.exception() is not None)):
            starting = self.starting = asyncio.ensure_future(asyncio.to_thread(self._start_main_pool))
        return await asyncio.shield(starting)

    def _start_main_pool(self) -> Executor:
        """Start the worker pool of the crawl."""
        self.pool = self._start_pool(self.workers or os.cpu_count() or 1)
        return self.pool

    def _start_pool(self, workers: int) -> Executor:
        """Start a pool of ``workers`` workers (forked here, not on the reactor's thread)."""
        pool = make_extraction_pool(workers, self.context.config.profile, self.cpu_limit)
        try:
            for _ in range(workers):
                pool.submit(warm_up_worker)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        return pool

    def _discard(self, broken: Executor) -> None:
        """Stop using a pool whose worker died (it takes no more work): the next page starts a new one."""
        if self.pool is broken:
            self.pool, self.starting = None, None
            broken.shutdown(wait=False, cancel_futures=True)

    def close_spider(self) -> None:
        """Stop the worker pools."""
        for pool in (self.pool, self.isolation):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    async def process_item(self, item: Any) -> Any:
        """An :class:`ExtractedPage` for a :class:`PageItem`; anything else passes unchanged."""
        if not isinstance(item, PageItem):
            return item
        try:
            pool = await self._started_pool()
        except Exception as exc:  # no memory, no fork server: the next page tries to start it again
            logger.warning("Extraction of %s: the worker pool did not start (%r); extracting it alone", item.url, exc)
            processed = await self._processed_alone(item)
        else:
            try:
                processed = await asyncio.wrap_future(self._submit(pool, item))
            except Exception as exc:  # the pool's failure, never the page's (its worker returns those)
                self._discard(pool)
                logger.warning("Extraction of %s: a worker died (%r); extracting it again alone", item.url, exc)
                processed = await self._processed_alone(item)
        if processed.failure:
            logger.error("Extraction of %s failed: %s", item.url, processed.failure)
        return ExtractedPage(item, processed)

    def _submit(self, pool: Executor, item: PageItem) -> Future[ProcessedPage]:
        """``item`` handed to a worker of ``pool``, with its source's template as the crawl knows it now."""
        template = self.context.template_hints.get(item.source, frozenset())
        return pool.submit(
            process_page, item.body, item.url, item.header_charset, item.content_type, template, item.first_published
        )

    async def _processed_alone(self, item: PageItem) -> ProcessedPage:
        """What a pool of one worker, extracting nothing else, makes of ``item``; a retriable failure where such a
        worker dies (or cannot be started) :data:`ISOLATED_TRIES` times while it is given the page."""
        self.waiting_alone += 1
        try:
            async with self.isolation_lock:
                why = ""
                for _ in range(ISOLATED_TRIES):
                    happened = "could not be started"
                    try:
                        if self.isolation is None:
                            self.isolation = await asyncio.to_thread(self._start_pool, 1)
                        happened = "died"
                        return await asyncio.wrap_future(self._submit(self.isolation, item))
                    except Exception as exc:  # as in process_item: the pool's failure
                        self._drop_isolation()
                        why = f"the worker extracting it alone {happened}, {ISOLATED_TRIES} times ({exc!r})"
                return ProcessedPage.failed("extraction_error", why)
        finally:
            self.waiting_alone -= 1
            if not self.waiting_alone:  # the last of the pages a broken pool held
                self._drop_isolation()

    def _drop_isolation(self) -> None:
        """Stop the pool of one worker (broken, or no page left for it): the next page alone starts a new one."""
        if self.isolation is not None:
            self.isolation.shutdown(wait=False, cancel_futures=True)
            self.isolation = None


def _made_in_worker(item: ExtractedPage, text: str) -> CleanedInWorker | None:
    """What the worker made of the article's text, where it cleaned it as the store did (to the same ``text``)."""
    cleaned = item.processed.cleaned
    return cleaned if cleaned is not None and cleaned.text == text else None


def _run_all(stores: list[Store], session: Session) -> list[StoreReport]:
    """Run every store of a batch in ``session``'s transaction, in order; the report of each."""
    return [store(session) for store in stores]


class StorePipeline:
    """Stores articles (cleaned of their source's template, scored, with their story) and fetch outcomes,
    the pages that wait for the database together in one transaction (at most :data:`STORE_BATCH_MAX`), and
    hands entry-page polls to the crawl context, which saves them when the crawl ends."""

    def __init__(self, crawler: Crawler, context: CrawlContext) -> None:
        self.stats = crawler.stats
        self.context = context
        self.scorer = RelevanceScorer(context.config.profile)
        #: Stores waiting for the next transaction, each with the future its item awaits.
        self.waiting: list[tuple[Store, asyncio.Future[None]]] = []
        self.flusher: asyncio.Task[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler, CrawlContext.of(crawler))

    async def process_item(self, item: Any) -> Any:
        """Store ``item`` (an :class:`ExtractedPage` or a :class:`FetchFailure`); keep an :class:`EntryPoll`."""
        if isinstance(item, EntryPoll):
            self.context.remember_entry_poll(item)
            return item
        try:
            if isinstance(item, FetchFailure):
                await self._stored(lambda session: self._record_failure(session, item))
            elif isinstance(item, ExtractedPage):
                final = isinstance(item.result, ExtractedArticle) or item.result.outcome in TERMINAL_OUTCOMES
                if final:  # known at once, not at its commit: no listing of this crawl keeps it as a child
                    self.context.known.note_article_pages(item.page.requested_url, item.page.url)
                await self._stored(lambda session: self._store_page(session, item))
        except Exception as exc:  # noqa: BLE001 - the database refused it: counted, and the crawl goes on
            page = item.page if isinstance(item, ExtractedPage) else item
            self.context.note_unsaved(page.source, page.url, exc)
        return item

    async def _stored(self, store: Store) -> None:
        """Run ``store`` in the next transaction; return once that transaction is committed and counted."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((store, done))
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.ensure_future(self._flush())
        await done

    async def _flush(self) -> None:
        """Commit the waiting stores, in batches, until none waits (those that arrive meanwhile join the next)."""
        while self.waiting:
            batch, self.waiting = self.waiting[:STORE_BATCH_MAX], self.waiting[STORE_BATCH_MAX:]
            try:
                reports = await self.context.write(partial(_run_all, [store for store, _ in batch]))
            except Exception:  # noqa: BLE001 - one page's failure must not lose the others: each alone again
                await self._one_by_one(batch)
            else:
                for (_, done), report in zip(batch, reports, strict=True):
                    self._committed(report)
                    done.set_result(None)

    async def _one_by_one(self, batch: list[tuple[Store, asyncio.Future[None]]]) -> None:
        """Run each store of a failed batch in a transaction of its own; the failing ones fail their item."""
        for store, done in batch:
            try:
                report = await self.context.write(store)
            except Exception as exc:  # noqa: BLE001 - handed to the item that awaits it
                done.set_exception(exc)
            else:
                self._committed(report)
                done.set_result(None)

    def _committed(self, report: StoreReport) -> None:
        """Add one to each of a committed store's counters and log its lines."""
        for key in report.counters:
            self.stats.inc_value(key)
        for level, message, args in report.lines:
            logger.log(level, message, *args)

    def _record_failure(self, session: Session, failure: FetchFailure) -> StoreReport:
        outcome, article_id = failure.outcome, None
        if failure.same_as is not None:  # a link to a known page: what the corpus holds for that page
            outcome, article_id = recorded_fetch(session, canonical_url(failure.same_as)) or (outcome, None)
            if outcome == "article":
                outcome = "duplicate"
        record_fetch(
            session,
            source=failure.source,
            url=failure.url,
            canonical_url=canonical_url(failure.url),
            outcome=outcome,
            http_status=failure.http_status,
            error=failure.error,
            article_id=article_id,
            source_id=self.context.source_ids.get(failure.source),
        )
        return StoreReport()  # counted when the fetch failed

    def _store_page(self, session: Session, item: ExtractedPage) -> StoreReport:
        """Store a page's article (or why it has none) and its URLs; what that adds to the crawl."""
        page, result = item.page, item.result
        added = StoreReport()
        source_id = self.context.source_ids.get(page.source) or ensure_source(session, page.source)
        if isinstance(result, ExtractedArticle):
            # Reads first, writes after: on SQLite the write lock is taken only for the writes.
            # cut and keyed once (in the worker, as a rule), for cleaning and for counting
            blocks = item.processed.blocks or KeyedBlocks.of(result.text)
            cleaning = clean_new_text(session, source_id, blocks)
            if blocks.all_in(cleaning.template):  # never stored: every such page would be a copy of the first
                result = NotAnArticle(
                    "no_text", f"no text of its own: its {len(blocks.blocks)} lines are all its site's template"
                )
        if isinstance(result, ExtractedArticle):
            cleaned = cleaning.cleaned
            made = _made_in_worker(item, cleaned.text)
            relevance = item.relevance = (made and made.relevance) or self.scorer.score(result.title, cleaned.text)
            found = made.fingerprint if made else fingerprint(cleaned.text)
            declared = declared_identity(page.url, result.declared_url)
            twin = self._stored_already(session, page, result, found, declared, source_id)
            if twin is not None:
                added.counters.append(stat_key(page.source, "duplicates"))
                added.log(logging.INFO, "Source %s: %s is the page of article %d", page.source, page.url, twin)
                self._record_fetches(session, page, "duplicate", None, twin, source_id)
                return added
            stored = store_article(
                session,
                NewArticle(
                    source=page.source,
                    url=page.url,
                    canonical_url=canonical_url(page.url),
                    title=result.title,
                    text=cleaned.text,
                    author=result.author,
                    site_name=result.site_name,
                    published=result.published,
                    language=result.language,
                    encoding=result.encoding,
                    relevance=relevance.score,
                    relevant=relevance.relevant,
                    evidence=relevance.evidence_json(),
                    credited_source=item.processed.credited_source,
                    declared_url=declared,
                    forms=made.forms if made else None,
                ),
                run_id=self.context.run_id,
                source_id=source_id,
            )
            outcome, article_id, error = ("article" if stored.created else "duplicate"), stored.article_id, None
            if stored.created:
                self._keep_page(session, stored.article_id, item)
                repeated = repeated_article(session, found, result.title, cleaned.text, source_id)
                if repeated is None:
                    self._learn_template(session, page.source, source_id, stored.article_id, blocks, added)
                else:  # its lines, counted again, would become template and be cut from both
                    added.log(
                        logging.INFO,
                        "Source %s: article %d repeats article %d: its blocks are not counted for the template",
                        page.source,
                        stored.article_id,
                        repeated,
                    )
                hints = self.context.template_hints
                hints[page.source] = hints.get(page.source, frozenset()) | cleaning.shared
                if self._assign_story(session, stored.article_id, found, page.source, added):
                    added.counters.append(stat_key(page.source, "copies"))
            added.counters.append(stat_key(page.source, "new_articles" if stored.created else "duplicates"))
            if stored.created and not relevance.relevant:
                added.counters.append(stat_key(page.source, "off_topic"))
        else:
            outcome, article_id, error = result.outcome, None, result.reason
            if outcome in RETRIABLE_OUTCOMES:  # fetched, but not readable: a failed fetch, not a page without article
                added.counters.append(stat_key(page.source, "errors"))
                added.log(logging.WARNING, "Source %s: %s not stored: %s", page.source, page.url, result.reason)
            else:
                added.counters.append(stat_key(page.source, "not_articles"))
                added.log(logging.INFO, "Source %s: %s is not an article: %s", page.source, page.url, result.reason)
        self._record_fetches(session, page, outcome, error, article_id, source_id)
        return added

    @staticmethod
    def _stored_already(
        session: Session,
        page: PageItem,
        result: ExtractedArticle,
        found: Fingerprint | None,
        declared: str | None,
        source_id: int,
    ) -> int | None:
        """The stored article a page is, if any (found again now): the page a stored article's page names, or one
        naming the same page as it (``declared``); else the same page of its source under another URL (a parameter
        that changes at every poll, one article in two sections)."""
        if found is None:  # a text too short to compare is never taken for another
            return None
        spellings = identity_spellings(declared or page.url)
        twin = same_text_among(found, result.title, articles_named(session, spellings))
        if twin is None:
            identity = PageIdentity(page.url, result.title, result.published)
            twin = same_text_in_source(session, found, identity, source_id)
        if twin is not None:
            seen_again(session, twin)
            if declared is None:  # the page itself: the article is known by its URL from now on
                adopt_named_url(session, twin, page.url, canonical_url(page.url), spellings)
        return twin

    @staticmethod
    def _record_fetches(
        session: Session, page: PageItem, outcome: str, error: str | None, article_id: int | None, source_id: int
    ) -> None:
        """Record the fetch of ``page`` under the URL requested and, after redirects, the URL it came from."""
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
                source_id=source_id,
            )

    def _learn_template(
        self, session: Session, source: str, source_id: int, article_id: int, blocks: KeyedBlocks, added: StoreReport
    ) -> None:
        """Count the new article's blocks; clean the earlier articles whose blocks just became template."""
        recleaned = clean_again(session, learn_blocks(session, source_id, article_id, blocks), self.scorer)
        if recleaned.changed:
            added.log(
                logging.INFO,
                "Source %s: its template is learned further; %s cleaned of it",
                source,
                plural(len(recleaned.changed), "earlier article"),
            )
        for collision in recleaned.collisions:
            added.log(
                logging.WARNING,
                "Source %s: article %d, cleaned of the template, is another article's text",
                source,
                collision,
            )

    def _keep_page(self, session: Session, article_id: int, item: ExtractedPage) -> None:
        """Keep the page a new article was extracted from, so a later extractor can extract it again."""
        page = item.page
        compressed = item.processed.compressed_page or compress_page(page.body)
        kept = PageToKeep(compressed, page.url, page.content_type, page.header_charset, EXTRACTOR)
        keep_page(session, article_id, kept)

    def _assign_story(
        self, session: Session, article_id: int, fp: Fingerprint | None, source: str, added: StoreReport
    ) -> bool:
        """Put a new article into its story; log it and say so when it is a copy of an earlier one."""
        assignment = assign_story(session, article_id, fp)
        if assignment.joined:
            added.log(
                logging.INFO,
                "Source %s: article %d is a copy in story %d (similarity %.2f)",
                source,
                article_id,
                assignment.story_id,
                assignment.similarity,
            )
        return assignment.joined
