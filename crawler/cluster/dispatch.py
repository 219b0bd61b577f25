"""The daemon's side of the cluster: a due crawl is sent to the queue as a job with its crawl-run row,
and its outcome is learned from that row once a worker has closed it.

Whether a source's previous job is still queued or running is decided from the database (its open
queued run) and the broker (its job waiting or delivered) or the run's heartbeat: a source is never
sent again while its job lives. A job the broker no longer holds and no worker runs (lost with a Redis
that restarted empty, or never sent because Redis was down) is given up and sent again at the next tick.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from celery import Celery

from crawler.cluster.app import CRAWL_TASK, QUEUE, QueueState, make_app, queue_state
from crawler.cluster.broker import masked
from crawler.schedule.policy import RunResult
from crawler.schedule.runs import run_result
from storage import Database
from storage.cluster import QueuedRun, give_up_queued_run, queued_runs, start_queued_run
from storage.counters import SourceRunCounts

logger = logging.getLogger("ai4s.daemon")

#: Seconds without a heartbeat after which a run's worker is taken for gone (three missed heartbeats).
HEARTBEAT_STALE = 35.0
#: Ticks in a row a job must be missing from the broker, without a live worker, before it is given up
#: (a job moving from the queue to a worker is, for an instant, in neither list).
MISSING_TICKS = 2

#: Called with each finished run: its source, its result for the policy, its counts, its seconds.
OnFinished = Callable[[str, RunResult, SourceRunCounts | None, float], None]


@dataclass
class Dispatcher:
    """Sends due crawls to the queue and follows them to their end (see the module docstring)."""

    database: Database
    broker: str
    time_limit: float
    on_finished: OnFinished

    def __post_init__(self) -> None:
        self.app: Celery = make_app(self.broker, self.time_limit)
        self._lock = threading.Lock()
        self._missing: dict[int, int] = {}  # run id -> ticks in a row its job was missing from the broker
        self._broker_down = False
        self._followed: dict[int, tuple[str, datetime]] = {}  # open runs: run id -> (source, when it was sent)
        self._given_up: set[int] = set()  # runs closed here as lost: their outcome says nothing of the source

    def send(self, source: str) -> int | None:
        """Send a crawl of ``source`` to the queue, unless its previous job is still queued or running;
        the new run's id."""
        with self._lock:
            with self.database.session() as session, session.begin():
                previous = queued_runs(session, source)
                if previous:
                    why = "Source %s: its job (run %d) is still queued or running: not sent again"
                    logger.info(why, source, previous[0].run_id)
                    return None
                task_id = str(uuid.uuid4())
                run_id = start_queued_run(session, source, task_id)
            self._publish(source, run_id, task_id)
            return run_id

    def _publish(self, source: str, run_id: int, task_id: str) -> None:
        try:
            self.app.send_task(CRAWL_TASK, args=[source, run_id, self.time_limit], task_id=task_id, queue=QUEUE)
        except Exception as exc:  # the broker is down: the job is sent again once it is back (see tick)
            why = "Source %s: run %d not sent, the broker %s is unreachable: %s"
            logger.warning(why, source, run_id, masked(self.broker), exc)
            return
        logger.info("Source %s: run %d sent to the queue", source, run_id)

    def tick(self) -> None:
        """Learn the outcome of the jobs that ended; give up, and send again, the jobs the broker lost."""
        with self._lock:
            with self.database.session() as session, session.begin():
                open_runs = {run.run_id: run for run in queued_runs(session)}
            self._collect(open_runs)
            self._find_lost(open_runs)

    def _collect(self, open_runs: dict[int, QueuedRun]) -> None:
        """Report the runs this daemon follows that are closed now."""
        for run_id in [run_id for run_id in self._followed if run_id not in open_runs]:
            source, sent = self._followed.pop(run_id)
            self._missing.pop(run_id, None)
            result, counts = run_result(self.database, source, run_id, neutral=run_id in self._given_up)
            self._given_up.discard(run_id)
            self.on_finished(source, result, counts, (datetime.now(UTC) - sent).total_seconds())
        for run in open_runs.values():
            self._followed.setdefault(run.run_id, (run.source, run.sent_at))

    def _find_lost(self, open_runs: dict[int, QueuedRun]) -> None:
        try:
            state = queue_state(self.app)
        except Exception as exc:  # the broker is down: nothing can be judged lost until it is back
            if not self._broker_down:
                logger.warning("The broker %s is unreachable: %s", masked(self.broker), exc)
            self._broker_down = True
            return
        if self._broker_down:
            logger.info("The broker %s is reachable again", masked(self.broker))
            self._broker_down = False
        now = datetime.now(UTC)
        for run in open_runs.values():
            if self._alive(run, state, now):
                self._missing.pop(run.run_id, None)
                continue
            self._missing[run.run_id] = self._missing.get(run.run_id, 0) + 1
            if self._missing[run.run_id] < MISSING_TICKS:
                continue
            with self.database.session() as session, session.begin():
                closed = give_up_queued_run(session, run.run_id, "its job was lost by the broker: sent again")
            if closed:
                why = "Source %s: the job of run %d was lost by the broker: sending it again"
                logger.warning(why, run.source, run.run_id)
                self._given_up.add(run.run_id)
                task_id = str(uuid.uuid4())
                with self.database.session() as session, session.begin():
                    run_id = start_queued_run(session, run.source, task_id)
                self._publish(run.source, run_id, task_id)

    @staticmethod
    def _alive(run: QueuedRun, state: QueueState, now: datetime) -> bool:
        """Whether ``run``'s job lives: held by the broker, or run by a worker whose heartbeat is fresh."""
        if state.holds(run.task_id):
            return True
        return run.heartbeat_at is not None and now - run.heartbeat_at < timedelta(seconds=HEARTBEAT_STALE)
