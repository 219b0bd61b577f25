"""The crawl context: what one crawl shares, opened once and closed once, as a Scrapy extension.

It holds the configuration (:class:`crawler.config.Config`: the sources and the topic profile,
loaded once), the database handle (one open, one Alembic check, per crawl), what the crawl
reads from the corpus when it starts (the known URLs, the entry-page states, the article URLs to
try again, the health of the entry points for the fallback chain), the crawl-run row (created, or adopted
from the daemon, and closed with the per-source counts), and the one thread that writes to the database. On
PostgreSQL it also holds the cluster-wide locks of its sources and their hosts (:mod:`crawler.crawl.exclusive`)
from its start to its end, and crawls only the sources it got.

Middlewares, pipelines and the spider ask for it in ``from_crawler`` with
:meth:`CrawlContext.of`; none of them opens a database or reads the sources file itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from scrapy import signals
from scrapy.exceptions import CloseSpider

from crawler.config import ENV_SOURCES_FILE, ENV_TOPICS_FILE, SOURCE_NAMES_SETTING, Config, load_config
from crawler.corpus.templates import forget_rare_blocks_of_the_past, likely_template
from crawler.crawl.exclusive import lock_sources
from crawler.crawl.fallback import FallbackChain
from crawler.crawl.items import EntryPoll
from crawler.crawl.known import KnownUrls
from crawler.crawl.requests import OVER_BUDGET, UNSAVED, stat_key
from crawler.crawl.watchdog import PARENT_GONE
from crawler.schedule.counts import describe_counts
from crawler.schedule.supervise import process_alive
from crawler.text.urls import url_host
from storage import Database
from storage.advisory import AdvisoryLocks, supports_advisory_locks
from storage.claims import release_claims, release_claims_of_gone_runs, release_claims_of_sources
from storage.counters import ENTRY_COUNTERS, RUN_COUNTERS, SourceRunCounts
from storage.db import ENV_DB
from storage.entry_health import entry_health
from storage.models import RunStatus
from storage.polling import EntryPageState, load_entry_pages, save_entry_page
from storage.repository import (
    ensure_source,
    finish_run,
    known_url_hashes,
    retriable_urls,
    save_run_counts,
    start_run,
)
from storage.schedules import abort_stale_runs, adopt_run

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from sqlalchemy.orm import Session

    from crawler.text.discovery import EntryPage

logger = logging.getLogger(__name__)

Result = TypeVar("Result")

#: The close reason of a crawl whose context could not start (no database, or a run it may not adopt).
CONTEXT_FAILED = "crawl_context_failed"

#: The close reason of a crawl none of whose sources it may crawl now: other crawls hold them (or their hosts).
CRAWL_SKIPPED = "crawl_skipped"

#: The connection budget of a crawl process on PostgreSQL: one pooled connection for its database thread, one
#: more for a burst (opening and closing the run), and the connection of its advisory locks: three at most.
CRAWL_POOL_SIZE = 1
CRAWL_MAX_OVERFLOW = 1

#: How a closing spider's reason maps to a crawl run's status (any other reason: ``failed``,
#: except the ``closespider_*`` limits, which end a crawl normally).
RUN_STATUS_BY_REASON = {
    "finished": RunStatus.OK,
    "shutdown": RunStatus.INTERRUPTED,  # SIGTERM / SIGINT
    "cancelled": RunStatus.INTERRUPTED,
    "closespider_timeout": RunStatus.INTERRUPTED,  # the time limit of a crawl
    PARENT_GONE: RunStatus.INTERRUPTED,  # the daemon that started it died
    CRAWL_SKIPPED: RunStatus.SKIPPED,  # another crawl was on its sources
}


def config_from_settings(settings: BaseSettings) -> Config:
    """The configuration of a crawl started as ``scrapy crawl news -s AI4S_DB=...``: from the
    ``AI4S_*`` settings, then the environment, then the defaults."""
    return load_config(
        db=settings.get(ENV_DB),
        sources_file=settings.get(ENV_SOURCES_FILE),
        source_names=settings.getlist(SOURCE_NAMES_SETTING),
        topics_file=settings.get(ENV_TOPICS_FILE),
    )


def run_status(reason: str) -> str:
    """The status of a crawl run whose spider closed for ``reason``."""
    return RUN_STATUS_BY_REASON.get(reason, RunStatus.OK if reason.startswith("closespider") else RunStatus.FAILED)


class CrawlContext:
    """One crawl's shared state and resources (see the module docstring).

    The configuration is the ``AI4S_CONFIG`` setting (the runner puts its :class:`Config` there),
    or, when that is unset, one built from the ``AI4S_*`` settings. The database is opened when
    the spider opens, and closed, with the run row, when it closes.
    """

    def __init__(self, crawler: Crawler, config: Config) -> None:
        self.crawler = crawler
        self.config = config
        self.stats = crawler.stats
        self.adopted_run_id = crawler.settings.getint("AI4S_RUN_ID", 0) or None
        self.max_article_attempts = crawler.settings.getint("AI4S_MAX_ARTICLE_ATTEMPTS", 5)
        self.host_lock_wait = crawler.settings.getfloat("AI4S_HOST_LOCK_WAIT", 600.0)
        self.database: Database | None = None
        #: The cluster-wide locks of this crawl's sources and hosts (PostgreSQL only), held until it ends.
        self.locks: AdvisoryLocks | None = None
        #: The sources of the configuration this crawl does not crawl, with why (another crawl holds them).
        self.skipped: dict[str, str] = {}
        self.run_id: int | None = None
        #: What the database said when the first page it would not save was refused (see :meth:`note_unsaved`).
        self.first_unsaved = ""
        self.status: str | None = None  # set when the run is closed
        self.closed = False  # once the spider closed (or the crawl closed it after its reactor stopped)
        self.failure: str | None = None  # why the crawl could not start, if it could not
        self.source_ids: dict[str, int] = {}
        #: The pages the crawl needs no fetch of: what the corpus knew as it started, and the article pages found since.
        self.known = KnownUrls()
        #: What the last poll of each entry page left, by URL hash.
        self.entry_pages: dict[str, EntryPageState] = {}
        #: Per source name, the blocks its next new article is likely to be cleaned of (read as the crawl started,
        #: grown as it stores): the extraction workers fingerprint the text without them, so that the store
        #: seldom has to fingerprint again (see :class:`crawler.crawl.pipelines.StorePipeline`).
        self.template_hints: dict[str, frozenset[int]] = {}
        #: ``(url, source name)`` of article URLs whose last fetch failed for a passing reason.
        self.pending_retries: list[tuple[str, str]] = []
        #: The per-source counts the run was closed with (also saved in the database).
        self.counts: list[SourceRunCounts] = []
        # Entry-page polls are remembered only when the crawl finishes: a crawl cut short must
        # not mark as unchanged a page whose links it never followed.
        self.entry_polls: list[EntryPoll] = []
        #: Hosts that asked to be left alone beyond this crawl (``Retry-After``), and until when: none of their
        #: entry pages is polled before that by the next crawls.
        self.host_deadlines: dict[str, datetime] = {}
        #: The sources' entry points, how their polls came out and what they fell back to (saved as their health).
        self.fallback_chain = FallbackChain()
        # SQLAlchemy sessions are used from this one thread only: writes are serialised and
        # the reactor never waits on the database.
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ai4s-db")
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlContext:
        """The context of a new crawl, with the ``AI4S_CONFIG`` configuration or one built from the settings."""
        config = crawler.settings.get("AI4S_CONFIG")
        if config is None:
            config = config_from_settings(crawler.settings)
        elif not isinstance(config, Config):
            raise TypeError(f"AI4S_CONFIG must be a crawler.config.Config (the runner sets it), not {config!r}")
        return cls(crawler, config)

    @classmethod
    def of(cls, crawler: Crawler) -> CrawlContext:
        """The context of ``crawler``'s crawl (for a component's ``from_crawler``)."""
        context = crawler.get_extension(cls)
        if context is None:
            raise RuntimeError(f"{cls.__module__}.{cls.__name__} is not enabled in the EXTENSIONS setting")
        return context

    # -- opening -----------------------------------------------------------------------
    def spider_opened(self) -> None:
        """Open the database, create (or adopt) the run row, and read what the crawl needs from the
        corpus; a failure closes the spider (reason :data:`CONTEXT_FAILED`) before anything is fetched."""
        try:
            self.open()
        except Exception as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self.failure = f"the crawl could not start: {reason}"
            logger.error("The crawl could not start: %s", reason)
            logger.debug("The crawl could not start", exc_info=True)
            raise CloseSpider(CONTEXT_FAILED) from None
        if not self.config.source_names and self.skipped:
            raise CloseSpider(CRAWL_SKIPPED)

    def open(self) -> None:
        """Open the database and start the run (see :meth:`spider_opened`)."""
        self.database = Database(self.config.db_url, pool_size=CRAWL_POOL_SIZE, max_overflow=CRAWL_MAX_OVERFLOW)
        names = sorted(self.config.source_names)
        pid, host = os.getpid(), socket.gethostname()
        with self.database.session() as session, session.begin():
            if self.adopted_run_id is not None:
                if not adopt_run(session, self.adopted_run_id, pid, host):
                    raise RuntimeError(f"crawl run {self.adopted_run_id} does not exist or is not running")
                self.run_id = self.adopted_run_id
            else:
                self.run_id = start_run(session, names, pid=pid, host=host)
            self.source_ids = {name: ensure_source(session, name) for name in names}
        if supports_advisory_locks(self.database.url):
            names = self.exclude_others(names)
        with self.database.session() as session, session.begin():
            # a crawl killed on this machine: what it claimed and did not store is fetched now, not in minutes
            dropped = release_claims_of_gone_runs(session, process_alive, keep=self.run_id or 0)
            # and its run, left "running" (the daemon does it when it starts; a one-off crawl has no daemon)
            aborted = abort_stale_runs(session, lambda run: run.id == self.run_id or process_alive(run))
        if dropped:
            logger.info("%d URL claims of crawls that are gone dropped", dropped)
        if aborted:
            logger.warning("Crawl runs %s were left running by a process that is gone: marked aborted", aborted)
        # read after the locks: a crawl that waited for a host sees what the crawl before it stored
        with self.database.session() as session:
            self.known = KnownUrls(known_url_hashes(session, max_attempts=self.max_article_attempts))
            hints = likely_template(session, self.source_ids.values())
            self.template_hints = {name: hints[source_id] for name, source_id in self.source_ids.items()}
            self.entry_pages = self.known.without_known_articles(
                load_entry_pages(session, list(self.source_ids.values()))
            )
            self.pending_retries = retriable_urls(session, names, self.max_article_attempts)
            self.fallback_chain.load(entry_health(session, names))
        self.stats.set_value("ai4s/run_id", self.run_id)
        self.stats.set_value("ai4s/db_url", self.database.url)
        logger.info("Crawl run %d started on %s", self.run_id, self.database.url)
        logger.info("%d URLs already known to the corpus will not be fetched again", len(self.known.hashes))

    def exclude_others(self, names: list[str]) -> list[str]:
        """Take the cluster-wide locks of this crawl's sources and hosts (:mod:`crawler.crawl.exclusive`); keep
        only the sources it got in the configuration, and drop the URL claims dead crawls of them left."""
        assert self.database is not None
        self.locks = AdvisoryLocks(self.database.url)
        exclusion = lock_sources(self.locks, self.config.sources, self.host_lock_wait)
        for reason in exclusion.skipped.values():
            logger.warning("%s", reason)
        self.skipped = exclusion.skipped
        if exclusion.skipped:
            self.config = self.config.only(exclusion.kept)
        kept = sorted(exclusion.kept)
        self.source_ids = {name: source_id for name, source_id in self.source_ids.items() if name in exclusion.kept}
        with self.database.session() as session, session.begin():
            dropped = release_claims_of_sources(session, kept, keep=self.run_id or 0)
        if dropped:
            logger.info("%d URL claims left by an earlier crawl of these sources dropped", dropped)
        return kept

    # -- during the crawl ------------------------------------------------------------------
    async def write(self, work: Callable[[Session], Result]) -> Result:
        """``work(session)`` in one transaction, in the database thread; its result."""
        return await asyncio.wrap_future(self.writer.submit(self._in_transaction, work))

    def _in_transaction(self, work: Callable[[Session], Result]) -> Result:
        if self.database is None:
            raise RuntimeError("the crawl context is not open")
        return self.database.transaction(work)  # run again after a deadlock with another crawl

    def defer_host(self, host: str, until: datetime) -> None:
        """Remember that ``host`` asked not to be requested before ``until`` (saved with its entry pages' polls)."""
        self.host_deadlines[host] = max(until, self.host_deadlines.get(host, until))

    def remember_entry_poll(self, poll: EntryPoll) -> None:
        """Keep ``poll`` until the crawl ends (it is saved then, if the crawl got that far)."""
        self.entry_polls.append(poll)

    # -- closing -----------------------------------------------------------------------
    def spider_closed(self, reason: str) -> None:
        """Save each source's counts and the entry-page polls, close the run row with a status, and
        log one line per source."""
        self.closed = True
        self.writer.shutdown(wait=True)
        if self.database is None:
            return
        try:
            if self.run_id is not None:
                self.close_run(reason)
        finally:
            self.database.close()
            if self.locks is not None:  # after the run is closed: the next crawl finds it finished
                self.locks.close()

    def close_unclosed(self) -> None:
        """Close the run of a crawl whose reactor stopped before its spider closed (Scrapy stops it at once at a
        second SIGTERM or Ctrl-C), as interrupted, with the counts it has: the transaction under way in the database
        thread is finished (the stores it holds are not counted), the pages waiting for the next one are not stored
        (they are fetched again by the next crawl)."""
        if self.closed or self.database is None:
            return
        logger.warning("The crawl was stopped at once: closing its run as interrupted")
        try:
            self.spider_closed("shutdown")
        except Exception:  # the run stays open: the next crawl marks it aborted
            logger.exception("The run of the crawl stopped at once could not be closed")

    def close_run(self, reason: str) -> None:
        """Close the run row for a spider closed for ``reason`` (see :meth:`spider_closed`)."""
        assert self.database is not None and self.run_id is not None
        status, message = run_status(reason), f"spider closed: {reason}"
        if self.skipped:
            skipped = "; ".join(self.skipped[name] for name in sorted(self.skipped))
            message = skipped if status == RunStatus.SKIPPED else f"{message}; {skipped}"
        names = sorted(self.config.source_names)
        counts = [SourceRunCounts(source, **self.counted(source)) for source in names]
        if status == RunStatus.OK and counts and all(c.unreachable for c in counts):
            status, message = RunStatus.FAILED, "no feed, sitemap or listing page of any source could be fetched"
        unsaved = sum(self.stats.get_value(stat_key(source, UNSAVED), 0) for source in names)
        if unsaved and status == RunStatus.OK:  # a crawl that lost pages did not end well: they come again next time
            status, message = RunStatus.FAILED, f"{unsaved} fetched pages could not be saved: {self.first_unsaved}"
        with self.database.session() as session, session.begin():
            # validators only after a complete crawl; the site's "not before" (Retry-After) always
            self._save_entry_polls(session, hints_only=status != RunStatus.OK)
            complete = [name for name in names if status == RunStatus.OK and not self.was_incomplete(name)]
            self.fallback_chain.save(session, self.run_id, self.source_ids, complete)
            for source in names:
                values = self.counted(source)
                save_run_counts(session, self.run_id, source, values)
                logger.info("Source %s: %s", source, describe_counts(values))
            forgotten = forget_rare_blocks_of_the_past(session)
            if forgotten:
                logger.debug("%d text blocks seen once long ago forgotten (template learning)", forgotten)
            release_claims(session, self.run_id)  # what it did not fetch is free for other crawls again
            finish_run(session, self.run_id, status, message=message)
        self.status, self.counts = status, counts
        self.stats.set_value("ai4s/run_status", status)

    def counted(self, source: str) -> dict[str, int]:
        """The run counters of ``source`` so far, by name (from the crawl's stats)."""
        return {name: self.stats.get_value(stat_key(source, name), 0) for name in RUN_COUNTERS + ENTRY_COUNTERS}

    def was_cut(self, source: str) -> bool:
        """Whether ``source``'s page budget (``max_pages``) cut its crawl short."""
        return bool(self.stats.get_value(stat_key(source, OVER_BUDGET), 0))

    def was_incomplete(self, source: str) -> bool:
        """Whether ``source`` was not crawled to the end: its budget cut it short, or a page fetched was not saved."""
        return self.was_cut(source) or bool(self.stats.get_value(stat_key(source, UNSAVED), 0))

    def note_unsaved(self, source: str, url: str, error: BaseException) -> None:
        """Count a page of ``source`` fetched but not saved (the database refused the transaction: ``error``) as an
        error of its source: the source was crawled incompletely, and the run fails."""
        self.stats.inc_value(stat_key(source, UNSAVED))
        self.stats.inc_value(stat_key(source, "errors"))
        said = str(getattr(error, "orig", None) or error).strip()  # the driver's words, not SQLAlchemy's wrapping
        reason = said.splitlines()[0] if said else type(error).__name__
        self.first_unsaved = self.first_unsaved or reason
        logger.error(
            "Source %s: %s fetched but not saved (%s): it and the source's entry pages are read again next crawl",
            source,
            url,
            reason,
        )

    def _save_entry_polls(self, session: Session, hints_only: bool) -> None:
        """Save the entry-page polls of the sources that were crawled to the end (not cut by their
        budget); with ``hints_only`` (a crawl cut short) only the waits sites asked for (Retry-After). A host that
        asked to be left alone beyond this crawl gets its wait on every entry page polled in it."""
        cut = {name for name in self.config.source_names if self.was_incomplete(name)}
        for poll in self.entry_polls:
            host_deadline = self.host_deadlines.get(url_host(poll.url))
            not_before = max((when for when in (poll.not_before, host_deadline) if when), default=None)
            changed = poll.changed
            if hints_only or (poll.source in cut and host_deadline):
                if not_before is None or (changed and not host_deadline):
                    continue
                changed = False  # only the wait is saved, not what was read
            elif poll.source in cut:
                continue
            save_entry_page(
                session,
                poll.url,
                self.source_ids.get(poll.source),
                changed=changed,
                etag=poll.etag,
                last_modified=poll.last_modified,
                body_hash=poll.body_hash,
                not_before=not_before,
                poll_hint=poll.poll_hint,
                http_status=poll.status,
                children=self.entry_children(poll),
            )

    def entry_children(self, poll: EntryPoll) -> list[EntryPage] | None:
        """The entry pages ``poll`` led to, without those known to be article pages: an article is never an
        entry page, whatever its URL looked like on the page that linked it."""
        if poll.children is None:
            return None
        return [child for child in poll.children if not self.known.is_known_article(child)]


def crawl_config(crawler: Crawler) -> Config:
    """The configuration of ``crawler``'s crawl (the sources, the topic profile, the database URL)."""
    return CrawlContext.of(crawler).config


__all__ = ["CONTEXT_FAILED", "CRAWL_SKIPPED", "CrawlContext", "config_from_settings", "crawl_config", "run_status"]
