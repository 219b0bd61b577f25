"""Dates as the web writes them, read in one place: feed and sitemap dates, page metadata dates, the
timestamp a page shows above its article, and the HTTP ``Retry-After`` header.

Every function returns aware datetimes (UTC when the text names no zone) or ``None`` for text
that is not a date: a bad date on a page is missing metadata, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

#: A date with a time of day, as portals print when an article was published: "2004年7月16日08:19",
#: "2005-05-13 14:15", "2022/02/13 20:04:17". A date without a time is as often a copyright year, a
#: date the text talks about or an archive's heading, so it is not read here.
_SHOWN_TIMESTAMP = re.compile(
    r"(?<!\d)((?:19|20)\d{2})\s*+(?:年\s*+(\d{1,2})\s*+月\s*+(\d{1,2})\s*+日|[-/.](\d{1,2})[-/.](\d{1,2}))"
    r"\s*+(?:[（(][^）)\d]{0,8}[）)])?+\s*+([01]?\d|2[0-3])\s*+[:：时]\s*+([0-5]\d)(?!\d)"
)


def parse_date(value: str | bytes | None) -> datetime | None:
    """A date written as W3C/ISO 8601 (``2026-11-30``, ``2026-11-30T08:00:00Z``) or as RFC 822 /
    HTTP-date (``Mon, 30 Nov 2026 08:00:00 GMT``), as an aware datetime; ``None`` if it is neither."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


#: The longest wait a ``Retry-After`` is taken for (a day): a site that asks for a year, or for the year 9999, is
#: asked again the next day, not silenced for good.
MAX_RETRY_AFTER = 86400.0


def retry_after_seconds(value: str | bytes | None, now: datetime | None = None) -> float | None:
    """The wait a ``Retry-After`` header value asks for, in seconds (RFC 9110: a number of seconds or
    an HTTP-date, counted from ``now``), at most :data:`MAX_RETRY_AFTER`; ``None`` when absent or unreadable,
    0 for a date in the past."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # not "²": str.isdigit takes superscripts, float() does not
        return min(float(text), MAX_RETRY_AFTER)
    if text[0].isdigit() or text[0] in "+-":  # "1.5", "-3": not a delay-seconds value, and not a date
        return None
    when = parse_date(text)
    if when is None:
        return None
    return min(max(0.0, (when - (now or datetime.now(UTC))).total_seconds()), MAX_RETRY_AFTER)


def shown_timestamp(texts: Iterable[str], latest: date) -> date | None:
    """The date of the first timestamp (a date with a time of day) in a page's ``texts``, in document order,
    not after ``latest``: what a page without dated tags shows as its article's publication time."""
    for text in texts:
        for found in _SHOWN_TIMESTAMP.finditer(text):
            year, month, day = int(found[1]), int(found[2] or found[4]), int(found[3] or found[5])
            try:
                shown = date(year, month, day)
            except ValueError:
                continue
            if shown <= latest:
                return shown
    return None


def moment_of_day(day: datetime | None, moments: Iterable[datetime | None]) -> datetime | None:
    """The first of ``moments`` (times of day with their zone: a page's ``article:published_time``, its feed's
    ``pubDate``) that falls on ``day`` (a date found for the page, at midnight), in its own zone or in UTC; else
    ``day``. A day alone stored at midnight UTC is hours off, and a day later or earlier than it was for half of
    the world."""
    if day is None:
        return None
    for moment in moments:
        if moment is not None and day.date() in (moment.date(), moment.astimezone(UTC).date()):
            return moment
    return day
