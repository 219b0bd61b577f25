"""The daemon's records on SQLite and PostgreSQL: the one-daemon lock (released even by kill -9),
entry pages for conditional re-polls, source schedules, stale runs and the job store's times."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, text

from storage import Database
from storage.db import make_engine
from storage.lock import DatabaseLock, LockHeld
from storage.models import CrawlRun, scheduler_jobs
from storage.polling import load_entry_pages, save_entry_page
from storage.repository import ensure_source, finish_run, start_run
from storage.schedules import (
    ScheduleState,
    abort_stale_runs,
    adopt_run,
    all_schedules,
    get_run,
    job_next_run_times,
    load_schedule,
    save_schedule,
)

HOLD_LOCK = """
import sys, time
from storage.lock import DatabaseLock
lock = DatabaseLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_the_lock_admits_one_holder_and_names_it(db_url_any: str) -> None:
    Database(db_url_any).close()  # the database exists
    first = DatabaseLock(db_url_any)
    first.acquire()
    try:
        with pytest.raises(LockHeld, match="another ai4s daemon is running on this database"):
            DatabaseLock(db_url_any).acquire()
    finally:
        first.release()
    with DatabaseLock(db_url_any):  # free again once released
        pass


def test_one_database_file_has_one_lock_by_whatever_link_it_is_reached(tmp_path: Path) -> None:
    real = tmp_path / "real.sqlite3"
    Database(f"sqlite:///{real}").close()
    (tmp_path / "alias.sqlite3").symlink_to(real)
    with DatabaseLock(f"sqlite:///{real}"), pytest.raises(LockHeld):  # two daemons on one file, once
        DatabaseLock(f"sqlite:///{tmp_path / 'alias.sqlite3'}").acquire()


def test_a_lock_holder_killed_with_sigkill_leaves_no_stale_lock(db_url_any: str) -> None:
    Database(db_url_any).close()
    with subprocess.Popen([sys.executable, "-c", HOLD_LOCK, db_url_any], stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            with pytest.raises(LockHeld):
                DatabaseLock(db_url_any).acquire()
        finally:
            holder.kill()
            holder.wait(timeout=10)
    deadline = time.monotonic() + 10  # PostgreSQL notices the closed connection at once; allow a moment
    while True:
        try:
            with DatabaseLock(db_url_any):
                break
        except LockHeld:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def end_lock_sessions(db_url: str) -> int:
    """End the server sessions that hold the daemon's advisory lock (a database restart, as the lock sees it); how
    many there were."""
    from storage.lock import PG_LOCK_KEYS

    engine = make_engine(db_url)
    with engine.begin() as connection:
        ended = connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = :a"
                " AND objid = :b AND granted"
            ),
            {"a": PG_LOCK_KEYS[0], "b": PG_LOCK_KEYS[1]},
        ).all()
    engine.dispose()
    return len(ended)


def test_a_lock_lost_with_its_connection_is_taken_again_unless_another_holder_took_it() -> None:
    """A PostgreSQL lock lives as long as its connection: a database restart takes it. Giving it up then raised
    (PendingRollbackError), and nothing could take it again; now it can, unless another process took it meanwhile."""
    from tests.databases import postgres_url, reset_postgres

    db_url = postgres_url()
    reset_postgres(db_url)
    Database(db_url).close()
    lock = DatabaseLock(db_url)
    lock.acquire()
    try:
        assert lock.check() and end_lock_sessions(db_url) == 1
        assert not lock.check()
        lock.regain()
        assert lock.check()
        assert end_lock_sessions(db_url) == 1 and not lock.check()
        with DatabaseLock(db_url), pytest.raises(LockHeld, match="another ai4s daemon is running"):
            lock.regain()  # another daemon started while the lock was lost
        lock.release()  # lost, and given up without an error
    finally:
        lock.release()


def test_entry_pages_keep_validators_until_the_page_changes(database: Database) -> None:
    url = "http://news.example/rss.xml"
    with database.session() as session, session.begin():
        source_id = ensure_source(session, "example")
        children = [("http://news.example/sitemap-1.xml", "sitemap", 1, 1)]
        save_entry_page(
            session, url, source_id, changed=True, etag='"v1"', body_hash="a" * 64, http_status=200, children=children
        )
        save_entry_page(session, url, source_id, changed=False, http_status=304)
        save_entry_page(session, url, source_id, changed=False, http_status=304)
    with database.session() as session:
        (state,) = load_entry_pages(session, [source_id]).values()
    assert state.etag == '"v1"' and state.body_hash == "a" * 64 and state.unchanged_polls == 2
    assert state.children == (("http://news.example/sitemap-1.xml", "sitemap", 1, 1),)
    later = datetime.now(UTC) + timedelta(hours=1)
    with database.session() as session, session.begin():
        save_entry_page(session, url, source_id, changed=True, etag='"v2"', body_hash="b" * 64, not_before=later)
    with database.session() as session:
        (state,) = load_entry_pages(session).values()
    assert state.etag == '"v2"' and state.unchanged_polls == 0 and state.children == ()
    assert state.not_before is not None and abs((state.not_before - later).total_seconds()) < 1


def test_schedules_round_trip_with_aware_times(database: Database) -> None:
    moment = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)
    state = ScheduleState(every="30m", interval_seconds=900.0, failures=2, healthy=True, last_run_at=moment)
    with database.session() as session, session.begin():
        save_schedule(session, "example", state)
        save_schedule(session, "example", ScheduleState(**{**state.__dict__, "empty_polls": 4}))
    with database.session() as session:
        loaded = load_schedule(session, "example")
        assert load_schedule(session, "missing") is None
        assert set(all_schedules(session)) == {"example"}
    assert loaded is not None and loaded.empty_polls == 4 and loaded.interval_seconds == 900.0
    assert loaded.last_run_at == moment and loaded.last_run_at.tzinfo is not None


def test_stale_runs_are_aborted_and_adopted_runs_change_owner(database: Database) -> None:
    with database.session() as session, session.begin():
        gone = start_run(session, ["a"], pid=999_999_999, host="here")
        alive = start_run(session, ["b"], pid=1, host="here")
        done = start_run(session, ["c"], pid=999_999_999, host="here")
        finish_run(session, done, "ok")
        assert adopt_run(session, alive, pid=4242, host="here")
        assert not adopt_run(session, done, pid=4242, host="here")  # only a running row can be adopted
    with database.session() as session, session.begin():
        aborted = abort_stale_runs(session, lambda run: run.pid == 4242)
    assert aborted == [gone]
    with database.session() as session:
        statuses = {run_id: get_run(session, run_id).status for run_id in (gone, alive, done)}  # type: ignore[union-attr]
    assert statuses == {gone: "aborted", alive: "running", done: "ok"}


def test_job_next_run_times_are_read_from_the_job_store(database: Database) -> None:
    when = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    with database.session() as session, session.begin():
        session.execute(
            insert(scheduler_jobs),
            [
                {"id": "crawl:a", "next_run_time": when.timestamp(), "job_state": b"x"},
                {"id": "crawl:b", "next_run_time": None, "job_state": b"x"},
            ],
        )
    with database.session() as session:
        assert job_next_run_times(session) == {"crawl:a": when, "crawl:b": None}


def test_crawl_runs_read_back_in_utc(database: Database) -> None:
    with database.session() as session, session.begin():
        run_id = start_run(session, ["a"])
    with database.session() as session:
        run = session.get(CrawlRun, run_id)
    assert run is not None and run.started_at.tzinfo is not None
    assert abs((datetime.now(UTC) - run.started_at).total_seconds()) < 60


def test_a_lock_reports_whether_it_is_still_held(db_url_any: str) -> None:
    Database(db_url_any).close()
    lock = DatabaseLock(db_url_any)
    assert not lock.check()
    lock.acquire()
    try:
        assert lock.check()
        if db_url_any.startswith("postgresql"):  # the lock's connection is lost: so is the lock
            lock._connection.invalidate()
            assert not lock.check()
    finally:
        lock.release()
