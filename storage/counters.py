"""The counters of a crawl run, each defined once: its name, its header in the summary table and
what it counts, as one field of :class:`SourceRunCounts`.

Everything else is derived from those fields: :data:`RUN_COUNTERS` and :data:`ENTRY_COUNTERS`
(the crawl's stats keys and the columns of ``crawl_run_sources``, whose model a test holds to
them), :data:`SUMMARY_COUNTERS` (the columns and caption of the summary table) and the words of the log
line of a run's counts (``crawler.schedule.counts`` writes it).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field, fields
from typing import Any

_META = "counter"


@dataclass(frozen=True)
class Counter:
    """One counter: its ``name`` (column and stats key), ``header`` (short label) and ``meaning`` (one line)."""

    name: str
    header: str
    meaning: str
    entry_page: bool  # counts entry pages (feeds, sitemaps, listings), not pages in general
    in_summary: bool  # a column of the crawl's summary table
    noun: str | None  # the word counted in a line (``1 error``, ``2 errors``), where the header is no adjective


def _counter(
    header: str, meaning: str, *, entry_page: bool = False, in_summary: bool = True, noun: str | None = None
) -> Any:
    """A counter field of :class:`SourceRunCounts` (0 unless counted)."""
    return field(default=0, metadata={_META: (header, meaning, entry_page, in_summary, noun)})


@dataclass(frozen=True)
class SourceRunCounts:
    """One source's counters in one crawl run: a row of the crawl's summary (counters by keyword only)."""

    source: str
    _: KW_ONLY  # the counters are in summary order, not in the order of RUN_COUNTERS + ENTRY_COUNTERS
    pages_fetched: int = _counter("fetched", "pages downloaded (feeds, sitemaps, listings, articles)")
    new_articles: int = _counter("new", "articles stored")
    off_topic: int = _counter(
        "off-topic", "of the new ones, those the topic profile finds off-topic (kept, not exported)"
    )
    duplicates: int = _counter("dup", "same text as a stored article")
    not_articles: int = _counter("no article", "pages without article text")
    skipped_known: int = _counter("known", "article links skipped, already in the corpus")
    refused: int = _counter("refused", "requests not sent: robots.txt or the address policy refused them")
    entry_pages_read: int = _counter("read", "feeds, sitemaps and listings read", entry_page=True, in_summary=False)
    entry_pages_unchanged: int = _counter(
        "unchanged", "feeds, sitemaps and listings unchanged since the last crawl (not read again)", entry_page=True
    )
    entry_pages_failed: int = _counter(
        "failed", "feeds, sitemaps and listings that could not be fetched", entry_page=True, in_summary=False
    )
    errors: int = _counter("errors", "failed fetches and unreadable feeds", noun="error")
    fallbacks: int = _counter(
        "fallback",
        "entry points that failed or went stale, stood in for by the source's others or its homepage",
        noun="fallback",
    )

    def values(self) -> dict[str, int]:
        """Every counter by name."""
        return {item.name: getattr(self, item.name) for item in fields(self) if _META in item.metadata}

    @property
    def unreachable(self) -> bool:
        """True when every entry page of the source failed: the source could not be polled at all."""
        return self.entry_pages_failed > 0 and self.entry_pages_read == 0 and self.entry_pages_unchanged == 0


#: Every counter, in the order of :class:`SourceRunCounts`.
COUNTERS: tuple[Counter, ...] = tuple(
    Counter(item.name, *item.metadata[_META]) for item in fields(SourceRunCounts) if _META in item.metadata
)
#: Counters of pages in general: fetched, stored, skipped, failed.
RUN_COUNTERS: tuple[str, ...] = tuple(c.name for c in COUNTERS if not c.entry_page)
#: Counters of entry pages (feeds, sitemaps, listings): read, unchanged since the last poll, failed.
ENTRY_COUNTERS: tuple[str, ...] = tuple(c.name for c in COUNTERS if c.entry_page)
#: The columns of the crawl's summary table.
SUMMARY_COUNTERS: tuple[Counter, ...] = tuple(c for c in COUNTERS if c.in_summary)
