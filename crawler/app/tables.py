"""Terminal tables of the listing commands: the sources, the stories and a profile's evaluation (rich)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from crawler.relevance.evaluate import ProfileEvaluation
from crawler.sources import Source
from storage.stories import StorySummary


def sources_table(sources: Sequence[Source], title: Path | str) -> Table:
    """``ai4s sources``: each source's language, schedule, entry pages and limits."""
    table = Table(title=str(title), title_justify="left")
    for column in ("name", "language", "every", "feeds", "sitemaps", "listing pages", "limits"):
        table.add_column(column)
    for source in sources:
        table.add_row(
            source.name,
            source.language or "",
            source.every,
            "\n".join(source.feeds),
            "\n".join(source.sitemaps),
            "\n".join(source.start_urls),
            f"depth {source.max_depth}, {source.max_pages} pages",
        )
    return table


def stories_table(stories: Sequence[StorySummary]) -> Table:
    """``ai4s stories``: each story's representative headline, copies, outlets and first and last sighting."""
    table = Table(title=f"{len(stories)} most recent stories", title_justify="left")
    for column in ("story", "headline (representative copy)", "copies", "outlets", "first seen", "last seen"):
        table.add_column(column, justify="right" if column in ("story", "copies") else "left")
    for story in stories:
        head = story.representative
        table.add_row(
            str(story.id),
            f"{head.title or head.url}\n{head.url}",
            str(len(story.copies)),
            ", ".join(story.outlets),
            story.first_seen.strftime("%Y-%m-%d %H:%M"),
            story.last_seen.strftime("%Y-%m-%d %H:%M"),
        )
    return table


def evaluation_table(evaluation: ProfileEvaluation) -> Table:
    """``ai4s topics eval``: precision, recall and F1 per part and language at the profile's threshold."""
    table = Table(title=f"relevance at threshold {evaluation.threshold}", title_justify="left")
    for column in ("part", "language", "texts", "precision", "recall", "F1", "false +", "false -"):
        table.add_column(column, justify="right" if column not in ("part", "language") else "left")
    for part, rows in evaluation.parts:
        for row in rows:
            table.add_row(
                part,
                row.group,
                str(row.n),
                f"{row.precision:.2f}",
                f"{row.recall:.2f}",
                f"{row.f1:.2f}",
                str(row.fp),
                str(row.fn),
            )
    return table
