"""What the daemon records of each job run: a crawl's run row (started by the daemon, closed here
when the crawl process could not), the source's schedule moved by the pure policy
(:mod:`crawler.schedule.policy`), the run's log line; and the digest a digest job delivers.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crawler.digest.chat import ChatError
from crawler.digest.delivery import DigestRequest, make_digest
from crawler.digest.mail import MailError
from crawler.schedule.counts import describe_counts
from crawler.schedule.policy import RunResult, bounds_of, jitter_for, next_state
from crawler.schedule.supervise import ChildExit, process_alive
from crawler.sources import Source
from crawler.text.durations import describe_interval
from crawler.text.wording import plural
from storage import Database
from storage.counters import SourceRunCounts
from storage.lock import LockHeld
from storage.models import RunStatus
from storage.repository import finish_run, run_counts, start_run
from storage.schedules import ScheduleState, abort_stale_runs, get_run, load_schedule, save_schedule

logger = logging.getLogger("ai4s.daemon")


def abort_orphaned_runs(database: Database) -> list[int]:
    """Mark ``aborted`` the runs left ``running`` by a process that is gone (a killed daemon or crawl); their ids."""
    with database.session() as session, session.begin():
        aborted = abort_stale_runs(session, process_alive)
    if aborted:
        logger.warning("Crawl runs %s were left running by a process that is gone: marked aborted", aborted)
    return aborted


def open_crawl_run(database: Database, source: str) -> int:
    """Start the run row of one crawl of ``source``, owned by this process until the crawl adopts it; its id."""
    with database.session() as session, session.begin():
        return start_run(session, [source], pid=os.getpid(), host=socket.gethostname())


def close_crawl_run(
    database: Database, source: str, run_id: int, ended: ChildExit, stderr_path: Path, daemon_stopping: bool
) -> tuple[RunResult, SourceRunCounts | None]:
    """The result of the crawl and its counts; the run row closed here if the crawl process could
    not close it (``aborted`` when the daemon stopped it, ``failed`` when it crashed). A crawl the
    daemon stopped because it is stopping itself says nothing of the source (``neutral``)."""
    with database.session() as session, session.begin():
        run = get_run(session, run_id)
        if run is not None and run.status == RunStatus.RUNNING:
            status = RunStatus.ABORTED if ended.stopped else RunStatus.FAILED
            message = ended.stopped or (
                f"the crawl process ended with exit code {ended.code} without closing its run (see {stderr_path})"
            )
            finish_run(session, run_id, status, message)
    return run_result(database, source, run_id, neutral=bool(ended.stopped) and daemon_stopping)


def run_result(
    database: Database, source: str, run_id: int, neutral: bool = False
) -> tuple[RunResult, SourceRunCounts | None]:
    """What closed run ``run_id`` says of ``source`` (for the policy), and its counts; ``neutral``: nothing."""
    with database.session() as session, session.begin():
        run = get_run(session, run_id)
        status = run.status if run is not None else RunStatus.FAILED
        message = run.message if run is not None else None
        counts = next((c for c in run_counts(session, run_id) if c.source == source), None)
    result = RunResult(
        run_id=run_id,
        status=status,
        new_articles=counts.new_articles if counts else 0,
        unreachable=counts.unreachable if counts else False,
        error=message if status != RunStatus.OK else None,
        neutral=neutral,
    )
    return result, counts


def current_interval(database: Database, source: Source) -> float | None:
    """The interval to poll ``source`` at now: as adapted, if its configured ``every`` is unchanged
    (``None`` for a cron schedule). A new or changed ``every`` starts the adapted interval again from it."""
    bounds = bounds_of(source)
    if bounds is None:
        return None
    with database.session() as session, session.begin():
        state = load_schedule(session, source.name)
        if state is None:
            state = ScheduleState(every=source.every, interval_seconds=bounds.every)
            save_schedule(session, source.name, state)
        elif state.every != source.every or state.interval_seconds is None:
            # a new configured pace: the interval starts from it; health and last run are kept
            state = replace(state, every=source.every, interval_seconds=bounds.every, empty_polls=0)
            save_schedule(session, source.name, state)
    return bounds.clamp(state.interval_seconds or bounds.every)


#: Statuses of a last run cut short (the daemon stopped, or it or the crawl was killed): the crawl is due again.
CUT_SHORT = frozenset({RunStatus.INTERRUPTED, RunStatus.ABORTED})


def crawl_due(database: Database, source: Source, interval: float | None) -> datetime | None:
    """When ``source``'s next crawl is due by its last run, at ``interval`` seconds: an interval (and the most its
    trigger's jitter adds) after that run, or at once if it never ran or its last run was cut short; ``None`` for a
    cron schedule."""
    if interval is None:
        return None
    with database.session() as session:
        state = load_schedule(session, source.name)
    if state is None or state.last_run_at is None or state.last_status in CUT_SHORT:
        return datetime.now(UTC)
    return state.last_run_at + timedelta(seconds=interval + jitter_for(interval))


def adapt_schedule(database: Database, source: Source, result: RunResult) -> ScheduleState:
    """Record ``result`` in the source's schedule and move its interval by the policy; the new state."""
    bounds = bounds_of(source)
    with database.session() as session, session.begin():
        state = load_schedule(session, source.name) or ScheduleState(
            every=source.every, interval_seconds=bounds.every if bounds else None
        )
        updated = next_state(state, bounds, result, datetime.now(UTC))
        save_schedule(session, source.name, updated)
    return updated


def log_run(
    source: Source, result: RunResult, state: ScheduleState, seconds: float, counts: SourceRunCounts | None
) -> None:
    """The daemon's one line about a finished crawl: status, counts, next pace and health (a warning if it failed)."""
    figures = describe_counts(counts.values()) if counts else "no counts"
    health = "" if state.healthy else f"; UNHEALTHY after {plural(state.failures, 'failed run')}"
    if state.failures and state.healthy:
        health = f"; {plural(state.failures, 'failed run')} in a row"
    pace = f"every {describe_interval(state.interval_seconds)}" if state.interval_seconds else f"cron {source.every}"
    why = f" ({result.error})" if result.error else ""
    line = "Source %s: run %d %s%s in %.1f s: %s; next: %s%s"
    level = logging.WARNING if result.failed else logging.INFO
    logger.log(level, line, source.name, result.run_id, result.status, why, seconds, figures, pace, health)


def deliver_scheduled_digest(
    database: Database, name: str, directory: Path, mail_to: list[str], settle: float, notify: Sequence[str] = ()
) -> None:
    """Write (and mail, and send to chat) digest ``name`` of what is new since its last one, into
    ``directory`` with its Atom feed; a failure is logged and leaves the period to the next one."""
    request = DigestRequest(
        name=name,
        since_last=True,
        formats=["html", "md", "json"],
        out=directory,
        mail_to=list(mail_to),
        notify=list(notify),
        settle=timedelta(seconds=settle),
        feed=directory / f"digest-{name}.atom",  # a stable address for feed readers
    )
    try:
        delivery = make_digest(database, request)
    except (MailError, ChatError, OSError, LockHeld) as exc:
        logger.warning("Digest %s failed, its period is left to the next one: %s", name, exc)
        return
    except Exception:
        logger.exception("Digest %s failed, its period is left to the next one", name)
        return
    counts = delivery.digest["counts"]
    mailed = f", mailed to {', '.join(delivery.mailed_to)}" if delivery.mailed_to else ""
    if delivery.notified:
        mailed += f", sent to {', '.join(delivery.notified)}"
    logger.info(
        "Digest %s (%d): %s (%d new, %d grown) written to %s%s",
        name,
        delivery.run_id,
        plural(counts["stories"], "story"),
        counts["new_stories"],
        counts["grown_stories"],
        delivery.files[0] if delivery.files else directory,
        mailed,
    )
