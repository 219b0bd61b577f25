"""Runs one crawl in this process: builds the Scrapy settings from the product's options,
runs the news spider to the end, and reports the run's per-source counts.

Scrapy's reactor cannot be restarted, so a process runs at most one crawl through this
module; the CLI's ``crawl`` command is such a process, and the daemon starts one per run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.relevance.profile import load_profile
from crawler.sources import Source, load_sources
from storage import Database, resolve_db_url
from storage.repository import SourceRunCounts, run_counts

ProgressCallback = Callable[[dict[str, Any]], None]


@dataclass
class CrawlOptions:
    """What to crawl and where to store it, plus raw Scrapy setting overrides."""

    sources_file: Path | None = None
    source_names: list[str] = field(default_factory=list)
    db_url: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    log_level: str = "INFO"
    log_file: str | None = None
    topics_file: Path | None = None


@dataclass
class CrawlReport:
    """How a crawl ended: its run id and status, the per-source counts, and Scrapy's stats."""

    run_id: int | None
    status: str
    counts: list[SourceRunCounts]
    stats: dict[str, Any]


def parse_setting_overrides(pairs: list[str]) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` as a dict; raises :class:`ValueError` for a pair without ``=``."""
    overrides = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"-s expects NAME=VALUE, got {pair!r}")
        overrides[name.strip()] = value
    return overrides


def build_settings(options: CrawlOptions) -> tuple[Settings, list[Source]]:
    """The Scrapy settings of a crawl (validating the sources file and the topic profile first)
    and the sources it covers."""
    sources = load_sources(options.sources_file, options.source_names)
    load_profile(options.topics_file)  # a broken profile is reported before anything starts
    settings = Settings()
    settings.setmodule("crawler.crawl.settings", priority="project")
    settings.set("AI4S_SOURCES_FILE", str(options.sources_file) if options.sources_file else None, priority="cmdline")
    settings.set("AI4S_SOURCE_NAMES", [s.name for s in sources], priority="cmdline")
    settings.set("AI4S_DB", resolve_db_url(options.db_url), priority="cmdline")
    settings.set("AI4S_TOPICS_FILE", str(options.topics_file) if options.topics_file else None, priority="cmdline")
    settings.set("LOG_LEVEL", options.log_level, priority="cmdline")
    if options.log_file:
        settings.set("LOG_FILE", options.log_file, priority="cmdline")
    for name, value in options.settings.items():
        settings.set(name, value, priority="cmdline")
    return settings, sources


def run_crawl(
    options: CrawlOptions, on_progress: ProgressCallback | None = None, progress_interval: float = 0.5
) -> CrawlReport:
    """Run one crawl to its end in this process and report it.

    ``on_progress`` is called about every ``progress_interval`` seconds, from another
    thread, with a snapshot of the crawl's stats.
    """
    from crawler.crawl.spiders.news import NewsSpider

    settings, _ = build_settings(options)
    process = CrawlerProcess(settings)
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
        process.start()
    finally:
        done.set()
    stats: Mapping[str, Any] = dict(crawler.stats.get_stats()) if crawler.stats else {}
    if on_progress is not None:
        watcher.join()
        on_progress(dict(stats))
    run_id = stats.get("ai4s/run_id")
    status = stats.get("ai4s/run_status", "failed")
    counts: list[SourceRunCounts] = []
    if run_id is not None:
        with Database(settings.get("AI4S_DB")) as database, database.session() as session:
            counts = run_counts(session, run_id)
    return CrawlReport(run_id, status, counts, dict(stats))
