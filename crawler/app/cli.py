"""The ``ai4s`` command line: crawl, daemon, jobs, digest, export, search, rescore, reprocess, stories,
sources, stats, demo, topics and seeds.

The outer edge of the application: each command parses its options, builds the configuration
(:func:`crawler.config.load_config`) where it needs the sources or the topic profile, calls one
library function, and prints. Only ``python -m crawler`` (and the ``ai4s`` script) imports this module.

Every command runs under :class:`crawler.app.errors.ErrorReportingGroup`: a mistake or a failure ends as
one line on standard error with exit code 2 (usage) or 1 (run time), never a traceback; a command that
reads or writes the corpus opens it through :func:`_corpus`, which names it once on standard error.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer
from rich.console import Console
from rich.markup import escape

from crawler.app.errors import INTERRUPTED, ErrorReportingGroup, report
from crawler.text.wording import plural
from seeds import DEFAULT_LEXICON, DEFAULT_PROFILE, DEFAULT_SOURCES_FILE, SEEDS_DIR

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crawler.config import Config
    from storage import Database

app = typer.Typer(
    cls=ErrorReportingGroup,
    help="ai4s-monitor: follow news coverage of AI for Science into a deduplicated corpus.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _stdout() -> Console:
    """Standard output, as it is when the command runs (terminal or not, its width)."""
    return Console()


def _stderr() -> Console:
    """Standard error, as it is when the command runs."""
    return Console(stderr=True)


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
TopicsOption = Annotated[
    Path | None,
    typer.Option(
        "--topics", "--profile", help="Topic profile (TOML). Default: $AI4S_TOPICS_FILE, else seeds/topics.toml."
    ),
]


BrokerFileOption = Annotated[
    Path | None,
    typer.Option(
        "--broker-file",
        help="File holding the broker URL (redis://:PASSWORD@HOST:PORT/N). Default: $AI4S_BROKER_URL.",
    ),
]
#: ``--broker URL`` is refused: a URL on the command line shows its password to whoever runs ``ps``.
BrokerRefusedOption = Annotated[str | None, typer.Option("--broker", hidden=True)]


def _broker(broker_file: Path | None, refused: str | None, required: bool) -> str | None:
    """The broker URL from ``--broker-file`` or ``$AI4S_BROKER_URL``; exit 2 if ``--broker`` was given, or
    if none is given and one is ``required``."""
    from crawler.cluster.broker import BROKER_ENV, BrokerError, broker_url

    if refused is not None:
        raise _fail(
            f"--broker is refused: a URL on the command line shows its password to anyone who runs ps; "
            f"put it in ${BROKER_ENV} or in a file given with --broker-file"
        )
    try:
        url = broker_url(broker_file)
    except BrokerError as exc:
        raise _fail(str(exc)) from None
    if url is None and required:
        raise _fail(f"no broker: set ${BROKER_ENV} or give --broker-file FILE (a redis:// URL)")
    return url


def _require_postgresql(config: Config) -> None:
    """Exit 2 unless the database is PostgreSQL: a cluster's machines share one database."""
    if not config.db_url.startswith("postgresql"):
        raise _fail(f"a cluster needs a PostgreSQL database (--db postgresql://...), not {config.db_url}")


def _fail(message: str, code: int = 2) -> typer.Exit:
    """The exit of a command that stops on ``message`` (2: a usage mistake; 1: a failure at run time)."""
    return report(message, code)


def _note(line: str) -> None:
    """Print ``line`` on standard error as it is: one line, however narrow the terminal."""
    _stderr().print(line, highlight=False, soft_wrap=True, markup=False)


def _corpus(db: str | None) -> Database:
    """The corpus database at ``db`` (default: the configured one), opened, and named once on standard error
    (:func:`_name_database`)."""
    from storage import Database

    database = Database(db)
    _name_database(database.url, database.created)
    return database


def _refuse_unknown_sources(session: Session, names: Sequence[str]) -> None:
    """Stop with a usage mistake when a ``--source`` names no stored source (the filter would match nothing)."""
    from storage.repository import unknown_sources

    unknown = unknown_sources(session, names)
    if unknown:
        raise _fail(f"--source: no stored source named {', '.join(map(repr, unknown))}")


def _check_corpus(db: str | None) -> None:
    """For a command whose library opens the database itself (crawl, daemon, digest): check that it can be
    opened, before anything starts, and name it once on standard error (:func:`_name_database`)."""
    from storage.db import probe_database

    _name_database(*probe_database(db))


def _name_database(url: str, new: bool) -> None:
    """Say which database the command uses, with a warning when it is new: an empty corpus (a mistyped
    path, or another user's data directory, more often than a wish to start afresh)."""
    from storage.db import display_url

    if new:
        _note(f"warning: new empty database created: {display_url(url)}")
    else:
        _note(f"database: {display_url(url)}")


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
    topics: TopicsOption = None,
) -> None:
    """Run one crawl of the configured sources and print a summary per source."""
    from crawler.app.progress import CrawlProgress
    from crawler.app.tables import summary_table
    from crawler.crawl.runner import run_crawl
    from storage.models import RunStatus

    config = _load_config(db=db, sources_file=sources, source_names=source, topics_file=topics, settings=setting)
    _check_corpus(config.db_url)  # a database that cannot be opened stops the crawl before Scrapy starts
    with CrawlProgress(_stderr(), config.source_names) as progress:
        report = run_crawl(config, log_level=log_level.upper(), log_file=log_file, on_progress=progress.update)
    if report.failure:  # nothing was crawled: no table, the reason
        raise _fail(report.failure, code=1)
    title = f"crawl run {report.run_id}: {report.status}"
    _stdout().print(summary_table(report.counts, title))
    if report.status == RunStatus.FAILED:
        raise _fail(f"the crawl failed: see {log_file or 'the lines above'}", code=1)
    if report.status == RunStatus.INTERRUPTED:  # a script that goes on (ai4s crawl && ai4s digest) must know
        raise _fail("the crawl was interrupted before its end: what it stored is kept", code=INTERRUPTED)


@app.command()
def daemon(
    sources: SourcesOption = None,
    source: Annotated[list[str], typer.Option("--source", help="Schedule only this source (repeatable).")] = [],  # noqa: B006
    db: DbOption = None,
    setting: Annotated[list[str], typer.Option("-s", "--set", help="Scrapy setting NAME=VALUE (repeatable).")] = [],  # noqa: B006
    topics: TopicsOption = None,
    time_limit: Annotated[float, typer.Option(help="Seconds a crawl may run before it is stopped.")] = 3600.0,
    stop_timeout: Annotated[
        float,
        typer.Option(help="Seconds a crawl gets to stop cleanly (SIGTERM, time limit) before it is killed."),
    ] = 30.0,
    max_parallel: Annotated[int, typer.Option(help="Crawls running at once (one process each).")] = 2,
    log_dir: Annotated[
        Path | None, typer.Option(help="Directory of the per-source crawl logs. Default: the user's log directory.")
    ] = None,
    log_level: Annotated[str, typer.Option(help="Log level of the daemon's own log (on stderr).")] = "INFO",
    digest_every: Annotated[
        str, typer.Option(help='Schedule of the digest job ("1d", "12h", a cron expression); "off" for none.')
    ] = "1d",
    digest_dir: Annotated[
        Path | None, typer.Option(help="Where the digests are written. Default: digests/ in the user's data directory.")
    ] = None,
    digest_mail: Annotated[list[str], typer.Option(help="Mail each digest here (repeatable; AI4S_SMTP_*).")] = [],  # noqa: B006
    digest_notify: Annotated[
        list[str], typer.Option(help="Send each digest to this chat service: an Apprise URL (repeatable).")
    ] = [],  # noqa: B006
    digest_settle: Annotated[
        float, typer.Option(help="Seconds of the newest articles a digest leaves to the next (in-flight crawls).")
    ] = 60.0,
    broker_file: BrokerFileOption = None,
    broker: BrokerRefusedOption = None,
) -> None:
    """Crawl every source on its own schedule, until SIGTERM or Ctrl-C (one daemon per database); with a
    broker ($AI4S_BROKER_URL or --broker-file) the crawls go to the cluster's workers."""
    import logging

    from crawler.digest.chat import ChatError
    from crawler.digest.mail import MailError
    from crawler.schedule.daemon import Daemon, DaemonOptions
    from storage.lock import LockHeld

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S"
    )
    options = DaemonOptions(
        time_limit=time_limit,
        stop_timeout=stop_timeout,
        max_parallel=max_parallel,
        log_dir=log_dir,
        digest_every=None if digest_every.strip().lower() in ("off", "none", "") else digest_every,
        digest_dir=digest_dir,
        digest_mail=digest_mail,
        digest_notify=digest_notify,
        digest_settle=digest_settle,
        broker=_broker(broker_file, broker, required=False),
    )
    config = _load_config(db=db, sources_file=sources, source_names=source, topics_file=topics, settings=setting)
    if options.broker is not None:
        _require_postgresql(config)
    _check_corpus(config.db_url)
    try:
        runner = Daemon(config, options)
    except (ValueError, MailError, ChatError) as exc:  # a cron APScheduler refuses, mail without SMTP, a bad chat URL
        raise _fail(str(exc)) from None
    try:
        runner.run()
    except LockHeld as exc:
        raise _fail(f"{exc}; stop it first, or use another --db", code=3) from None
    if runner.failure:  # a service manager restarts a daemon that failed
        raise _fail(runner.failure, code=1)


@app.command()
def worker(
    sources: SourcesOption = None,
    db: DbOption = None,
    setting: Annotated[list[str], typer.Option("-s", "--set", help="Scrapy setting NAME=VALUE (repeatable).")] = [],  # noqa: B006
    topics: TopicsOption = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Crawls running at once (one process each).")] = 1,
    name: Annotated[
        str | None, typer.Option(help="The worker's name (NAME or NAME@HOST). Default: ai4s-PID@HOST.")
    ] = None,
    time_limit: Annotated[float, typer.Option(help="Seconds a crawl may run before it is stopped.")] = 3600.0,
    stop_timeout: Annotated[
        float, typer.Option(help="Seconds a crawl gets to stop cleanly before it is killed.")
    ] = 30.0,
    log_dir: Annotated[
        Path | None, typer.Option(help="Directory of the per-source crawl logs. Default: the user's log directory.")
    ] = None,
    log_level: Annotated[str, typer.Option(help="Log level of the worker's own log (on stderr).")] = "INFO",
    broker_file: BrokerFileOption = None,
    broker: BrokerRefusedOption = None,
) -> None:
    """Run the crawls the daemon sends to the cluster's queue, until SIGTERM (the broker URL from
    $AI4S_BROKER_URL or --broker-file; the database is the daemon's PostgreSQL)."""
    import logging

    from platformdirs import user_log_dir

    from crawler.cluster.worker import WorkerSettings, run_worker
    from storage.db import APP_NAME

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S"
    )
    url = _broker(broker_file, broker, required=True)
    assert url is not None
    config = _load_config(db=db, sources_file=sources, topics_file=topics, settings=setting)
    _require_postgresql(config)
    # a worker that cannot use the database (unreachable, or upgraded by a newer release) must not start: it
    # would take every job of the queue and fail it at once
    _corpus(config.db_url).close()
    settings = WorkerSettings(
        config=config,
        log_dir=log_dir or Path(user_log_dir(APP_NAME)),
        time_limit=time_limit,
        stop_timeout=stop_timeout,
    )
    run_worker(url, settings, concurrency=concurrency, name=name)


@app.command()
def workers(
    db: DbOption = None,
    broker_file: BrokerFileOption = None,
    broker: BrokerRefusedOption = None,
) -> None:
    """Show the cluster: crawls waiting in the queue, each worker's running crawls and last heartbeat, and the
    idle workers (those that answer a ping)."""
    from crawler.app.tables import workers_table
    from crawler.cluster.app import make_app, online_workers, queue_length
    from crawler.cluster.dispatch import HEARTBEAT_STALE
    from storage.cluster import queued_runs

    url = _broker(broker_file, broker, required=True)
    assert url is not None
    app = make_app(url)
    try:
        waiting: int | None = queue_length(app)
        online: list[str] | None = online_workers(app)
    except Exception:  # an unreachable broker: the table says so, the workers' rows still show
        waiting = online = None
    with _corpus(db) as database, database.session() as session:
        runs = queued_runs(session)
    _stdout().print(workers_table(waiting, runs, HEARTBEAT_STALE, online))


@app.command()
def jobs(sources: SourcesOption = None, db: DbOption = None) -> None:
    """Show each source's schedule: interval, next run, last run and health."""
    from crawler.app.tables import jobs_table
    from storage.schedules import all_schedules, job_next_run_times

    config = _load_config(db=db, sources_file=sources, needs=("sources",))
    with _corpus(config.db_url) as database, database.session() as session:
        table = jobs_table(list(config.sources), all_schedules(session), job_next_run_times(session))
    _stdout().print(table)


@app.command()
def digest(
    db: DbOption = None,
    since: Annotated[
        str | None, typer.Option(help='Period start: a duration before now ("24h", "7d") or an ISO date. Default 24h.')
    ] = None,
    since_last: Annotated[
        bool, typer.Option("--since-last", help="From where the last --since-last digest of this --name ended.")
    ] = False,
    name: Annotated[str, typer.Option(help="Digest name: each name keeps its own --since-last mark.")] = "default",
    format: Annotated[str, typer.Option("--format", help="md, html, json or atom.")] = "md",  # noqa: A002
    out: Annotated[Path | None, typer.Option(help="Write to this file (default: standard output).")] = None,
    lang: Annotated[list[str], typer.Option("--lang", help="Only articles in this language (repeatable).")] = [],  # noqa: B006
    source: Annotated[list[str], typer.Option("--source", help="Only articles of this source (repeatable).")] = [],  # noqa: B006
    mail: Annotated[
        list[str], typer.Option("--mail", help="Also send it to this address (repeatable; AI4S_SMTP_*).")
    ] = [],  # noqa: B006
    notify: Annotated[
        list[str],
        typer.Option("--notify", help="Also send it to this chat service: an Apprise URL (repeatable)."),
    ] = [],  # noqa: B006
    replay_id: Annotated[int | None, typer.Option("--replay", help="Render delivered digest ID again.")] = None,
) -> None:
    """What is new in AI for Science: one entry per story, with its outlets and why it matched."""
    from crawler.digest.chat import ChatError
    from crawler.digest.delivery import DigestRefused, DigestRequest, deliver_digest, describe_delivery
    from crawler.digest.mail import MailError
    from storage.lock import LockHeld

    request = DigestRequest(
        name=name, since=since, since_last=since_last, languages=lang, sources=source,
        formats=[format], out=out, mail_to=mail, notify=notify,
    )  # fmt: skip
    _check_corpus(db)
    try:
        delivery = deliver_digest(db, request, sys.stdout, replay_id=replay_id)
    except DigestRefused as exc:
        raise _fail(str(exc)) from None
    except (ValueError, MailError, ChatError, OSError, LockHeld) as exc:
        raise _fail(str(exc), code=1) from None
    if delivery is not None:
        _stderr().print(describe_delivery(delivery, request), highlight=False)


@app.command()
def export(
    db: DbOption = None,
    format: Annotated[str, typer.Option("--format", help="Output format (jsonl).")] = "jsonl",  # noqa: A002
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file (default: standard output).")] = None,
    all_articles: Annotated[bool, typer.Option("--all", help="Include the articles scored off-topic.")] = False,
) -> None:
    """Write every stored on-topic article (or all, with --all) as one JSON object per line."""
    from crawler.corpus.export import EXPORT_FORMATS, export_jsonl

    if format not in EXPORT_FORMATS:
        raise _fail(f"unknown format {format!r} (supported: {', '.join(EXPORT_FORMATS)})")
    with _output(out) as stream, _corpus(db) as database:
        count = export_jsonl(database, stream, include_off_topic=all_articles)
    if count == 0:
        which = "no article" if all_articles else "no on-topic article (--all exports the off-topic ones too)"
        _note(f"nothing exported: the database holds {which}")
    elif out:
        _stderr().print(f"{plural(count, 'article')} written to {out}")


#: The output formats of ``ai4s search``.
SEARCH_FORMATS = ("table", "json", "jsonl")


@app.command()
def search(
    query: Annotated[
        str | None, typer.Argument(help='Words that must all occur (a "quoted phrase" as one), any script.')
    ] = None,
    db: DbOption = None,
    since: Annotated[
        str | None,
        typer.Option(help='Only articles first seen since then: a duration before now ("7d") or an ISO date.'),
    ] = None,
    source: Annotated[list[str], typer.Option("--source", help="Only articles of this source (repeatable).")] = [],  # noqa: B006
    lang: Annotated[list[str], typer.Option("--lang", help="Only articles in this language (repeatable).")] = [],  # noqa: B006
    all_articles: Annotated[bool, typer.Option("--all", help="Include the articles scored off-topic.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="How many stories.")] = 20,
    format: Annotated[str, typer.Option("--format", help="table, json or jsonl.")] = "table",  # noqa: A002
    reindex: Annotated[
        bool, typer.Option("--reindex", help="Fill the search index again from every stored article, then stop.")
    ] = False,
) -> None:
    """Search the stored articles: the best-matching stories first, one per story, with its copies."""
    from datetime import UTC, datetime

    from crawler.app.tables import search_records, search_table
    from crawler.digest.delivery import parse_since
    from storage.search import reindex_articles, search_stories

    if reindex:
        with _corpus(db) as database, database.engine.begin() as connection:
            indexed = reindex_articles(connection)
        _stdout().print(f"search index filled again: {plural(indexed, 'article')}")
        return
    if query is None:
        raise _fail("search needs a QUERY (or --reindex)")
    if format not in SEARCH_FORMATS:
        raise _fail(f"unknown format {format!r} (supported: {', '.join(SEARCH_FORMATS)})")
    try:
        since_moment = parse_since(since, datetime.now(UTC)) if since else None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    with _corpus(db) as database, database.session() as session:
        _refuse_unknown_sources(session, source)
        hits = search_stories(
            session, query, since=since_moment, sources=source, languages=lang,
            include_off_topic=all_articles, limit=limit,
        )  # fmt: skip
    if format == "table":
        _stdout().print(search_table(query, hits))
        return
    import json

    records = search_records(hits)
    if format == "json":
        sys.stdout.write(json.dumps(records, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


@app.command()
def rescore(db: DbOption = None, profile: TopicsOption = None) -> None:
    """Score every stored article again against the topic profile (after it changed)."""
    from crawler.corpus.rescore import rescore_articles
    from crawler.relevance.profile import RelevanceScorer

    config = _load_config(db=db, topics_file=profile, needs=("profile",))
    with _corpus(config.db_url) as database:
        counts = rescore_articles(database, RelevanceScorer(config.profile))
    _stdout().print(str(counts))


@app.command()
def reprocess(
    db: DbOption = None,
    source: Annotated[list[str], typer.Option("--source", help="Only articles of this source (repeatable).")] = [],  # noqa: B006
    since: Annotated[
        str | None,
        typer.Option(help='Only articles first seen since then: a duration before now ("7d") or an ISO date.'),
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="Articles per transaction.")] = 200,
    workers: Annotated[int, typer.Option(min=0, help="Extraction processes (0: one per core).")] = 0,
    topics: TopicsOption = None,
) -> None:
    """Extract, clean, score and group again the stored articles from their kept pages (after the
    extractor, the cleaning or the topic profile improved); articles stored without a page are left as
    they are. One transaction per batch: interrupted, it keeps what it did, and can be run again."""
    from datetime import UTC, datetime

    from crawler.app.progress import ReprocessProgress
    from crawler.app.tables import reprocess_table
    from crawler.corpus.reprocess import UnknownSource, reprocess_articles
    from crawler.digest.delivery import parse_since
    from crawler.relevance.profile import RelevanceScorer

    config = _load_config(db=db, topics_file=topics, needs=("profile",))
    try:
        since_moment = parse_since(since, datetime.now(UTC)) if since else None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    scorer = RelevanceScorer(config.profile)
    with _corpus(config.db_url) as database, ReprocessProgress(_stderr()) as progress:
        try:
            report = reprocess_articles(
                database, scorer, source, since_moment, batch=batch, workers=workers, on_progress=progress.update
            )
        except UnknownSource as exc:
            raise _fail(str(exc)) from None
    _stdout().print(reprocess_table(report))


stories_app = typer.Typer(help="Stories: the copies of one piece of news grouped together.")
app.add_typer(stories_app, name="stories")


@stories_app.callback(invoke_without_command=True)
def stories(
    context: typer.Context,
    db: DbOption = None,
    limit: Annotated[int, typer.Option(help="How many stories.")] = 20,
    all_articles: Annotated[bool, typer.Option("--all", help="Include off-topic stories.")] = False,
) -> None:
    """List the most recent stories with their number of copies and outlets."""
    if context.invoked_subcommand is not None:
        return
    from crawler.app.tables import stories_table
    from storage.stories import recent_stories

    with _corpus(db) as database, database.session() as session:
        found = recent_stories(session, limit=limit, include_off_topic=all_articles)
    _stdout().print(stories_table(found))


@stories_app.command("rebuild")
def stories_rebuild(db: DbOption = None) -> None:
    """Group every stored article into stories again (after an upgrade from a release without
    stories, or a change of the near-duplicate thresholds); atomic: a crash keeps the old stories."""
    from crawler.stories.assign import rebuild_stories

    with _corpus(db) as database:
        report = rebuild_stories(
            database, on_progress=lambda stage, n: _stderr().print(f"{stage}: {plural(n, 'article')}")
        )
    _stdout().print(
        f"{plural(report.articles, 'article')} in {plural(report.stories, 'story')} "
        f"({plural(report.copies, 'copy')} joined an earlier story); {plural(report.fingerprinted, 'article')} "
        "fingerprinted now"
    )


sources_app = typer.Typer(help="The sources: the outlets crawled, where they announce new articles, how that fares.")
app.add_typer(sources_app, name="sources")


@sources_app.callback(invoke_without_command=True)
def list_sources(context: typer.Context, sources: SourcesOption = None) -> None:
    """List the configured sources with their feeds, sitemaps, listing pages and schedules."""
    if context.invoked_subcommand is not None:
        return
    from crawler.app.tables import sources_table

    config = _load_config(sources_file=sources, needs=("sources",))
    _stdout().print(sources_table(config.sources, config.sources_file))


@sources_app.command("discover")
def sources_discover(
    urls: Annotated[list[str], typer.Argument(help="An outlet's home page, a section page or an article URL.")],
    sources: SourcesOption = None,
    write: Annotated[bool, typer.Option(help="Add the source to the sources file (comments kept).")] = False,
    name: Annotated[str | None, typer.Option(help="The source's name (default: from the site's host).")] = None,
) -> None:
    """Find and check an outlet's feeds, sitemaps and listing pages; print its source table (TOML), or add it."""
    from crawler.discover.outlet import describe_report, discover_outlet
    from crawler.discover.sourcefile import add_source, source_block
    from crawler.sources import SourcesError

    if name is not None and len(urls) > 1:
        raise _fail(f"--name names one source, and {len(urls)} URLs were given: discover them one at a time")
    path = _load_config(sources_file=sources, needs=()).sources_file
    unusable = 0
    for url in urls:
        report = discover_outlet(url)
        for line in describe_report(report):
            _stderr().print(escape(line), highlight=False, soft_wrap=True)
        if not report.usable:
            unusable += 1
            continue
        if not write:
            print(source_block(report, name))
            continue
        try:
            added = add_source(path, report, name)
        except SourcesError as exc:
            raise _fail(str(exc)) from None
        _stdout().print(f"added source {added!r} to {path}", highlight=False, soft_wrap=True)
    if unusable:
        raise typer.Exit(1)


@sources_app.command("check")
def sources_check(
    db: DbOption = None,
    source: Annotated[list[str], typer.Option("--source", help="Only this source (repeatable).")] = [],  # noqa: B006
) -> None:
    """Show how each entry point of the sources fares (from the crawls so far); flag dead and stale ones, with a fix."""
    from crawler.app.tables import entry_health_table
    from storage.entry_health import entry_health
    from storage.templates import source_templates

    with _corpus(db) as database, database.session() as session:
        _refuse_unknown_sources(session, source)
        entries = entry_health(session, source or None)
        templates = {t.source: t.template_blocks for t in source_templates(session, samples=0)}
    if not entries:
        raise _fail("no entry point polled yet" + (f" for {', '.join(source)}" if source else "") + ": run a crawl")
    _stdout().print(entry_health_table(entries, templates))


@app.command()
def stats(db: DbOption = None) -> None:
    """Print counts of the corpus: articles by source and language, fetched URLs, crawl runs; the sources
    silent for longer than their usual gap between articles."""
    from crawler.app.tables import health_table, silent_table, stats_table
    from storage.entry_health import silent_sources
    from storage.repository import corpus_stats
    from storage.schedules import all_schedules

    with _corpus(db) as database, database.session() as session:
        _stdout().print(stats_table(corpus_stats(session)))
        schedules = all_schedules(session)
        if schedules:
            _stdout().print(health_table(schedules))
        silent = silent_sources(session)
        if silent:
            _stdout().print(silent_table(silent))


@app.command()
def demo(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL. Default: demo/corpus.sqlite3 in the user's data directory, replaced by each demo.",
        ),
    ] = None,
    rounds: Annotated[int, typer.Option(help="Crawls to run; the second shows that known articles are skipped.")] = 2,
    serve: Annotated[
        bool, typer.Option("--serve", help="Keep the demo web running after the crawls (until Ctrl-C): links work.")
    ] = False,
) -> None:
    """Start a small news web on 127.0.0.1, crawl it into a SQLite file that is kept, and print the summary
    and the commands to try on it (offline)."""
    import shlex

    from crawler.app.demo import DemoError, DemoWeb, run_demo, serve_until_interrupted
    from storage.db import display_url

    def serving(web: DemoWeb, sources_file: Path) -> None:
        _stdout().print(
            f"Demo news web: {plural(len(web.sites), 'site')} on loopback, "
            f"{plural(web.expected_article_count(), 'article page')}; sources in {sources_file}"
        )

    def round_starts(number: int) -> None:
        _stdout().print(f"\n[bold]Crawl {number} of {rounds}[/]")

    def done(web: DemoWeb, db_url: str) -> None:
        option = f"--db {shlex.quote(display_url(db_url))}"
        tries = ["stats", "stories", "digest", "digest --format html --out demo-digest.html", "export"]
        lines = [f"\nCorpus (kept): {display_url(db_url)}\nTry:", *(f"  ai4s {command} {option}" for command in tries)]
        if serve:
            home = ", ".join(site.base_url for site in web.sites.values())
            lines.append(f"The demo web keeps serving ({home}) so that the digest's links work: Ctrl-C to stop.")
        else:
            lines.append("The digest links to the demo web, gone now: `ai4s demo --serve` keeps it running.")
        _stdout().print("\n".join(lines), highlight=False, markup=False, soft_wrap=True)
        sys.stdout.flush()  # the hints are read while the web serves
        if serve:
            serve_until_interrupted()

    try:
        run_demo(db, rounds, on_ready=serving, on_round=round_starts, on_done=done)
    except DemoError as exc:
        raise _fail(str(exc), code=1) from None


topics_app = typer.Typer(
    help="The topic profile: build it from the seeds, evaluate it on labelled texts.", no_args_is_help=True
)
seeds_app = typer.Typer(help="The seed articles that define the topic.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(seeds_app, name="seeds")

#: In a source checkout, the labelled texts of the test corpus beside the project (an installed
#: package has none: ``topics eval`` then asks for ``--labelled``).
DEFAULT_LABELLED = SEEDS_DIR.parent.parent / "shared" / "corpus" / "relevance"


@topics_app.command("build")
def topics_build(
    seeds: Annotated[Path, typer.Option(help="Folder of seed articles (*.txt).")] = SEEDS_DIR,
    lexicon: Annotated[Path, typer.Option(help="Curated lexicon (TOML).")] = DEFAULT_LEXICON,
    background: Annotated[
        Path | None, typer.Option(help="Folder of ordinary news (*.txt, or *.json with a body) to contrast with.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the profile.")] = DEFAULT_PROFILE,
    top: Annotated[int, typer.Option(help="How many distinctive seed terms to keep.")] = 60,
) -> None:
    """Derive the topic profile from the seed articles and the curated lexicon."""
    from crawler.relevance.build import background_texts, facet_counts, write_profile
    from crawler.relevance.profile import TopicsError

    texts = list(background_texts(background)) if background else []
    if not texts:
        _stderr().print("warning: no background texts: seed terms are ranked by frequency alone (use --background)")
    try:
        profile = write_profile(seeds, lexicon, texts, out, top=top)
    except TopicsError as exc:
        raise _fail(str(exc)) from None
    facets = ", ".join(f"{facet} {count}" for facet, count in facet_counts(profile).items())
    _stdout().print(f"{out}: {len(profile.terms)} terms ({facets})")


@topics_app.command("eval")
def topics_eval(
    profile: TopicsOption = None,
    labelled: Annotated[Path, typer.Option(help="Folder of labelled texts (JSON).")] = DEFAULT_LABELLED,
    calibrate: Annotated[bool, typer.Option(help="Choose the threshold on the tuning part.")] = False,
    write: Annotated[bool, typer.Option(help="With --calibrate: save the threshold in the profile.")] = False,
) -> None:
    """Precision, recall and F1 per language, on the tuning part and on the held-out part."""
    from crawler.app.tables import evaluation_table
    from crawler.relevance.evaluate import evaluate_profile

    if not labelled.is_dir():
        default = " (the default: the test corpus beside a source checkout)" if labelled == DEFAULT_LABELLED else ""
        raise _fail(f"no folder of labelled texts at {labelled}{default}: give one with --labelled DIR")
    try:
        evaluation = evaluate_profile(profile or DEFAULT_PROFILE, labelled, calibrate=calibrate, write=write)
    except ValueError as exc:  # TopicsError, or no labelled texts
        raise _fail(str(exc)) from None
    calibration = evaluation.calibration
    if calibration is not None:
        _stdout().print(
            f"threshold calibrated on the tuning part: {calibration.threshold} (was {calibration.previous})"
        )
        if calibration.bias is not None:
            before, after = calibration.bias
            _stdout().print(f"saved in {evaluation.path}: bias {before} -> {after}, threshold {evaluation.threshold}")
    _stdout().print(evaluation_table(evaluation))
    for text, score in evaluation.wrong:
        label = "relevant" if text.relevant else "negative"
        _stdout().print(
            f"  wrong: {text.id} ({label}, {text.kind}) scored {score:.3f}: {text.title[:60]}", highlight=False
        )


@seeds_app.command("add")
def seeds_add(
    source: Annotated[str, typer.Argument(help="A text file, or an http(s) URL of an article page.")],
    seeds: Annotated[Path, typer.Option(help="Folder of seed articles.")] = SEEDS_DIR,
    sources: SourcesOption = None,
    discover: Annotated[
        bool, typer.Option(help="Discover the seed's outlet now (when its home page is known) and print its source.")
    ] = False,
) -> None:
    """Add a seed article (a text file, or the article text of a web page); then run `ai4s topics build`.
    The outlet it came from is proposed as a source."""
    from crawler.discover.outlet import describe_report, discover_outlet
    from crawler.discover.seeds import propose_outlets
    from crawler.discover.sourcefile import source_block
    from crawler.seed_articles import SeedError, add_seed

    try:
        target = add_seed(source, seeds)
    except SeedError as exc:
        raise _fail(str(exc)) from None
    _stdout().print(f"added {target}; now run: ai4s topics build --background DIR")
    try:
        followed = _load_config(sources_file=sources, needs=()).sources
    except ValueError:  # a broken sources file does not stop a seed; nothing is known to be followed then
        followed = ()
    for proposal in propose_outlets(source, target.read_text(encoding="utf-8"), followed):
        _stdout().print(f"outlet: {proposal.advice()}", highlight=False, soft_wrap=True)
        if discover and proposal.home is not None and proposal.followed_by is None:
            report = discover_outlet(proposal.home)
            for line in describe_report(report):
                _stderr().print(escape(line), highlight=False, soft_wrap=True)
            if report.usable:
                print(source_block(report))


def _load_config(
    db: str | None = None,
    sources_file: Path | None = None,
    topics_file: Path | None = None,
    source_names: Sequence[str] = (),
    settings: Sequence[str] = (),
    needs: Collection[str] = ("sources", "profile"),
) -> Config:
    """The configuration of a command (:func:`crawler.config.load_config`, with the ``-s NAME=VALUE``
    ``settings``), checked for what it ``needs``; exit 2 with the message if it is wrong."""
    from crawler.config import load_config, parse_setting_overrides

    try:
        overrides = parse_setting_overrides(settings)
        return load_config(
            db=db,
            sources_file=sources_file,
            topics_file=topics_file,
            source_names=source_names,
            settings=overrides,
            needs=needs,
        )
    except ValueError as exc:  # SourcesError, TopicsError, ConfigError: ValueErrors with a clear message
        raise _fail(str(exc)) from None


@contextmanager
def _output(out: Path | None) -> Iterator[TextIO]:
    """``out`` opened for writing (closed after the block), or standard output when it is ``None``."""
    if out is None:
        yield sys.stdout
        return
    with out.open("w", encoding="utf-8") as stream:
        yield stream


def main() -> None:
    """Entry point of the ``ai4s`` console script."""
    app()
