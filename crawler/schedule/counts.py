"""The one log line of a source's counts in a crawl run, written at the end of the crawl and by the daemon."""

from __future__ import annotations

from collections.abc import Mapping

from crawler.text.wording import plural
from storage.counters import COUNTERS, ENTRY_COUNTERS, RUN_COUNTERS

_BY_NAME = {counter.name: counter for counter in COUNTERS}


def _counted(counts: Mapping[str, int], name: str) -> str:
    """One counter as read: ``3 new``, ``1 error``, ``2 errors``."""
    counter, value = _BY_NAME[name], int(counts.get(name, 0))
    return plural(value, counter.noun) if counter.noun else f"{value} {counter.header}"


def describe_counts(counts: Mapping[str, int]) -> str:
    """One source's counters in a line: ``12 fetched, 3 new, …, 1 error, …; entry pages: 2 read, 1 unchanged, …``."""
    pages = ", ".join(_counted(counts, name) for name in RUN_COUNTERS)
    entry = ", ".join(_counted(counts, name) for name in ENTRY_COUNTERS)
    return f"{pages}; entry pages: {entry}"
