"""The adaptive schedule: intervals that slow down on empty polls, speed up on busy ones, back off
on failures within the configured bounds; triggers, jitter and the misfire grace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crawler.schedule.policy import (
    BUSY_NEW_ARTICLES,
    EMPTY_POLLS_BEFORE_SLOWING,
    UNHEALTHY_AFTER_FAILURES,
    Bounds,
    RunResult,
    bounds_of,
    cron_trigger,
    make_trigger,
    misfire_grace,
    next_state,
)
from crawler.sources import Source, SourcesError, parse_sources
from storage.schedules import ScheduleState

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BOUNDS = Bounds(every=1800.0, minimum=450.0, maximum=14400.0)


def run(state: ScheduleState, status: str = "ok", new: int = 0, unreachable: bool = False) -> ScheduleState:
    return next_state(state, BOUNDS, RunResult(1, status, new, unreachable), NOW)


def fresh() -> ScheduleState:
    return ScheduleState(every="30m", interval_seconds=1800.0)


def test_default_bounds_are_a_quarter_and_eight_times_every() -> None:
    assert bounds_of(Source("a", feeds=("http://a/",), every="30m")) == Bounds(1800.0, 450.0, 14400.0)
    custom = Source("a", feeds=("http://a/",), every="1h", min_every="10m", max_every="1d")
    assert bounds_of(custom) == Bounds(3600.0, 600.0, 86400.0)
    assert bounds_of(Source("a", feeds=("http://a/",), every="0 6 * * *")) is None


def test_a_quiet_source_is_polled_less_often_but_never_beyond_its_bound() -> None:
    state = fresh()
    for _ in range(EMPTY_POLLS_BEFORE_SLOWING):
        state = run(state)
    assert state.interval_seconds == 1800.0  # a few empty polls are normal
    intervals = []
    for _ in range(20):
        state = run(state)
        intervals.append(state.interval_seconds)
    assert intervals[0] > 1800.0 and intervals == sorted(intervals)
    assert intervals[-1] == BOUNDS.maximum


def test_a_busy_source_is_polled_more_often_within_its_bound_and_new_articles_undo_a_slowdown() -> None:
    state = fresh()
    state = run(state, new=BUSY_NEW_ARTICLES)
    assert state.interval_seconds == 900.0
    for _ in range(5):
        state = run(state, new=BUSY_NEW_ARTICLES * 3)
    assert state.interval_seconds == BOUNDS.minimum
    slow = ScheduleState(every="30m", interval_seconds=BOUNDS.maximum, empty_polls=12)
    back = run(slow, new=2)
    assert back.interval_seconds == 1800.0 and back.empty_polls == 0


def test_failures_back_off_then_mark_the_source_unhealthy_and_one_success_heals_it() -> None:
    state = fresh()
    seen = []
    for _ in range(UNHEALTHY_AFTER_FAILURES):
        assert state.healthy
        state = run(state, status="failed")
        seen.append(state.interval_seconds)
    assert seen[:2] == [3600.0, 7200.0] and seen[-1] == BOUNDS.maximum
    assert not state.healthy and state.failures == UNHEALTHY_AFTER_FAILURES
    healed = run(state, new=1)
    assert healed.healthy and healed.failures == 0 and healed.interval_seconds == 1800.0


def test_an_unreachable_source_fails_even_if_the_crawl_process_was_fine() -> None:
    assert run(fresh(), status="ok", unreachable=True).failures == 1


def test_an_interrupted_run_or_one_stopped_by_a_shutdown_changes_nothing_but_the_last_run() -> None:
    state = ScheduleState(every="30m", interval_seconds=1200.0, empty_polls=2, failures=1)
    after = run(state, status="interrupted")
    assert (after.interval_seconds, after.empty_polls, after.failures) == (1200.0, 2, 1)
    assert after.last_status == "interrupted" and after.last_run_at == NOW
    stopped = next_state(state, BOUNDS, RunResult(2, "aborted", neutral=True), NOW)
    assert stopped.failures == 1 and stopped.last_status == "aborted"


def test_a_run_skipped_because_another_crawl_held_the_source_is_not_an_empty_poll() -> None:
    state = ScheduleState(every="30m", interval_seconds=1200.0, empty_polls=2, failures=1)
    after = run(state, status="skipped")
    assert (after.interval_seconds, after.empty_polls, after.failures) == (1200.0, 2, 1)
    assert after.last_status == "skipped"


def test_a_cron_source_keeps_its_times_but_its_health_is_tracked() -> None:
    state = ScheduleState(every="0 6 * * *")
    for _ in range(UNHEALTHY_AFTER_FAILURES):
        state = next_state(state, None, RunResult(1, "failed"), NOW)
    assert state.interval_seconds is None and not state.healthy


def test_cron_day_of_week_numbers_mean_what_they_mean_in_cron() -> None:
    sunday_six = cron_trigger("0 6 * * 0")  # 2026-11-22 is a Sunday
    assert sunday_six.get_next_fire_time(None, NOW - timedelta(hours=7)) == datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    weekdays = cron_trigger("30 7 * * 1-5")
    assert weekdays.get_next_fire_time(None, NOW) == datetime(2026, 11, 23, 7, 30, tzinfo=UTC)  # Monday
    assert cron_trigger("0 0 * * 7").get_next_fire_time(None, NOW) == datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
    # ranges that start on Sunday, steps and names, as cron reads them
    assert cron_trigger("0 6 * * 0-5").get_next_fire_time(None, NOW - timedelta(hours=7)).weekday() == 6
    saturday = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    assert cron_trigger("0 6 * * 0-5").get_next_fire_time(None, saturday).day == 29  # Saturday skipped
    assert cron_trigger("0 6 * * */2").get_next_fire_time(None, saturday).day == 28  # 0,2,4,6: Saturday in
    assert cron_trigger("0 6 * * mon-fri").get_next_fire_time(None, NOW).day == 23
    with pytest.raises(ValueError):
        cron_trigger("0 6 * * 8")


def test_interval_firings_are_jittered_by_a_small_fraction_and_the_grace_covers_one_period() -> None:
    source = Source("a", feeds=("http://a/",), every="30m")
    trigger = make_trigger(source, 1800.0)
    firings = {trigger.get_next_fire_time(NOW, NOW) for _ in range(20)}
    assert len(firings) > 1  # jittered
    assert all(abs((f - NOW).total_seconds() - 1800) <= 90 for f in firings if f is not None)
    grace = misfire_grace(trigger, NOW)
    assert 1800 < grace <= 3000
    assert misfire_grace(cron_trigger("0 6 * * *"), NOW) == pytest.approx(1.5 * 86400, abs=1)


def test_bounds_in_the_sources_file_are_checked() -> None:
    base = '[[source]]\nname = "a"\nfeeds = ["http://a.example/rss"]\n'
    assert parse_sources(base + 'every = "1h"\nmin_every = "10m"\nmax_every = "1d"\n')[0].max_every == "1d"
    for bad, message in (
        ('every = "1h"\nmin_every = "2d"\nmax_every = "1d"\n', "longer than 'max_every'"),
        ('every = "0 6 * * *"\nmax_every = "1d"\n', "cron schedule"),
        ('every = "1h"\nmax_every = "0 6 * * *"\n', "must be an interval"),
    ):
        with pytest.raises(SourcesError, match=message):
            parse_sources(base + bad)


def test_the_policy_returns_the_record_type_it_was_given() -> None:
    """The policy imports no storage: it updates the storage's record as a value, of the same type."""
    updated = run(fresh(), new=BUSY_NEW_ARTICLES)
    assert type(updated) is ScheduleState
    assert (updated.every, updated.interval_seconds, updated.last_new_articles) == ("30m", 900.0, BUSY_NEW_ARTICLES)


def test_the_policy_reads_run_statuses_as_storage_writes_them() -> None:
    # the pure policy may not import storage, so it spells the statuses it reads; they must be storage's
    from crawler.schedule.policy import FAILED_STATUSES, NEUTRAL_STATUSES
    from storage.models import FAILED_RUN_STATUSES, RunStatus

    assert FAILED_STATUSES == FAILED_RUN_STATUSES
    assert RunStatus.INTERRUPTED == "interrupted"
    assert {RunStatus.INTERRUPTED, RunStatus.SKIPPED} == NEUTRAL_STATUSES
