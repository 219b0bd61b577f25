"""What the daemon records of a crawl, on SQLite and PostgreSQL: the run row it opens, closed by the
crawl or else by the daemon (failed after a crash, aborted after a stop), the schedule moved by the
result, the interval a restart starts from, and runs orphaned by a dead process."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crawler.schedule.policy import jitter_for
from crawler.schedule.runs import (
    abort_orphaned_runs,
    adapt_schedule,
    close_crawl_run,
    crawl_due,
    current_interval,
    open_crawl_run,
)
from crawler.schedule.supervise import ChildExit
from crawler.sources import Source
from storage import Database
from storage.repository import finish_run, save_run_counts, start_run
from storage.schedules import ScheduleState, get_run, load_schedule, save_schedule

SOURCE = Source(name="feedsite", feeds=("http://feed.example/rss",), every="1h")


def run_status(database: Database, run_id: int) -> tuple[str, str | None]:
    with database.session() as session:
        run = get_run(session, run_id)
        assert run is not None
        return run.status, run.message


def test_a_run_the_crawl_closed_keeps_its_status_and_gives_its_counts(database: Database, tmp_path: Path) -> None:
    run_id = open_crawl_run(database, "feedsite")
    with database.session() as session:
        run = get_run(session, run_id)
        assert run is not None and (run.status, run.pid, run.host) == ("running", os.getpid(), socket.gethostname())
    with database.session() as session, session.begin():  # what the crawl process does
        save_run_counts(session, run_id, "feedsite", {"pages_fetched": 14, "new_articles": 12, "entry_pages_read": 1})
        finish_run(session, run_id, "ok")
    result, counts = close_crawl_run(database, "feedsite", run_id, ChildExit(0), tmp_path / "f.stderr", False)
    assert (result.status, result.new_articles, result.error, result.failed) == ("ok", 12, None, False)
    assert counts is not None and counts.pages_fetched == 14
    assert run_status(database, run_id) == ("ok", None)
    # a busy poll halves the interval, within the source's bounds
    state = adapt_schedule(database, SOURCE, result)
    assert state.interval_seconds == 1800.0 and state.last_run_id == run_id and state.healthy
    with database.session() as session:
        assert load_schedule(session, "feedsite") == state


def test_a_crawl_that_crashed_or_was_stopped_is_closed_by_the_daemon(database: Database, tmp_path: Path) -> None:
    crashed = open_crawl_run(database, "feedsite")
    result, counts = close_crawl_run(database, "feedsite", crashed, ChildExit(1), tmp_path / "f.stderr", False)
    status, message = run_status(database, crashed)
    assert status == result.status == "failed" and counts is None and result.failed
    assert message == result.error
    assert message == f"the crawl process ended with exit code 1 without closing its run (see {tmp_path / 'f.stderr'})"
    state = adapt_schedule(database, SOURCE, result)
    assert state.failures == 1 and state.interval_seconds == 7200.0  # backed off

    stopped = ChildExit(-15, "stopped by the daemon: it ran over its time limit")
    over_time = open_crawl_run(database, "feedsite")
    result, _ = close_crawl_run(database, "feedsite", over_time, stopped, tmp_path / "f.stderr", False)
    assert run_status(database, over_time) == ("aborted", stopped.stopped) and result.failed
    assert adapt_schedule(database, SOURCE, result).failures == 2

    # stopped because the daemon itself stops: aborted, but it says nothing of the source
    shutdown = open_crawl_run(database, "feedsite")
    result, _ = close_crawl_run(database, "feedsite", shutdown, stopped, tmp_path / "f.stderr", True)
    assert run_status(database, shutdown)[0] == "aborted" and result.neutral and not result.failed
    state = adapt_schedule(database, SOURCE, result)
    assert state.failures == 2 and state.interval_seconds == 4 * 3600.0 and state.last_run_id == shutdown


def test_a_restart_starts_from_the_adapted_interval_unless_every_changed(database: Database) -> None:
    assert current_interval(database, SOURCE) == 3600.0  # a new source: its configured pace, recorded
    with database.session() as session, session.begin():
        state = load_schedule(session, "feedsite")
        assert state is not None and state.every == "1h"
        save_schedule(session, "feedsite", ScheduleState(every="1h", interval_seconds=99_999.0, failures=3))
    assert current_interval(database, SOURCE) == 8 * 3600.0  # adapted, clamped to the bounds
    faster = Source(name="feedsite", feeds=SOURCE.feeds, every="10m")
    assert current_interval(database, faster) == 600.0  # a new configured pace starts over
    with database.session() as session:
        state = load_schedule(session, "feedsite")
    assert state is not None and state.every == "10m" and state.failures == 3  # health is kept
    cron = Source(name="cronsite", feeds=SOURCE.feeds, every="0 6 * * *")
    assert current_interval(database, cron) is None


def test_runs_left_running_by_a_dead_process_are_aborted(database: Database) -> None:
    with database.session() as session, session.begin():
        dead = start_run(session, ["a"], pid=999_999_999, host=socket.gethostname())
        remote = start_run(session, ["b"], pid=1, host="another-host.example")
    assert abort_orphaned_runs(database) == [dead]
    assert run_status(database, dead)[0] == "aborted" and run_status(database, remote)[0] == "running"


def test_a_crawl_is_due_an_interval_after_its_last_run_or_at_once_if_that_was_cut_short(database: Database) -> None:
    before = datetime.now(UTC)
    assert before <= crawl_due(database, SOURCE, 3600.0) <= datetime.now(UTC)  # never ran
    ran = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    later = ran + timedelta(seconds=3600 + jitter_for(3600))  # an interval, and the most the trigger's jitter adds
    for status, due in (("ok", later), ("failed", later), ("interrupted", None)):
        with database.session() as session, session.begin():
            save_schedule(session, SOURCE.name, ScheduleState(every="1h", last_status=status, last_run_at=ran))
        when = crawl_due(database, SOURCE, 3600.0)
        assert when == due if due is not None else before <= when <= datetime.now(UTC), status
    assert crawl_due(database, SOURCE, None) is None  # a cron schedule keeps its times
