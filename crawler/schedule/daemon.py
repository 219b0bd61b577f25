"""The scheduled daemon: one APScheduler job per source, each crawl in its own process.

Started once, it keeps the corpus current: every source of the sources file is crawled on its
own schedule (``every``), adapted to what the source yields (:mod:`crawler.schedule.policy`). The job
store lives in the corpus database, so next-run times survive restarts; jobs are re-created
from the sources file at every start. One daemon runs per database (:mod:`storage.lock`).

A crawl is a child process (``ai4s crawl --source NAME``; Scrapy's reactor runs once per
process) with a time limit. The daemon creates its crawl-run row and closes it if the child
could not (a crash, a kill). ``SIGTERM`` / ``SIGINT`` stop the daemon within a bound: running
crawls are asked to stop (they close their run as ``interrupted``) and killed when they do not
(their run is then ``aborted``). Whatever a crawl committed stays committed.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from platformdirs import user_data_dir, user_log_dir

from crawler.digest.delivery import DigestRequest
from crawler.digest.delivery import make_digest as deliver_digest
from crawler.digest.mail import MailError, SmtpSettings
from crawler.relevance.profile import load_profile
from crawler.schedule.policy import (
    RunResult,
    bounds_of,
    cron_trigger,
    jitter_for,
    make_trigger,
    misfire_grace,
    next_state,
)
from crawler.sources import Source, load_sources, parse_every
from crawler.text.durations import describe_interval, describe_moment
from storage import Database
from storage.db import APP_NAME
from storage.lock import DatabaseLock, LockHeld
from storage.models import CrawlRun
from storage.repository import SourceRunCounts, finish_run, run_counts, start_run
from storage.schedules import ScheduleState, abort_stale_runs, get_run, load_schedule, save_schedule

logger = logging.getLogger("ai4s.daemon")

#: Prefix of the job ids: ``crawl:<source>``; the digest job is ``digest:<name>``.
JOB_PREFIX = "crawl:"
DIGEST_PREFIX = "digest:"
#: Seconds between checks that the daemon still holds its database lock.
LOCK_CHECK_INTERVAL = 30.0
#: The first crawls of new sources start within this many seconds of each other.
FIRST_RUN_STAGGER = 5.0
#: The job store table (APScheduler's layout, created by migration 0004).
JOBS_TABLE = "apscheduler_jobs"


@dataclass
class DaemonOptions:
    """What the daemon crawls and how: the ``crawl`` options plus its own limits."""

    sources_file: Path | None = None
    source_names: list[str] = field(default_factory=list)  # only these sources (default: all)
    db_url: str | None = None
    topics_file: Path | None = None
    settings: dict[str, str] = field(default_factory=dict)
    time_limit: float = 3600.0  # seconds a crawl may run before it is asked to stop
    stop_timeout: float = 30.0  # seconds a crawl gets to stop before it is killed
    max_parallel: int = 2  # crawls at once (each one process plus its extraction workers)
    log_dir: Path | None = None  # per-source crawl logs; default: the user's log directory
    crawl_log_level: str = "INFO"
    digest_every: str | None = "1d"  # the digest job's schedule (interval or cron); None: no digest job
    digest_dir: Path | None = None  # where its files go; default: the user's data directory
    digest_mail: list[str] = field(default_factory=list)
    digest_name: str = "daemon"
    digest_settle: float = 60.0  # seconds of the latest articles a digest leaves to the next one


def job_id(source: str) -> str:
    """The scheduler job id of ``source``."""
    return f"{JOB_PREFIX}{source}"


def _process_alive(run: CrawlRun) -> bool:
    """True when the run's process may still be running: it is on another host (cannot be
    checked from here), or a live ai4s process has its pid on this one (not a zombie left by a
    killed parent, not an unrelated process that got the pid later)."""
    if run.host and run.host != socket.gethostname():
        return True
    if not run.pid or run.pid == os.getpid():  # a pid reused by this very daemon: the old process is gone
        return False
    proc = Path(f"/proc/{run.pid}")
    if Path("/proc/self").exists():
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (proc / "cmdline").read_bytes()
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X") and (b"crawler" in command or b"ai4s" in command)
    try:
        os.kill(run.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _SkippedFiringFilter(logging.Filter):
    """Drops APScheduler's "maximum number of running instances reached" warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


# The job function must be importable by reference (the job store pickles ``module:function``
# and its arguments); it reaches the running daemon through this module-level handle.
_current: Daemon | None = None


def crawl_job(source: str) -> None:
    """The scheduled job of ``source``: one crawl of it by the running daemon."""
    if _current is None:
        raise RuntimeError("crawl_job runs inside a daemon only")
    _current.crawl_source(source)


def digest_job(name: str) -> None:
    """The scheduled digest: what is new since the last one, written and mailed by the running daemon."""
    if _current is None:
        raise RuntimeError("digest_job runs inside a daemon only")
    _current.make_digest(name)


class Daemon:
    """A running daemon over one database; :meth:`run` blocks until it is told to stop."""

    def __init__(self, options: DaemonOptions) -> None:
        self.options = options
        self.sources: dict[str, Source] = {s.name: s for s in load_sources(options.sources_file, options.source_names)}
        for source in self.sources.values():  # a cron expression APScheduler cannot use stops the daemon now
            try:
                if bounds_of(source) is None:
                    cron_trigger(source.every)
            except ValueError as exc:
                raise ValueError(f"source {source.name!r}: every = {source.every!r}: {exc}") from None
        load_profile(options.topics_file)  # a broken profile stops the daemon at start, not every crawl
        self.database = Database(options.db_url)
        self.db_url = self.database.url
        self.lock = DatabaseLock(self.db_url)
        self.log_dir = options.log_dir or Path(user_log_dir(APP_NAME))
        self.digest_dir = options.digest_dir or Path(user_data_dir(APP_NAME)) / "digests"
        if options.digest_every is not None:  # a wrong schedule stops the daemon at start
            if parse_every(options.digest_every) is None:
                cron_trigger(options.digest_every)
        if options.digest_mail:
            SmtpSettings.from_environment()  # so does mail without an SMTP server
        self.stopping = threading.Event()
        self.scheduler: BackgroundScheduler | None = None
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._children_lock = threading.Lock()
        self._active = 0
        self._idle = threading.Condition()

    # -- life cycle ---------------------------------------------------------------------
    def run(self) -> None:
        """Take the database's daemon lock (or raise :class:`storage.lock.LockHeld`), schedule
        every source and crawl until ``SIGTERM`` / ``SIGINT``."""
        global _current
        self.lock.acquire()
        try:
            _current = self
            self._install_signal_handlers()
            self._abort_stale_runs()
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.scheduler = self._make_scheduler()
            self.scheduler.start(paused=True)
            self._sync_jobs()
            self.scheduler.resume()
            logger.info(
                "Daemon started (pid %d) on %s: %d sources, crawl logs in %s",
                os.getpid(),
                self.database.url,
                len(self.sources),
                self.log_dir,
            )
            checked = time.monotonic()
            while not self.stopping.wait(0.5):
                if time.monotonic() - checked > LOCK_CHECK_INTERVAL:
                    checked = time.monotonic()
                    if not self.lock.check():
                        logger.error("The database lock was lost (connection gone): stopping, so no two daemons run")
                        self.stopping.set()
            self._shut_down()
        finally:
            _current = None
            self.lock.release()
            self.database.close()

    def stop(self) -> None:
        """Ask the daemon to stop (what ``SIGTERM`` does)."""
        self.stopping.set()

    def _install_signal_handlers(self) -> None:
        def on_signal(signum: int, _frame: Any) -> None:
            if not self.stopping.is_set():
                logger.info("Received %s: stopping", signal.Signals(signum).name)
            self.stopping.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    def _shut_down(self) -> None:
        """Stop scheduling, stop the running crawls within the bound, and wait for their jobs."""
        assert self.scheduler is not None
        with self._children_lock:
            running = sorted(self._children)
        logger.info("Stopping: %s", f"stopping the crawls of {', '.join(running)}" if running else "no crawl running")
        self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + self.options.stop_timeout + 5
        with self._idle:
            while self._active and time.monotonic() < deadline:
                self._idle.wait(0.2)
        logger.info("Daemon stopped")

    def _abort_stale_runs(self) -> None:
        with self.database.session() as session, session.begin():
            aborted = abort_stale_runs(session, _process_alive)
        if aborted:
            logger.warning("Crawl runs %s were left running by a process that is gone: marked aborted", aborted)

    # -- the schedule -------------------------------------------------------------------
    def _make_scheduler(self) -> BackgroundScheduler:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        # A crawl that outlasts its interval makes APScheduler warn at every firing it skips; the
        # daemon's own line per run says enough.
        logging.getLogger("apscheduler.scheduler").addFilter(_SkippedFiringFilter())
        return BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.database.engine, tablename=JOBS_TABLE)},
            executors={"default": ThreadPoolExecutor(max(1, self.options.max_parallel))},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )

    def _sync_jobs(self) -> None:
        """Make the job store match the sources file: a job per source, none for removed sources.
        A job whose schedule did not change keeps its next-run time (past or not)."""
        assert self.scheduler is not None
        existing = {job.id: job for job in self.scheduler.get_jobs()}
        wanted = {job_id(name) for name in self.sources}
        if self.options.digest_every is not None:
            wanted.add(DIGEST_PREFIX + self.options.digest_name)
        for stale in sorted(set(existing) - wanted):
            self.scheduler.remove_job(stale)
            if stale.startswith(JOB_PREFIX):
                logger.info(
                    "Source %s is no longer in the sources file: not crawled any more", stale[len(JOB_PREFIX) :]
                )
            else:
                logger.info("Digest job %s removed", stale)
        if self.options.digest_every is not None:
            self._schedule_digest(existing.get(DIGEST_PREFIX + self.options.digest_name))
        now = datetime.now(UTC)
        for name, source in self.sources.items():
            interval = self._current_interval(source)
            trigger = make_trigger(source, interval)
            # first crawls a few seconds apart at most; later firings are spread by the trigger's jitter
            stagger = random.uniform(0, min(FIRST_RUN_STAGGER, jitter_for(interval or 3600)))
            next_run = self._put_job(
                job_id(name),
                crawl_job,
                name,
                trigger,
                existing.get(job_id(name)),
                now,
                now + timedelta(seconds=stagger),
            )
            late = " (late: one catch-up crawl now)" if next_run < now else ""
            logger.info(
                "Source %s: every %s, next crawl %s%s", name, self._every_text(source, interval), _when(next_run), late
            )

    def _put_job(
        self,
        job_key: str,
        func: Any,
        arg: str,
        trigger: Any,
        job: Any,
        now: datetime,
        first_run: datetime | None = None,
    ) -> datetime:
        """Add or replace job ``job_key``; its next run. A job whose trigger did not change keeps its
        next run (past or not: a late one runs once, coalesced); a new one starts at ``first_run``
        if given; any other at the trigger's next firing."""
        assert self.scheduler is not None
        if job is not None and str(job.trigger) == str(trigger) and job.next_run_time is not None:
            next_run = job.next_run_time
        elif job is None and first_run is not None:
            next_run = first_run
        else:
            next_run = trigger.get_next_fire_time(None, now)
        self.scheduler.add_job(
            func,
            trigger=trigger,
            args=[arg],
            id=job_key,
            name=job_key.replace(":", " ", 1),
            replace_existing=True,
            next_run_time=next_run,
            misfire_grace_time=misfire_grace(trigger, now),
        )
        return next_run

    def _schedule_digest(self, job: Any) -> None:
        """The digest job: at its schedule, keeping its next run across restarts (coalesced, like crawls)."""
        assert self.scheduler is not None and self.options.digest_every is not None
        every = self.options.digest_every
        seconds = parse_every(every)
        trigger = IntervalTrigger(seconds=seconds, timezone=UTC) if seconds is not None else cron_trigger(every)
        name = self.options.digest_name
        next_run = self._put_job(DIGEST_PREFIX + name, digest_job, name, trigger, job, datetime.now(UTC))
        mail = f", mailed to {', '.join(self.options.digest_mail)}" if self.options.digest_mail else ""
        logger.info("Digest %s: every %s, next %s, into %s%s", name, every, _when(next_run), self.digest_dir, mail)

    def make_digest(self, name: str) -> None:
        """Write (and mail) the digest of what is new since the last one; a failure leaves it to the next."""
        if self.stopping.is_set():
            return
        with self._idle:
            self._active += 1
        try:
            self._make_digest(name)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _make_digest(self, name: str) -> None:
        options = self.options
        request = DigestRequest(
            name=name,
            since_last=True,
            formats=["html", "md", "json"],
            out=self.digest_dir,
            mail_to=list(options.digest_mail),
            settle=timedelta(seconds=options.digest_settle),
            feed=self.digest_dir / f"digest-{name}.atom",  # a stable address for feed readers
        )
        try:
            delivery = deliver_digest(self.database, request)
        except (MailError, OSError, LockHeld) as exc:
            logger.warning("Digest %s failed, its period is left to the next one: %s", name, exc)
            return
        except Exception:
            logger.exception("Digest %s failed, its period is left to the next one", name)
            return
        counts = delivery.digest["counts"]
        mailed = f", mailed to {', '.join(delivery.mailed_to)}" if delivery.mailed_to else ""
        logger.info(
            "Digest %s (%d): %d stories (%d new, %d grown) written to %s%s",
            name,
            delivery.run_id,
            counts["stories"],
            counts["new_stories"],
            counts["grown_stories"],
            delivery.files[0] if delivery.files else self.digest_dir,
            mailed,
        )

    def _current_interval(self, source: Source) -> float | None:
        """The interval to poll ``source`` at now: as adapted, if its configured ``every`` is unchanged."""
        bounds = bounds_of(source)
        if bounds is None:
            return None
        with self.database.session() as session, session.begin():
            state = load_schedule(session, source.name)
            if state is None:
                state = ScheduleState(every=source.every, interval_seconds=bounds.every)
                save_schedule(session, source.name, state)
            elif state.every != source.every or state.interval_seconds is None:
                # a new configured pace: the interval starts from it; health and last run are kept
                state = replace(state, every=source.every, interval_seconds=bounds.every, empty_polls=0)
                save_schedule(session, source.name, state)
        return bounds.clamp(state.interval_seconds or bounds.every)

    @staticmethod
    def _every_text(source: Source, interval: float | None) -> str:
        if interval is None:
            return f"cron {source.every!r} (UTC)"
        adapted = describe_interval(interval)
        return adapted if interval == parse_every(source.every) else f"{adapted} (adapted from {source.every})"

    # -- one crawl ----------------------------------------------------------------------
    def crawl_source(self, name: str) -> None:
        """Crawl source ``name`` in a child process, record the run, and adapt its schedule."""
        source = self.sources.get(name)
        if source is None or self.stopping.is_set():
            return
        with self._idle:
            self._active += 1
        try:
            started = time.monotonic()
            with self.database.session() as session, session.begin():
                run_id = start_run(session, [name], pid=os.getpid(), host=socket.gethostname())
            exit_code, stopped = self._run_child(name, run_id)
            result, counts = self._close_run(name, run_id, exit_code, stopped)
            self._adapt(source, result, counts, time.monotonic() - started)
        except Exception:
            logger.exception("Source %s: the crawl job failed", name)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _command(self, name: str, run_id: int) -> list[str]:
        options = self.options
        command = [sys.executable, "-m", "crawler", "crawl", "--source", name, "--db", self.db_url]
        if options.sources_file:
            command += ["--sources", str(options.sources_file)]
        if options.topics_file:
            command += ["--topics", str(options.topics_file)]
        command += ["--log-level", options.crawl_log_level, "--log-file", str(self.log_dir / f"{name}.log")]
        settings = {
            **options.settings,
            "AI4S_RUN_ID": str(run_id),
            "AI4S_PARENT_PID": str(os.getpid()),
            "CLOSESPIDER_TIMEOUT": str(options.time_limit),
        }
        for key, value in settings.items():
            command += ["-s", f"{key}={value}"]
        return command

    def _run_child(self, name: str, run_id: int) -> tuple[int, str | None]:
        """Run the crawl process to its end: its exit code, and why the daemon stopped it (``None``
        if it ended by itself)."""
        options = self.options
        stderr = (self.log_dir / f"{name}.stderr").open("ab")
        try:
            child = subprocess.Popen(
                self._command(name, run_id),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,  # a terminal's Ctrl-C reaches the daemon, which stops the crawl
            )
        finally:
            stderr.close()
        with self._children_lock:
            self._children[name] = child
        # Scrapy stops the crawl itself at the time limit (CLOSESPIDER_TIMEOUT); this is the backstop.
        deadline = time.monotonic() + options.time_limit + options.stop_timeout + 30
        try:
            while True:
                try:
                    return child.wait(timeout=0.25), None
                except subprocess.TimeoutExpired:
                    pass
                if self.stopping.is_set():
                    return self._stop_child(child, name, "the daemon is stopping")
                if time.monotonic() > deadline:
                    return self._stop_child(child, name, "it ran over its time limit")
        finally:
            with self._children_lock:
                self._children.pop(name, None)

    def _stop_child(self, child: subprocess.Popen[bytes], name: str, why: str) -> tuple[int, str]:
        """``SIGTERM`` (Scrapy closes the crawl cleanly); ``SIGKILL`` to its process group after the stop timeout."""
        logger.info("Source %s: stopping its crawl (pid %d) because %s", name, child.pid, why)
        child.send_signal(signal.SIGTERM)
        try:
            return child.wait(timeout=self.options.stop_timeout), f"stopped by the daemon: {why}"
        except subprocess.TimeoutExpired:
            logger.warning("Source %s: the crawl did not stop within %.0f s: killed", name, self.options.stop_timeout)
            try:
                os.killpg(child.pid, signal.SIGKILL)  # its extraction workers too
            except ProcessLookupError:
                pass
            return (
                child.wait(),
                f"killed by the daemon ({why}): it did not stop within {self.options.stop_timeout:.0f} s",
            )

    def _close_run(
        self, name: str, run_id: int, exit_code: int, stopped: str | None
    ) -> tuple[RunResult, SourceRunCounts | None]:
        """The result of the crawl and its counts; the run row closed here if the crawl process could
        not close it (``aborted`` when the daemon stopped it, ``failed`` when it crashed)."""
        with self.database.session() as session, session.begin():
            run = get_run(session, run_id)
            status = run.status if run is not None else "failed"
            message = run.message if run is not None else None
            if status == "running":
                status = "aborted" if stopped else "failed"
                message = stopped or (
                    f"the crawl process ended with exit code {exit_code} without closing its run"
                    f" (see {self.log_dir / (name + '.stderr')})"
                )
                finish_run(session, run_id, status, message)
            counts = next((c for c in run_counts(session, run_id) if c.source == name), None)
        result = RunResult(
            run_id=run_id,
            status=status,
            new_articles=counts.new_articles if counts else 0,
            unreachable=counts.unreachable if counts else False,
            error=message if status != "ok" else None,
            neutral=bool(stopped) and self.stopping.is_set(),
        )
        return result, counts

    def _adapt(self, source: Source, result: RunResult, counts: SourceRunCounts | None, seconds: float) -> None:
        """Record the result in the source's schedule, move its interval, and log the run's line."""
        bounds = bounds_of(source)
        with self.database.session() as session, session.begin():
            state = load_schedule(session, source.name) or ScheduleState(
                every=source.every, interval_seconds=bounds.every if bounds else None
            )
            updated = next_state(state, bounds, result, datetime.now(UTC))
            save_schedule(session, source.name, updated)
        if updated.interval_seconds is not None and not self.stopping.is_set() and self.scheduler is not None:
            trigger = make_trigger(source, updated.interval_seconds)
            try:
                self.scheduler.reschedule_job(job_id(source.name), trigger=trigger)
            except (SchedulerNotRunningError, JobLookupError):
                pass  # the daemon is stopping: the job store keeps the next run it had
        self._log_run(source, result, updated, seconds, counts)

    def _log_run(
        self, source: Source, result: RunResult, state: ScheduleState, seconds: float, counts: SourceRunCounts | None
    ) -> None:
        figures = (
            f"{counts.pages_fetched} fetched, {counts.new_articles} new, {counts.skipped_known} known, "
            f"{counts.entry_pages_unchanged} unchanged, {counts.errors} errors"
            if counts
            else "no counts"
        )
        health = "" if state.healthy else f"; UNHEALTHY after {state.failures} failed runs"
        if state.failures and state.healthy:
            health = f"; {state.failures} failed runs in a row"
        pace = (
            f"every {describe_interval(state.interval_seconds)}" if state.interval_seconds else f"cron {source.every}"
        )
        why = f" ({result.error})" if result.error else ""
        line = "Source %s: run %d %s%s in %.1f s: %s; next: %s%s"
        level = logging.WARNING if result.failed else logging.INFO
        logger.log(level, line, source.name, result.run_id, result.status, why, seconds, figures, pace, health)


def _when(moment: datetime) -> str:
    """A next-run time for a log line: UTC time and how far from now."""
    return describe_moment(moment, datetime.now(UTC))
