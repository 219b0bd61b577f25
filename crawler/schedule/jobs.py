"""The daemon's APScheduler: the scheduler over the job store in the corpus database, a crawl job
per source and the digest job, kept in step with the sources file at every start.

The job store holds each job's function by reference (``module:function``), so the two job
functions are named here by their textual references, :data:`CRAWL_JOB` and :data:`DIGEST_JOB`:
they are module-level functions of :mod:`crawler.schedule.daemon` and must stay there, or the
stored jobs of existing databases would no longer load.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.schedule.policy import bounds_of, cron_trigger, jitter_for, make_trigger, misfire_grace
from crawler.sources import Source
from crawler.text.durations import describe_interval, describe_moment, parse_schedule
from storage import Database

logger = logging.getLogger("ai4s.daemon")

#: The job functions, as the job store records them.
CRAWL_JOB = "crawler.schedule.daemon:crawl_job"
DIGEST_JOB = "crawler.schedule.daemon:digest_job"
#: Prefix of the job ids: ``crawl:<source>``; the digest job is ``digest:<name>``.
JOB_PREFIX = "crawl:"
DIGEST_PREFIX = "digest:"
#: The first crawls of new sources start within this many seconds of each other.
FIRST_RUN_STAGGER = 5.0
#: The job store table (APScheduler's layout, created by migration 0004).
JOBS_TABLE = "apscheduler_jobs"


def job_id(source: str) -> str:
    """The scheduler job id of ``source``."""
    return f"{JOB_PREFIX}{source}"


@dataclass(frozen=True)
class DigestJob:
    """The daemon's digest job: its name, its schedule (an interval or a cron expression), and where it goes."""

    name: str
    every: str
    directory: Path
    mail_to: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()  # chat services (Apprise URLs)

    @property
    def job_id(self) -> str:
        """The scheduler job id of this digest."""
        return f"{DIGEST_PREFIX}{self.name}"

    def trigger(self) -> BaseTrigger:
        """Its trigger: every so many seconds, or its cron expression (UTC)."""
        seconds = parse_schedule(self.every)
        return IntervalTrigger(seconds=seconds, timezone=UTC) if seconds is not None else cron_trigger(self.every)


def check_schedules(sources: Sequence[Source], digest_every: str | None) -> None:
    """Refuse a schedule APScheduler cannot use (a source's cron ``every``, the digest's), with a
    :class:`ValueError` naming it: the daemon stops at start, not at the first firing."""
    for source in sources:
        try:
            if bounds_of(source) is None:
                cron_trigger(source.every)
        except ValueError as exc:
            raise ValueError(f"source {source.name!r}: every = {source.every!r}: {exc}") from None
    if digest_every is not None and parse_schedule(digest_every) is None:
        cron_trigger(digest_every)


class _SkippedFiringFilter(logging.Filter):
    """Drops APScheduler's "maximum number of running instances reached" warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


def make_scheduler(database: Database, max_parallel: int) -> BackgroundScheduler:
    """A scheduler whose jobs live in ``database`` and run ``max_parallel`` at once, each job one
    instance at a time, missed firings coalesced into one."""
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # A crawl that outlasts its interval makes APScheduler warn at every firing it skips; the
    # daemon's own line per run says enough.
    logging.getLogger("apscheduler.scheduler").addFilter(_SkippedFiringFilter())
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=database.engine, tablename=JOBS_TABLE)},
        executors={"default": ThreadPoolExecutor(max(1, max_parallel))},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=UTC,
    )


def put_job(
    scheduler: BackgroundScheduler,
    key: str,
    func: str,
    arg: str,
    trigger: BaseTrigger,
    job: Job | None,
    now: datetime,
    first_run: datetime | None = None,
    due_by: datetime | None = None,
) -> datetime:
    """Add or replace job ``key`` calling ``func(arg)``; its next run. A job whose trigger did not
    change keeps its next run (past or not: a late one runs once, coalesced), and so does one whose next run
    was missed while no daemon ran, whatever its new trigger (a crawl that adapted the interval as the daemon
    stopped must not cost the catch-up); a new one starts at ``first_run`` if given; any other at the
    trigger's next firing. A stored job runs no later than ``due_by``: APScheduler moves a job's next run on as it
    hands it to a worker, so a job that waited for a free one when the daemon stopped (or was killed) would
    otherwise skip a whole interval."""
    stored = job.next_run_time if job is not None else None
    if job is not None and stored is not None and (str(job.trigger) == str(trigger) or stored <= now):
        next_run: datetime = stored
    elif job is None and first_run is not None:
        next_run = first_run
    else:
        next_run = trigger.get_next_fire_time(None, now)
    if job is not None and due_by is not None and due_by < next_run:  # past or not: APScheduler coalesces
        next_run = due_by
    scheduler.add_job(
        func,
        trigger=trigger,
        args=[arg],
        id=key,
        name=key.replace(":", " ", 1),
        replace_existing=True,
        next_run_time=next_run,
        misfire_grace_time=misfire_grace(trigger, now),
    )
    return next_run


def sync_jobs(
    scheduler: BackgroundScheduler,
    sources: Sequence[Source],
    intervals: Mapping[str, float | None],
    digest: DigestJob | None,
    due: Mapping[str, datetime | None] | None = None,
) -> None:
    """Make the job store match the sources: a crawl job per source at its current interval
    (``intervals``, ``None`` for a cron schedule) and at the latest when its crawl is ``due`` (by its last run),
    the digest job if any, no other job."""
    existing: dict[str, Job] = {job.id: job for job in scheduler.get_jobs()}
    wanted = {job_id(source.name) for source in sources} | ({digest.job_id} if digest else set())
    for stale in sorted(set(existing) - wanted):
        scheduler.remove_job(stale)
        if stale.startswith(JOB_PREFIX):
            logger.info("Source %s is no longer in the sources file: not crawled any more", stale[len(JOB_PREFIX) :])
        else:
            logger.info("Digest job %s removed", stale)
    now = datetime.now(UTC)
    if digest is not None:
        job = existing.get(digest.job_id)
        next_run = put_job(scheduler, digest.job_id, DIGEST_JOB, digest.name, digest.trigger(), job, now)
        mail = f", mailed to {', '.join(digest.mail_to)}" if digest.mail_to else ""
        if digest.notify:
            mail += f", sent to {len(digest.notify)} chat service{'s' if len(digest.notify) > 1 else ''}"
        when, directory = _when(next_run), digest.directory
        logger.info("Digest %s: every %s, next %s, into %s%s", digest.name, digest.every, when, directory, mail)
    for source in sources:
        interval = intervals.get(source.name)
        key = job_id(source.name)
        # first crawls a few seconds apart at most; later firings are spread by the trigger's jitter
        stagger = random.uniform(0, min(FIRST_RUN_STAGGER, jitter_for(interval or 3600)))
        trigger = make_trigger(source, interval)
        first_run = now + timedelta(seconds=stagger)
        due_by = (due or {}).get(source.name)
        next_run = put_job(scheduler, key, CRAWL_JOB, source.name, trigger, existing.get(key), now, first_run, due_by)
        late = " (late: one catch-up crawl now)" if next_run < now else ""
        logger.info(
            "Source %s: every %s, next crawl %s%s", source.name, every_text(source, interval), _when(next_run), late
        )


def reschedule_crawl(scheduler: BackgroundScheduler, source: Source, interval: float) -> None:
    """Move the crawl job of ``source`` to a new interval (nothing once the scheduler has stopped:
    the job store keeps the next run it had)."""
    try:
        scheduler.reschedule_job(job_id(source.name), trigger=make_trigger(source, interval))
    except (SchedulerNotRunningError, JobLookupError):
        pass


def every_text(source: Source, interval: float | None) -> str:
    """How often ``source`` is crawled, ``30m``, ``1h (adapted from 30m)``, ``cron '0 6 * * *' (UTC)``."""
    if interval is None:
        return f"cron {source.every!r} (UTC)"
    adapted = describe_interval(interval)
    return adapted if interval == parse_schedule(source.every) else f"{adapted} (adapted from {source.every})"


def _when(moment: datetime) -> str:
    """A next-run time for a log line: UTC time and how far from now."""
    return describe_moment(moment, datetime.now(UTC))
