"""Terminal tables of the command line (rich): a crawl's summary, the corpus counts, the sources, their
schedules and health, the health of their entry points, the stories, search hits, a topic profile's
evaluation, a reprocessing run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from crawler.digest.display import display_text
from crawler.relevance.evaluate import ProfileEvaluation
from crawler.schedule.jobs import job_id
from crawler.sources import Source
from crawler.text.durations import describe_interval, describe_moment
from crawler.text.wording import plural
from storage.cluster import QueuedRun
from storage.counters import SUMMARY_COUNTERS, SourceRunCounts
from storage.entry_health import RECENT_POLLS, EntryHealth, SilentSource
from storage.repository import CorpusStats
from storage.schedules import ScheduleState
from storage.search import SearchHit
from storage.stories import StorySummary

if TYPE_CHECKING:  # imported only to be named: it loads the extractor
    from crawler.corpus.reprocess import ReprocessReport

#: (counter, column header) of the summary table, and its caption saying what each column counts.
SUMMARY_COLUMNS = tuple((counter.name, counter.header) for counter in SUMMARY_COUNTERS)
SUMMARY_CAPTION = " · ".join(f"{counter.header}: {counter.meaning}" for counter in SUMMARY_COUNTERS)


def summary_table(counts: list[SourceRunCounts], title: str) -> Table:
    """One row per source with the run's counters, and a total row."""
    table = Table(title=title, title_justify="left", caption=SUMMARY_CAPTION, caption_justify="left")
    table.add_column("source", style="bold", no_wrap=True)
    for _, header in SUMMARY_COLUMNS:
        table.add_column(header, justify="right")
    for row in counts:
        table.add_row(row.source, *(str(getattr(row, name)) for name, _ in SUMMARY_COLUMNS))
    if len(counts) > 1:
        totals = [str(sum(getattr(row, name) for row in counts)) for name, _ in SUMMARY_COLUMNS]
        table.add_row("total", *totals, style="bold")
    return table


def stats_table(stats: CorpusStats) -> Table:
    """The corpus counts of ``ai4s stats``."""
    table = Table(title="corpus", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("articles", str(stats.articles), style="bold")
    table.add_row("  off-topic (not counted above)", str(stats.off_topic))
    for name, count in sorted(stats.articles_by_source.items()):
        table.add_row(f"  from {name}", str(count))
    for language, count in sorted(stats.articles_by_language.items()):
        table.add_row(f"  in {language}", str(count))
    for outcome, count in sorted(stats.fetched_by_outcome.items()):
        table.add_row(f"fetched URLs: {outcome}", str(count))
    for status, count in sorted(stats.runs_by_status.items()):
        table.add_row(f"crawl runs: {status}", str(count))
    last = stats.last_run_finished.isoformat(timespec="seconds") if stats.last_run_finished else "never"
    table.add_row("last crawl finished", last)
    return table


def health_text(state: ScheduleState | None) -> str:
    """A source's health in a word or three: ok, failing (n), UNHEALTHY (n failures), not run yet."""
    if state is None or state.last_status is None:
        return "not run yet"
    if not state.healthy:
        return f"[bold red]UNHEALTHY[/] ({plural(state.failures, 'failed run')})"
    if state.failures:
        return f"[yellow]failing[/] ({state.failures} in a row)"
    return "[green]ok[/]"


def _last_run(state: ScheduleState | None, now: datetime) -> str:
    if state is None or state.last_run_at is None:
        return "never"
    new = f", {state.last_new_articles} new" if state.last_new_articles is not None else ""
    return f"{state.last_status}{new}, {describe_moment(state.last_run_at, now)}"


def jobs_table(
    sources: list[Source], schedules: dict[str, ScheduleState], next_runs: dict[str, datetime | None]
) -> Table:
    """``ai4s jobs``: each configured source's schedule, next run, last run and health."""
    now = datetime.now(UTC)
    table = Table(title="scheduled crawls", title_justify="left")
    for column in ("source", "every", "interval now", "next run", "last run", "health"):
        table.add_column(column)
    for source in sources:
        state = schedules.get(source.name)
        interval = state.interval_seconds if state and state.every == source.every else None
        next_run = next_runs.get(job_id(source.name))
        table.add_row(
            source.name,
            source.every,
            describe_interval(interval) if interval else "",
            describe_moment(next_run, now) if next_run else "not scheduled (daemon never started)",
            _last_run(state, now),
            health_text(state),
        )
    return table


def health_table(schedules: dict[str, ScheduleState]) -> Table:
    """The per-source health part of ``ai4s stats``."""
    now = datetime.now(UTC)
    table = Table(title="sources (daemon)", title_justify="left")
    for column in ("source", "health", "last run", "last error"):
        table.add_column(column)
    for name, state in sorted(schedules.items()):
        table.add_row(name, health_text(state), _last_run(state, now), state.last_error or "")
    return table


def silent_table(silent: Sequence[SilentSource]) -> Table:
    """The sources silent for longer than their usual gap between articles (``ai4s stats``)."""
    now = datetime.now(UTC)
    table = Table(title="silent sources (nothing new for longer than usual, though polled since)", title_justify="left")
    for column in ("source", "newest article", "usual gap", "last polled"):
        table.add_column(column)
    for source in silent:
        table.add_row(
            f"[bold red]{source.source}[/]",
            _ago(source.last_article_at, now),
            describe_interval(source.usual_gap.total_seconds()),
            _ago(source.last_polled, now),
        )
    return table


def _ago(moment: datetime | None, now: datetime) -> str:
    """How long ago ``moment`` was, in its two largest units ("never" for none)."""
    return f"{describe_interval(max(0.0, (now - moment).total_seconds()))} ago" if moment else "never"


def _verdict(entry: EntryHealth) -> str:
    if entry.verdict == "dead":
        return f"[bold red]DEAD[/] ({plural(entry.consecutive_failures, 'failed poll')})"
    if entry.verdict == "failing":
        return f"[yellow]failing[/] ({entry.consecutive_failures} in a row)"
    if entry.verdict == "stale":
        return f"[yellow]STALE[/] ({plural(entry.polls_without_new, 'poll')}, nothing new)"
    return "[green]ok[/]"


def _last_answer(entry: EntryHealth, now: datetime) -> str:
    status = f" {entry.last_status}" if entry.last_status else ""
    error = f": {entry.last_error}" if entry.last_error and entry.last_outcome not in ("read", "unchanged") else ""
    return f"{entry.last_outcome}{status}{error}, {_ago(entry.last_checked, now)}"


def entry_health_table(entries: Sequence[EntryHealth], template_blocks: dict[str, int]) -> Table:
    """``ai4s sources check``: each entry point of each source, its last answer, articles found, verdict and fix."""
    now = datetime.now(UTC)
    table = Table(
        title="entry points",
        title_justify="left",
        caption=f"recent: new articles in its last {RECENT_POLLS} polls · fallback: found by the fallback chain "
        "(the site's robots.txt or homepage) when the configured ones failed · template: blocks of the source's "
        "learned site template",
        caption_justify="left",
    )
    for column in ("source", "entry point", "kind", "last answer", "articles", "recent", "last new", "unchanged since"):
        # URLs whole, to be copied into the sources file
        table.add_column(
            column, justify="right" if column in ("articles", "recent") else "left", no_wrap=column == "entry point"
        )
    table.add_column("health")
    table.add_column("fix")
    for entry in entries:
        blocks = template_blocks.get(entry.source)
        name = entry.source + (f"\n(template: {blocks})" if blocks else "")
        table.add_row(
            name,
            entry.url,
            entry.kind + (" (fallback)" if entry.fallback else ""),
            _last_answer(entry, now),
            str(entry.articles_found),
            str(entry.articles_recent),
            _ago(entry.last_new_article_at, now),
            _ago(entry.unchanged_since, now) if entry.unchanged_since else "",
            _verdict(entry),
            entry.advice,
        )
    return table


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
    table = Table(title=plural(len(stories), "most recent story"), title_justify="left")
    for column in ("story", "headline (representative copy)", "copies", "outlets", "first seen", "last seen"):
        table.add_column(column, justify="right" if column in ("story", "copies") else "left")
    for story in stories:
        head = story.representative
        table.add_row(
            str(story.id),
            f"{escape(display_text(head.title) or head.url)}\n{escape(head.url)}",
            str(len(story.copies)),
            escape(", ".join(story.outlets)),
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


def reprocess_table(report: ReprocessReport) -> Table:
    """``ai4s reprocess``: the articles reprocessed (changed, unchanged, failed, collisions), those skipped
    for want of a kept page, and the stories after regrouping."""
    table = Table(title="reprocessed from the kept pages", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("articles reprocessed", str(report.reprocessed), style="bold")
    table.add_row("  changed", str(report.changed))
    table.add_row("  unchanged", str(report.unchanged))
    table.add_row("  failed (no article in the page this time: left as they were)", str(report.failed))
    table.add_row("  collisions (new text already another article's: kept their own)", str(len(report.collisions)))
    table.add_row("articles without a kept page (left as they were)", str(report.skipped))
    if report.stories is not None:
        stories = report.stories
        table.add_row("stories after regrouping", str(stories.stories), style="bold")
        table.add_row("  articles that joined an earlier story", str(stories.copies))
    for collision in report.collisions[:20]:
        table.add_row(f"  collision: article {collision.article_id}", f"text of article {collision.holder}")
    return table


def workers_table(
    queue_length: int | None, runs: Sequence[QueuedRun], stale_after: float, online: Sequence[str] | None = None
) -> Table:
    """``ai4s workers``: the jobs waiting in the queue, each worker's running crawls and last heartbeat, and the
    workers that answered a ping (``online``; ``None``: the broker could not be asked) with no crawl running."""
    now = datetime.now(UTC)
    waiting = "unknown (the broker is unreachable) crawls" if queue_length is None else plural(queue_length, "crawl")
    table = Table(title=f"cluster: {waiting} waiting in the queue", title_justify="left")
    for column in ("worker", "running crawls", "last heartbeat", "state"):
        table.add_column(column)
    by_worker: dict[str, list[QueuedRun]] = {}
    for run in runs:
        if run.worker is not None:
            by_worker.setdefault(run.worker, []).append(run)
    for worker, running in sorted(by_worker.items()):
        beats = [run.heartbeat_at for run in running if run.heartbeat_at is not None]
        last = max(beats) if beats else None
        alive = last is not None and (now - last).total_seconds() < stale_after
        table.add_row(
            worker,
            ", ".join(f"{run.source} (run {run.run_id})" for run in running),
            describe_moment(last, now) if last else "never",
            "alive" if alive else "no heartbeat: gone? (its jobs run again elsewhere)",
        )
    for worker in sorted(set(online or ()) - set(by_worker)):
        table.add_row(worker, "none", "-", "idle (answered a ping)")
    if online is None:
        table.caption = "idle workers unknown: the broker could not be asked"
    unclaimed = [run for run in runs if run.worker is None]
    if unclaimed:
        sent = f"sent, no worker yet: {', '.join(f'{run.source} (run {run.run_id})' for run in unclaimed)}"
        table.caption = f"{sent}\n{table.caption}" if table.caption else sent
    return table


def search_table(query: str, hits: Sequence[SearchHit]) -> Table:
    """``ai4s search``: each story found, best first: its headline, a passage, its copies and outlets (shown as
    the digest shows them: without pinyin readings)."""
    table = Table(title=f"{plural(len(hits), 'story')} for {query!r}", title_justify="left")
    for column in ("#", "headline and passage", "copies", "outlets", "first seen"):
        table.add_column(column, justify="right" if column in ("#", "copies") else "left")
    for number, hit in enumerate(hits, 1):
        table.add_row(
            str(number),
            f"[bold]{escape(display_text(hit.title) or hit.url)}[/]\n{escape(display_text(hit.excerpt))}\n"
            f"[dim]{escape(hit.url)}[/]",
            str(max(1, len(hit.copies))),
            ", ".join(hit.outlets),
            hit.first_seen.strftime("%Y-%m-%d %H:%M"),
        )
    return table


def search_records(hits: Sequence[SearchHit]) -> list[dict[str, Any]]:
    """The hits of ``ai4s search`` as JSON records, best first."""
    return [
        {
            "story_id": hit.story_id,
            "article_id": hit.article_id,
            "title": display_text(hit.title) or None,
            "url": hit.url,
            "source": hit.source,
            "language": hit.language,
            "published": hit.published.isoformat() if hit.published else None,
            "first_seen": hit.first_seen.isoformat(),
            "excerpt": display_text(hit.excerpt),
            "copies": [
                {
                    "source": copy.source,
                    "url": copy.url,
                    "title": display_text(copy.title) or None,
                    "first_seen": copy.first_seen.isoformat(),
                }
                for copy in hit.copies
            ],
        }
        for hit in hits
    ]
