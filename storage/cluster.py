"""The crawl runs sent to the cluster's queue: created by the daemon with their task id, claimed and
kept alive (heartbeats) by the worker that runs them, and listed for the daemon and ``ai4s workers``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from storage.models import CrawlRun, RunStatus, utcnow
from storage.repository import start_run


@dataclass(frozen=True)
class QueuedRun:
    """A crawl run sent to the queue and not closed yet: waiting in the queue, or running on a worker."""

    run_id: int
    source: str
    task_id: str
    sent_at: datetime
    worker: str | None
    heartbeat_at: datetime | None
    pid: int | None
    host: str | None


def start_queued_run(session: Session, source: str, task_id: str) -> int:
    """Create the ``running`` row of a crawl of ``source`` about to be sent as task ``task_id``; its id."""
    run_id = start_run(session, [source])
    session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(task_id=task_id))
    return run_id


def database_now(session: Session) -> datetime:
    """The database server's clock, timezone-aware UTC: the one clock all the machines of a cluster share."""
    now = session.execute(select(func.now())).scalar_one()
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def claim_queued_run(session: Session, run_id: int, worker: str, task_id: str, stale_after: float) -> bool:
    """Make ``worker`` the one running queued run ``run_id`` as job ``task_id`` (again, after a lost worker);
    ``False`` when the run is closed (done, or given up as lost), is another job's, or runs on a worker whose
    heartbeat is younger than ``stale_after`` seconds, this one too (the processes of a worker with
    ``--concurrency`` above 1 share its name): the task then has nothing to do."""
    now = database_now(session)
    result = session.execute(
        update(CrawlRun)
        .where(
            CrawlRun.id == run_id,
            CrawlRun.status == RunStatus.RUNNING,
            CrawlRun.task_id == task_id,
            or_(
                CrawlRun.worker.is_(None),
                CrawlRun.heartbeat_at.is_(None),
                CrawlRun.heartbeat_at < now - timedelta(seconds=stale_after),
            ),
        )
        .values(worker=worker, heartbeat_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def beat(session: Session, run_id: int, worker: str) -> None:
    """Record that ``worker`` still runs queued run ``run_id`` (at the database's time)."""
    session.execute(
        update(CrawlRun)
        .where(CrawlRun.id == run_id, CrawlRun.status == RunStatus.RUNNING, CrawlRun.worker == worker)
        .values(heartbeat_at=database_now(session))
    )


def queued_runs(session: Session, source: str | None = None) -> list[QueuedRun]:
    """The queued runs not closed yet (of ``source`` only, if given), oldest first."""
    query = select(CrawlRun).where(CrawlRun.status == RunStatus.RUNNING, CrawlRun.task_id.is_not(None))
    if source is not None:
        query = query.where(CrawlRun.sources == source)
    return [
        QueuedRun(
            run.id, run.sources, run.task_id or "", run.started_at, run.worker, run.heartbeat_at, run.pid, run.host
        )
        for run in session.execute(query.order_by(CrawlRun.id)).scalars()
    ]


def give_up_queued_run(session: Session, run_id: int, message: str) -> bool:
    """Close queued run ``run_id`` as ``aborted`` with ``message`` if it is still running; whether it was."""
    result = session.execute(
        update(CrawlRun)
        .where(CrawlRun.id == run_id, CrawlRun.status == RunStatus.RUNNING)
        .values(status=RunStatus.ABORTED, finished_at=utcnow(), message=message)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
