"""The Celery app of the cluster: JSON messages only, a job acknowledged when it is done (so a lost
worker's job runs again elsewhere), one job per worker process at a time, a broker that is waited for
when it goes away; and what the queue holds (read from Redis).

No Scrapy here: a job runs the crawl in a process of its own (:mod:`crawler.cluster.worker`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from celery import Celery

#: The queue of crawl jobs (a Redis list of that name).
QUEUE = "ai4s.crawl"
#: The task that crawls one source: ``(source, run_id, time_limit)``.
CRAWL_TASK = "ai4s.crawl_source"
#: Seconds a delivered job may stay unacknowledged before Redis gives it to another worker, beyond the
#: longest a crawl may take (its time limit, the time it gets to stop, the backstop): a job is re-delivered
#: only when its worker is gone, never while it still runs.
VISIBILITY_MARGIN = 60.0
#: Seconds between a worker's looks for jobs of lost workers to give again (each look is one Redis query).
RESTORE_INTERVAL = 10.0


def make_app(broker: str, crawl_seconds: float = 3600.0) -> Celery:
    """The Celery app over ``broker`` for crawls that take at most ``crawl_seconds``."""
    app = Celery("ai4s", broker=broker, set_as_current=False)
    app.conf.update(
        # JSON only: whoever can write to the broker must not be able to run code on a worker (pickle)
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        event_serializer="json",
        task_ignore_result=True,  # a crawl's outcome is its crawl-run row in the database
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # a busy worker reserves no job it cannot start: without this, after a broker reconnect (the prefetch
        # count then forgets the running job) a job waits behind a long crawl while other workers are idle
        worker_disable_prefetch=True,
        task_default_queue=QUEUE,
        task_create_missing_queues=True,
        broker_connection_retry=True,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a Redis restart stops nothing for good
        broker_transport_options={
            "visibility_timeout": int(crawl_seconds + VISIBILITY_MARGIN),
            "unacked_restore_interval": RESTORE_INTERVAL,
            "unacked_restore_throttle": 1,
        },
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    return app


@dataclass(frozen=True)
class QueueState:
    """What the broker holds: the ids of the jobs waiting in the queue and of those delivered to a worker
    and not acknowledged yet (running, or left by a worker that died)."""

    waiting: frozenset[str]
    delivered: frozenset[str]

    def holds(self, task_id: str) -> bool:
        """Whether job ``task_id`` is still in the broker (waiting or delivered)."""
        return task_id in self.waiting or task_id in self.delivered


def queue_state(app: Celery) -> QueueState:
    """The jobs the broker holds now (raises kombu's connection errors when it cannot be reached)."""
    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1)  # fail now, not wait forever, when the broker is down
        client = connection.default_channel.client
        waiting = _task_ids(client.lrange(QUEUE, 0, -1))
        delivered = _task_ids(json.loads(raw)[0] for raw in client.hvals(connection.default_channel.unacked_key))
    return QueueState(frozenset(waiting), frozenset(delivered))


def queue_length(app: Celery) -> int:
    """How many jobs wait in the queue."""
    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1)
        return int(connection.default_channel.client.llen(QUEUE))


#: Seconds ``ai4s workers`` waits for the workers to answer its ping.
PING_TIMEOUT = 1.0


def online_workers(app: Celery, timeout: float = PING_TIMEOUT) -> list[str]:
    """The names of the workers that answer a ping within ``timeout`` seconds (Celery's remote control), sorted."""
    replies = app.control.ping(timeout=timeout) or []
    return sorted({name for reply in replies for name in reply})


def _task_ids(messages: Iterable[bytes | str | dict[str, object]]) -> set[str]:
    """The task ids of raw Celery messages (protocol 2: ``headers.id``)."""
    ids = set()
    for message in messages:
        payload = message if isinstance(message, dict) else json.loads(message)
        headers = payload.get("headers") or {}
        task_id = headers.get("id") if isinstance(headers, dict) else None
        if task_id:
            ids.add(str(task_id))
    return ids
