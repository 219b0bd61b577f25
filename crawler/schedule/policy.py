"""When to poll a source next: its adaptive interval, backoff on failure, health, and the
APScheduler trigger that carries it.

A source polled on an interval (``every = "30m"``) adapts within bounds (``min_every`` and
``max_every`` in the sources file; a quarter and eight times ``every`` by default), in the way
of Media Cloud's feed fetcher and miniflux:

- nothing new for :data:`EMPTY_POLLS_BEFORE_SLOWING` polls in a row: each further empty poll
  multiplies the interval by :data:`SLOWDOWN`;
- :data:`BUSY_NEW_ARTICLES` or more new articles in one poll: the interval is halved;
- some new articles: a slowed-down interval returns to ``every``;
- a failed run (the crawl failed or was aborted, or no entry page of the source could be
  fetched): the interval doubles from ``every`` with each consecutive failure, and after
  :data:`UNHEALTHY_AFTER_FAILURES` the source is marked unhealthy (still polled, at the
  longest interval, and shown as such by ``ai4s jobs`` and ``ai4s stats``);
- an interrupted run (time limit, shutdown), or one the daemon stopped while shutting down,
  changes nothing.

A source on a cron schedule keeps its firing times; failures still count towards its health.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, TypeVar

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.sources import Source
from crawler.text.durations import parse_duration, parse_schedule

EMPTY_POLLS_BEFORE_SLOWING = 3
SLOWDOWN = 1.5
BUSY_NEW_ARTICLES = 10
UNHEALTHY_AFTER_FAILURES = 5
#: Jitter of a firing: this fraction of the interval, at most :data:`MAX_JITTER` seconds.
JITTER_FRACTION = 0.05
MAX_JITTER = 300.0
#: Run statuses that count as a failure of the source.
FAILED_STATUSES = frozenset({"failed", "aborted"})

_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class ScheduleRecord(Protocol):
    """What the policy reads and updates of a source's schedule: any dataclass with these fields.

    The record is the storage's (``storage.schedules.ScheduleState``, a row of ``source_schedules``);
    the policy receives it as a value and returns an updated copy of the same type, without importing
    storage, so that it stays pure.
    """

    __dataclass_fields__: ClassVar[dict[str, Any]]
    interval_seconds: float | None
    empty_polls: int
    failures: int
    healthy: bool
    last_run_id: int | None
    last_status: str | None
    last_run_at: datetime | None
    last_new_articles: int | None
    last_error: str | None


Record = TypeVar("Record", bound=ScheduleRecord)


@dataclass(frozen=True)
class Bounds:
    """The interval a source is configured with, and how far it may adapt (seconds)."""

    every: float
    minimum: float
    maximum: float

    def clamp(self, seconds: float) -> float:
        """``seconds`` within the bounds."""
        return min(self.maximum, max(self.minimum, seconds))


def bounds_of(source: Source) -> Bounds | None:
    """The adaptive bounds of ``source``; ``None`` when it runs on a cron schedule."""
    every = parse_schedule(source.every)
    if every is None:
        return None
    minimum = parse_duration(source.min_every) if source.min_every else every / 4
    maximum = parse_duration(source.max_every) if source.max_every else every * 8
    return Bounds(every, min(minimum, every), max(maximum, every))


@dataclass(frozen=True)
class RunResult:
    """What the daemon learnt from one crawl of one source."""

    run_id: int
    status: str
    new_articles: int = 0
    unreachable: bool = False  # every entry page failed
    error: str | None = None
    neutral: bool = False  # the run says nothing of the source: the daemon stopped it while shutting down

    @property
    def failed(self) -> bool:
        """True for a crawl that failed, was aborted, or reached nothing of the source."""
        return not self.neutral and (self.status in FAILED_STATUSES or self.unreachable)


#: Statuses of a run that says nothing of its source: stopped by a shutdown, or skipped because another
#: crawl of the cluster held the source (or its host) all along.
NEUTRAL_STATUSES = frozenset({"interrupted", "skipped"})


def next_state(state: Record, bounds: Bounds | None, result: RunResult, now: datetime) -> Record:
    """The schedule of a source after ``result``: streaks, health and (for an interval) the new interval."""
    updated = replace(
        state,
        last_run_id=result.run_id,
        last_status=result.status,
        last_run_at=now,
        last_new_articles=result.new_articles,
        last_error=result.error,
    )
    if result.status in NEUTRAL_STATUSES or result.neutral:
        return updated
    interval = state.interval_seconds if state.interval_seconds is not None else (bounds.every if bounds else None)
    if result.failed:
        failures = state.failures + 1
        updated = replace(updated, failures=failures, healthy=failures < UNHEALTHY_AFTER_FAILURES)
        if bounds is not None:
            updated = replace(updated, interval_seconds=bounds.clamp(bounds.every * 2 ** min(failures, 30)))
        return updated
    updated = replace(updated, failures=0, healthy=True)
    if result.new_articles == 0:
        updated = replace(updated, empty_polls=state.empty_polls + 1)
    else:
        updated = replace(updated, empty_polls=0)
    if bounds is None or interval is None:
        return updated
    if state.failures:  # recovered: back to the configured pace
        interval = bounds.every
    if result.new_articles == 0 and updated.empty_polls > EMPTY_POLLS_BEFORE_SLOWING:
        interval *= SLOWDOWN
    elif result.new_articles >= BUSY_NEW_ARTICLES:
        interval /= 2
    elif result.new_articles > 0 and interval > bounds.every:
        interval = bounds.every
    return replace(updated, interval_seconds=bounds.clamp(interval))


def jitter_for(interval: float) -> float:
    """The jitter of firings ``interval`` seconds apart."""
    return min(MAX_JITTER, interval * JITTER_FRACTION)


def make_trigger(source: Source, interval: float | None) -> BaseTrigger:
    """The trigger of ``source``'s job: every ``interval`` seconds, or its cron expression (UTC), jittered."""
    if interval is not None:
        return IntervalTrigger(seconds=interval, jitter=jitter_for(interval) or None, timezone=UTC)
    return cron_trigger(source.every, jittered=True)


def cron_trigger(expression: str, jittered: bool = False) -> CronTrigger:
    """A trigger for a standard 5-field crontab expression in UTC, day-of-week numbers as in cron
    (0 or 7 = Sunday, not APScheduler 3's Monday-first numbering); :class:`ValueError` if invalid.
    ``jittered``: firings spread by a small fraction of the time between them."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"a cron expression has 5 fields, not {len(fields)}: {expression!r}")
    minute, hour, day, month, day_of_week = fields
    times = {"minute": minute, "hour": hour, "day": day, "month": month, "day_of_week": _weekdays(day_of_week)}
    trigger = CronTrigger(**times, timezone=UTC)
    if not jittered:
        return trigger
    gap = period(trigger, datetime.now(UTC)) or 3600.0
    return CronTrigger(**times, timezone=UTC, jitter=jitter_for(gap) or None)


def _weekdays(field: str) -> str:
    """A cron day-of-week field as APScheduler day names (``1-5`` → ``mon,tue,wed,thu,fri``)."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            low, high = 0, 6
        elif "-" in span:
            low_text, high_text = span.split("-", 1)
            low, high = _weekday_number(low_text), _weekday_number(high_text)
            if high == 0 and low > 0:
                high = 7  # "5-0": Friday to Sunday
        else:
            low = high = _weekday_number(span)
            if step_text:
                high = 6
        if step < 1 or low > high:
            raise ValueError(f"invalid day of week {part!r}")
        days.update(day % 7 for day in range(low, high + 1, step))
    return ",".join(_WEEKDAYS[day] for day in sorted(days))


def _weekday_number(text: str) -> int:
    if text in _WEEKDAYS:
        return _WEEKDAYS.index(text)
    if text.isdigit() and int(text) <= 7:
        return int(text)
    raise ValueError(f"invalid day of week {text!r}")


def misfire_grace(trigger: BaseTrigger, now: datetime) -> int:
    """How late a firing may still run: one and a half periods of ``trigger``. A daemon that was down
    for several firings runs exactly one catch-up crawl: the missed firings are coalesced into the
    last, which is at most one period (plus jitter) late."""
    gap = period(trigger, now)
    return max(60, round(1.5 * gap)) if gap is not None else 3600


def period(trigger: BaseTrigger, now: datetime) -> float | None:
    """Seconds between the next two firings of ``trigger`` after ``now`` (``None`` if it stops firing)."""
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first) if first else None
    return (second - first).total_seconds() if first and second else None
