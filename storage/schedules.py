"""The daemon's records: each source's adaptive schedule and health, crawl-run rows it owns,
and the next-run times in the job store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import CrawlRun, RunStatus, Source, SourceSchedule, scheduler_jobs, utcnow
from storage.repository import dialect_insert, ensure_source


@dataclass
class ScheduleState:
    """A source's schedule as the daemon last left it."""

    every: str
    interval_seconds: float | None = None
    empty_polls: int = 0
    failures: int = 0
    healthy: bool = True
    last_run_id: int | None = None
    last_status: str | None = None
    last_run_at: datetime | None = None
    last_new_articles: int | None = None
    last_error: str | None = None


_STATE_FIELDS = tuple(f.name for f in fields(ScheduleState))


def _state_of(row: SourceSchedule) -> ScheduleState:
    return ScheduleState(**{name: getattr(row, name) for name in _STATE_FIELDS})


def load_schedule(session: Session, source: str) -> ScheduleState | None:
    """The stored schedule of ``source``, or ``None`` if the daemon never ran it."""
    row = session.execute(
        select(SourceSchedule).join(Source, Source.id == SourceSchedule.source_id).where(Source.name == source)
    ).scalar_one_or_none()
    return _state_of(row) if row is not None else None


def save_schedule(session: Session, source: str, state: ScheduleState) -> None:
    """Store (replace) the schedule of ``source``."""
    source_id = ensure_source(session, source)
    values = {name: getattr(state, name) for name in _STATE_FIELDS}
    statement = dialect_insert(session, SourceSchedule).values(source_id=source_id, **values)
    session.execute(statement.on_conflict_do_update(index_elements=[SourceSchedule.source_id], set_=values))


def all_schedules(session: Session) -> dict[str, ScheduleState]:
    """Every stored schedule, by source name."""
    rows = session.execute(
        select(Source.name, SourceSchedule).join(SourceSchedule, Source.id == SourceSchedule.source_id)
    )
    return {name: _state_of(row) for name, row in rows}


# -- crawl runs owned by the daemon ----------------------------------------------------------
def get_run(session: Session, run_id: int) -> CrawlRun | None:
    """The crawl-run row ``run_id``."""
    return session.get(CrawlRun, run_id)


def adopt_run(session: Session, run_id: int, pid: int, host: str) -> bool:
    """Make the crawl process ``pid`` on ``host`` the owner of a ``running`` run row created for it;
    ``False`` if there is no such running row."""
    result = session.execute(
        update(CrawlRun).where(CrawlRun.id == run_id, CrawlRun.status == RunStatus.RUNNING).values(pid=pid, host=host)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def abort_stale_runs(session: Session, is_alive: Callable[[CrawlRun], bool]) -> list[int]:
    """Mark ``aborted`` every run still ``running`` whose process ``is_alive`` says is gone (runs sent to
    the cluster's queue aside); their ids."""
    # a run sent to the cluster's queue (``task_id``) is judged by the daemon from the queue and its heartbeat
    running = select(CrawlRun).where(CrawlRun.status == RunStatus.RUNNING, CrawlRun.task_id.is_(None))
    stale = list(session.execute(running).scalars())
    aborted = [run.id for run in stale if not is_alive(run)]
    if aborted:
        session.execute(
            update(CrawlRun)
            .where(CrawlRun.id.in_(aborted), CrawlRun.status == RunStatus.RUNNING)
            .values(status=RunStatus.ABORTED, finished_at=utcnow(), message="its process ended without closing the run")
        )
    return aborted


def job_next_run_times(session: Session) -> dict[str, datetime | None]:
    """The next-run time of every job in the scheduler's job store, by job id (``None``: paused)."""
    rows = session.execute(select(scheduler_jobs.c.id, scheduler_jobs.c.next_run_time))
    return {
        job_id: datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None for job_id, timestamp in rows
    }
