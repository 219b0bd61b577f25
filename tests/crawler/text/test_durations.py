"""The one duration grammar (crawler/text/durations.py) and every place that reads a duration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crawler.digest.delivery import parse_since
from crawler.sources import SourcesError, parse_sources
from crawler.text.durations import (
    describe_interval,
    describe_moment,
    is_cron_expression,
    parse_duration,
    parse_schedule,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SOURCE = '[[source]]\nname = "a"\nfeeds = ["http://a.example/rss"]\n'


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("45sec", 45),
        ("30m", 1800),
        ("10 min", 600),
        ("1.5h", 5400),
        ("1d", 86400),
        ("2w", 14 * 86400),
        (" 6h ", 21600),
    ],
)
def test_a_duration_is_a_number_and_a_unit(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_schedule(text) == seconds


@pytest.mark.parametrize("text", ["", "often", "5", "h", "1h30m", "2 months", "-5m", "1y", "6H", "*/15 * * * *"])
def test_anything_else_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match=r'expected a duration such as "90s", "30m", "1.5h", "1d" or "2w"'):
        parse_duration(text)


def test_a_duration_is_longer_than_zero() -> None:
    with pytest.raises(ValueError, match="longer than zero"):
        parse_duration("0m")
    with pytest.raises(ValueError, match="longer than zero"):
        parse_schedule("0.0h")


def test_a_schedule_is_an_interval_or_a_cron_expression() -> None:
    assert parse_schedule("*/15 * * * *") is None and parse_schedule("0 8 * * mon-fri") is None
    assert is_cron_expression("0 8 * * 1-5") and not is_cron_expression("0 8 * *")
    with pytest.raises(ValueError, match="or a 5-field cron expression"):
        parse_schedule("every morning")
    with pytest.raises(ValueError, match="or a 5-field cron expression"):
        parse_schedule("0 8 * * 1-5 2026")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 25 * * *", r"minute 61 is out of range \(0-59\)"),
        ("0 24 * * *", r"hour 24 is out of range \(0-23\)"),
        ("0 0 0 * *", r"day of month 0 is out of range \(1-31\)"),
        ("0 0 1 13 *", r"month 13 is out of range \(1-12\)"),
        ("0 0 * * 1-9", r"day of week 9 is out of range \(0-7\)"),
        ("*/0 * * * *", r"minute '\*/0': the step after '/' is a whole number of at least 1"),
        ("0 0 * foo *", r"month 'foo' is not a number or a name"),
        ("0 0 * * 1-2-3", r"day of week '1-2-3' is not a value or a range"),
    ],
)
def test_a_cron_expression_with_an_impossible_value_is_refused(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(expression)


def test_cron_expressions_within_their_ranges_are_accepted() -> None:
    for expression in ("59 23 31 12 7", "0 0 1 1 0", "*/5 9-17 * jan-jun mon-fri", "0,30 */2 1,15 * 5-0", "0 8 ? * *"):
        assert parse_schedule(expression) is None, expression


def test_the_sources_file_reads_every_bound_with_the_same_grammar() -> None:
    (source,) = parse_sources(SOURCE + 'every = "2w"\nmin_every = "90s"\nmax_every = "8w"\n')
    assert (source.every, source.min_every, source.max_every) == ("2w", "90s", "8w")
    with pytest.raises(SourcesError, match=r"key 'every' = 'fortnightly': expected an interval such as"):
        parse_sources(SOURCE + 'every = "fortnightly"\n')
    with pytest.raises(SourcesError, match=r"key 'min_every' = '1 week': expected a duration such as"):
        parse_sources(SOURCE + 'every = "2w"\nmin_every = "1 week"\n')
    with pytest.raises(SourcesError, match="'min_every' is longer than 'max_every'"):
        parse_sources(SOURCE + 'every = "1d"\nmin_every = "2w"\nmax_every = "1w"\n')


def test_since_reads_the_same_durations_or_a_date() -> None:
    assert parse_since("90s", NOW) == NOW - timedelta(seconds=90)
    assert parse_since("2w", NOW) == NOW - timedelta(weeks=2)
    assert parse_since("1.5h", NOW) == NOW - timedelta(minutes=90)
    assert parse_since("2026-02-28", NOW) == datetime(2026, 2, 28, tzinfo=UTC)
    assert parse_since("2026-02-28T08:00:00+08:00", NOW) == datetime(2026, 2, 28, 0, 0, tzinfo=UTC)
    for nonsense in ("yesterday", "0m", "1h30m"):
        with pytest.raises(
            ValueError, match=rf"--since expects a duration such as .*, or an ISO date, not '{nonsense}'"
        ):
            parse_since(nonsense, NOW)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.4, "0s"), (90, "1m30s"), (5400, "1h30m"), (7200, "2h"), (93784, "1d2h"), (14 * 86400, "14d")],
)
def test_describe_interval_names_the_two_largest_units(seconds: float, text: str) -> None:
    assert describe_interval(seconds) == text


def test_describe_moment_says_when_in_utc_and_how_far() -> None:
    assert describe_moment(None, NOW) == "never"
    assert describe_moment(NOW + timedelta(minutes=5), NOW) == "2026-03-01 12:05:00 UTC (in 5m)"
    beijing = datetime(2026, 3, 2, 2, 30, tzinfo=ZoneInfo("Asia/Shanghai"))  # 18:30 UTC
    assert describe_moment(beijing, NOW) == "2026-03-01 18:30:00 UTC (in 6h30m)"
    assert describe_moment(NOW - timedelta(days=1, hours=2), NOW) == "2026-02-28 10:00:00 UTC (1d2h ago)"
