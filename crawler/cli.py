"""The ``ai4s`` command line: crawl, export, sources, stats and the offline demo.

The outer edge of the application: commands parse their options, call one function of
the crawler or the storage, and print. Nothing imports this module.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from crawler.sources import DEFAULT_SOURCES_FILE, SourcesError, load_sources

app = typer.Typer(
    help="ai4s-monitor: follow news coverage of AI for Science into a deduplicated corpus.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

SourcesOption = Annotated[
    Path | None, typer.Option("--sources", help=f"Sources file (TOML). Default: {DEFAULT_SOURCES_FILE.name} in seeds/.")
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (sqlite:///FILE or postgresql://...). Default: $AI4S_DB, else a SQLite "
        "file in the user's data directory.",
    ),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@app.command()
def crawl(
    sources: SourcesOption = None,
    source: Annotated[list[str], typer.Option("--source", help="Crawl only this source (repeatable).")] = [],  # noqa: B006
    db: DbOption = None,
    setting: Annotated[list[str], typer.Option("-s", "--set", help="Scrapy setting NAME=VALUE (repeatable).")] = [],  # noqa: B006
    log_level: Annotated[
        str, typer.Option(help="Log level of the crawl log (DEBUG, INFO, WARNING, ERROR).")
    ] = "WARNING",
    log_file: Annotated[str | None, typer.Option(help="Write the crawl log to this file instead of stderr.")] = None,
) -> None:
    """Run one crawl of the configured sources and print a summary per source."""
    from crawler.report import CrawlProgress, summary_table
    from crawler.runner import CrawlOptions, parse_setting_overrides, run_crawl

    try:
        overrides = parse_setting_overrides(setting)
        chosen = load_sources(sources, source)
    except (SourcesError, ValueError) as exc:
        raise _fail(str(exc)) from None
    options = CrawlOptions(sources, [s.name for s in chosen], db, overrides, log_level.upper(), log_file)
    with CrawlProgress(errors, [s.name for s in chosen]) as progress:
        report = run_crawl(options, on_progress=progress.update)
    title = f"crawl run {report.run_id}: {report.status}"
    console.print(summary_table(report.counts, title))
    if report.status == "failed":
        raise _fail("the crawl failed: see the log above", code=1)


@app.command()
def export(
    db: DbOption = None,
    format: Annotated[str, typer.Option("--format", help="Output format (jsonl).")] = "jsonl",  # noqa: A002
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file (default: standard output).")] = None,
) -> None:
    """Write every stored article as one JSON object per line."""
    from storage import Database
    from storage.repository import iter_articles

    if format != "jsonl":
        raise _fail(f"unknown format {format!r} (supported: jsonl)")
    stream = out.open("w", encoding="utf-8") if out else sys.stdout
    count = 0
    try:
        with Database(db) as database, database.session() as session:
            for article, source_name in iter_articles(session):
                record = {
                    "url": article.url,
                    "canonical_url": article.canonical_url,
                    "source": source_name,
                    "title": article.title,
                    "text": article.text,
                    "published": article.published.date().isoformat() if article.published else None,
                    "language": article.language,
                    "relevance": None,  # filled once relevance scoring lands (issue 3)
                    "relevant": True,
                    "story_id": article.id,  # each article is its own story until near-duplicates land (issue 4)
                    "first_seen": article.first_seen.isoformat(),
                }
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
    finally:
        if out:
            stream.close()
    if out:
        errors.print(f"{count} articles written to {out}")


@app.command("sources")
def list_sources(sources: SourcesOption = None) -> None:
    """List the configured sources with their feeds, sitemaps, listing pages and schedules."""
    try:
        configured = load_sources(sources)
    except SourcesError as exc:
        raise _fail(str(exc)) from None
    table = Table(title=str(sources or DEFAULT_SOURCES_FILE), title_justify="left")
    for column in ("name", "language", "every", "feeds", "sitemaps", "listing pages", "limits"):
        table.add_column(column)
    for s in configured:
        table.add_row(
            s.name,
            s.language or "",
            s.every,
            "\n".join(s.feeds),
            "\n".join(s.sitemaps),
            "\n".join(s.start_urls),
            f"depth {s.max_depth}, {s.max_pages} pages",
        )
    console.print(table)


@app.command()
def stats(db: DbOption = None) -> None:
    """Print counts of the corpus: articles by source and language, fetched URLs, crawl runs."""
    from crawler.report import stats_table
    from storage import Database
    from storage.repository import corpus_stats

    with Database(db) as database, database.session() as session:
        console.print(stats_table(corpus_stats(session)))
        console.print(f"database: {database.url}", highlight=False)


@app.command()
def demo(
    db: DbOption = None,
    rounds: Annotated[int, typer.Option(help="Crawls to run; the second shows that known articles are skipped.")] = 2,
) -> None:
    """Start a small news web on 127.0.0.1, crawl it into a SQLite file and print the summary (offline)."""
    from crawler.demo import DemoWeb

    workdir = Path(tempfile.mkdtemp(prefix="ai4s-demo-"))
    db_url = db or f"sqlite:///{workdir / 'demo.sqlite3'}"
    with DemoWeb() as web:
        sources_file = workdir / "sources.toml"
        sources_file.write_text(web.sources_toml(), encoding="utf-8")
        console.print(
            f"Demo news web: {len(web.sites)} sites on loopback, "
            f"{web.expected_article_count()} article pages; sources in {sources_file}"
        )
        for round_number in range(1, rounds + 1):
            console.print(f"\n[bold]Crawl {round_number} of {rounds}[/]")
            # Each crawl in its own process: Scrapy's reactor runs once per process.
            result = subprocess.run(
                [sys.executable, "-m", "crawler", "crawl", "--sources", str(sources_file), "--db", db_url],
                check=False,
            )
            if result.returncode != 0:
                raise _fail(f"crawl {round_number} failed (exit {result.returncode})", code=1)
    console.print(f"\nCorpus: {db_url}\nTry: ai4s stats --db {db_url}\n     ai4s export --db {db_url}", highlight=False)


def main() -> None:
    """Entry point of the ``ai4s`` console script."""
    app()
