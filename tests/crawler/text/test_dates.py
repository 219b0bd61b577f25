"""The one date parser: feed, sitemap and page dates, and Retry-After in both of its forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from crawler.text.dates import parse_date, retry_after_seconds

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_feed_and_sitemap_dates_in_every_common_form_are_read_as_aware_datetimes() -> None:
    assert parse_date("2026-11-30") == datetime(2026, 11, 30, tzinfo=UTC)
    assert parse_date("2026-11-30T08:15:00Z") == datetime(2026, 11, 30, 8, 15, tzinfo=UTC)
    assert parse_date("2026-11-30T16:15:00+08:00") == datetime(2026, 11, 30, 8, 15, tzinfo=UTC)
    assert parse_date("Mon, 30 Nov 2026 08:15:00 GMT") == datetime(2026, 11, 30, 8, 15, tzinfo=UTC)
    assert parse_date("Mon, 30 Nov 2026 16:15:00 +0800") == datetime(
        2026, 11, 30, 16, 15, tzinfo=timezone(timedelta(hours=8))
    )
    assert parse_date(b" 2026-11-30T08:15:00 ") == datetime(2026, 11, 30, 8, 15, tzinfo=UTC)  # no zone: UTC


def test_text_that_is_not_a_date_is_missing_metadata_not_an_error() -> None:
    for value in (None, "", "   ", "yesterday", "2026-13-45", "30/11/2026", "Mon, 99 Foo 2026"):
        assert parse_date(value) is None, value


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    assert retry_after_seconds("120", NOW) == 120.0
    assert retry_after_seconds(b" 60 ", NOW) == 60.0
    assert retry_after_seconds("Tue, 01 Dec 2026 08:01:30 GMT", NOW) == 90.0
    assert retry_after_seconds("Tuesday, 01-Dec-26 08:01:30 GMT", NOW) == 90.0  # RFC 850 form
    assert retry_after_seconds("Tue Dec  1 08:01:30 2026", NOW) == 90.0  # asctime form
    assert retry_after_seconds("Mon, 30 Nov 2026 08:00:00 GMT", NOW) == 0.0  # already past: no wait


def test_an_unreadable_retry_after_asks_for_nothing() -> None:
    for value in (None, "", "soon", "-5", "1.5", "Tue, 99 Dec 2026 99:99:99 GMT"):
        assert retry_after_seconds(value, NOW) is None, value
