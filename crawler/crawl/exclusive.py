"""Which sources a crawl may crawl now, when many crawl processes share one PostgreSQL: one crawl per source
in the whole cluster, and one per host when sources share a host.

A crawl takes, on its own connection (:class:`storage.advisory.AdvisoryLocks`), the lock of each of its
sources and then the locks of that source's hosts (the hosts of its feeds, sitemaps and start pages), and holds
them until it ends or dies.

- A source another crawl holds is **skipped** at once: that crawl is doing the same work right now, and the
  next poll will come anyway.
- A host another crawl holds (another source on the same site) is **waited for**, politely (a try every few
  seconds, up to ``AI4S_HOST_LOCK_WAIT``): sources that share a host often come due at the same tick, and
  skipping would starve the one that keeps losing the race, while waiting costs one worker slot for the other
  crawl's time (a poll of a site is short). The hosts of one source are taken all or none, never held while
  waiting for the rest, so two crawls waiting for each other's hosts cannot deadlock. A source whose hosts
  stay busy past the wait is skipped.

SQLite (one machine) has no such locks: a crawl there crawls every source it was given, as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from crawler.sources import Source
from storage.advisory import HOST, SOURCE, AdvisoryLocks

logger = logging.getLogger(__name__)

#: Seconds between two tries of a busy host's lock.
HOST_LOCK_POLL = 2.0


@dataclass
class Exclusion:
    """The sources a crawl holds (in the order given) and why each other one is skipped."""

    kept: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def lock_sources(
    locks: AdvisoryLocks,
    sources: Sequence[Source],
    host_wait: float,
    poll: float = HOST_LOCK_POLL,
    sleep: Callable[[float], None] = time.sleep,
) -> Exclusion:
    """Take the locks of ``sources`` and of their hosts (see the module docstring): the sources this crawl
    may crawl, and the others with the reason they are skipped (``skipped: another crawl of S is running``)."""
    exclusion = Exclusion()
    pending: list[Source] = []
    for source in sources:
        if locks.try_lock(SOURCE, source.name):
            pending.append(source)
        else:
            holder = locks.holder(SOURCE, source.name) or "holder unknown"
            exclusion.skipped[source.name] = f"skipped: another crawl of {source.name} is running ({holder})"
    deadline = time.monotonic() + host_wait
    waiting_for: dict[str, str] = {}
    while pending:
        still: list[Source] = []
        for source in pending:
            busy = _take_hosts(locks, source)
            if busy is None:
                exclusion.kept.append(source.name)
                continue
            still.append(source)
            if waiting_for.get(source.name) != busy:
                waiting_for[source.name] = busy
                logger.warning(
                    "Source %s waits (up to %.0f s): another crawl is on its host %s (%s)",
                    source.name,
                    host_wait,
                    busy,
                    locks.holder(HOST, busy) or "holder unknown",
                )
        pending = still
        if not pending or time.monotonic() >= deadline:
            break
        sleep(poll)
    for source in pending:
        locks.unlock(SOURCE, source.name)
        exclusion.skipped[source.name] = (
            f"skipped: another crawl was on host {waiting_for[source.name]} for {host_wait:.0f} s"
        )
    exclusion.kept.sort(key=[source.name for source in sources].index)
    return exclusion


def _take_hosts(locks: AdvisoryLocks, source: Source) -> str | None:
    """Take every host lock of ``source`` (in name order), or none of those it did not hold already; the first
    busy host, or ``None`` when all are this crawl's now."""
    taken: list[str] = []
    for host in sorted(source.hosts):
        if (HOST, host) in locks.held:
            continue
        if not locks.try_lock(HOST, host):
            for got in taken:
                locks.unlock(HOST, got)
            return host
        taken.append(host)
    return None
