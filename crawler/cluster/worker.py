"""A cluster worker: the crawl task (one crawl of one source, in a process of its own, with the run
row the daemon created for it) and the Celery worker that runs such tasks.

A job is acknowledged when its crawl is done, so the job of a worker that dies runs again on another:
that rerun adopts the same crawl-run row and skips what the dead crawl already stored. A job whose run
is closed (done, or given up by the daemon as lost) does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from celery import Celery, Task
from celery.exceptions import Reject

from crawler.cluster.app import CRAWL_TASK, QUEUE, make_app
from crawler.cluster.broker import masked
from crawler.cluster.dispatch import HEARTBEAT_STALE
from crawler.config import Config
from crawler.schedule.runs import close_crawl_run
from crawler.schedule.supervise import CrawlChild, crawl_command
from crawler.text.wording import plural
from storage import Database
from storage.cluster import beat, claim_queued_run
from storage.db import DatabaseUnavailable

logger = logging.getLogger("ai4s.worker")

#: Seconds between two heartbeats of a running crawl (its crawl-run row's ``heartbeat_at``).
HEARTBEAT_INTERVAL = 10.0
#: Seconds past a crawl's time limit and stop timeout before the worker stops it itself.
BACKSTOP_MARGIN = 30.0
#: Seconds a worker that cannot open the database waits before it hands a job back to the queue.
REQUEUE_PAUSE = 5.0


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker's crawls run with: the configuration (database, sources, topics), where their logs go."""

    config: Config
    log_dir: Path
    time_limit: float = 3600.0  # the longest a crawl may run on this worker
    stop_timeout: float = 30.0
    crawl_log_level: str = "INFO"

    @property
    def crawl_seconds(self) -> float:
        """The longest a job can take on this worker (its visibility timeout is longer still)."""
        return self.time_limit + self.stop_timeout + BACKSTOP_MARGIN


# The worker's pool processes are forked from the process that starts the worker and find their settings here.
_settings: WorkerSettings | None = None


def crawl_source(task: Task, source: str, run_id: int, time_limit: float | None = None) -> dict[str, Any]:
    """The crawl task: crawl ``source`` in crawl run ``run_id`` (made by the daemon); its outcome as JSON."""
    if _settings is None:
        raise RuntimeError("the crawl task runs inside an ai4s worker only")
    settings = _settings
    worker = str(task.request.hostname or f"{os.getpid()}@{socket.gethostname()}")
    if source not in settings.config.source_names:  # another worker's sources file has it: a fault of this worker
        _hand_back(source, run_id, f"it is not in this worker's sources file ({settings.config.sources_file})")
    try:
        database = Database(settings.config.db_url)
    except DatabaseUnavailable as exc:  # the job goes back to the queue, not lost with a failure
        _hand_back(source, run_id, str(exc))
    with database:
        with database.session() as session, session.begin():
            claimed = claim_queued_run(session, run_id, worker, str(task.request.id), HEARTBEAT_STALE)
        if not claimed:  # a job given again while its crawl still runs: a worker whose clock is off restores it
            logger.info("Source %s: run %d is closed, or runs on another worker: nothing to do", source, run_id)
            return {"run_id": run_id, "source": source, "status": "skipped"}
        limit = min(time_limit or settings.time_limit, settings.time_limit)
        return _crawl(database, settings, worker, source, run_id, limit)


def _hand_back(source: str, run_id: int, why: str) -> NoReturn:
    """Give the job of run ``run_id`` back to the queue, for a worker that can run it, after a pause (this
    worker would take it again at once); ``why`` this one cannot."""
    logger.error("Source %s: run %d handed back to the queue: %s", source, run_id, why)
    time.sleep(REQUEUE_PAUSE)
    raise Reject(why, requeue=True)


def _crawl(
    database: Database, settings: WorkerSettings, worker: str, source: str, run_id: int, time_limit: float
) -> dict[str, Any]:
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    command = crawl_command(
        settings.config,
        source,
        run_id,
        log_file=settings.log_dir / f"{source}.log",
        log_level=settings.crawl_log_level,
        time_limit=time_limit,
    )
    stderr_path = settings.log_dir / f"{source}.stderr"
    started = time.monotonic()
    logger.info("Source %s: run %d starts on %s", source, run_id, worker)
    child = CrawlChild(source, command, stderr_path, supervisor="the worker")
    done = threading.Event()
    heartbeat = threading.Thread(target=_beat, args=(database, run_id, worker, done), daemon=True)
    heartbeat.start()
    try:
        deadline = time.monotonic() + time_limit + settings.stop_timeout + BACKSTOP_MARGIN
        ended = child.wait(threading.Event(), deadline, settings.stop_timeout)
    finally:
        done.set()
        heartbeat.join()
    result, counts = close_crawl_run(database, source, run_id, ended, stderr_path, daemon_stopping=False)
    logger.info(
        "Source %s: run %d %s in %.1f s (%s)",
        source, run_id, result.status, time.monotonic() - started, plural(result.new_articles, "new article"),
    )  # fmt: skip
    return {"run_id": run_id, "source": source, "status": result.status, "new_articles": result.new_articles}


def _beat(database: Database, run_id: int, worker: str, done: threading.Event) -> None:
    """Record a heartbeat of run ``run_id`` every :data:`HEARTBEAT_INTERVAL` seconds until ``done``."""
    while not done.wait(HEARTBEAT_INTERVAL):
        try:
            with database.session() as session, session.begin():
                beat(session, run_id, worker)
        except Exception as exc:  # a database hiccup costs one heartbeat, not the crawl
            logger.warning("Run %d: heartbeat not recorded: %s", run_id, exc)


def worker_app(broker: str, settings: WorkerSettings) -> Celery:
    """The Celery app of a worker over ``broker``, with the crawl task, for crawls run with ``settings``."""
    global _settings
    _settings = settings
    app = make_app(broker, settings.crawl_seconds)
    app.task(name=CRAWL_TASK, bind=True)(crawl_source)
    return app


def run_worker(broker: str, settings: WorkerSettings, concurrency: int = 1, name: str | None = None) -> None:
    """Run a Celery worker taking crawl jobs from ``broker``, ``concurrency`` crawls at once, until it is stopped."""
    app = worker_app(broker, settings)
    node = name or f"ai4s-{os.getpid()}"
    if "@" not in node:
        node = f"{node}@{socket.gethostname()}"
    logger.info("Worker %s: %d crawls at once from %s, queue %s", node, concurrency, masked(broker), QUEUE)
    app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            f"--queues={QUEUE}",
            f"--hostname={node}",
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
        ]
    )
