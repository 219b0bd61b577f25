"""The ``ai4s`` command line: crawl, daemon, jobs, export, sources, stats and the offline demo.

The outer edge of the application: commands parse their options, call one function of
the crawler or the storage, and print. Nothing imports this module.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from crawler.sources import SourcesError, load_sources
from seeds import DEFAULT_LEXICON, DEFAULT_SOURCES_FILE, SEEDS_DIR

if TYPE_CHECKING:
    from crawler.relevance.profile import TopicProfile

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
ProfileOption = Annotated[
    Path | None, typer.Option("--profile", help="Topic profile (TOML). Default: seeds/topics.toml.")
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
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
    topics: Annotated[Path | None, typer.Option(help="Topic profile (TOML). Default: seeds/topics.toml.")] = None,
) -> None:
    """Run one crawl of the configured sources and print a summary per source."""
    from crawler.app.report import CrawlProgress, summary_table
    from crawler.config import load_config, parse_setting_overrides
    from crawler.crawl.runner import run_crawl

    try:
        overrides = parse_setting_overrides(setting)
        config = load_config(db=db, sources_file=sources, source_names=source, topics_file=topics, settings=overrides)
    except ValueError as exc:  # SourcesError, TopicsError and ConfigError are ValueErrors with a clear message
        raise _fail(str(exc)) from None
    with CrawlProgress(errors, config.source_names) as progress:
        report = run_crawl(config, log_level=log_level.upper(), log_file=log_file, on_progress=progress.update)
    title = f"crawl run {report.run_id}: {report.status}"
    console.print(summary_table(report.counts, title))
    if report.status == "failed":
        raise _fail("the crawl failed: see the log above", code=1)


@app.command()
def daemon(
    sources: SourcesOption = None,
    source: Annotated[list[str], typer.Option("--source", help="Schedule only this source (repeatable).")] = [],  # noqa: B006
    db: DbOption = None,
    setting: Annotated[list[str], typer.Option("-s", "--set", help="Scrapy setting NAME=VALUE (repeatable).")] = [],  # noqa: B006
    topics: Annotated[Path | None, typer.Option(help="Topic profile (TOML). Default: seeds/topics.toml.")] = None,
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
    digest_settle: Annotated[
        float, typer.Option(help="Seconds of the newest articles a digest leaves to the next (in-flight crawls).")
    ] = 60.0,
) -> None:
    """Crawl every source on its own schedule, until SIGTERM or Ctrl-C (one daemon per database)."""
    import logging

    from crawler.config import parse_setting_overrides
    from crawler.digest.mail import MailError
    from crawler.schedule.daemon import Daemon, DaemonOptions
    from storage.lock import LockHeld

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S"
    )
    try:
        options = DaemonOptions(
            sources_file=sources,
            source_names=source,
            db_url=db,
            topics_file=topics,
            settings=parse_setting_overrides(setting),
            time_limit=time_limit,
            stop_timeout=stop_timeout,
            max_parallel=max_parallel,
            log_dir=log_dir,
            digest_every=None if digest_every.strip().lower() in ("off", "none", "") else digest_every,
            digest_dir=digest_dir,
            digest_mail=digest_mail,
            digest_settle=digest_settle,
        )
        runner = Daemon(options)
    except (ValueError, MailError) as exc:  # SourcesError, TopicsError: ValueErrors with a clear message
        raise _fail(str(exc)) from None
    try:
        runner.run()
    except LockHeld as exc:
        raise _fail(f"{exc}; stop it first, or use another --db", code=3) from None


@app.command()
def jobs(sources: SourcesOption = None, db: DbOption = None) -> None:
    """Show each source's schedule: interval, next run, last run and health."""
    from crawler.app.report import jobs_table
    from storage import Database
    from storage.schedules import all_schedules, job_next_run_times

    try:
        configured = load_sources(sources)
    except SourcesError as exc:
        raise _fail(str(exc)) from None
    with Database(db) as database, database.session() as session:
        table = jobs_table(configured, all_schedules(session), job_next_run_times(session))
    console.print(table)


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
    replay_id: Annotated[int | None, typer.Option("--replay", help="Render delivered digest ID again.")] = None,
) -> None:
    """What is new in AI for Science: one entry per story, with its outlets and why it matched."""
    from crawler.digest.delivery import DigestRequest, make_digest, replay
    from crawler.digest.mail import MailError
    from crawler.digest.render import FORMATS, render
    from storage import Database
    from storage.lock import LockHeld

    if format not in FORMATS:
        raise _fail(f"unknown format {format!r} (supported: {', '.join(FORMATS)})")
    if since and since_last:
        raise _fail("--since and --since-last exclude each other")
    with Database(db) as database:
        if replay_id is not None:
            try:
                text = render(replay(database, replay_id), format)
            except LookupError as exc:
                raise _fail(str(exc)) from None
            _emit(text, out)
            return
        request = DigestRequest(
            name=name, since=since or "24h", since_last=since_last, languages=lang, sources=source,
            formats=[format], out=out, mail_to=mail,
        )  # fmt: skip

        def to_stdout(rendered: dict[str, str]) -> None:
            sys.stdout.write(rendered[format])
            sys.stdout.flush()  # written before the digest is recorded as delivered

        try:
            delivery = make_digest(database, request, emit=None if out else to_stdout)
        except (ValueError, MailError, OSError, LockHeld) as exc:
            raise _fail(str(exc), code=1) from None
    counts, period = delivery.digest["counts"], delivery.digest["period"]
    where = f"; written to {out}" if out else ""
    mailed = f"; mailed to {', '.join(mail)}" if mail else ""
    errors.print(
        f"digest {delivery.run_id} ({name}): {counts['stories']} stories ({counts['new_stories']} new, "
        f"{counts['grown_stories']} grown), {period['since']} – {period['until']}{where}{mailed}",
        highlight=False,
    )


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


@app.command()
def export(
    db: DbOption = None,
    format: Annotated[str, typer.Option("--format", help="Output format (jsonl).")] = "jsonl",  # noqa: A002
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file (default: standard output).")] = None,
    all_articles: Annotated[bool, typer.Option("--all", help="Include the articles scored off-topic.")] = False,
) -> None:
    """Write every stored on-topic article (or all, with --all) as one JSON object per line."""
    from storage import Database
    from storage.repository import iter_articles

    if format != "jsonl":
        raise _fail(f"unknown format {format!r} (supported: jsonl)")
    stream = out.open("w", encoding="utf-8") if out else sys.stdout
    count = 0
    try:
        with Database(db) as database, database.session() as session:
            for article, source_name in iter_articles(session, include_off_topic=all_articles):
                record = {
                    "url": article.url,
                    "canonical_url": article.canonical_url,
                    "source": source_name,
                    "title": article.title,
                    "text": article.text,
                    "published": article.published.date().isoformat() if article.published else None,
                    "language": article.language,
                    "relevance": article.relevance,
                    "relevant": article.relevant,
                    "story_id": article.story_id,
                    "first_seen": article.first_seen.isoformat(),
                }
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
    finally:
        if out:
            stream.close()
    if out:
        errors.print(f"{count} articles written to {out}")


@app.command()
def rescore(db: DbOption = None, profile: ProfileOption = None) -> None:
    """Score every stored article again against the topic profile (after it changed)."""
    from crawler.relevance.profile import RelevanceScorer, TopicsError, load_profile
    from storage import Database
    from storage.repository import articles_after, update_relevance

    try:
        scorer = RelevanceScorer(load_profile(profile))
    except TopicsError as exc:
        raise _fail(str(exc)) from None
    counts = {"scored": 0, "now relevant": 0, "now off-topic": 0}
    with Database(db) as database:
        last_id = 0
        while True:
            with database.session() as session:
                batch = articles_after(session, last_id)
            if not batch:
                break
            with database.session() as session, session.begin():
                for article_id, title, text in batch:
                    result = scorer.score(title, text)
                    evidence = json.dumps(result.evidence(), ensure_ascii=False)
                    update_relevance(session, article_id, result.score, result.relevant, evidence)
                    counts["scored"] += 1
                    counts["now relevant" if result.relevant else "now off-topic"] += 1
            last_id = batch[-1][0]
    console.print(", ".join(f"{value} {name}" for name, value in counts.items()))


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
    from storage import Database
    from storage.stories import recent_stories

    with Database(db) as database, database.session() as session:
        found = recent_stories(session, limit=limit, include_off_topic=all_articles)
    table = Table(title=f"{len(found)} most recent stories", title_justify="left")
    for column in ("story", "headline (representative copy)", "copies", "outlets", "first seen", "last seen"):
        table.add_column(column, justify="right" if column in ("story", "copies") else "left")
    for story in found:
        head = story.representative
        table.add_row(
            str(story.id),
            f"{head.title or head.url}\n{head.url}",
            str(len(story.copies)),
            ", ".join(story.outlets),
            story.first_seen.strftime("%Y-%m-%d %H:%M"),
            story.last_seen.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@stories_app.command("rebuild")
def stories_rebuild(db: DbOption = None) -> None:
    """Group every stored article into stories again (after an upgrade from a release without
    stories, or a change of the near-duplicate thresholds); atomic: a crash keeps the old stories."""
    from crawler.stories.assign import rebuild_stories
    from storage import Database

    with Database(db) as database:
        report = rebuild_stories(database, on_progress=lambda stage, n: errors.print(f"{stage}: {n} articles"))
    console.print(
        f"{report.articles} articles in {report.stories} stories ({report.copies} copies joined an earlier story); "
        f"{report.fingerprinted} articles fingerprinted now"
    )


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
    from crawler.app.report import health_table, stats_table
    from storage import Database
    from storage.repository import corpus_stats
    from storage.schedules import all_schedules

    with Database(db) as database, database.session() as session:
        console.print(stats_table(corpus_stats(session)))
        schedules = all_schedules(session)
        if schedules:
            console.print(health_table(schedules))
        console.print(f"database: {database.url}", highlight=False)


@app.command()
def demo(
    db: DbOption = None,
    rounds: Annotated[int, typer.Option(help="Crawls to run; the second shows that known articles are skipped.")] = 2,
) -> None:
    """Start a small news web on 127.0.0.1, crawl it into a SQLite file and print the summary (offline)."""
    from crawler.app.demo import DemoWeb

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


topics_app = typer.Typer(
    help="The topic profile: build it from the seeds, evaluate it on labelled texts.", no_args_is_help=True
)
seeds_app = typer.Typer(help="The seed articles that define the topic.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(seeds_app, name="seeds")

#: In a source checkout, the labelled texts of the test corpus beside the project.
DEFAULT_LABELLED = SEEDS_DIR.parent.parent / "shared" / "corpus" / "relevance"


@topics_app.command("build")
def topics_build(
    seeds: Annotated[Path, typer.Option(help="Folder of seed articles (*.txt).")] = SEEDS_DIR,
    lexicon: Annotated[Path, typer.Option(help="Curated lexicon (TOML).")] = DEFAULT_LEXICON,
    background: Annotated[
        Path | None, typer.Option(help="Folder of ordinary news (*.txt, or *.json with a body) to contrast with.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the profile.")] = SEEDS_DIR / "topics.toml",
    top: Annotated[int, typer.Option(help="How many distinctive seed terms to keep.")] = 60,
) -> None:
    """Derive the topic profile from the seed articles and the curated lexicon."""
    from crawler.relevance.build import background_texts, build_profile, seed_files
    from crawler.relevance.profile import TopicsError, dump_profile, load_profile

    texts = list(background_texts(background)) if background else []
    if not texts:
        errors.print("warning: no background texts: seed terms are ranked by frequency alone (use --background)")
    try:
        scoring = load_profile(out).scoring if out.exists() else None
        profile = build_profile(seeds, lexicon, texts, scoring=scoring, top=top)
    except TopicsError as exc:
        raise _fail(str(exc)) from None
    names = ", ".join(p.name for p in seed_files(seeds))
    header = (
        "Topic profile of ai4s-monitor: what counts as coverage of AI for Science.\n"
        "Built by `ai4s topics build` from the curated lexicon (seeds/lexicon.toml) and the terms that the\n"
        f"seed articles use far more than ordinary news ({len(texts)} background texts): {names}.\n"
        "Review changes in git; edit the lexicon or add seeds (`ai4s seeds add`) and rebuild. The [scoring]\n"
        "table is kept across rebuilds; `ai4s topics eval --calibrate --write` sets the threshold.\n"
        "Each [[term]]: text (normalised: simplified Chinese, lower case), facet, weight, origin."
    )
    out.write_text(dump_profile(profile, header), encoding="utf-8")
    by_facet: dict[str, int] = {}
    for term in profile.terms:
        by_facet[term.facet] = by_facet.get(term.facet, 0) + 1
    console.print(f"{out}: {len(profile.terms)} terms ({', '.join(f'{k} {v}' for k, v in by_facet.items())})")


@topics_app.command("eval")
def topics_eval(
    profile: ProfileOption = None,
    labelled: Annotated[Path, typer.Option(help="Folder of labelled texts (JSON).")] = DEFAULT_LABELLED,
    calibrate: Annotated[bool, typer.Option(help="Choose the threshold on the tuning part.")] = False,
    write: Annotated[bool, typer.Option(help="With --calibrate: save the threshold in the profile.")] = False,
) -> None:
    """Precision, recall and F1 per language, on the tuning part and on the held-out part."""
    from dataclasses import replace

    from crawler.relevance.evaluate import calibrate_threshold, evaluate, is_held_out, load_labelled, score_all
    from crawler.relevance.profile import DEFAULT_PROFILE, RelevanceScorer, TopicProfile, TopicsError, load_profile

    path = profile or DEFAULT_PROFILE
    try:
        loaded = load_profile(path)
    except TopicsError as exc:
        raise _fail(str(exc)) from None
    texts = load_labelled(labelled) if labelled.is_dir() else []
    if not texts:
        raise _fail(f"no labelled texts (*.json) in {labelled}")
    scored = score_all(RelevanceScorer(loaded), texts)
    tuning = [(t, s) for t, s in scored if not is_held_out(t.id)]
    threshold = loaded.scoring.threshold
    if calibrate:
        threshold = calibrate_threshold(tuning)
        console.print(f"threshold calibrated on the tuning part: {threshold} (was {loaded.scoring.threshold})")
        if write:
            # Saved as a shift of the bias, so that a score of 0.5 is the decision boundary.
            import math

            shift = math.log(threshold / (1 - threshold))
            scoring = replace(loaded.scoring, bias=round(loaded.scoring.bias - shift, 3), threshold=0.5)
            _rewrite_profile(path, TopicProfile(loaded.terms, scoring))
            console.print(f"saved in {path}: bias {loaded.scoring.bias} -> {scoring.bias}, threshold 0.5")
            loaded, threshold = load_profile(path), 0.5
            scored = score_all(RelevanceScorer(loaded), texts)
            tuning = [(t, s) for t, s in scored if not is_held_out(t.id)]
    table = Table(title=f"relevance at threshold {threshold}", title_justify="left")
    for column in ("part", "language", "texts", "precision", "recall", "F1", "false +", "false -"):
        table.add_column(column, justify="right" if column not in ("part", "language") else "left")
    parts = [("tuning", tuning), ("held out", [(t, s) for t, s in scored if is_held_out(t.id)]), ("all", scored)]
    for part, items in parts:
        for row in evaluate([(t, s >= threshold) for t, s in items]):
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
    console.print(table)
    wrong = [(t, s) for t, s in scored if (s >= threshold) != t.relevant]
    for text, score in sorted(wrong, key=lambda item: item[0].id):
        label = "relevant" if text.relevant else "negative"
        console.print(
            f"  wrong: {text.id} ({label}, {text.kind}) scored {score:.3f}: {text.title[:60]}", highlight=False
        )


def _rewrite_profile(path: Path, profile: TopicProfile) -> None:
    """Write ``profile`` back to ``path``, keeping the file's leading comment block."""
    from crawler.relevance.profile import dump_profile

    lines = path.read_text(encoding="utf-8").splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line[1:].strip())
    path.write_text(dump_profile(profile, "\n".join(header)), encoding="utf-8")


@seeds_app.command("add")
def seeds_add(
    source: Annotated[str, typer.Argument(help="A text file, or an http(s) URL of an article page.")],
    seeds: Annotated[Path, typer.Option(help="Folder of seed articles.")] = SEEDS_DIR,
) -> None:
    """Add a seed article (a text file, or the article text of a web page); then run `ai4s topics build`."""
    import hashlib
    import urllib.request

    from crawler.relevance.build import seed_files
    from crawler.text.extract import ExtractedArticle, extract_article
    from crawler.text.urls import is_http_url

    if is_http_url(source):
        request = urllib.request.Request(source, headers={"User-Agent": "ai4s-monitor/0.1 (seed fetch)"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - http(s) checked above
                body, content_type = response.read(10 * 1024 * 1024), response.headers.get("Content-Type")
                charset = response.headers.get_content_charset()
        except OSError as exc:
            raise _fail(f"cannot fetch {source}: {exc}") from None
        result = extract_article(body, source, charset, content_type)
        if not isinstance(result, ExtractedArticle):
            raise _fail(f"{source}: {result.reason}")
        text = f"{result.title or ''}\n\n{result.text}\n\nSource: {source}\n"
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail(f"cannot read {path} as UTF-8 text: {exc}") from None
    if len(text.strip()) < 200:
        raise _fail("a seed article needs some text (200 characters at least)")
    number = len(seed_files(seeds))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    if any(p.name.endswith(f"_{digest}.txt") for p in seed_files(seeds)):
        raise _fail("this seed is already there")
    target = seeds / f"{number:03d}_{digest}.txt"
    target.write_text(text, encoding="utf-8")
    console.print(f"added {target}; now run: ai4s topics build --background DIR")


def main() -> None:
    """Entry point of the ``ai4s`` console script."""
    app()
