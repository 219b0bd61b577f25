"""The scheduled daemon: one APScheduler job per source, each crawl in its own process.

Started once, it keeps the corpus current: every source of the configuration is crawled on its
own schedule (``every``), adapted to what the source yields (:mod:`crawler.schedule.policy`). The job
store lives in the corpus database, so next-run times survive restarts; jobs are re-created
from the sources at every start (:mod:`crawler.schedule.jobs`). One daemon runs per database
(:mod:`storage.lock`).

A crawl is a child process (``ai4s crawl --source NAME``; Scrapy's reactor runs once per
process) with a time limit (:mod:`crawler.schedule.supervise`). The daemon creates its crawl-run
row and closes it if the child could not (a crash, a kill; :mod:`crawler.schedule.runs`).
``SIGTERM`` / ``SIGINT`` stop the daemon within a bound: running crawls are asked to stop (they
close their run as ``interrupted``) and killed when they do not (their run is then ``aborted``).
Whatever a crawl committed stays committed.

With a broker (``DaemonOptions.broker``) the daemon is still the only scheduler, but a due crawl is
sent to the cluster's queue instead of run here (:mod:`crawler.cluster.dispatch`); its outcome comes
back through its crawl-run row, and moves the source's schedule as a crawl run here does.

This module wires those parts: the lock, the signals, the main loop, and the two job functions.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from platformdirs import user_data_dir, user_log_dir

from crawler.cluster.broker import masked
from crawler.cluster.dispatch import Dispatcher
from crawler.config import Config
from crawler.digest.chat import check_notify_urls
from crawler.digest.mail import SmtpSettings
from crawler.schedule.jobs import DigestJob, check_schedules, make_scheduler, reschedule_crawl, sync_jobs
from crawler.schedule.policy import RunResult
from crawler.schedule.runs import (
    abort_orphaned_runs,
    adapt_schedule,
    close_crawl_run,
    crawl_due,
    current_interval,
    deliver_scheduled_digest,
    log_run,
    open_crawl_run,
)
from crawler.schedule.supervise import CrawlChild, crawl_command
from crawler.sources import Source
from crawler.text.wording import plural
from storage import Database
from storage.counters import SourceRunCounts
from storage.db import APP_NAME
from storage.lock import DatabaseLock, LockHeld

logger = logging.getLogger("ai4s.daemon")

#: Seconds between checks that the daemon still holds its database lock.
LOCK_CHECK_INTERVAL = 30.0
#: Once the lock is lost: seconds between two attempts to take it again, and how long the daemon keeps trying.
LOCK_RETRY_INTERVAL = 5.0
LOCK_REGAIN_LIMIT = 600.0
#: Seconds past a crawl's time limit and stop timeout before the daemon stops it itself
#: (Scrapy stops the crawl at the time limit, CLOSESPIDER_TIMEOUT; this is the backstop).
BACKSTOP_MARGIN = 30.0


@dataclass
class DaemonOptions:
    """How the daemon runs its crawls and its digest (what it crawls is the :class:`crawler.config.Config`)."""

    time_limit: float = 3600.0  # seconds a crawl may run before it is asked to stop
    stop_timeout: float = 30.0  # seconds a crawl gets to stop before it is killed
    max_parallel: int = 2  # crawls at once (each one process plus its extraction workers)
    log_dir: Path | None = None  # per-source crawl logs; default: the user's log directory
    crawl_log_level: str = "INFO"
    digest_every: str | None = "1d"  # the digest job's schedule (interval or cron); None: no digest job
    digest_dir: Path | None = None  # where its files go; default: the user's data directory
    digest_mail: list[str] = field(default_factory=list)
    digest_notify: list[str] = field(default_factory=list)  # chat services (Apprise URLs)
    digest_name: str = "daemon"
    digest_settle: float = 60.0  # seconds of the latest articles a digest leaves to the next one
    broker: str | None = None  # a Redis URL: crawls go to the cluster's queue instead of running here
    tick_interval: float = 10.0  # with a broker: seconds between two looks at the queued crawls


# The job functions must be importable by reference (the job store pickles ``module:function``
# and its arguments; see crawler.schedule.jobs); they reach the running daemon through this handle.
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
    """A running daemon over the configuration's database; :meth:`run` blocks until it is told to stop.

    Made from a loaded :class:`crawler.config.Config`; a schedule APScheduler cannot use, or mail
    without an SMTP server, raises at construction (a :class:`ValueError` or
    :class:`crawler.digest.mail.MailError`), before the database is opened.
    """

    def __init__(self, config: Config, options: DaemonOptions | None = None) -> None:
        self.config = config
        self.options = options = options or DaemonOptions()
        self.sources: dict[str, Source] = {source.name: source for source in config.sources}
        check_schedules(config.sources, options.digest_every)
        if options.digest_mail:
            SmtpSettings.from_environment()  # mail without an SMTP server stops the daemon now
        check_notify_urls(options.digest_notify)  # so does a chat URL Apprise does not know
        self.log_dir = options.log_dir or Path(user_log_dir(APP_NAME))
        digest_dir = options.digest_dir or Path(user_data_dir(APP_NAME)) / "digests"
        self.digest = (
            DigestJob(
                options.digest_name,
                options.digest_every,
                digest_dir,
                tuple(options.digest_mail),
                tuple(options.digest_notify),
            )
            if options.digest_every is not None
            else None
        )
        self.database = Database(config.db_url)
        self.lock = DatabaseLock(self.database.url)
        self.stopping = threading.Event()
        self.failure: str | None = None  # why the daemon stopped of itself, where it did
        self.scheduler: BackgroundScheduler | None = None
        self._children: dict[str, CrawlChild] = {}
        self._children_lock = threading.Lock()
        self._active = 0
        self._idle = threading.Condition()
        self.dispatcher: Dispatcher | None = None
        if options.broker is not None:
            self.dispatcher = Dispatcher(self.database, options.broker, options.time_limit, self._crawl_finished)

    # -- life cycle ---------------------------------------------------------------------
    def run(self) -> None:
        """Take the database's daemon lock (or raise :class:`storage.lock.LockHeld`), schedule
        every source and crawl until ``SIGTERM`` / ``SIGINT``."""
        global _current
        self.lock.acquire()
        try:
            _current = self
            self._install_signal_handlers()
            abort_orphaned_runs(self.database)
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.scheduler = make_scheduler(self.database, self.options.max_parallel)
            self.scheduler.start(paused=True)
            intervals = {name: current_interval(self.database, source) for name, source in self.sources.items()}
            due = {name: crawl_due(self.database, source, intervals[name]) for name, source in self.sources.items()}
            sync_jobs(self.scheduler, list(self.sources.values()), intervals, self.digest, due)
            self.scheduler.resume()
            logger.info(
                "Daemon started (pid %d) on %s: %s, crawl logs in %s",
                os.getpid(),
                self.database.url,
                plural(len(self.sources), "source"),
                self.log_dir,
            )
            if self.dispatcher is not None:
                logger.info("Crawls are sent to the queue of %s", masked(self.options.broker or ""))
            self._watch_lock()
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

    def _watch_lock(self) -> None:
        """Wait until told to stop, stopping too if the database lock is lost."""
        checked = ticked = time.monotonic()
        while not self.stopping.wait(0.5):
            if self.dispatcher is not None and time.monotonic() - ticked > self.options.tick_interval:
                ticked = time.monotonic()
                try:
                    self.dispatcher.tick()
                except Exception:  # the database went away for a moment: the next tick sees the same rows
                    logger.exception("Looking at the queued crawls failed")
            if time.monotonic() - checked > LOCK_CHECK_INTERVAL:
                checked = time.monotonic()
                if not self.lock.check() and not self._regain_lock():
                    self.stopping.set()

    def _regain_lock(self) -> bool:
        """After the database lock was lost with its connection (the database restarted, the network dropped): no
        new crawl until the lock is taken again, as soon as the database answers. False where it cannot be: another
        daemon took it meanwhile, or the database stayed out of reach for :data:`LOCK_REGAIN_LIMIT` seconds (the
        reason in :attr:`failure`), or the daemon was told to stop."""
        assert self.scheduler is not None
        logger.warning("The database lock was lost (connection gone): no new crawl until it is taken again")
        self.scheduler.pause()
        deadline = time.monotonic() + LOCK_REGAIN_LIMIT
        while not self.stopping.wait(LOCK_RETRY_INTERVAL):
            try:
                self.lock.regain()
            except LockHeld as exc:
                self.failure = f"the database lock was lost, and {exc}: stopped, so that no two daemons run"
            except Exception as exc:  # the database is still out of reach
                if time.monotonic() < deadline:
                    continue
                self.failure = (
                    f"the database lock was lost and could not be taken again in {LOCK_REGAIN_LIMIT:.0f} s"
                    f" ({type(exc).__name__}: {exc}): stopped"
                )
            else:
                logger.warning("The database lock is taken again: crawls go on")
                self.scheduler.resume()
                return True
            logger.error("%s", self.failure[0].upper() + self.failure[1:])
            return False
        return False

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

    @contextmanager
    def _job_running(self) -> Iterator[None]:
        """Count a job as running while the block runs, so that the shutdown waits for it."""
        with self._idle:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    # -- the jobs -----------------------------------------------------------------------
    def make_digest(self, name: str) -> None:
        """Write (and mail) the digest of what is new since the last one; a failure leaves it to the next."""
        if self.stopping.is_set() or self.digest is None:
            return
        with self._job_running():
            deliver_scheduled_digest(
                self.database,
                name,
                self.digest.directory,
                list(self.digest.mail_to),
                self.options.digest_settle,
                notify=list(self.digest.notify),
            )

    def crawl_source(self, name: str) -> None:
        """Crawl source ``name`` in a child process, record the run, and adapt its schedule."""
        source = self.sources.get(name)
        if source is None or self.stopping.is_set():
            return
        with self._job_running():
            try:
                if self.dispatcher is not None:
                    self.dispatcher.send(name)
                else:
                    self._crawl(source)
            except Exception:
                logger.exception("Source %s: the crawl job failed", name)

    def _crawl(self, source: Source) -> None:
        options = self.options
        started = time.monotonic()
        run_id = open_crawl_run(self.database, source.name)
        command = crawl_command(
            self.config,
            source.name,
            run_id,
            log_file=self.log_dir / f"{source.name}.log",
            log_level=options.crawl_log_level,
            time_limit=options.time_limit,
        )
        stderr_path = self.log_dir / f"{source.name}.stderr"
        child = CrawlChild(source.name, command, stderr_path)
        with self._children_lock:
            self._children[source.name] = child
        try:
            deadline = time.monotonic() + options.time_limit + options.stop_timeout + BACKSTOP_MARGIN
            ended = child.wait(self.stopping, deadline, options.stop_timeout)
        finally:
            with self._children_lock:
                self._children.pop(source.name, None)
        result, counts = close_crawl_run(
            self.database, source.name, run_id, ended, stderr_path, daemon_stopping=self.stopping.is_set()
        )
        self._crawl_finished(source.name, result, counts, time.monotonic() - started)

    def _crawl_finished(self, name: str, result: RunResult, counts: SourceRunCounts | None, seconds: float) -> None:
        """Move the source's schedule by the result of its crawl, and log the run."""
        source = self.sources.get(name)
        if source is None:  # a queued crawl of a source no longer in the sources file
            return
        state = adapt_schedule(self.database, source, result)
        if state.interval_seconds is not None and not self.stopping.is_set() and self.scheduler is not None:
            reschedule_crawl(self.scheduler, source, state.interval_seconds)
        log_run(source, result, state, seconds, counts)
