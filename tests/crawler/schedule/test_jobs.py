"""The daemon's job store, on a real database: a job per source and the digest job, stale jobs
removed, an unchanged job keeping its next run across restarts, the job functions stored by the
references a migration relies on; schedules APScheduler cannot use refused before the start."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from crawler.schedule import daemon
from crawler.schedule.jobs import (
    CRAWL_JOB,
    DIGEST_JOB,
    DigestJob,
    check_schedules,
    job_id,
    make_scheduler,
    put_job,
    sync_jobs,
)
from crawler.schedule.policy import make_trigger
from crawler.sources import Source, parse_sources
from storage import Database
from storage.schedules import job_next_run_times

SOURCES = """
[[source]]
name = "a"
feeds = ["http://a.example/rss"]
every = "30m"

[[source]]
name = "b"
feeds = ["http://b.example/rss"]
every = "0 6 * * 1-5"
"""


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    with Database(f"sqlite:///{tmp_path / 'corpus.sqlite3'}") as database:
        yield database


def paused_scheduler(database: Database) -> BackgroundScheduler:
    """A scheduler on ``database``'s job store, started paused (nothing fires)."""
    scheduler = make_scheduler(database, max_parallel=2)
    scheduler.start(paused=True)
    return scheduler


def test_jobs_follow_the_sources_and_keep_their_next_run_across_restarts(database: Database, tmp_path: Path) -> None:
    sources = parse_sources(SOURCES)
    digest = DigestJob("daily", "1d", tmp_path / "digests")
    before = datetime.now(UTC)
    scheduler = paused_scheduler(database)
    try:
        sync_jobs(scheduler, sources, {"a": 1800.0, "b": None}, digest)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"crawl:a", "crawl:b", "digest:daily"}
        assert jobs["crawl:a"].func_ref == CRAWL_JOB and jobs["crawl:a"].args == ("a",)
        assert jobs["digest:daily"].func_ref == DIGEST_JOB and jobs["digest:daily"].args == ("daily",)
        # a new source's first crawl comes within seconds (on a cron schedule too); the digest a day on
        for key in ("crawl:a", "crawl:b"):
            assert before <= jobs[key].next_run_time <= datetime.now(UTC) + timedelta(seconds=5)
        later = jobs["crawl:b"].trigger.get_next_fire_time(None, datetime.now(UTC))  # then at its cron times
        assert later.hour == 6 and later.weekday() < 5
        assert abs((jobs["digest:daily"].next_run_time - before).total_seconds() - 86400) < 60
    finally:
        scheduler.shutdown(wait=False)
    with database.session() as session:
        planned = job_next_run_times(session)

    # restarted with source b removed, a unchanged and no digest: a keeps its next run, the others go
    scheduler = paused_scheduler(database)
    try:
        sync_jobs(scheduler, sources[:1], {"a": 1800.0}, None)
        assert {job.id for job in scheduler.get_jobs()} == {"crawl:a"}
    finally:
        scheduler.shutdown(wait=False)
    with database.session() as session:
        assert job_next_run_times(session) == {"crawl:a": planned["crawl:a"]}

    # a changed interval is a new trigger: the job moves to its first firing
    scheduler = paused_scheduler(database)
    try:
        sync_jobs(scheduler, sources[:1], {"a": 7200.0}, None)
        (job,) = scheduler.get_jobs()
        assert (job.next_run_time - datetime.now(UTC)).total_seconds() > 7000
    finally:
        scheduler.shutdown(wait=False)


def test_a_run_missed_while_no_daemon_ran_stays_due_whatever_the_new_interval(database: Database) -> None:
    """A crawl that adapts its source's interval as the daemon stops leaves the job store with the old trigger:
    at the restart, the new trigger must not cost the catch-up of the runs missed in between."""
    source = parse_sources(SOURCES)[0]
    key, now = job_id(source.name), datetime.now(UTC)
    missed = now - timedelta(minutes=20)
    scheduler = paused_scheduler(database)
    try:
        scheduler.add_job(CRAWL_JOB, trigger=make_trigger(source, 1800.0), args=[source.name], id=key)
        stored = scheduler.get_job(key)
        # as the job store holds it after the daemon was down (not modify_job: that runs it)
        stored.next_run_time = missed
        next_run = put_job(scheduler, key, CRAWL_JOB, source.name, make_trigger(source, 900.0), stored, now)
        assert next_run == missed
        assert str(scheduler.get_job(key).trigger) == "interval[0:15:00]"
        # a next run still to come moves to the new trigger's first firing
        stored.next_run_time = now + timedelta(minutes=20)
        next_run = put_job(scheduler, key, CRAWL_JOB, source.name, make_trigger(source, 3600.0), stored, now)
        assert (next_run - now).total_seconds() > 3000
    finally:
        scheduler.shutdown(wait=False)


def test_a_crawl_that_waited_for_a_free_worker_when_the_daemon_stopped_is_due_at_the_restart(
    database: Database,
) -> None:
    """APScheduler moves a job's next run on as it hands the job to its pool: a crawl still waiting for a free
    worker when the daemon stopped (or was killed) had its next run a whole interval on, and was skipped."""
    source = parse_sources(SOURCES)[0]
    key, now = job_id(source.name), datetime.now(UTC)
    scheduler = paused_scheduler(database)
    try:
        scheduler.add_job(CRAWL_JOB, trigger=make_trigger(source, 86400.0), args=[source.name], id=key)
        scheduler.get_job(key).modify(next_run_time=now + timedelta(days=1))  # as the handing over left it
    finally:
        scheduler.shutdown(wait=False)
    scheduler = paused_scheduler(database)
    try:  # its last run was a day ago, or it never ran: due now
        sync_jobs(scheduler, [source], {"a": 86400.0}, None, {"a": now - timedelta(minutes=1)})
        assert scheduler.get_job(key).next_run_time <= datetime.now(UTC) + timedelta(seconds=5)
        # a crawl due later than the stored next run leaves it as it is
        sync_jobs(scheduler, [source], {"a": 86400.0}, None, {"a": now + timedelta(days=3)})
        assert scheduler.get_job(key).next_run_time <= datetime.now(UTC) + timedelta(seconds=5)
    finally:
        scheduler.shutdown(wait=False)


def test_the_stored_job_references_are_the_daemons_job_functions() -> None:
    # a migration rewrites stored references to exactly these: the functions must stay where they name
    assert CRAWL_JOB == "crawler.schedule.daemon:crawl_job" and DIGEST_JOB == "crawler.schedule.daemon:digest_job"
    assert (daemon.crawl_job.__module__, daemon.crawl_job.__name__) == tuple(CRAWL_JOB.split(":"))
    assert (daemon.digest_job.__module__, daemon.digest_job.__name__) == tuple(DIGEST_JOB.split(":"))
    assert job_id("xinhua") == "crawl:xinhua" and DigestJob("d", "1d", Path()).job_id == "digest:d"


def test_schedules_apscheduler_cannot_use_are_refused_with_their_source() -> None:
    good = Source(name="a", feeds=("http://a.example/rss",), every="0 6 * * 1-5")
    check_schedules([good], "12h")
    check_schedules([good], "0 7 * * *")
    check_schedules([good], None)
    bad = Source(name="b", feeds=("http://b.example/rss",), every="0 6 * * 1-9")
    with pytest.raises(ValueError, match=r"source 'b': every = '0 6 \* \* 1-9': day of week 9 is out of range"):
        check_schedules([good, bad], None)
    with pytest.raises(ValueError, match="expected an interval such as"):
        check_schedules([good], "daily at six")
