"""``ai4s daemon`` against the local news web, with intervals of seconds: rounds, new articles,
304s, kill -9 and restart, a second daemon, SIGTERM, a failing source, missed firings.

Every daemon here is a real process started as a user starts it; its crawls are its own
child processes. The database is a real SQLite file, read between and after the rounds.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.text.urls import canonical_url
from storage import Database
from storage.models import Article, CrawlRunSource, Source
from storage.schedules import all_schedules, job_next_run_times
from tests.crawler.schedule.daemons import STOP_TIMEOUT, DaemonProcess, finished_runs, runs, wait_until
from tests.crawler.support import ai4s, ai4s_in_process
from tests.localweb import NewsWeb


def stored_urls(db_url: str) -> list[str]:
    """Canonical URLs of every stored article (with repeats, if a bug ever stored one twice)."""
    with Database(db_url) as database, database.session() as session:
        return list(session.execute(select(Article.canonical_url)).scalars())


def entry_counts(db_url: str, source: str) -> list[tuple[int, int, int, int]]:
    """Per run of ``source``: (run id, entry pages read, unchanged, failed)."""
    with Database(db_url) as database, database.session() as session:
        rows = session.execute(
            select(
                CrawlRunSource.run_id,
                CrawlRunSource.entry_pages_read,
                CrawlRunSource.entry_pages_unchanged,
                CrawlRunSource.entry_pages_failed,
            )
            .join(Source, Source.id == CrawlRunSource.source_id)
            .where(Source.name == source)
            .order_by(CrawlRunSource.run_id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


@pytest.fixture
def web(corpus_dir: Path) -> Iterator[NewsWeb]:
    with NewsWeb.build(corpus_dir, seed=0) as web:
        yield web


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    """Daemons started by a test; any still running at its end is killed."""
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.ensure_stopped()


def write_sources(path: Path, web: NewsWeb, every: str, keep: Callable[[str], bool] = lambda name: True) -> Path:
    """A sources file for ``web``, every source polled ``every``, restricted to the names ``keep`` accepts."""
    blocks = web.sources_toml(every=every).split("[[source]]")
    chosen = [b for b in blocks[1:] if keep(b.split('name = "', 1)[1].split('"', 1)[0])]
    path.write_text("".join("[[source]]" + b for b in chosen), encoding="utf-8")
    return path


def test_rounds_pick_up_new_articles_never_refetch_and_reuse_304s(
    web: NewsWeb, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    sources = write_sources(tmp_path / "sources.toml", web, "2s")
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    daemon = DaemonProcess(tmp_path, sources, db_url)
    daemons.append(daemon)
    names = ("feedsite", "sitemapsite", "listingsite", "repostsite")
    wait_until(lambda: all(finished_runs(db_url, n) >= 2 for n in names), 180, "two rounds of every source", daemon)
    new = web.add_articles(2)
    published = time.time()
    wanted = {canonical_url(a.url) for a in new}
    wait_until(lambda: wanted <= set(stored_urls(db_url)), 120, "the articles published between rounds", daemon)
    rounds_after = {n: len(runs(db_url, n)) for n in names}
    wait_until(lambda: all(finished_runs(db_url, n) >= rounds_after[n] for n in names), 60, "one more round", daemon)
    code, _ = daemon.terminate()
    assert code == 0, daemon.log()[-3000:]

    # every expected article is stored, once
    urls = stored_urls(db_url)
    assert len(urls) == len(set(urls))
    assert {canonical_url(a.url) for a in web.articles} <= set(urls)
    # no article page was requested after it was stored (retries of a failing page come before)
    with Database(db_url) as database, database.session() as session:
        stored_at = {
            url: first_seen.timestamp()
            for url, first_seen in session.execute(select(Article.canonical_url, Article.first_seen))
        }
    again = [
        (name, record.path)
        for name, record in web.requests()
        if (url := canonical_url(web.sites[name].url(record.path))) in stored_at and record.time > stored_at[url] + 0.5
    ]
    assert again == []
    # feeds: after the first poll the feed site answers 304, and a 304 is not parsed
    feed_statuses = [r.status for r in web.sites["feedsite"].log if r.path == "/rss.xml"]
    assert feed_statuses[0] == 200 and 304 in feed_statuses
    polls = entry_counts(db_url, "feedsite")
    assert any(read == 0 and unchanged > 0 for _, read, unchanged, _ in polls)
    # the round after the new articles appeared read the changed feed again
    assert any(r.status == 200 and r.time > published for r in web.sites["feedsite"].log if r.path == "/rss.xml")
    # every run is closed (ok, but for a crawl the SIGTERM may have cut short), and one line per
    # run per source is in the daemon's log
    statuses = [run.status for run in runs(db_url)]
    assert "running" not in statuses and statuses.count("ok") >= len(statuses) - len(names)
    log = daemon.log()
    for name in names:
        assert log.count(f"Source {name}: run ") == len(runs(db_url, name))


def test_kill_9_mid_crawl_then_restart_loses_and_duplicates_nothing(
    web: NewsWeb, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    sources = write_sources(tmp_path / "sources.toml", web, "2s", keep=lambda n: n == "sitemapsite")
    db_path = tmp_path / "corpus.sqlite3"
    db_url = f"sqlite:///{db_path}"
    web.slow_articles(0.4, hold_after=5)  # 5 of its 9 articles come; the rest wait until the kill
    daemon = DaemonProcess(tmp_path, sources, db_url)
    daemons.append(daemon)
    wait_until(lambda: len(stored_urls(db_url)) >= 3, 120, "a few articles stored by the first crawl", daemon)
    running = [run for run in runs(db_url) if run.status == "running"]
    assert len(running) == 1 and running[0].pid != daemon.process.pid  # adopted by the crawl process
    crawl_pid = running[0].pid
    before_kill = stored_urls(db_url)
    daemon.kill()
    os.killpg(crawl_pid, signal.SIGKILL)  # the crawl and its extraction workers: kill -9 mid-crawl
    time.sleep(0.5)

    with sqlite3.connect(db_path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [run.status for run in runs(db_url)] == ["running"]  # left behind by the killed crawl

    web.slow_articles(0)
    restarted = DaemonProcess(tmp_path, sources, db_url)
    daemons.append(restarted)
    wait_until(lambda: finished_runs(db_url, "sitemapsite") >= 1, 120, "a complete crawl after the restart", restarted)
    code, _ = restarted.terminate()
    assert code == 0

    statuses = [run.status for run in runs(db_url)]
    assert statuses[0] == "aborted" and "ok" in statuses and "running" not in statuses
    urls = stored_urls(db_url)
    assert len(urls) == len(set(urls))  # nothing stored twice
    assert set(before_kill) <= set(urls)  # nothing committed before the kill is lost
    site_articles = {canonical_url(a.url) for a in web.articles if a.url.startswith(web.sites["sitemapsite"].base_url)}
    assert site_articles <= set(urls)  # and the crawl after the restart completed the source
    with sqlite3.connect(db_path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_second_daemon_on_the_same_database_refuses_to_start(
    web: NewsWeb, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    sources = write_sources(tmp_path / "sources.toml", web, "1h", keep=lambda n: n == "feedsite")
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    first = DaemonProcess(tmp_path, sources, db_url)
    daemons.append(first)
    wait_until(lambda: "Daemon started" in first.log(), 60, "the first daemon to start", first)
    second = ai4s("daemon", "--sources", str(sources), "--db", db_url, timeout=60)
    assert second.returncode == 3
    assert "another ai4s daemon is running on this database" in second.stderr
    assert f"pid {first.process.pid}" in second.stderr
    assert first.process.poll() is None  # the first one is unaffected
    assert first.terminate()[0] == 0
    # once it is gone the lock is free again
    third = DaemonProcess(tmp_path, sources, db_url)
    daemons.append(third)
    wait_until(lambda: "Daemon started" in third.log(), 60, "a daemon to start after the first stopped", third)
    assert third.terminate()[0] == 0


def test_sigterm_stops_a_running_crawl_cleanly_within_the_bound(
    web: NewsWeb, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    sources = write_sources(tmp_path / "sources.toml", web, "1h", keep=lambda n: n == "listingsite")
    db_path = tmp_path / "corpus.sqlite3"
    db_url = f"sqlite:///{db_path}"
    web.slow_articles(1.0)
    daemon = DaemonProcess(tmp_path, sources, db_url)
    daemons.append(daemon)
    wait_until(lambda: len(stored_urls(db_url)) >= 1, 120, "the crawl to store its first article", daemon)
    code, seconds = daemon.terminate()
    assert code == 0
    assert seconds < STOP_TIMEOUT + 5
    (run,) = runs(db_url)
    assert run.status == "interrupted" and run.finished_at is not None
    with sqlite3.connect(db_path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # and no crawl process is left behind
    assert run.pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(run.pid, 0)


def test_a_failing_source_backs_off_and_turns_unhealthy_while_the_others_go_on(
    web: NewsWeb, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    sources = write_sources(tmp_path / "sources.toml", web, "2s", keep=lambda n: n == "feedsite")
    sources.write_text(
        sources.read_text(encoding="utf-8")
        + f'\n[[source]]\nname = "deadsite"\nfeeds = ["http://127.0.0.1:{dead_port}/rss.xml"]\n'
        'every = "1s"\nmax_every = "3s"\n',
        encoding="utf-8",
    )
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    daemon = DaemonProcess(tmp_path, sources, db_url, "-s", "RETRY_TIMES=0")
    daemons.append(daemon)

    def unhealthy() -> bool:
        with Database(db_url) as database, database.session() as session:
            state = all_schedules(session).get("deadsite")
        return state is not None and not state.healthy

    wait_until(unhealthy, 150, "the dead source to be marked unhealthy", daemon)
    wait_until(lambda: finished_runs(db_url, "feedsite") >= 3, 120, "three runs of the healthy source", daemon)
    assert daemon.terminate()[0] == 0

    with Database(db_url) as database, database.session() as session:
        schedules = all_schedules(session)
    dead, alive = schedules["deadsite"], schedules["feedsite"]
    assert dead.failures >= 5 and dead.interval_seconds == 3.0  # backed off to its max_every
    assert alive.healthy and alive.failures == 0
    assert all(run.status == "failed" for run in runs(db_url, "deadsite"))
    assert "UNHEALTHY" in daemon.log()
    # visible, not silently dropped: in `ai4s jobs` and `ai4s stats`
    jobs = ai4s_in_process("jobs", "--sources", str(sources), "--db", db_url)
    assert jobs.returncode == 0 and "UNHEALTHY" in jobs.stdout and "deadsite" in jobs.stdout
    stats = ai4s_in_process("stats", "--db", db_url)
    assert stats.returncode == 0 and "UNHEALTHY" in stats.stdout


def test_a_restart_after_missed_firings_runs_exactly_one_catch_up_and_follows_the_sources_file(
    web: NewsWeb, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    sources = write_sources(tmp_path / "sources.toml", web, "4s", keep=lambda n: n in ("feedsite", "repostsite"))
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    daemon = DaemonProcess(tmp_path, sources, db_url)
    daemons.append(daemon)
    wait_until(lambda: finished_runs(db_url, "feedsite") >= 1, 120, "a first crawl", daemon)
    assert daemon.terminate()[0] == 0
    with Database(db_url) as database, database.session() as session:
        planned = job_next_run_times(session)["crawl:feedsite"]
    assert planned is not None  # the job store kept the next run across the stop
    time.sleep(13)  # three firings of feedsite are missed while no daemon runs

    # repostsite is removed from the sources file: its job must go
    write_sources(sources, web, "4s", keep=lambda n: n == "feedsite")
    before = len(runs(db_url, "feedsite"))
    restarted_at = datetime.now().astimezone()
    restarted = DaemonProcess(tmp_path, sources, db_url)
    daemons.append(restarted)
    wait_until(lambda: finished_runs(db_url, "feedsite") >= before + 1, 60, "the catch-up crawl", restarted)
    catch_up = runs(db_url, "feedsite")[before]
    assert catch_up.finished_at is not None
    # the next firing is a whole interval after the catch-up ends: wait most of it and count (the interval the
    # schedule has adapted to: a first crawl that finds 10 new articles or more halves the configured 4 s)
    with Database(db_url) as database, database.session() as session:
        interval = all_schedules(session)["feedsite"].interval_seconds
    assert interval is not None and interval >= 1.0
    time.sleep(max(0.0, 0.75 * interval - (time.time() - catch_up.finished_at.timestamp())))
    after = [run for run in runs(db_url, "feedsite") if run.started_at >= restarted_at]
    assert len(after) == 1, [(r.id, r.started_at, r.status) for r in after]
    assert "late: one catch-up crawl now" in restarted.log()
    assert restarted.terminate()[0] == 0
    with Database(db_url) as database, database.session() as session:
        jobs = job_next_run_times(session)
    assert "crawl:repostsite" not in jobs and "crawl:feedsite" in jobs
    assert all(run.started_at < restarted_at for run in runs(db_url, "repostsite"))


def test_on_postgresql_the_schedule_lives_in_the_database_and_the_lock_holds(
    web: NewsWeb, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    from tests.databases import postgres_url, reset_postgres

    db_url = postgres_url()
    reset_postgres(db_url)
    sources = write_sources(tmp_path / "sources.toml", web, "1h", keep=lambda n: n == "feedsite")
    daemon = DaemonProcess(tmp_path, sources, db_url)
    daemons.append(daemon)
    wait_until(lambda: finished_runs(db_url, "feedsite") >= 1, 120, "a crawl on PostgreSQL", daemon)
    second = ai4s("daemon", "--sources", str(sources), "--db", db_url, timeout=60)
    assert second.returncode == 3 and "another ai4s daemon is running on this database" in second.stderr
    assert daemon.terminate()[0] == 0
    with Database(db_url) as database, database.session() as session:
        planned = job_next_run_times(session)["crawl:feedsite"]
        interval = all_schedules(session)["feedsite"].interval_seconds
    # the first crawl stored many articles, so the hour was halved (within its bounds)
    assert interval == 1800.0
    assert planned is not None and abs((planned - datetime.now(planned.tzinfo)).total_seconds() - interval) < 200
    assert {canonical_url(a.url) for a in web.articles if a.url.startswith(web.sites["feedsite"].base_url)} <= set(
        stored_urls(db_url)
    )


def test_on_postgresql_a_lost_lock_is_taken_again_and_a_lock_another_daemon_took_stops_the_daemon_with_an_error(
    web: NewsWeb, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    """The daemon's lock lives as long as its PostgreSQL connection, which a database restart ends: the daemon
    stopped, for good where no service manager restarts it (and exited 0 where it did not fail on the way out).
    It now takes the lock again as soon as the database answers; where another daemon took it meanwhile, it stops
    with an error, so that a service manager restarts it (and it then waits for the other)."""
    from storage.lock import DatabaseLock
    from tests.databases import postgres_url, reset_postgres
    from tests.storage.test_daemon_state import end_lock_sessions

    db_url = postgres_url()
    reset_postgres(db_url)
    sources = write_sources(tmp_path / "sources.toml", web, "1h", keep=lambda n: n == "feedsite")
    daemon = DaemonProcess(tmp_path, sources, db_url)
    daemons.append(daemon)
    wait_until(lambda: "Daemon started" in daemon.log(), 60, "the daemon to start", daemon)
    assert end_lock_sessions(db_url) == 1  # the database restarted, as the lock's connection sees it
    wait_until(lambda: "lock is taken again" in daemon.log(), 90, "the daemon to take its lock again", daemon)
    assert daemon.process.poll() is None and "lock was lost" in daemon.log()
    assert end_lock_sessions(db_url) == 1
    with DatabaseLock(db_url):  # another daemon started while the lock was lost
        code = daemon.process.wait(timeout=90)
    assert code == 1, daemon.log()[-3000:]
    assert "error: the database lock was lost, and another ai4s daemon is running on this database" in daemon.log()


def test_a_crawl_whose_daemon_is_killed_closes_itself_as_interrupted(
    web: NewsWeb, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    sources = write_sources(tmp_path / "sources.toml", web, "1h", keep=lambda n: n == "listingsite")
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    web.slow_articles(1.0)
    daemon = DaemonProcess(tmp_path, sources, db_url)
    daemons.append(daemon)
    wait_until(lambda: len(stored_urls(db_url)) >= 1, 120, "the crawl to store its first article", daemon)
    daemon.kill()  # kill -9 of the daemon alone: its crawl must not run on as an orphan
    wait_until(lambda: runs(db_url)[0].status != "running", 30, "the orphaned crawl to close its run")
    (run,) = runs(db_url)
    assert run.status == "interrupted" and run.message == "spider closed: parent_gone"


def test_the_daemon_checks_its_sources_and_schedules_before_it_starts(tmp_path: Path) -> None:
    from crawler.config import load_config
    from crawler.schedule.daemon import Daemon, DaemonOptions

    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[[source]]\nname = "a"\nfeeds = ["http://a.example/rss"]\nevery = "30m"\n'
        '[[source]]\nname = "b"\nfeeds = ["http://b.example/rss"]\nevery = "0 6 * * 1-5"\n',
        encoding="utf-8",
    )
    db_url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    only_b = Daemon(load_config(sources_file=sources, source_names=["b"], db=db_url), DaemonOptions(digest_every=None))
    assert list(only_b.sources) == ["b"]
    only_b.database.close()
    sources.write_text(sources.read_text(encoding="utf-8").replace("1-5", "1-9"), encoding="utf-8")
    # the sources file refuses it now, as every command that reads it does (issue 16), before the daemon
    with pytest.raises(ValueError, match=r"source #2 \('b'\): key 'every' = '0 6 \* \* 1-9': day of week 9 is out"):
        Daemon(load_config(sources_file=sources, db=db_url), DaemonOptions())
    result = ai4s("daemon", "--sources", str(sources), "--db", db_url, timeout=60)
    assert result.returncode == 2 and "day of week 9 is out of range (0-7)" in result.stderr
    assert not (tmp_path / "c.sqlite3.daemon.lock").exists() or (tmp_path / "c.sqlite3.daemon.lock").read_text() == ""
