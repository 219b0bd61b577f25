"""Users' databases across the layout move, on SQLite and PostgreSQL: the daemon's scheduled jobs that the
release before it stored (``crawler.daemon:crawl_job``, ``crawler.daemon:digest_job``) are rewritten by
migration 0006 to ``crawler.schedule.daemon``, keep their trigger and next run, and load in this release's
daemon; the downgrade points them back.

The strongest test runs the release before the move itself (commit ``1c84f96``, taken from the project's
git history): its daemon crawls a small local site once and stops, then this release's daemon starts on
the same database.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import signal
import subprocess
import sys
import tarfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, insert, select, text

import storage.db
from crawler.app.webserver import LocalSite, Reply, html_reply
from crawler.schedule.daemon import crawl_job, digest_job
from storage.db import make_engine
from storage.models import Base, scheduler_jobs
from storage.search import include_in_schema_comparison
from tests.crawler.support import article_html

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: The last commit before the layout move: its daemon stored ``crawler.daemon:...`` job references.
RELEASE_BEFORE_MOVE = "1c84f96"
OLD_CRAWL_JOB = "crawler.daemon:crawl_job"
OLD_DIGEST_JOB = "crawler.daemon:digest_job"
NEW_CRAWL_JOB = "crawler.schedule.daemon:crawl_job"
NEW_DIGEST_JOB = "crawler.schedule.daemon:digest_job"
RESTORE_FAILURE = "Unable to restore job"
#: Run in a child process (argv: database URL, n): open the database with this release, which migrates it, and
#: be killed (SIGKILL) right after the n-th schema or data operation of the migrations.
KILLED_IN_A_MIGRATION = """
import os, signal, sys
from alembic.operations import Operations
import storage.db
done = 0
run = Operations.invoke
def invoke(self, operation):
    global done
    result = run(self, operation)
    done += 1
    if done == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
    return result
Operations.invoke = invoke
storage.db.Database(sys.argv[1]).close()
"""


def alembic_to(engine: Engine, revision: str, *, down: bool = False) -> None:
    """Upgrade (or downgrade) the database of ``engine`` to ``revision`` with the shipped migrations."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def alembic_config() -> Config:
    """The Alembic configuration of the shipped migrations."""
    config = Config()
    config.set_main_option("script_location", str(Path(storage.db.__file__).parent / "migrations"))
    return config


def head_revision() -> str:
    """The newest revision of the shipped migrations."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def schema_revision(engine: Engine) -> str:
    """The Alembic revision the database is at."""
    with engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()


def stored_jobs(engine: Engine) -> dict[str, tuple[float, bytes]]:
    """Each stored job's next-run time (the indexed column) and pickled state, by job id."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(scheduler_jobs.c.id, scheduler_jobs.c.next_run_time, scheduler_jobs.c.job_state)
        )
        return {job_id: (next_run, bytes(state)) for job_id, next_run, state in rows}


def job_functions(engine: Engine) -> dict[str, str]:
    """The function reference of each stored job, by job id."""
    return {job_id: pickle.loads(state)["func"] for job_id, (_, state) in stored_jobs(engine).items()}


def store_job_as_before_the_move(store: SQLAlchemyJobStore, job: Job, old_reference: str) -> None:
    """Store ``job`` the way the release before the move did: APScheduler's own ``add_job`` (the job's
    ``__getstate__``, pickled), with the function reference that release's module path gave."""
    job.func_ref = old_reference
    store.add_job(job)


@pytest.mark.parametrize("first_revision", ["0001", "0002"])
def test_a_database_of_the_first_releases_opens_with_its_articles_and_their_fetches(
    tmp_path: Path, first_revision: str
) -> None:
    """Migrations 0002 and 0003 rebuild the articles table (SQLite's batch mode), which the fetched URLs point
    at: with foreign keys enforced on every connection, dropping it failed, the table copy left behind made every
    later opening fail too, and the corpus could not be opened at all."""
    url = f"sqlite:///{tmp_path / 'first.sqlite3'}"
    engine = make_engine(url)
    alembic_to(engine, first_revision)
    now = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO sources (id, name, created_at) VALUES (1, 'xinhua', :now)"), {"now": now})
        connection.execute(
            text(
                "INSERT INTO articles (id, source_id, url, canonical_url, url_hash, title, text, content_hash, "
                "first_seen, last_seen) VALUES (1, 1, 'http://x.example/a.htm', 'http://x.example/a.htm', "
                "'h1', 'AI for Science', 'Researchers used machine learning.', 'c1', :now, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO fetched_urls (url_hash, url, canonical_url, source_id, outcome, article_id, attempts, "
                "first_fetched, last_fetched) VALUES ('h1', 'http://x.example/a.htm', 'http://x.example/a.htm', 1, "
                "'article', 1, 1, :now, :now)"
            ),
            {"now": now},
        )
        connection.execute(text("CREATE TABLE _alembic_tmp_articles (id INTEGER)"))  # a failed attempt's copy
    engine.dispose()
    with storage.db.Database(url) as database, database.engine.connect() as connection:  # migrated on opening
        assert schema_revision(database.engine) == head_revision()
        assert connection.execute(text("SELECT title FROM articles")).scalars().all() == ["AI for Science"]
        assert connection.execute(text("SELECT article_id FROM fetched_urls")).scalars().all() == [1]
        assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
        assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1  # enforced again after migrating


def test_job_references_move_to_the_new_module_and_back(db_url_any: str, caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(db_url_any)
    alembic_to(engine, "0005")
    scheduler = BackgroundScheduler(timezone=UTC)
    store = SQLAlchemyJobStore(engine=engine, tablename=scheduler_jobs.name)
    next_crawl = datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    crawl = Job(
        scheduler, id="crawl:outlet", func=crawl_job, args=["outlet"], kwargs={}, name="crawl outlet",
        trigger=IntervalTrigger(seconds=1800, jitter=90, timezone=UTC), executor="default",
        misfire_grace_time=2700, coalesce=True, max_instances=1, next_run_time=next_crawl,
    )  # fmt: skip
    digest = Job(
        scheduler, id="digest:daemon", func=digest_job, args=["daemon"], kwargs={}, name="digest daemon",
        trigger=CronTrigger(hour=6, minute=30, timezone=UTC), executor="default",
        misfire_grace_time=3600, coalesce=True, max_instances=1, next_run_time=next_crawl + timedelta(hours=5),
    )  # fmt: skip
    other = Job(
        scheduler, id="other", func="json:dumps", args=[[1, 2]], kwargs={}, name="not the daemon's",
        trigger=IntervalTrigger(hours=1, timezone=UTC), executor="default",
        misfire_grace_time=60, coalesce=True, max_instances=1, next_run_time=next_crawl,
    )  # fmt: skip
    store_job_as_before_the_move(store, crawl, OLD_CRAWL_JOB)
    store_job_as_before_the_move(store, digest, OLD_DIGEST_JOB)
    store.add_job(other)
    before = stored_jobs(engine)
    assert job_functions(engine) == {
        "crawl:outlet": OLD_CRAWL_JOB,
        "digest:daemon": OLD_DIGEST_JOB,
        "other": "json:dumps",
    }

    alembic_to(engine, "0006")

    assert schema_revision(engine) == "0006"
    after = stored_jobs(engine)
    assert job_functions(engine) == {
        "crawl:outlet": NEW_CRAWL_JOB,
        "digest:daemon": NEW_DIGEST_JOB,
        "other": "json:dumps",
    }
    assert {job_id: next_run for job_id, (next_run, _) in after.items()} == {
        job_id: next_run for job_id, (next_run, _) in before.items()
    }
    assert after["other"][1] == before["other"][1]  # another function's job: not even re-pickled
    for job_id in ("crawl:outlet", "digest:daemon"):  # all but the reference is as it was
        old_state, new_state = pickle.loads(before[job_id][1]), pickle.loads(after[job_id][1])
        unchanged = set(old_state) - {"func", "trigger"}  # a trigger has no __eq__: compared by its state
        assert {k: new_state[k] for k in unchanged} == {k: old_state[k] for k in unchanged}
        assert new_state["trigger"].__getstate__() == old_state["trigger"].__getstate__()

    # APScheduler loads them (a job it cannot restore would be logged and deleted)
    loaded = {job.id: job for job in SQLAlchemyJobStore(engine=engine, tablename=scheduler_jobs.name).get_all_jobs()}
    assert RESTORE_FAILURE not in caplog.text
    assert set(loaded) == {"crawl:outlet", "digest:daemon", "other"}
    assert loaded["crawl:outlet"].func is crawl_job and list(loaded["crawl:outlet"].args) == ["outlet"]
    assert loaded["digest:daemon"].func is digest_job
    assert loaded["crawl:outlet"].next_run_time == next_crawl
    assert loaded["digest:daemon"].next_run_time == next_crawl + timedelta(hours=5)
    assert str(loaded["crawl:outlet"].trigger) == str(crawl.trigger)

    alembic_to(engine, "0005", down=True)

    assert schema_revision(engine) == "0005"
    assert job_functions(engine) == {
        "crawl:outlet": OLD_CRAWL_JOB,
        "digest:daemon": OLD_DIGEST_JOB,
        "other": "json:dumps",
    }
    back = stored_jobs(engine)
    for job_id in before:
        assert back[job_id][0] == before[job_id][0]
        assert pickle.loads(back[job_id][1]).keys() == pickle.loads(before[job_id][1]).keys()
        assert str(pickle.loads(back[job_id][1])["trigger"]) == str(pickle.loads(before[job_id][1])["trigger"])
    engine.dispose()


def test_a_job_row_the_migration_cannot_read_is_left_alone(db_url_any: str) -> None:
    engine = make_engine(db_url_any)
    alembic_to(engine, "0005")
    unreadable = b"\x80\x05not a pickle"
    with engine.begin() as connection:
        connection.execute(insert(scheduler_jobs).values(id="crawl:broken", next_run_time=1.0, job_state=unreadable))

    alembic_to(engine, "head")

    assert stored_jobs(engine) == {"crawl:broken": (1.0, unreadable)}
    engine.dispose()


# -- a database made by the release before the move ------------------------------------------------


@pytest.fixture(scope="module")
def release_before_move(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The code of the release before the layout move, extracted from the project's git history."""
    try:
        archive = subprocess.run(
            [
                "git",
                "-C",
                str(PROJECT_ROOT),
                "archive",
                "--format=tar",
                RELEASE_BEFORE_MOVE,
                "crawler",
                "storage",
                "seeds",
            ],
            capture_output=True,
            check=False,
            timeout=60,
        )
    except FileNotFoundError:
        pytest.skip(f"git is not installed: the release before the layout move ({RELEASE_BEFORE_MOVE}) cannot be run")
    if archive.returncode != 0:
        pytest.skip(
            f"commit {RELEASE_BEFORE_MOVE} (the release before the layout move) is not in this checkout's git history"
            f" (a shallow clone or an unpacked archive): {archive.stderr.decode(errors='replace').strip()}"
        )
    target = tmp_path_factory.mktemp(f"release-{RELEASE_BEFORE_MOVE}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    assert (target / "crawler" / "daemon.py").is_file()  # the module the stored jobs name
    return target


def run_daemon_until(
    code_dir: Path, args: list[str], log_path: Path, logged: str, timeout: float = 120
) -> tuple[str, re.Match[str]]:
    """Run ``python -m crawler daemon ARGS`` of the code in ``code_dir`` until its log matches
    ``logged``, then stop it with SIGTERM; its whole log and the match."""
    environment = {**os.environ, "PYTHONPATH": str(code_dir)}  # this code, not an installed copy
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "crawler", "daemon", *args],
            cwd=code_dir,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + timeout
        while (found := re.search(logged, log_path.read_text(errors="replace"))) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the daemon of {code_dir} never logged {logged!r}:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    output = log_path.read_text(errors="replace")
    assert exit_code == 0, output[-4000:]
    return output, found


def job_times(engine: Engine) -> dict[str, float]:
    """The next-run time (UTC timestamp) of each stored job."""
    return {job_id: next_run for job_id, (next_run, _) in stored_jobs(engine).items()}


def test_a_database_of_the_release_before_the_move_keeps_its_schedule(
    db_url_any: str, release_before_move: Path, tmp_path: Path
) -> None:
    outlet = LocalSite("outlet", "127.0.0.40")
    article = outlet.add(
        "/2024/05/06/ai-models-for-catalysts.html", html_reply(article_html("AI models for catalysts"))
    )
    outlet.add(
        "/rss.xml",
        Reply(
            200,
            f"<rss><channel><item><title>AI</title><link>{article}</link></item></channel></rss>".encode(),
            {"Content-Type": "application/rss+xml"},
        ),
    )
    outlet.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "outlet"\nevery = "1d"\nfeeds = ["{outlet.url("/rss.xml")}"]\n', encoding="utf-8"
    )
    common = [
        "--sources", str(sources), "--db", db_url_any, "--log-dir", str(tmp_path / "logs"),
        "--digest-every", "1d", "--digest-dir", str(tmp_path / "digests"), "--stop-timeout", "10",
        "-s", "DOWNLOAD_DELAY=0", "-s", "AI4S_EXTRACT_WORKERS=1",
    ]  # fmt: skip

    # The release before the move: its daemon schedules the crawl and the digest, crawls once, stops.
    with outlet:
        old_log, first_run = run_daemon_until(
            release_before_move, common, tmp_path / "old-daemon.log", r"Source outlet: run \d+ (\w+)"
        )
    assert first_run.group(1) == "ok", old_log[-4000:]
    engine = make_engine(db_url_any)
    assert schema_revision(engine) == "0005"
    assert job_functions(engine) == {"crawl:outlet": OLD_CRAWL_JOB, "digest:daemon": OLD_DIGEST_JOB}
    scheduled = job_times(engine)
    now = time.time()
    # after its crawl the source's next run is a day away, and so is the first digest
    assert all(now + 20 * 3600 < next_run < now + 28 * 3600 for next_run in scheduled.values()), scheduled

    # This release: migrations run when the daemon opens the database; its scheduler loads the old jobs.
    new_log, _ = run_daemon_until(PROJECT_ROOT, common, tmp_path / "new-daemon.log", r"Daemon started")

    assert RESTORE_FAILURE not in new_log and "removing it" not in new_log, new_log[-4000:]
    assert "catch-up" not in new_log  # no catch-up crawl: the kept next run is tomorrow
    assert schema_revision(engine) == head_revision()
    assert job_functions(engine) == {"crawl:outlet": NEW_CRAWL_JOB, "digest:daemon": NEW_DIGEST_JOB}
    assert job_times(engine) == pytest.approx(scheduled, abs=0.001)  # a re-created job would start within seconds
    with engine.connect() as connection:  # the one crawl was the old daemon's
        assert connection.execute(text("SELECT count(*) FROM crawl_runs")).scalar_one() == 1
    engine.dispose()


def test_the_migrations_make_the_schema_the_models_describe(db_url_any: str) -> None:
    engine = make_engine(db_url_any)
    alembic_to(engine, "head")
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_name": include_in_schema_comparison})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_template_counts_of_before_the_share_rule_keep_what_was_template(db_url_any: str) -> None:
    """Migration 0017: a source's stored articles count as counted, and a block on three of them (the rule before)
    stays template; one on fewer is not, and the share rule reads the old counts as a run of articles in a row."""
    engine = make_engine(db_url_any)
    try:
        alembic_to(engine, "0016")
        now = datetime(2026, 12, 1, tzinfo=UTC)
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO sources (id, name, created_at) VALUES (1, 'site', :now)"), {"now": now}
            )
            for number in range(1, 6):
                connection.execute(
                    text(
                        "INSERT INTO articles (id, source_id, url, canonical_url, url_hash, content_hash, title, text,"
                        " first_seen, last_seen) VALUES (:id, 1, :url, :url, :hash, :hash, 't', 'x', :now, :now)"
                    ),
                    {"id": number, "url": f"http://site.example/{number}", "hash": f"{number:040d}", "now": now},
                )
            for key, pages, pending in ((11, 4, None), (12, 1, "5")):
                connection.execute(
                    text(
                        "INSERT INTO template_blocks (source_id, block_key, pages, pending, first_seen, last_seen)"
                        " VALUES (1, :key, :pages, :pending, :now, :now)"
                    ),
                    {"key": key, "pages": pages, "pending": pending, "now": now},
                )
        alembic_to(engine, "head")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT blocks_counted FROM sources")).scalar_one() == 5
            rows = connection.execute(
                text("SELECT block_key, first_count, template_since IS NOT NULL FROM template_blocks ORDER BY 1")
            ).all()
        assert [tuple(row) for row in rows] == [(11, 2, True), (12, 5, False)]
        alembic_to(engine, "0016", down=True)  # and back, and up again: the counts as the rule before left them
        alembic_to(engine, "head")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT blocks_counted FROM sources")).scalar_one() == 5
    finally:
        engine.dispose()


@pytest.mark.parametrize("operations", [1, 4])
def test_an_upgrade_killed_midway_is_run_again_whole_at_the_next_opening(tmp_path: Path, operations: int) -> None:
    """A process killed in the middle of migrating a SQLite file leaves it at the revision it had, and the next
    opening migrates it. Python's sqlite3 committed each schema change as it ran: killed after migration 0017
    added its first column, the file stayed at 0016 with the column, and every opening after failed ("duplicate
    column name: blocks_counted"), so the corpus could no longer be opened at all."""
    url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    engine = make_engine(url)
    alembic_to(engine, "0016")
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO sources (id, name, created_at) VALUES (1, 'site', :now)"), {"now": now})
        connection.execute(
            text(
                "INSERT INTO articles (id, source_id, url, canonical_url, url_hash, content_hash, title, text,"
                " first_seen, last_seen) VALUES (1, 1, :url, :url, :hash, :hash, 'AI for Science', 'x', :now, :now)"
            ),
            {"url": "http://site.example/1", "hash": "1" * 40, "now": now},
        )
    engine.dispose()
    child = subprocess.run(
        [sys.executable, "-c", KILLED_IN_A_MIGRATION, url, str(operations)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert schema_revision(engine) == "0016"  # nothing of the killed upgrade is left
    with storage.db.Database(url) as database, database.engine.connect() as connection:
        assert schema_revision(database.engine) == head_revision()
        assert connection.execute(text("SELECT blocks_counted FROM sources")).scalar_one() == 1
        assert connection.execute(text("SELECT title FROM articles")).scalars().all() == ["AI for Science"]
    engine.dispose()


def test_a_database_the_first_form_of_0017_migrated_gets_its_sentence_column(db_url_any: str) -> None:
    """Migration 0017 gained ``template_blocks.sentence`` after its first form had run (commit 0f9601b): a database
    that form migrated was at 0017 without the column, and every crawl and reprocess failed ("no such column:
    template_blocks.sentence"). Migration 0018 adds it where it is missing, a block counted before being no
    sentence, as 0017 does; a database that has it keeps it."""
    engine = make_engine(db_url_any)
    try:
        alembic_to(engine, "0017")
        now = datetime(2026, 12, 3, 17, 45, tzinfo=UTC)
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE template_blocks DROP COLUMN sentence"))  # as the first form left it
            connection.execute(
                text("INSERT INTO sources (id, name, created_at) VALUES (1, 'site', :now)"), {"now": now}
            )
            connection.execute(
                text(
                    "INSERT INTO template_blocks (source_id, block_key, pages, first_seen, last_seen, template_since)"
                    " VALUES (1, 11, 4, :now, :now, :now)"
                ),
                {"now": now},
            )
        with storage.db.Database(db_url_any) as database, database.engine.connect() as connection:
            assert schema_revision(database.engine) == head_revision()
            rows = connection.execute(text("SELECT block_key, pages, sentence FROM template_blocks")).all()
            assert [tuple(row) for row in rows] == [(11, 4, False)]
        alembic_to(engine, "0017", down=True)  # down and up again on a database that has the column
        alembic_to(engine, "head")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM template_blocks WHERE sentence")).scalar_one() == 0
    finally:
        engine.dispose()
