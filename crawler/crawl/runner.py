"""Runs one crawl in this process: builds the Scrapy settings from the crawl's configuration,
runs the news spider to the end, and reports the run's per-source counts.

Scrapy's reactor cannot be restarted, so a process runs at most one crawl through this
module; the CLI's ``crawl`` command is such a process, and the daemon starts one per run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings

from crawler.config import Config
from crawler.crawl.context import CrawlContext
from crawler.crawl.headers import bound_response_headers
from crawler.crawl.memory import give_large_blocks_back
from storage.counters import SourceRunCounts
from storage.models import RunStatus

ProgressCallback = Callable[[dict[str, Any]], None]
#: Scrapy components that log each download that failed for good as an ERROR, with its traceback. The crawl
#: reports those failures itself (one line per source whose feed, sitemap or listing failed, and the errors
#: column of the summary), so their records are demoted to DEBUG: in the log at ``--log-level DEBUG`` only.
DOWNLOAD_FAILURE_LOGGERS = ("scrapy.downloadermiddlewares.retry", "scrapy.downloadermiddlewares.robotstxt")


class DemoteToDebug(logging.Filter):
    """A logger filter that logs every record of its logger at DEBUG, whatever level it was logged at."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, at DEBUG."""
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return True


@contextmanager
def download_failures_at_debug() -> Iterator[None]:
    """Within the block, the records of :data:`DOWNLOAD_FAILURE_LOGGERS` are DEBUG records."""
    demote = DemoteToDebug()
    loggers = [logging.getLogger(name) for name in DOWNLOAD_FAILURE_LOGGERS]
    for logger in loggers:
        logger.addFilter(demote)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(demote)


@dataclass
class CrawlReport:
    """How a crawl ended: its run id and status, the per-source counts, Scrapy's stats, and why it could not
    start if it could not."""

    run_id: int | None
    status: str
    counts: list[SourceRunCounts]
    stats: dict[str, Any]
    failure: str | None = None


def build_settings(config: Config, log_level: str = "INFO", log_file: str | None = None) -> Settings:
    """The Scrapy settings of a crawl of ``config``: the project's, the configuration itself
    (``AI4S_CONFIG``, for the crawl context), the log options, then the ``-s`` overrides."""
    settings = Settings()
    settings.setmodule("crawler.crawl.settings", priority="project")
    settings.set("AI4S_CONFIG", config, priority="cmdline")
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    if log_file:
        settings.set("LOG_FILE", log_file, priority="cmdline")
    for name, value in config.settings.items():
        settings.set(name, value, priority="cmdline")
    return settings


def _context_of(crawler: Crawler) -> CrawlContext | None:
    """The crawl context of a crawl that ended, if it got as far as creating one."""
    try:
        return crawler.get_extension(CrawlContext)
    except RuntimeError:  # the crawl failed before its extensions were created
        return None


def run_crawl(
    config: Config,
    *,
    log_level: str = "INFO",
    log_file: str | None = None,
    on_progress: ProgressCallback | None = None,
    progress_interval: float = 0.5,
) -> CrawlReport:
    """Run one crawl of ``config`` to its end in this process and report it.

    ``on_progress`` is called about every ``progress_interval`` seconds, from another
    thread, with a snapshot of the crawl's stats. The counts come from the crawl context
    that closed the run: the database is not opened again to read them.
    """
    from crawler.crawl.spiders.news import NewsSpider

    give_large_blocks_back()
    bound_response_headers()
    process = CrawlerProcess(build_settings(config, log_level, log_file))
    crawler = process.create_crawler(NewsSpider)
    process.crawl(crawler)
    done = threading.Event()

    def report_progress() -> None:
        while not done.wait(progress_interval):
            stats = getattr(crawler, "stats", None)
            if stats is not None and on_progress is not None:
                on_progress(dict(stats.get_stats()))

    watcher = threading.Thread(target=report_progress, name="ai4s-progress", daemon=True)
    if on_progress is not None:
        watcher.start()
    try:
        with download_failures_at_debug():
            process.start()
    finally:
        done.set()
    context = _context_of(crawler)
    if context is not None:
        context.close_unclosed()
    stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
    if on_progress is not None:
        watcher.join()
        on_progress(dict(stats))
    if context is None:
        return CrawlReport(None, RunStatus.FAILED, [], stats)
    return CrawlReport(context.run_id, context.status or RunStatus.FAILED, context.counts, stats, context.failure)
