"""The one date parser: feed, sitemap and page dates, the timestamp a page shows, and Retry-After in both of its
forms."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from crawler.text.dates import MAX_RETRY_AFTER, parse_date, retry_after_seconds, shown_timestamp

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
    for value in (None, "", "soon", "-5", "1.5", "Tue, 99 Dec 2026 99:99:99 GMT", "²", b"\xb9", "１２"):
        assert retry_after_seconds(value, NOW) is None, value


def test_a_retry_after_of_years_asks_for_a_day_at_most() -> None:
    for value in ("1000000000000", "9" * 30, "Fri, 31 Dec 9999 23:59:59 GMT"):
        assert retry_after_seconds(value, NOW) == MAX_RETRY_AFTER == 86400.0, value


def test_the_first_timestamp_a_page_shows_is_read_in_either_form() -> None:
    today = NOW.date()
    assert shown_timestamp(["时间：2004年10月21日14:18 来源：本报"], today) == date(2004, 10, 21)
    assert shown_timestamp(["AUTO.SOHU.COM  2003年11月12日16:36", "2005-01-28 10:00"], today) == date(2003, 11, 12)
    assert shown_timestamp(["Posted 2022/02/13 20:04:17 by the editors"], today) == date(2022, 2, 13)
    assert shown_timestamp(["2006年12月27日（北京时间）09:30"], today) == date(2006, 12, 27)


def test_a_date_without_a_time_or_an_impossible_or_future_one_is_no_timestamp() -> None:
    today = NOW.date()
    texts = [
        "Copyright 2005",
        "2006年12月27日 星期三",
        "管道即将建成（2004年10月）",
        "2019-13-45 10:00",
        "v12022-01-01 10:00",
    ]
    assert shown_timestamp(texts, today) is None
    assert shown_timestamp(["2027-01-05 10:00"], today) is None
    assert shown_timestamp(["2027-01-05 10:00", "2026-11-30 09:00"], today) == date(2026, 11, 30)
