"""Live displays on a terminal (rich): a running crawl, one line per source; a reprocessing run, a bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from crawler.crawl.requests import stat_key
from crawler.text.wording import plural
from storage.counters import COUNTERS

if TYPE_CHECKING:  # imported only to be named: it loads the extractor
    from crawler.corpus.reprocess import ReprocessReport

#: The counters shown on a source's line (labelled with their summary headers).
PROGRESS_COUNTERS = ("pages_fetched", "new_articles", "skipped_known", "errors")
_LABELS = {counter.name: counter.header for counter in COUNTERS}


class CrawlProgress:
    """A live display of a running crawl, one line per source, fed with stats snapshots."""

    def __init__(self, console: Console, sources: list[str]) -> None:
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("[bold]{task.description:<20}"),
            TextColumn("{task.fields[line]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            disable=not console.is_terminal,
        )
        self.tasks = {name: self.progress.add_task(name, total=None, line="waiting") for name in sources}

    def __enter__(self) -> CrawlProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for task in self.tasks.values():
            self.progress.update(task, total=1, completed=1)
        self.progress.stop()

    def update(self, stats: dict[str, Any]) -> None:
        """Refresh every source's line from a stats snapshot."""
        for name, task in self.tasks.items():
            line = " · ".join(f"{stats.get(stat_key(name, key), 0)} {_LABELS[key]}" for key in PROGRESS_COUNTERS)
            self.progress.update(task, line=line)


class ReprocessProgress:
    """A progress bar of ``ai4s reprocess``: articles done of those with a kept page, then the regrouping."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[line]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            disable=not console.is_terminal,
        )
        self.task = self.progress.add_task("articles", total=None, line="")

    def __enter__(self) -> ReprocessProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, report: ReprocessReport) -> None:
        """Show the counts of a report (after each batch, and when the stories are regrouped)."""
        line = f"{report.changed} changed · {report.failed} failed · {plural(len(report.collisions), 'collision')}"
        if report.reprocessed == report.to_reprocess:
            line += " · stories regrouped" if report.stories else " · regrouping stories"
        self.progress.update(self.task, total=report.to_reprocess, completed=report.reprocessed, line=line)
