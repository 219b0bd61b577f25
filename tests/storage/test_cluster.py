"""The queued crawl runs of a cluster: which worker may claim a run, by the database's clock."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from storage import Database
from storage.cluster import beat, claim_queued_run, database_now, start_queued_run
from storage.models import CrawlRun

STALE = 35.0


def test_a_run_is_claimed_by_its_own_job_only_and_not_while_another_worker_runs_it(database: Database) -> None:
    with database.session() as session, session.begin():
        run_id = start_queued_run(session, "s00", "job-1")
        assert not claim_queued_run(session, run_id, "w1@a", "job-of-another-database", STALE)
        assert claim_queued_run(session, run_id, "w1@a", "job-1", STALE)
        # the job given again while w1 runs it (Redis restores a delivered job by the clock of the worker that
        # looks: one 10 minutes ahead gave away every running job): w2 must not start a second crawl
        assert not claim_queued_run(session, run_id, "w2@b", "job-1", STALE)
        assert session.get(CrawlRun, run_id).worker == "w1@a"  # type: ignore[union-attr]
        # nor another process of w1 (a worker with --concurrency 2 shares one name): a second crawl of the run
        assert not claim_queued_run(session, run_id, "w1@a", "job-1", STALE)
        # w1 is gone: its last heartbeat is older than STALE by the database's clock
        stale = database_now(session) - timedelta(seconds=STALE + 1)
        session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(heartbeat_at=stale))
        assert claim_queued_run(session, run_id, "w2@b", "job-1", STALE)
        assert session.get(CrawlRun, run_id).worker == "w2@b"  # type: ignore[union-attr]


def test_a_heartbeat_is_the_database_time(database: Database) -> None:
    with database.session() as session, session.begin():
        run_id = start_queued_run(session, "s00", "job-1")
        assert claim_queued_run(session, run_id, "w1@a", "job-1", STALE)
        session.execute(update(CrawlRun).values(heartbeat_at=database_now(session) - timedelta(hours=1)))
        beat(session, run_id, "w1@a")
    with database.session() as session:
        run = session.get(CrawlRun, run_id)
        assert run is not None and run.heartbeat_at is not None
        assert abs((run.heartbeat_at - database_now(session)).total_seconds()) < 5
